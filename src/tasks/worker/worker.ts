/**
 * The node side of the dispatcher (SwarmKit agent/agent.go + worker.go + session.go): keeps a session
 * with the leader, runs the tasks the leader assigns to this node through the executor, and reports
 * their state changes. Tasks keep running while the node has no session; a new session starts with a
 * full set that replaces the node's assignment set.
 */
import type { Logger, NodeDescription } from '../../membership/index.js'
import { FlotillaError } from '../../membership/index.js'
import { taskStateRank, type AdoptedTask, type Executor } from '../executor/index.js'
import { HEARTBEAT_PERIOD_MS, MAX_REPORTS_PER_FRAME, type Assignment, type ConnectDispatcher, type Report } from '../dispatcher/protocol.js'
import { adoptedReport, applyAssignments, resumeState, taskDescription, type AssignmentsMessage } from './assignments.js'
import { ReportQueue, reportOf } from './reports.js'
import { DEFAULT_OPEN_TIMEOUT_MS, WorkerSession } from './session.js'
import { TaskManager } from './task-manager.js'
import { NetworkSync } from './network-sync.js'

/** How long `stop` waits for controller calls in flight (an image pull is not interrupted) before it returns. */
const STOP_WAIT_MS = 2000

export interface WorkerDeps {
  readonly nodeId: string
  readonly executor: Executor
  /** Opens a session with the current leader; rejects when none is known or reachable (the worker retries). */
  readonly connect: ConnectDispatcher
  /** The node's current description (engine state inside); read at every heartbeat. */
  readonly describe: () => NodeDescription
  readonly logger: Logger
  /** ms since the epoch; stamps reports and is compared with the leader's `delayUntilMs`. */
  readonly now: () => number
  /** Heartbeat period, also the period of the engine check and adoption retries. Default HEARTBEAT_PERIOD_MS. */
  readonly heartbeatMs?: number
  /** Connect-to-full-set deadline of one session attempt. Default DEFAULT_OPEN_TIMEOUT_MS. */
  readonly openTimeoutMs?: number
  /** The node's data-path address (the IP it advertises), told to the leader when a session opens. */
  readonly addr?: string
  /** Hears a bug (a throw in a task run, a timer or a link callback); the composition root stops the agent. Default: logged as an error. */
  readonly onFatal?: (err: unknown) => void
}

type Lifecycle = 'new' | 'started' | 'stopped'
/** One adopt call at a time: a stale one still in flight could remove a container a runner has just created. */
type Adoption = 'needed' | 'in-flight' | 'done'

/**
 * Runs this node's assigned tasks. Invariants:
 * - No task runs before `executor.adopt` has succeeded since start and since the engine last came back,
 *   so that adoption never removes a container a runner is creating, and adopted tasks resume where their
 *   containers are.
 * - Each task has one TaskManager, hence one run in flight.
 * - While the engine is unavailable nothing runs; the tasks that were not terminal are reported failed.
 */
export class Worker {
  private lifecycle: Lifecycle = 'new'
  private readonly log: Logger
  private readonly heartbeatMs: number
  private readonly session: WorkerSession
  private readonly reports = new ReportQueue()
  /** The assignment set: the last full set with the increments since. */
  private assigned = new Map<string, Assignment>()
  /** One per task of `assigned`, and per task that left it whose container is still being removed. */
  private readonly managers = new Map<string, TaskManager>()
  /** The last report of each managed task, re-sent when a new leader's set lacks it. */
  private readonly lastReports = new Map<string, Report>()
  /** 'done' once adoption has succeeded since start and since the engine last came back. */
  private adoption: Adoption = 'needed'
  /** The engine's message while it is unavailable; null while it answers. */
  private engineDown: string | null = null
  /** Bumped whenever the engine goes down: an adoption begun before is stale. */
  private engineEpoch = 0
  private tickTimer: NodeJS.Timeout | null = null
  private flushTimer: NodeJS.Immediate | null = null
  /** Null when the executor has no data plane (the node then runs no task that attaches to a network). */
  private readonly networks: NetworkSync | null

  constructor (private readonly deps: WorkerDeps) {
    this.log = deps.logger.child('worker')
    this.heartbeatMs = deps.heartbeatMs ?? HEARTBEAT_PERIOD_MS
    this.networks = deps.executor.dataPlane === null ? null : new NetworkSync(deps.executor.dataPlane, this.log)
    this.session = new WorkerSession({
      connect: deps.connect,
      describe: deps.describe,
      logger: this.log,
      openTimeoutMs: deps.openTimeoutMs ?? DEFAULT_OPEN_TIMEOUT_MS,
      onAssignments: msg => { this.guarded(() => { this.onAssignments(msg) }) },
      onNetworks: view => { this.networks?.offer(view) },
      ...(deps.addr === undefined ? {} : { addr: deps.addr }),
      onOpen: () => { this.scheduleFlush() }
    })
  }

  /** Open the session and start the heartbeat. Once only. */
  start (): void {
    if (this.lifecycle !== 'new') throw new FlotillaError('conflict', `the worker cannot start: it is ${this.lifecycle}`)
    this.lifecycle = 'started'
    this.tickTimer = setInterval(() => { this.guarded(() => { this.tick() }) }, this.heartbeatMs)
    this.onEngine(this.deps.describe().engine)
    this.session.start()
  }

  /**
   * Close the session and stop driving tasks, leaving their containers as they are: the next agent start
   * adopts them. Pending reports and a `leaving` are sent first if a session is open. Resolves once the controller calls
   * in flight have returned, or after STOP_WAIT_MS.
   */
  async stop (): Promise<void> {
    if (this.lifecycle === 'stopped') return
    this.lifecycle = 'stopped'
    if (this.tickTimer !== null) clearInterval(this.tickTimer)
    if (this.flushTimer !== null) clearImmediate(this.flushTimer)
    this.tickTimer = this.flushTimer = null
    while (this.reports.size > 0 && this.session.open) this.session.send({ t: 'status', reports: this.reports.take(MAX_REPORTS_PER_FRAME) })
    // The containers stay: the leader keeps the tasks here for a restart's grace, not a crash's deadline.
    this.session.send({ t: 'leaving' })
    const closing = this.session.stop()
    const runs = [...this.managers.values()].map(async m => { await m.close() })
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<void>(resolve => { timer = setTimeout(resolve, STOP_WAIT_MS) })
    await Promise.race([Promise.all([...runs, closing]), timeout])
    clearTimeout(timer)
    await this.networks?.close()
  }

  /** Every heartbeatMs: heartbeat (with the description when it changed), follow the engine, retry adoption. */
  private tick (): void {
    const description = this.deps.describe()
    this.session.heartbeat(description)
    this.onEngine(description.engine)
    this.maybeAdopt()
  }

  /** Fail the tasks when the engine goes away (their containers die with it); adopt again when it returns. */
  private onEngine (engine: NodeDescription['engine']): void {
    if (engine.state === 'unavailable') {
      if (this.engineDown !== null) return
      this.engineDown = engine.message
      this.engineEpoch++
      if (this.adoption === 'done') this.adoption = 'needed' // one in flight is discarded when it returns
      this.log.warn('engine unavailable: failing this node\'s tasks', { err: engine.message })
      for (const m of this.managers.values()) {
        m.pause()
        m.fail(engine.message)
      }
      // Tasks not yet adopted have no manager: they get one now, failed, so that the cluster hears of them.
      this.reconcile()
      return
    }
    if (this.engineDown === null) return
    this.engineDown = null
    this.log.info('engine available again')
    this.maybeAdopt()
  }

  private onAssignments (msg: AssignmentsMessage): void {
    if (this.lifecycle !== 'started') return
    this.assigned = applyAssignments(this.assigned, msg)
    this.reconcile()
    if (!msg.full) return
    this.reportAhead()
    this.maybeAdopt()
  }

  /** Bring the managers in line with the assignment set. */
  private reconcile (): void {
    for (const [id, m] of this.managers) {
      if (this.assigned.has(id)) continue
      if (m.removed) this.forget(id)
      else m.setDesired('remove')
    }
    // Before adoption only an unavailable engine creates managers (failed ones): there is nothing to adopt them from.
    if (this.adoption !== 'done' && this.engineDown === null) return
    for (const a of this.assigned.values()) {
      const m = this.managers.get(a.taskId)
      if (m !== undefined) m.update(a.desiredState, a.delayUntilMs)
      else this.manage(a, undefined)
    }
  }

  /** Create the manager of `a`, resuming from its adopted container if any; it runs unless the engine is down. */
  private manage (a: Assignment, adopted: AdoptedTask | undefined): void {
    const id = a.taskId
    const observed = resumeState(a, adopted)
    const m: TaskManager = new TaskManager({
      controller: this.deps.executor.controller(taskDescription(this.deps.nodeId, a)),
      observed,
      desired: a.desiredState,
      delayUntilMs: a.delayUntilMs,
      now: this.deps.now,
      logger: this.log.child(`task ${id}`),
      onStep: step => { this.report(reportOf(id, step, this.deps.now())) },
      onRemoved: () => { if (!this.assigned.has(id) && this.managers.get(id) === m) this.forget(id) },
      onFatal: err => { this.fatal(err) }
    })
    this.managers.set(id, m)
    if (adopted !== undefined && observed === adopted.observed && observed !== a.state) {
      this.lastReports.set(id, adoptedReport(adopted, this.deps.now()))
    }
    if (this.engineDown !== null) {
      m.fail(this.engineDown)
      return
    }
    // A task the store holds terminal (replaced, or orphaned) whose container still runs: stop it.
    if (adopted?.observed === 'running') m.stopContainer()
    m.resume()
  }

  private forget (id: string): void {
    this.managers.delete(id)
    this.lastReports.delete(id)
  }

  /**
   * Adopt this node's containers once the assignment set is the leader's (a full set arrived in this
   * session) and the engine answers. Tasks added while adopt runs start afresh: adopt has removed any
   * container of theirs, as they were not in the set it was given.
   */
  private maybeAdopt (): void {
    if (this.lifecycle !== 'started' || this.adoption !== 'needed' || this.engineDown !== null || !this.session.synced) return
    this.adoption = 'in-flight'
    const epoch = this.engineEpoch
    const ids = new Set(this.assigned.keys())
    this.deps.executor.adopt(this.deps.nodeId, ids).then(result => {
      if (this.lifecycle !== 'started') return
      if (epoch !== this.engineEpoch) {
        this.adoption = 'needed'
        return
      }
      this.adoption = 'done'
      this.log.info('adopted this node\'s containers', { adopted: result.adopted.length, removed: result.removed.length })
      const found = new Map(result.adopted.map(t => [t.taskId, t]))
      // Managers made while the engine was down keep their (failed) state; their containers must not run on.
      for (const [id, m] of this.managers) {
        if (found.get(id)?.observed === 'running') m.stopContainer()
        m.resume()
      }
      for (const a of this.assigned.values()) {
        if (!this.managers.has(a.taskId)) this.manage(a, found.get(a.taskId))
      }
      this.reportAhead()
    }, (err: unknown) => {
      this.adoption = 'needed'
      if (this.lifecycle !== 'started') return
      this.log.warn('could not adopt this node\'s containers; retrying', { err: err instanceof Error ? err.message : String(err) })
    })
  }

  /** Queue the report of a managed task's step. */
  private report (report: Report): void {
    if (this.lifecycle !== 'started') return
    this.lastReports.set(report.id, report)
    this.reports.put(report)
    this.scheduleFlush()
  }

  /**
   * Re-report every managed task that is further along than the leader's set says: reports lost with a
   * previous session or leader, and states found on adopted containers.
   */
  private reportAhead (): void {
    for (const [id, m] of this.managers) {
      const a = this.assigned.get(id)
      if (a === undefined || this.reports.has(id) || taskStateRank(m.observed) <= taskStateRank(a.state)) continue
      const last = this.lastReports.get(id)
      this.reports.put(last?.state === m.observed
        ? last
        : { id, state: m.observed, timestampMs: this.deps.now(), message: m.observed, err: null, exitCode: null })
    }
    this.scheduleFlush()
  }

  /** Send the pending reports on the next turn of the event loop, so that one frame carries a burst. */
  private scheduleFlush (): void {
    if (this.flushTimer !== null || this.lifecycle !== 'started' || this.reports.size === 0) return
    this.flushTimer = setImmediate(() => this.guarded(() => {
      this.flushTimer = null
      // Without a session the reports wait for the next one, which flushes when it opens.
      if (this.reports.size === 0 || !this.session.open) return
      this.session.send({ t: 'status', reports: this.reports.take(MAX_REPORTS_PER_FRAME) })
      this.scheduleFlush()
    }))
  }

  /** Run `fn` from a timer or a link callback, where a throw would escape to the process: it goes to onFatal. */
  private guarded (fn: () => void): void {
    try {
      fn()
    } catch (err) {
      this.fatal(err)
    }
  }

  private fatal (err: unknown): void {
    if (this.deps.onFatal !== undefined) this.deps.onFatal(err)
    else this.log.error('worker failure', { err: err instanceof Error ? err.stack ?? err.message : String(err) })
  }
}
