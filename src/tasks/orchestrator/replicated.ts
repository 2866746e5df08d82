/**
 * The replicated orchestrator (SwarmKit manager/orchestrator/replicated), one service per call: exactly
 * Replicas slots, numbered from 1, each holding one task meant to run.
 */
import { isTerminal } from '../executor/index.js'
import { lostWithNode, newestOf, nodeCondition } from './nodes.js'
import type { CreateIntent, Plan } from './plan.js'
import { holdsSlot, restartTimesAfter, shouldRestart, type ResolvedRestartPolicy } from './restart.js'
import { rebalanceMove, rebalanceWanted } from './rebalance.js'
import type { OrchestratorNode, TaskObject } from './types.js'
import { startFirst, stillStopping, updateBudget, updateInProgress, type UpdaterVerdict } from './update.js'

/**
 * What becomes of a slot in this pass before scaling: it runs (or will), is held, waits for its old task
 * to stop (stop-first), or is empty.
 */
type Outcome = 'runnable' | 'held' | 'stopping' | 'dead'

interface SlotState {
  readonly slot: number
  /** Its tasks meant to run (desired 'running'). */
  readonly running: readonly TaskObject[]
  /** Tasks meant to run that must be shut down: they ended, or their node is down, drained or removed. */
  readonly stopping: readonly TaskObject[]
  readonly replacement: CreateIntent | null
  readonly outcome: Outcome
}

function slotState (plan: Plan, slot: number, tasks: readonly TaskObject[], nodes: ReadonlyMap<string, OrchestratorNode>, policy: ResolvedRestartPolicy): SlotState {
  const now = plan.nowMs
  const running = tasks.filter(t => t.desiredState === 'running')
  let runnable = 0
  const stopping: TaskObject[] = []
  for (const t of running) {
    const delayed = t.delayUntilMs !== null && t.delayUntilMs > now
    if (delayed) plan.wakeAt(t.delayUntilMs)
    if (isTerminal(t.status.state)) {
      // SwarmKit's waitRestart: a task that ends before its own delayed start is restarted only once that
      // start is due, so that a task failing at once does not restart in a tight loop.
      if (delayed) runnable++
      else stopping.push(t)
    } else if (t.nodeId !== null && nodeCondition(nodes.get(t.nodeId)) !== 'usable') {
      stopping.push(t)
    } else {
      runnable++
    }
  }
  if (runnable > 0) return { slot, running, stopping, replacement: null, outcome: 'runnable' }
  if (stopping.length === 0) {
    // Asked to stop and not stopped yet: the slot is refilled (with the same number) once it has.
    if (tasks.some(t => stillStopping(plan, t, nodes))) return { slot, running, stopping, replacement: null, outcome: 'stopping' }
    const held = tasks.length > 0 && holdsSlot(newestOf(tasks), plan.service.version, policy)
    return { slot, running, stopping, replacement: null, outcome: held ? 'held' : 'dead' }
  }
  const newest = newestOf(stopping)
  const drained = newest.nodeId !== null && nodeCondition(nodes.get(newest.nodeId)) === 'drained'
  // SwarmKit applies no restart delay to a task leaving a drained node.
  const delayUntilMs = drained || policy.delayMs === 0 ? null : now + policy.delayMs
  const ended = isTerminal(newest.status.state)
  if (ended && !shouldRestart(newest, policy)) {
    if (newest.specVersion === plan.service.version) return { slot, running, stopping, replacement: null, outcome: 'held' }
    // Made from an older spec: SwarmKit's updater would replace it; so does this pass, with a fresh task.
    return { slot, running, stopping, replacement: { slot, nodeId: null, delayUntilMs: null, restartTimesMs: [] }, outcome: 'runnable' }
  }
  // A task that ended is restarted (and counts against MaxAttempts); one whose node is down, drained or
  // removed is rescheduled whatever the policy says, without counting.
  const replacement: CreateIntent = {
    slot, nodeId: null, delayUntilMs, restartTimesMs: restartTimesAfter(newest, policy, plan.service.version, now, ended)
  }
  return { slot, running, stopping, replacement, outcome: 'runnable' }
}

/**
 * Reconcile a replicated service's tasks (`tasks`: this service's, any order) into `plan`:
 * 1. per slot, the restart supervisor: a task meant to run that ended is shut down (desired state) and
 *    replaced if the restart policy allows, after its delay; one on a down, drained or removed node is shut
 *    down and replaced (no delay from a drained node); a slot whose ended task may not restart is held, unless
 *    that task was made from an older version of the service: it then gets a fresh task at once;
 * 2. scale: slots running, held or stopping beyond Replicas are shut down, highest slot first; missing
 *    slots are created from the lowest free number up; a slot whose old task is still stopping is not
 *    refilled until it has stopped (update.ts `stillStopping`);
 * 3. update: a slot whose live task is out of date (update.ts) is replaced, at most
 *    UpdateConfig.Parallelism in flight, unless the updater is halted (`verdict`): stop-first, the old
 *    task is shut down and the slot refilled once it has stopped; start-first, a fresh task is made at once;
 * 4. rebalance (rebalance.ts), when wanted and nothing else is in flight: one task moves to a less used
 *    node; a slot holding two up-to-date tasks keeps the newer once it runs.
 * Returns the slots that exist once the pass is applied (running or held); any other slot is removed.
 */
export function reconcileReplicated (
  plan: Plan, replicas: number, tasks: readonly TaskObject[], nodes: ReadonlyMap<string, OrchestratorNode>, policy: ResolvedRestartPolicy,
  verdict: UpdaterVerdict
): ReadonlySet<number> {
  const bySlot = new Map<number, TaskObject[]>()
  for (const t of tasks) {
    // A task without a slot is no replica of this service: it is asked to stop.
    if (t.slot === null) plan.shutdown(t)
    else bySlot.set(t.slot, [...(bySlot.get(t.slot) ?? []), t])
  }
  const states = [...bySlot.keys()].sort((a, b) => a - b).map(slot => slotState(plan, slot, bySlot.get(slot)!, nodes, policy))
  const occupied = states.filter(s => s.outcome !== 'dead')
  const excess = occupied.length - replicas
  const removed = new Set(excess > 0 ? occupied.slice(-excess).map(s => s.slot) : [])
  const existing = new Set<number>()
  const intents: CreateIntent[] = []
  for (const s of states) {
    if (removed.has(s.slot)) {
      for (const t of s.running) plan.shutdown(t, lostWithNode(t, nodes))
      continue
    }
    for (const t of s.stopping) plan.shutdown(t, lostWithNode(t, nodes))
    if (s.replacement !== null) intents.push(s.replacement)
    if (s.outcome !== 'dead') existing.add(s.slot)
  }
  for (let slot = 1; existing.size < replicas; slot++) {
    if (existing.has(slot)) continue
    existing.add(slot)
    intents.push({ slot, nodeId: null, delayUntilMs: null, restartTimesMs: [] })
  }
  // The updater, last: slots whose live task is out of date get a fresh one, Parallelism in flight.
  const early = startFirst(plan.service)
  const waiting = states.filter(s => s.outcome === 'stopping' && !removed.has(s.slot)).length
  let budget = updateBudget(plan, tasks, intents.length + waiting, verdict)
  const liveBySlot = new Map<number, TaskObject[]>()
  for (const s of states) {
    if (removed.has(s.slot) || s.outcome !== 'runnable' || s.replacement !== null) continue
    const live = s.running.filter(t => !isTerminal(t.status.state) && plan.desiredState(t) === 'running')
    const fresh = live.filter(t => plan.upToDate(t))
    const outdated = live.filter(t => !plan.upToDate(t))
    liveBySlot.set(s.slot, live)
    if (outdated.length === 0) {
      // A rebalance move: the slot's older task stops once the newer one, on a less used node, runs.
      const newest = fresh.length > 1 ? newestOf(fresh) : null
      if (newest?.status.state === 'running') {
        for (const t of fresh) if (t !== newest) plan.shutdown(t)
        liveBySlot.set(s.slot, [newest])
      }
      continue
    }
    if (fresh.length > 0) {
      // Start-first: the old task stops once its replacement runs (stop-first never gets here).
      if (fresh.some(t => t.status.state === 'running')) for (const t of outdated) plan.shutdown(t)
      continue
    }
    if (budget <= 0) continue
    budget--
    if (!early) for (const t of outdated) plan.shutdown(t)
    // Stop-first: the slot is refilled once its old task has stopped, unless nothing is left to wait for.
    if (early || !outdated.some(t => stillStopping(plan, t, nodes))) intents.push({ slot: s.slot, nodeId: null, delayUntilMs: null, restartTimesMs: [] })
  }
  if (rebalanceWanted(plan.service) && !verdict.halted && !updateInProgress(plan.updateStatus())) {
    // Slots restarted or created in this pass are in `intents`: rebalanceMove then waits.
    const slot = rebalanceMove(plan, liveBySlot, nodes, intents.length, verdict.config.delayMs)
    if (slot !== null) intents.push({ slot, nodeId: null, delayUntilMs: null, restartTimesMs: [] })
  }
  intents.sort((a, b) => (a.slot ?? 0) - (b.slot ?? 0))
  plan.create(intents)
  return existing
}
