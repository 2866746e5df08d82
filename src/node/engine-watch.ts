import type { Logger, NodeDescription } from '../membership/index.js'
import { hostDescription, type Executor } from '../tasks/index.js'

/** How often the engine is asked to describe the node (its state rides every heartbeat). */
export const ENGINE_REFRESH_MS = 10_000

/**
 * The node's description as its engine last gave it, refreshed every `ENGINE_REFRESH_MS`. Until the
 * first answer the engine counts as unavailable. One slow answer after a good one is asked again before
 * the engine is called down, since the worker fails every task of a node whose engine is down.
 */
export class EngineWatch {
  private description: NodeDescription = hostDescription({ state: 'unavailable', message: 'not checked yet' })
  private checked = false
  private timer: NodeJS.Timeout | null = null
  private readonly log: Logger

  constructor (private readonly executor: Executor, logger: Logger) {
    this.log = logger.child('engine')
  }

  /** Describe the engine once, then keep refreshing in the background until `stop`. */
  async start (): Promise<void> {
    await this.refresh()
    this.timer = setInterval(() => { this.refresh().catch(() => {}) }, ENGINE_REFRESH_MS)
    this.timer.unref()
  }

  get current (): NodeDescription {
    return this.description
  }

  private async refresh (): Promise<void> {
    let next = await this.executor.describe()
    if (next.engine.state === 'unavailable' && this.checked && this.description.engine.state === 'available') {
      next = await this.executor.describe()
    }
    const before = this.checked ? this.description.engine.state : null
    this.checked = true
    if (before !== next.engine.state) {
      if (next.engine.state === 'available') this.log.info('engine available', { version: next.engine.version })
      else this.log.warn('engine unavailable', { reason: next.engine.message })
    }
    this.description = next
  }

  stop (): void {
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
  }
}
