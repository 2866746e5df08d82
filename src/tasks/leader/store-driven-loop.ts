import type { StoreEvent } from '../../election/index.js'
import type { LeaderStore } from './store-view.js'

/**
 * Runs a pass over the store whenever it changes in a way the pass cares about. Changes that come while
 * a pass runs are taken by one more pass, never by two at once; and the pass starts on setImmediate, so
 * the events of one applied batch of entries (delivered together) are taken by one pass.
 */
export class StoreDrivenLoop {
  private unwatch: (() => void) | null = null
  private dirty = false
  private running = false
  private stopped = false

  constructor (private readonly store: LeaderStore, private readonly relevant: (e: StoreEvent) => boolean, private readonly pass: () => Promise<void>) {}

  /** Whether stop() was called: a pass's failures after it are expected and not worth a log line. */
  get isStopped (): boolean {
    return this.stopped
  }

  start (): void {
    this.unwatch = this.store.watch(events => { if (events.some(this.relevant)) this.kick() })
    this.kick()
  }

  stop (): void {
    this.stopped = true
    this.unwatch?.()
  }

  private kick (): void {
    this.dirty = true
    if (this.running || this.stopped) return
    this.running = true
    setImmediate(() => { this.loop().catch(() => {}).finally(() => { this.running = false; if (this.dirty && !this.stopped) this.kick() }) })
  }

  private async loop (): Promise<void> {
    while (this.dirty && !this.stopped) {
      this.dirty = false
      await this.pass()
    }
  }
}
