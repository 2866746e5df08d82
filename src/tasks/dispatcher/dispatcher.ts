/**
 * The dispatcher on the leader (SwarmKit manager/dispatcher): one session per node. It sends each node
 * its assignments (the full set when the session opens, then what changed, coalesced per tick), takes
 * the node's batched task reports into the store, and marks a node down when its heartbeats stop, which
 * makes the orchestrator move its tasks.
 */
import { asFlotillaError, type Logger, type NodeDescription } from '../../membership/index.js'
import type { StoreEvent, StoreState, TaskReport } from '../../election/index.js'
import type { LeaderDeps } from '../leader/store-view.js'
import { assignmentOf, assignmentsOf, isAssignedTo } from './assignments.js'
import { networkIndex, viewFor, viewsMayChange, type NetworkIndex } from './network-view.js'
import { AGENT_RESTART_GRACE_MS, LEADER_GRACE_MS, NODE_DOWN_AFTER_MS, type Assignment, type LeaderMessage, type NodeMessage } from './protocol.js'
import type { NodeNetworkView } from '../executor/network-view.js'

export interface DispatcherTiming {
  readonly downAfterMs: number
  readonly graceMs: number
  /** After a node's `leaving`; AGENT_RESTART_GRACE_MS when not given. */
  readonly restartGraceMs?: number
}

export const DEFAULT_DISPATCHER_TIMING: DispatcherTiming = { downAfterMs: NODE_DOWN_AFTER_MS, graceMs: LEADER_GRACE_MS, restartGraceMs: AGENT_RESTART_GRACE_MS }

/** The leader's end of one node's session. */
export interface DispatcherSession {
  /** A frame from the node, already parsed (`parseNodeMessage`). */
  receive(msg: NodeMessage): void
  /** The stream ended. */
  closed(): void
}

interface Session {
  readonly nodeId: string
  readonly send: (msg: LeaderMessage) => void
  readonly close: (reason: string) => void
  opened: boolean
  /** What the node was last told of each task's desired state: changes to anything else need not be sent. */
  readonly told: Map<string, string>
  readonly dirty: Set<string>
  /** The network view last sent; null before the first. */
  view: NodeNetworkView | null
}

/** How long the dispatcher gathers store changes before it recomputes the network views (names current well within 1 s). */
const VIEW_COALESCE_MS = 20
/**
 * How much one round of `tasks.report` entries may cost the store, in entries × tasks in the store: it
 * copies its task table for each entry it applies, and applies a round's committed entries in one go.
 * A round of a thousand nodes' entries at 20,000 tasks would hold the event loop for seconds (Raft's
 * heartbeats to the followers and the nodes' heartbeats unread); at this budget, 50 entries at 20,000
 * tasks, a round holds it for a fifth of a second (bench/leader-scale.ts), and a round of up to 1,000
 * nodes' entries still goes at once while the store holds up to 1,000 tasks. A round carries at least
 * MIN_REPORT_ENTRIES_PER_ROUND nodes' entries; the other nodes' reports wait for the next round, which
 * starts once this one is applied and the I/O that came meanwhile has been read.
 */
const REPORT_ROUND_BUDGET = 1_000_000
const MIN_REPORT_ENTRIES_PER_ROUND = 16

export class Dispatcher {
  private readonly log: Logger
  private readonly sessions = new Map<string, Session>()
  /** When each node must be heard from next (ms), or it is marked down. */
  private readonly deadlines = new Map<string, number>()
  /** Nodes whose 'down' write is in flight, so that the monitor writes it once. */
  private readonly markingDown = new Set<string>()
  private readonly reports = new Map<string, TaskReport[]>()
  private reporting = false
  private flushScheduled = false
  private viewTimer: NodeJS.Timeout | null = null
  /** The network index of the store as of the last change that could move a view; null when such a change came since. */
  private index: NetworkIndex | null = null
  /** The last one built, whose equal parts the next one keeps. */
  private lastIndex: NetworkIndex | null = null
  /** The store state the last events were seen against: a batch's changes are read as the difference from it. */
  private seen: StoreState | null = null
  private monitor: NodeJS.Timeout | null = null
  private unwatch: (() => void) | null = null
  private stopped = false

  constructor (private readonly deps: LeaderDeps, private readonly timing: DispatcherTiming = DEFAULT_DISPATCHER_TIMING) {
    this.log = deps.logger.child('dispatcher')
  }

  start (): void {
    const grace = this.deps.now() + this.timing.graceMs
    for (const id of this.deps.store.state.nodes.keys()) this.deadlines.set(id, grace)
    this.seen = this.deps.store.state
    this.unwatch = this.deps.store.watch((events, state) => { this.onEvents(events, state) })
    // Checked often enough that a silent node is marked down within a tenth of a second of its deadline.
    this.monitor = setInterval(() => { this.checkHeartbeats() }, Math.max(50, Math.min(100, Math.floor(this.timing.downAfterMs / 8))))
    this.monitor.unref()
  }

  stop (): void {
    this.stopped = true
    this.unwatch?.()
    if (this.monitor !== null) clearInterval(this.monitor)
    if (this.viewTimer !== null) clearTimeout(this.viewTimer)
    for (const s of this.sessions.values()) s.close('this manager is no longer the leader')
    this.sessions.clear()
  }

  /**
   * A node opened a session (its certificate already checked). A second session of the same node
   * replaces the first (the node reconnected before the old stream was seen to end).
   */
  open (nodeId: string, send: (msg: LeaderMessage) => void, close: (reason: string) => void): DispatcherSession {
    const session: Session = { nodeId, send, close, opened: false, told: new Map(), dirty: new Set(), view: null }
    const previous = this.sessions.get(nodeId)
    if (previous !== undefined) previous.close('replaced by a newer session')
    this.sessions.set(nodeId, session)
    return {
      receive: msg => { this.receive(session, msg) },
      closed: () => { if (this.sessions.get(nodeId) === session) this.sessions.delete(nodeId) }
    }
  }

  private receive (s: Session, msg: NodeMessage): void {
    if (this.stopped || this.sessions.get(s.nodeId) !== s) return
    const node = this.deps.store.state.nodes.get(s.nodeId)
    if (node === undefined) {
      s.close(`node ${s.nodeId} is not in the cluster`)
      return
    }
    this.deadlines.set(s.nodeId, this.deps.now() + this.timing.downAfterMs)
    switch (msg.t) {
      case 'open':
        if (s.opened) return
        s.opened = true
        this.markReady(s.nodeId, msg.description, msg.addr)
        this.sendFull(s)
        this.sendView(s, this.currentIndex())
        return
      case 'describe':
        this.markReady(s.nodeId, msg.description)
        return
      case 'leaving': {
        const graceMs = this.timing.restartGraceMs ?? AGENT_RESTART_GRACE_MS
        this.deadlines.set(s.nodeId, this.deps.now() + graceMs)
        this.log.info('node agent stopping; its tasks stay until it is back or the grace ends', { node: s.nodeId, graceMs })
        return
      }
      case 'heartbeat':
        if (node.status.state !== 'ready') this.markReady(s.nodeId, null)
        s.send({ t: 'heartbeat' })
        return
      case 'status':
        if (msg.reports.length === 0) return
        this.reports.set(s.nodeId, [...(this.reports.get(s.nodeId) ?? []), ...msg.reports])
        this.flushReports()
    }
  }

  private sendFull (s: Session): void {
    const tasks = assignmentsOf(this.deps.store.state, s.nodeId)
    s.told.clear()
    for (const a of tasks) s.told.set(a.taskId, a.desiredState)
    s.dirty.clear()
    s.send({ t: 'assignments', full: true, tasks, removed: [] })
  }

  /** Write the node ready (with its description and data-path address when they changed), unless the store says so already. */
  private markReady (nodeId: string, description: NodeDescription | null, addr?: string): void {
    const node = this.deps.store.state.nodes.get(nodeId)
    if (node === undefined) return
    const sameDescription = description === null || JSON.stringify(description) === JSON.stringify(node.description)
    const sameAddr = addr === undefined || addr === node.status.addr
    if (node.status.state === 'ready' && sameDescription && sameAddr) return
    this.write({ op: 'node.status', id: nodeId, state: 'ready', message: '', description, nowMs: this.deps.now(), ...(sameAddr ? {} : { addr }) }, `mark node ${nodeId} ready`)
  }

  /** The network index of the store now (rebuilt only after a change that could move a view). */
  private currentIndex (): NetworkIndex {
    if (this.index === null) this.index = this.lastIndex = networkIndex(this.deps.store.state, this.lastIndex)
    return this.index
  }

  /** Send `s` its network view when it differs from the one it was last sent. */
  private sendView (s: Session, index: NetworkIndex): void {
    const view = viewFor(index, s.nodeId, s.view)
    // viewFor returns the last view itself when the new one equals it in every field.
    if (view === null || view === s.view) return
    s.view = view
    s.send({ t: 'networks', view })
  }

  private sendViews (): void {
    this.viewTimer = null
    if (this.stopped) return
    let index: NetworkIndex | null = null
    for (const s of this.sessions.values()) {
      if (!s.opened) continue
      index ??= this.currentIndex()
      this.sendView(s, index)
    }
  }

  private checkHeartbeats (): void {
    const now = this.deps.now()
    const late: string[] = []
    for (const node of this.deps.store.state.nodes.values()) {
      if (node.status.state !== 'ready' || this.markingDown.has(node.id)) continue
      const deadline = this.deadlines.get(node.id)
      if (deadline === undefined) {
        this.deadlines.set(node.id, now + this.timing.graceMs)
        continue
      }
      if (now >= deadline) late.push(node.id)
    }
    // Judged again once the I/O that is waiting has been read (setImmediate runs after the poll phase):
    // when something held the event loop up, this timer fires before the heartbeats queued behind it are
    // read, and healthy nodes would be marked down for the leader's own delay.
    if (late.length > 0) setImmediate(() => { this.markDown(late) })
  }

  /** Write down each of `ids` that is still ready and still past its deadline. */
  private markDown (ids: readonly string[]): void {
    if (this.stopped) return
    const now = this.deps.now()
    for (const id of ids) {
      const node = this.deps.store.state.nodes.get(id)
      const deadline = this.deadlines.get(id)
      if (node?.status.state !== 'ready' || this.markingDown.has(id) || deadline === undefined || now < deadline) continue
      this.markingDown.add(node.id)
      this.log.info('node stopped sending heartbeats; marking it down', { node: node.id, silentMs: now - deadline + this.timing.downAfterMs })
      this.deps.propose({ op: 'node.status', id: node.id, state: 'down', message: 'heartbeat failure', description: null, nowMs: now })
        .catch((err: unknown) => { this.log.debug('could not mark node down', { node: node.id, err: asFlotillaError(err).message }) })
        .finally(() => { this.markingDown.delete(node.id) })
    }
  }

  private write (cmd: Parameters<LeaderDeps['propose']>[0], what: string): void {
    this.deps.propose(cmd).catch((err: unknown) => { if (!this.stopped) this.log.debug(`could not ${what}`, { err: asFlotillaError(err).message }) })
  }

  /**
   * Take the queued reports into the store: one entry per node, one round of entries at a time (see
   * REPORT_ROUND_BUDGET), nodes in the order their reports came.
   */
  private flushReports (): void {
    if (this.reporting || this.reports.size === 0 || this.stopped) return
    this.reporting = true
    const max = Math.max(MIN_REPORT_ENTRIES_PER_ROUND, Math.floor(REPORT_ROUND_BUDGET / Math.max(1, this.deps.store.state.tasks.size)))
    const batch: Array<[string, TaskReport[]]> = []
    for (const entry of this.reports) {
      batch.push(entry)
      if (batch.length === max) break
    }
    for (const [nodeId] of batch) this.reports.delete(nodeId)
    const writes = batch.map(async ([nodeId, reports]) => {
      await this.deps.propose({ op: 'tasks.report', nodeId, reports: latestPerTask(reports) })
    })
    void Promise.allSettled(writes).then(results => {
      for (const r of results) if (r.status === 'rejected' && !this.stopped) this.log.debug('could not record task reports', { err: asFlotillaError(r.reason).message })
    }).finally(() => {
      this.reporting = false
      if (this.reports.size > 0) setImmediate(() => { this.flushReports() })
    })
  }

  private onEvents (events: readonly StoreEvent[], state: StoreState): void {
    // A change that may move a network view (a task starting to run or ending, a VIP, a node's address)
    // makes the views be recomputed after VIEW_COALESCE_MS; they are compared before sending, so a
    // recomputation that moves nothing costs no frames. The rest (most task reports, heartbeats' status
    // writes, secrets) leave the views as they are.
    const prev = this.seen ?? state
    this.seen = state
    if (events.length > 0 && !this.stopped && viewsMayChange(prev, state, events)) {
      this.index = null
      this.viewTimer ??= setTimeout(() => { this.sendViews() }, VIEW_COALESCE_MS)
    }
    let any = false
    for (const e of events) {
      if (e.kind === 'node-removed') {
        this.sessions.get(e.id)?.close(`node ${e.id} was removed from the cluster`)
        this.deadlines.delete(e.id)
        continue
      }
      if (e.kind !== 'task' || e.nodeId === null) continue
      const s = this.sessions.get(e.nodeId)
      if (s === undefined || !s.opened) continue
      s.dirty.add(e.id)
      any = true
    }
    if (any && !this.flushScheduled) {
      this.flushScheduled = true
      setImmediate(() => { this.flushScheduled = false; this.sendChanges() })
    }
  }

  /** Tell each node what changed in its set since it was last told: new tasks, new desired states, removals. */
  private sendChanges (): void {
    const state = this.deps.store.state
    for (const s of this.sessions.values()) {
      if (s.dirty.size === 0) continue
      const tasks: Assignment[] = []
      const removed: string[] = []
      for (const id of s.dirty) {
        const t = state.tasks.get(id)
        if (t !== undefined && isAssignedTo(t, s.nodeId)) {
          if (s.told.get(id) === t.desiredState) continue
          s.told.set(id, t.desiredState)
          tasks.push(assignmentOf(t, state))
        } else if (s.told.delete(id)) {
          removed.push(id)
        }
      }
      s.dirty.clear()
      if (tasks.length > 0 || removed.length > 0) s.send({ t: 'assignments', full: false, tasks, removed })
    }
  }
}

/** A node's reports of one task, folded to the furthest along (the store takes only forward moves anyway). */
function latestPerTask (reports: readonly TaskReport[]): TaskReport[] {
  const byTask = new Map<string, TaskReport>()
  for (const r of reports) byTask.set(r.id, r)
  return [...byTask.values()]
}
