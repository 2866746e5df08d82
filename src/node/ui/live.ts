/**
 * The dashboard's live feed: one hub per listener that, while at least one page listens, re-reads the
 * cluster every second (sooner, but never more than every 250 ms, when a cluster event arrives) and
 * follows the cluster's event stream, pushing to every page over Server-Sent Events what changed: the
 * whole state when it differs from the last one sent, and each event as it comes. With no page
 * listening it reads nothing.
 */
import type { Logger } from '../../membership/index.js'
import type { DashboardState } from './model.js'
import type { UiReads } from './reads.js'

/** Events kept for a page that connects later, and sent to it first. */
const RECENT_EVENTS = 100
/** How far back a page's event log starts (the managers keep their last 1,000 events). */
const EVENT_HISTORY_S = 600
const MIN_GAP_MS = 250
const RETRY_MS = 1000

/** A page's open stream: `send` writes one SSE message (or a comment when `event` is null). */
export interface LiveClient {
  send(event: string | null, data: string): void
}

export interface LiveDeps {
  readonly reads: UiReads
  readonly self: () => DashboardState['self']
  readonly actions: boolean
  readonly logger: Logger
  readonly nowMs: () => number
  /** How often the cluster is re-read while a page listens; 1000 ms. */
  readonly refreshMs?: number
}

const EMPTY: Pick<DashboardState, 'nodes' | 'services' | 'tasks'> = { nodes: [], services: [], tasks: [] }

export class LiveHub {
  private readonly clients = new Set<LiveClient>()
  private state: DashboardState | null = null
  private sentText = ''
  private sentKey = ''
  private readonly events: Array<Record<string, unknown>> = []
  private following: AbortController | null = null
  private timer: NodeJS.Timeout | null = null
  private timerAtMs = 0
  private refreshing: Promise<void> | null = null
  private again = false
  private lastStartMs = 0
  private readonly refreshMs: number

  constructor (private readonly deps: LiveDeps) {
    this.refreshMs = deps.refreshMs ?? 1000
  }

  /** Add a page: it gets the last state and recent events at once; returns its removal. */
  add (client: LiveClient): () => void {
    this.clients.add(client)
    if (this.state !== null) client.send('state', this.sentText)
    for (const e of this.events) client.send('cluster-event', JSON.stringify(e))
    if (this.following === null) this.start()
    return () => {
      this.clients.delete(client)
      if (this.clients.size === 0) this.stop()
    }
  }

  /** The current state, read now unless a page keeps it fresh (GET /api/state). */
  async current (): Promise<DashboardState> {
    if (this.following === null || this.state === null) await this.refresh()
    return this.state!
  }

  get listening (): number {
    return this.clients.size
  }

  private start (): void {
    const ctl = new AbortController()
    this.following = ctl
    this.schedule(this.deps.nowMs())
    void this.followEvents(ctl.signal)
  }

  /** Stop reading: the last page went. */
  stop (): void {
    this.following?.abort()
    this.following = null
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
  }

  /** Refresh at `atMs` (or at the time already set, if sooner). */
  private schedule (atMs: number): void {
    if (this.following === null) return
    if (this.timer !== null && this.timerAtMs <= atMs) return
    if (this.timer !== null) clearTimeout(this.timer)
    this.timerAtMs = atMs
    this.timer = setTimeout(() => { this.timer = null; void this.tick() }, Math.max(0, atMs - this.deps.nowMs()))
  }

  private async tick (): Promise<void> {
    if (this.refreshing !== null) { this.again = true; return }
    const started = this.deps.nowMs()
    await this.refresh()
    this.schedule(this.again ? started + MIN_GAP_MS : started + this.refreshMs)
    this.again = false
  }

  /** Read the cluster once and push the state if it changed. Never throws: a failed read is the state's `error`. */
  private async refresh (): Promise<void> {
    if (this.refreshing !== null) { await this.refreshing; return }
    this.lastStartMs = this.deps.nowMs()
    this.refreshing = (async () => {
      let view = this.state ?? EMPTY
      let error: string | null = null
      try {
        view = await this.deps.reads.cluster()
      } catch (err) {
        error = (err as Error).message
      }
      const next: DashboardState = { atMs: this.deps.nowMs(), self: this.deps.self(), actions: this.deps.actions, error, nodes: view.nodes, services: view.services, tasks: view.tasks }
      this.state = next
      // atMs left out of the comparison: an unchanged cluster is not pushed again.
      const key = JSON.stringify({ ...next, atMs: 0 })
      if (key !== this.sentKey) {
        this.sentKey = key
        this.sentText = JSON.stringify(next)
        for (const c of this.clients) c.send('state', this.sentText)
      }
    })().finally(() => { this.refreshing = null })
    await this.refreshing
  }

  /** Follow GET /events until stopped, resuming after the last event seen when the stream breaks. */
  private async followEvents (signal: AbortSignal): Promise<void> {
    let sinceS = this.deps.nowMs() / 1000 - EVENT_HISTORY_S
    while (!signal.aborted) {
      try {
        await this.deps.reads.followEvents(sinceS, e => {
          const key = eventKey(e)
          if (this.events.some(x => eventKey(x) === key)) return
          if (typeof e.time === 'number') sinceS = Math.max(sinceS, e.time)
          this.events.push(e)
          if (this.events.length > RECENT_EVENTS) this.events.shift()
          const text = JSON.stringify(e)
          for (const c of this.clients) c.send('cluster-event', text)
          // An event is a change: show it now rather than at the next second.
          this.schedule(Math.max(this.deps.nowMs() + 20, this.lastStartMs + MIN_GAP_MS))
        }, signal)
      } catch (err) {
        if (!signal.aborted) this.deps.logger.debug('dashboard: events stream broke; resuming', { err: (err as Error).message })
      }
      if (signal.aborted) break
      await new Promise<void>(resolve => {
        const t = setTimeout(done, RETRY_MS)
        function done (): void { clearTimeout(t); signal.removeEventListener('abort', done); resolve() }
        signal.addEventListener('abort', done, { once: true })
      })
    }
  }
}

function eventKey (e: Record<string, unknown>): string {
  const actor = e.Actor as { ID?: unknown } | undefined
  return `${String(e.timeNano)}|${String(e.Type)}|${String(e.Action)}|${String(actor?.ID)}`
}
