/**
 * The updater's core (SwarmKit manager/orchestrator/update, as a pure pass). A task made from another
 * TaskTemplate or other ports than the service has now is out of date, and is replaced in its slot (or
 * on its node), at most Parallelism replacements in flight at a time, each batch Delay after the last one
 * reached running; stop-first (the old task is asked to stop, and its replacement made once it has
 * stopped: `stillStopping`), or start-first (the old task stops once its replacement runs).
 *
 * The update's progress is Docker's UpdateStatus, kept on the service in the store, so that a new leader
 * carries an update on where the old one left it:
 *
 *   null ──(a task is out of date)──▶ updating ──(none left, all new ones running for Monitor)──▶ completed
 *                                        │ too many new tasks fail within Monitor (MaxFailureRatio)
 *                                        ├── FailureAction pause ──▶ paused (nothing more is replaced)
 *                                        ├── FailureAction continue: ignored
 *                                        └── FailureAction rollback ──▶ rollback_started (spec := PreviousSpec)
 *   rollback_started ──▶ rollback_completed, or rollback_paused (a rollback never rolls back)
 *
 * A spec update resets the status to null (the next pass starts a new update; so an update resumes a
 * paused one), and a requested rollback sets rollback_started; both happen in the store, not here.
 * SwarmKit counts as "its" tasks the ones its updater goroutine made, in memory; here a task belongs to
 * the update when it is up to date and was made at or after the update started, and failures are
 * counted per slot (per node, global), so that a slot failing again after a restart counts once.
 */
import { isTerminal, taskStateRank } from '../executor/index.js'
import { nodeCondition } from './nodes.js'
import { isTaskUpToDate } from './up-to-date.js'
import type { Plan } from './plan.js'

export { isTaskUpToDate } from './up-to-date.js'
import type { OrchestratorNode, ServiceObject, TaskObject, UpdateConfig, UpdateFailureAction, UpdateStatus } from './types.js'

/** Docker's default UpdateConfig.Parallelism (and RollbackConfig's). */
export const DEFAULT_UPDATE_PARALLELISM = 1
/** Docker's default UpdateConfig.Monitor, 5 s, in nanoseconds. */
export const DEFAULT_UPDATE_MONITOR_NS = 5_000_000_000

/** An UpdateConfig (or RollbackConfig) with Docker's defaults filled in, durations in milliseconds. */
export interface ResolvedUpdateConfig {
  /** 0 = all at once. */
  readonly parallelism: number
  readonly delayMs: number
  readonly failureAction: UpdateFailureAction
  readonly monitorMs: number
  readonly maxFailureRatio: number
  readonly order: 'stop-first' | 'start-first'
}

function nonNegative (v: number | undefined, fallback: number): number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : fallback
}

/** Resolve an UpdateConfig or RollbackConfig (both default to Docker's: 1, 0, pause, 5 s, 0, stop-first). */
export function resolveUpdateConfig (c: UpdateConfig | undefined): ResolvedUpdateConfig {
  const p = c?.Parallelism
  return {
    parallelism: typeof p === 'number' && Number.isSafeInteger(p) && p >= 0 ? p : DEFAULT_UPDATE_PARALLELISM,
    delayMs: nonNegative(c?.Delay, 0) / 1e6,
    failureAction: c?.FailureAction ?? 'pause',
    // SwarmKit: an unset Monitor takes the default; a Monitor of 0 (as the CLI sends when not given) too.
    monitorMs: (c?.Monitor !== undefined && c.Monitor > 0 ? c.Monitor : DEFAULT_UPDATE_MONITOR_NS) / 1e6,
    maxFailureRatio: nonNegative(c?.MaxFailureRatio, 0),
    order: c?.Order ?? 'stop-first'
  }
}

/** Whether the service is being rolled back (the RollbackConfig applies). */
export function inRollback (status: UpdateStatus | null): boolean {
  return status?.state === 'rollback_started' || status?.state === 'rollback_paused'
}

/** Whether an update or rollback is under way (not paused, not finished). */
export function updateInProgress (status: UpdateStatus | null): boolean {
  return status?.state === 'updating' || status?.state === 'rollback_started'
}

/** The config the updater follows now: RollbackConfig during a rollback, UpdateConfig otherwise. */
export function currentUpdateConfig (service: ServiceObject): ResolvedUpdateConfig {
  return resolveUpdateConfig(inRollback(service.updateStatus) ? service.spec.RollbackConfig : service.spec.UpdateConfig)
}

/**
 * Whether replacements start before the task they replace stops (Order start-first): the service never
 * drops below its count. Default stop-first. A global service publishing host ports stays stop-first:
 * its replacement goes to the same node, where the old task holds the ports.
 */
export function startFirst (service: ServiceObject): boolean {
  if (currentUpdateConfig(service).order !== 'start-first') return false
  return 'Replicated' in service.spec.Mode || service.endpoint.ports.length === 0
}

/**
 * How long a replacement waits for the task it replaces to stop (SwarmKit's restart supervisor,
 * defaultOldTaskTimeout): past it, the replacement starts anyway.
 */
export const OLD_TASK_TIMEOUT_MS = 60_000

/**
 * Whether `t` is an out-of-date task the updater asked to stop that is still stopping on a node that will
 * report it: its slot's (its node's) replacement then waits (stop-first: the old task stops, then the
 * new one starts), at most OLD_TASK_TIMEOUT_MS after it was asked (the plan is woken then). A task lost
 * with its node, never placed, or up to date (a scale-down's) is not waited for.
 */
export function stillStopping (plan: Plan, t: TaskObject, nodes: ReadonlyMap<string, OrchestratorNode>): boolean {
  if (plan.desiredState(t) !== 'shutdown' || isTerminal(t.status.state) || t.nodeId === null) return false
  if (plan.upToDate(t)) return false
  if (nodeCondition(nodes.get(t.nodeId)) !== 'usable') return false
  const dueMs = (plan.changesDesiredState(t) ? plan.nowMs : t.updatedAtMs) + OLD_TASK_TIMEOUT_MS
  if (plan.nowMs >= dueMs) return false
  plan.wakeAt(dueMs)
  return true
}

/** A task meant to run (after this pass's decisions) that has not ended. */
function live (plan: Plan, t: TaskObject): boolean {
  return plan.desiredState(t) === 'running' && !isTerminal(t.status.state)
}

/** When the current update started (as of this pass): tasks made since, and up to date, are its own. */
function updateStartMs (plan: Plan): number {
  return plan.updateStatus()?.startedAtMs ?? plan.service.updatedAtMs
}

/**
 * The update's own tasks that failed or ended within Monitor of reaching running (or before it), one
 * per slot (per node, global), earliest failure first (SwarmKit's failureTriggersAction).
 */
export function updateFailures (tasks: readonly TaskObject[], service: ServiceObject, startedAtMs: number, monitorMs: number): TaskObject[] {
  const bySlot = new Map<string, TaskObject>()
  for (const t of tasks) {
    const s = t.status.state
    if (s !== 'failed' && s !== 'rejected' && s !== 'complete') continue
    if (t.createdAtMs < startedAtMs || !isTaskUpToDate(t, service)) continue
    if (t.runningAtMs !== null && t.status.timestampMs - t.runningAtMs > monitorMs) continue
    const key = t.slot !== null ? `slot ${t.slot}` : `node ${t.nodeId ?? ''}`
    const seen = bySlot.get(key)
    if (seen === undefined || earlier(t, seen)) bySlot.set(key, t)
  }
  return [...bySlot.values()].sort((a, b) => (earlier(a, b) ? -1 : 1))
}

function earlier (a: TaskObject, b: TaskObject): boolean {
  return a.status.timestampMs < b.status.timestampMs || (a.status.timestampMs === b.status.timestampMs && a.id < b.id)
}

/** What the updater decided at the start of a pass: the config it follows, and whether it is halted. */
export interface UpdaterVerdict {
  readonly config: ResolvedUpdateConfig
  /** Paused, or a failure action fired in this pass: no out-of-date task is replaced. */
  readonly halted: boolean
}

/**
 * The updater's first half, before the pass's replacements: start the update when a task meant to run
 * is out of date and none is under way; apply FailureAction when more than MaxFailureRatio of `slotCount` slots
 * (nodes, global) had their new task fail within Monitor. Writes any UpdateStatus change (or the rollback
 * request) into `plan`.
 */
export function beginUpdate (plan: Plan, tasks: readonly TaskObject[], slotCount: number): UpdaterVerdict {
  const service = plan.service
  const config = currentUpdateConfig(service)
  let status = service.updateStatus
  if (status?.state === 'paused' || status?.state === 'rollback_paused') return { config, halted: true }
  // SwarmKit's dirty slots: any task still meant to run, even one that ended and awaits its restart (a
  // spec update landing in that moment replaces the slot all the same, and must be watched to its end).
  if (status === null && tasks.some(t => plan.desiredState(t) === 'running' && !plan.upToDate(t))) {
    status = { state: 'updating', startedAtMs: plan.nowMs, completedAtMs: null, message: 'update in progress' }
    plan.setUpdateStatus(status)
  }
  if (status === null || !updateInProgress(status) || config.failureAction === 'continue') return { config, halted: false }
  const failed = updateFailures(tasks, service, updateStartMs(plan), config.monitorMs)
  const first = failed[0]
  if (first === undefined || failed.length / Math.max(1, slotCount) <= config.maxFailureRatio) return { config, halted: false }
  const rollingBack = inRollback(status)
  if (config.failureAction === 'rollback' && !rollingBack && service.previousSpec !== null) {
    plan.requestRollback(
      `update rolled back due to failure or early termination of task ${first.id}`,
      `update paused due to failure or early termination of task ${first.id}`
    )
  } else {
    const why = config.failureAction === 'rollback' && !rollingBack ? '; there is no previous spec to roll back to' : ''
    plan.setUpdateStatus({
      ...status,
      state: rollingBack ? 'rollback_paused' : 'paused',
      message: `${rollingBack ? 'rollback' : 'update'} paused due to failure or early termination of task ${first.id}${why}`
    })
  }
  return { config, halted: true }
}

/**
 * How many out-of-date tasks a pass may still replace once its other decisions are made: none when the
 * updater is halted; else Parallelism (0: all) minus the replacements in flight after the pass — the
 * up-to-date tasks still meant to run that have not reached running, and the `creating` tasks the pass
 * adds, or slots (nodes) whose old task is still stopping — and none until Delay has passed since the last task made by this update reached running (the
 * plan is asked to wake then). Counted after the pass, so that applying it and reconciling again finds
 * no budget it did not use.
 */
export function updateBudget (plan: Plan, tasks: readonly TaskObject[], creating: number, verdict: UpdaterVerdict): number {
  if (verdict.halted) return 0
  const { parallelism, delayMs } = verdict.config
  const since = updateStartMs(plan)
  let inFlight = creating
  let lastStartedMs: number | null = null
  for (const t of tasks) {
    if (!live(plan, t) || !plan.upToDate(t)) continue
    if (taskStateRank(t.status.state) < taskStateRank('running')) inFlight++
    else if (t.createdAtMs >= since && (lastStartedMs === null || t.status.timestampMs > lastStartedMs)) lastStartedMs = t.status.timestampMs
  }
  if (delayMs > 0 && lastStartedMs !== null && plan.nowMs < lastStartedMs + delayMs) {
    plan.wakeAt(lastStartedMs + delayMs)
    return 0
  }
  if (parallelism === 0) return Number.POSITIVE_INFINITY
  return Math.max(0, parallelism - inFlight)
}

/**
 * The updater's second half, after the pass: an update under way with no out-of-date task left, and
 * every task it made running, completes once the last of them has run for Monitor (SwarmKit keeps
 * watching that long; Delay + 1 s when Delay is longer). The plan is asked to wake then.
 */
export function finishUpdate (plan: Plan, tasks: readonly TaskObject[], verdict: UpdaterVerdict, nodes: ReadonlyMap<string, OrchestratorNode>): void {
  const status = plan.updateStatus()
  if (verdict.halted || status === null || !updateInProgress(status) || plan.createCount() > 0) return
  // A slot whose old task is still stopping has its replacement still to come.
  if (tasks.some(t => stillStopping(plan, t, nodes))) return
  const since = updateStartMs(plan)
  let lastRunningMs = since
  for (const t of tasks) {
    if (!live(plan, t)) continue
    if (!plan.upToDate(t)) return
    if (t.createdAtMs < since) continue
    if (t.status.state !== 'running') return
    lastRunningMs = Math.max(lastRunningMs, t.runningAtMs ?? t.status.timestampMs)
  }
  const { monitorMs, delayMs } = verdict.config
  const doneAtMs = lastRunningMs + (delayMs >= monitorMs ? delayMs + 1000 : monitorMs)
  if (plan.nowMs < doneAtMs) {
    plan.wakeAt(doneAtMs)
    return
  }
  const rollback = status.state === 'rollback_started'
  plan.setUpdateStatus({
    ...status,
    state: rollback ? 'rollback_completed' : 'completed',
    message: rollback ? 'rollback completed' : 'update completed',
    completedAtMs: plan.nowMs
  })
}
