/**
 * The node's end of the dispatcher session (SwarmKit agent/session.go): connect to the leader, open with
 * the node's description, heartbeat, re-describe on change, and start over with a backoff when the link
 * closes, the manager is not the leader, or no full set arrives in time.
 */
import type { Logger, NodeDescription } from '../../membership/index.js'
import { LEADER_SILENCE_MS, type ConnectDispatcher, type DispatcherLink, type LeaderMessage, type NodeMessage } from '../dispatcher/protocol.js'
import type { AssignmentsMessage } from './assignments.js'
import type { NodeNetworkView } from '../executor/network-view.js'

/** The first reconnect delay, doubled after each failed attempt up to RECONNECT_MAX_MS; reset by a full set. */
export const RECONNECT_MIN_MS = 100
export const RECONNECT_MAX_MS = 1000
/**
 * How long an attempt may take from connect to the first full set before it is abandoned: a dial or a
 * leader that hangs must not keep the node away longer than the leader's grace after an election.
 */
export const DEFAULT_OPEN_TIMEOUT_MS = 5000

/** The delay before reconnect attempt `failures + 1`, in ms: 100, 200, 400, 800, then 1000. */
export function reconnectDelayMs (failures: number): number {
  return Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * 2 ** Math.min(failures, 10))
}

export interface SessionDeps {
  readonly connect: ConnectDispatcher
  /** Read when a session opens, and at each heartbeat to detect a changed description. */
  readonly describe: () => NodeDescription
  readonly logger: Logger
  /** Hears each assignments message of the open session, in order; the first of a session is full. */
  readonly onAssignments: (msg: AssignmentsMessage) => void
  /** Hears each network view of the open session (after its full set of assignments). */
  readonly onNetworks?: (view: NodeNetworkView) => void
  /** The node's data-path address, told when a session opens; undefined: the leader learns none. */
  readonly addr?: string
  /** A session opened: `send` now delivers. */
  readonly onOpen: () => void
  readonly openTimeoutMs: number
  /** How long an open session may hear nothing from the leader before it ends (default LEADER_SILENCE_MS). */
  readonly silenceMs?: number
}

/** One attempt's open link. `synced`: its full set arrived. `described`: the JSON of the description last sent. */
interface OpenLink {
  readonly phase: 'open'
  readonly attempt: number
  readonly deadline: NodeJS.Timeout
  /** Restarted by every leader frame; fires when the leader has been silent for `silenceMs`. */
  readonly silence: NodeJS.Timeout
  readonly link: DispatcherLink
  synced: boolean
  described: string
}

type SessionState =
  | { readonly phase: 'idle' }
  | { readonly phase: 'connecting', readonly attempt: number, readonly deadline: NodeJS.Timeout }
  | OpenLink
  | { readonly phase: 'backoff', readonly timer: NodeJS.Timeout }
  | { readonly phase: 'stopped' }

/**
 * Keeps one session with the current leader open for as long as it runs. Each attempt has a number;
 * events of an attempt that has ended (a late connect, a close after `not-leader`) are ignored.
 */
export class WorkerSession {
  private state: SessionState = { phase: 'idle' }
  private failures = 0
  private attempts = 0

  constructor (private readonly deps: SessionDeps) {}

  /** Whether the current session has delivered its full set: the node's assignment set is the leader's. */
  get synced (): boolean { return this.state.phase === 'open' && this.state.synced }

  /** Whether a link is open (`send` delivers). */
  get open (): boolean { return this.state.phase === 'open' }

  start (): void {
    if (this.state.phase === 'idle') this.connect()
  }

  /** End the session for good: close the link, clear the timers. Resolves once the link has sent what it was given (bounded). */
  async stop (): Promise<void> {
    const s = this.state
    this.state = { phase: 'stopped' }
    if (s.phase === 'connecting' || s.phase === 'open') clearTimeout(s.deadline)
    if (s.phase === 'backoff') clearTimeout(s.timer)
    if (s.phase === 'open') {
      clearTimeout(s.silence)
      await s.link.close()
    }
  }

  /** Send `msg` on the open session; false (nothing sent) when there is none. */
  send (msg: NodeMessage): boolean {
    if (this.state.phase !== 'open') return false
    this.state.link.send(msg)
    return true
  }

  /** Send a heartbeat, preceded by the description when it changed since the session last sent it. */
  heartbeat (description: NodeDescription): void {
    const s = this.state
    if (s.phase !== 'open') return
    const described = JSON.stringify(description)
    if (described !== s.described) {
      s.described = described
      s.link.send({ t: 'describe', description })
    }
    s.link.send({ t: 'heartbeat' })
  }

  private connect (): void {
    const attempt = ++this.attempts
    const deadline = setTimeout(() => { this.end(attempt, `no assignments within ${this.deps.openTimeoutMs} ms`) }, this.deps.openTimeoutMs)
    this.state = { phase: 'connecting', attempt, deadline }
    let link: Promise<DispatcherLink>
    try {
      link = this.deps.connect({
        onMessage: msg => { this.onMessage(attempt, msg) },
        onClose: reason => { this.end(attempt, `link closed: ${reason}`) }
      })
    } catch (err) {
      link = Promise.reject(err instanceof Error ? err : new Error(String(err)))
    }
    link.then(l => { this.opened(attempt, l) }, (err: unknown) => {
      this.end(attempt, `connect failed: ${err instanceof Error ? err.message : String(err)}`)
    })
  }

  private opened (attempt: number, link: DispatcherLink): void {
    const s = this.state
    if (s.phase !== 'connecting' || s.attempt !== attempt) {
      void link.close() // this attempt timed out or the worker stopped meanwhile
      return
    }
    const description = this.deps.describe()
    // The state is open before the first send: a leader in this process may answer from inside it.
    const silenceMs = this.deps.silenceMs ?? LEADER_SILENCE_MS
    const silence = setTimeout(() => { this.end(attempt, `the leader sent nothing for ${silenceMs} ms`) }, silenceMs)
    this.state = { phase: 'open', attempt, deadline: s.deadline, silence, link, synced: false, described: JSON.stringify(description) }
    link.send(this.deps.addr === undefined ? { t: 'open', description } : { t: 'open', description, addr: this.deps.addr })
    this.deps.onOpen()
  }

  private onMessage (attempt: number, msg: LeaderMessage): void {
    const s = this.state
    if ((s.phase !== 'connecting' && s.phase !== 'open') || s.attempt !== attempt) return
    // A manager that does not lead says so at once, possibly before the link is handed over.
    if (msg.t === 'not-leader') {
      this.end(attempt, `not the leader (leader: ${msg.leaderId ?? 'unknown'})`)
      return
    }
    if (s.phase !== 'open') return // assignments and heartbeats only answer 'open'
    s.silence.refresh()
    if (msg.t === 'heartbeat') return
    if (msg.t === 'networks') {
      if (s.synced) this.deps.onNetworks?.(msg.view)
      return
    }
    if (msg.full && !s.synced) {
      s.synced = true
      clearTimeout(s.deadline)
      this.failures = 0
      this.deps.logger.info('dispatcher session open', { tasks: msg.tasks.length })
    }
    this.deps.onAssignments(msg)
  }

  private end (attempt: number, reason: string): void {
    const s = this.state
    if ((s.phase !== 'connecting' && s.phase !== 'open') || s.attempt !== attempt) return
    clearTimeout(s.deadline)
    if (s.phase === 'open') clearTimeout(s.silence)
    const delayMs = reconnectDelayMs(this.failures++)
    // The state leaves this attempt before the link closes, so that its onClose is ignored.
    this.state = { phase: 'backoff', timer: setTimeout(() => { this.connect() }, delayMs) }
    if (s.phase === 'open') {
      void s.link.close()
      if (s.synced) this.deps.logger.info('dispatcher session ended', { reason })
    }
    this.deps.logger.debug('reconnecting to the dispatcher', { reason, delayMs })
  }
}
