/**
 * The global orchestrator (SwarmKit manager/orchestrator/global), one service per call: one task meant
 * to run on every eligible node (ready, availability active, placement constraints met).
 */
import { isTerminal } from '../executor/index.js'
import { nodeMatches, type Constraint } from '../scheduler/index.js'
import { lostWithNode, newestOf, nodeCondition } from './nodes.js'
import type { CreateIntent, Plan } from './plan.js'
import { holdsSlot, restartTimesAfter, shouldRestart, type ResolvedRestartPolicy } from './restart.js'
import type { OrchestratorNode, TaskObject } from './types.js'
import { startFirst, stillStopping, updateBudget, type UpdaterVerdict } from './update.js'

/** Whether a node takes a new task of the service: ready, active and meeting its constraints. */
export function eligibleNode (node: OrchestratorNode, constraints: readonly Constraint[]): boolean {
  return node.ready && node.availability === 'active' && nodeMatches(constraints, node)
}

/**
 * Reconcile a global service's tasks (`tasks`: this service's, any order) into `plan`, node by node:
 * - on a node that is down, drained, removed or no longer meets the constraints, tasks are shut down and
 *   not replaced; a paused node keeps its running task but gets no new one, nor a restart;
 * - on a usable node, an ended task is shut down and restarted there under the restart policy (a held
 *   node, whose ended task may not restart, gets nothing until the service changes, and a fresh task at
 *   once when that task was made from an older version); extra running
 *   tasks, oldest first, are shut down so that one remains;
 * - every eligible node with no task meant to run, not held, and with no old task still stopping (stop-first
 *   update), gets a new task with its node ID set.
 */
export function reconcileGlobal (
  plan: Plan, tasks: readonly TaskObject[], nodes: ReadonlyMap<string, OrchestratorNode>, constraints: readonly Constraint[], policy: ResolvedRestartPolicy,
  verdict: UpdaterVerdict
): void {
  const now = plan.nowMs
  const byNode = new Map<string, TaskObject[]>()
  for (const t of tasks) {
    if (t.nodeId === null) plan.shutdown(t)
    else byNode.set(t.nodeId, [...(byNode.get(t.nodeId) ?? []), t])
  }
  const covered = new Set<string>()
  const intents: CreateIntent[] = []
  /** Out-of-date live tasks, by node: replaced last, within the update budget. */
  const outdated: TaskObject[] = []
  /** Nodes whose old task is still stopping (stop-first): their replacement comes once it has stopped. */
  let stoppingNodes = 0
  for (const nodeId of [...byNode.keys()].sort()) {
    const ts = byNode.get(nodeId)!
    const node = nodes.get(nodeId)
    const running = ts.filter(t => t.desiredState === 'running')
    if (node === undefined || nodeCondition(node) !== 'usable' || !nodeMatches(constraints, node)) {
      for (const t of running) plan.shutdown(t, lostWithNode(t, nodes))
      continue
    }
    const live: TaskObject[] = []
    const ended: TaskObject[] = []
    let waiting = 0
    for (const t of running) {
      const delayed = t.delayUntilMs !== null && t.delayUntilMs > now
      if (delayed) plan.wakeAt(t.delayUntilMs)
      if (!isTerminal(t.status.state)) live.push(t)
      else if (delayed) waiting++
      else ended.push(t)
    }
    for (const t of ended) plan.shutdown(t)
    if (live.length > 0) {
      const keep = newestOf(live)
      const fresh = plan.upToDate(keep)
      // Start-first: an out-of-date task keeps running beside its replacement until the replacement runs.
      const early = startFirst(plan.service) && fresh && keep.status.state !== 'running'
      for (const t of live) if (t !== keep && !(early && !plan.upToDate(t))) plan.shutdown(t)
      if (!fresh) outdated.push(keep)
    }
    if (live.length > 0 || waiting > 0) {
      covered.add(nodeId)
    } else if (ts.some(t => stillStopping(plan, t, nodes))) {
      covered.add(nodeId)
      stoppingNodes++
    } else if (ended.length > 0) {
      const newest = newestOf(ended)
      if (node.availability === 'pause') continue
      if (shouldRestart(newest, policy)) {
        intents.push({
          slot: null,
          nodeId,
          delayUntilMs: policy.delayMs === 0 ? null : now + policy.delayMs,
          restartTimesMs: restartTimesAfter(newest, policy, plan.service.version, now, true)
        })
      } else if (newest.specVersion !== plan.service.version) {
        intents.push({ slot: null, nodeId, delayUntilMs: null, restartTimesMs: [] })
      }
      covered.add(nodeId)
    } else if (holdsSlot(newestOf(ts), plan.service.version, policy)) {
      covered.add(nodeId)
    }
  }
  for (const node of [...nodes.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))) {
    if (!covered.has(node.id) && eligibleNode(node, constraints)) {
      intents.push({ slot: null, nodeId: node.id, delayUntilMs: null, restartTimesMs: [] })
    }
  }
  // The updater, last: an out-of-date task is replaced on its node, Parallelism in flight (unless halted).
  let budget = updateBudget(plan, tasks, intents.length + stoppingNodes, verdict)
  const early = startFirst(plan.service)
  for (const t of outdated) {
    if (budget <= 0) break
    budget--
    if (!early) plan.shutdown(t)
    // Stop-first: the node gets its new task once this one has stopped (stillStopping, above).
    if (early || !stillStopping(plan, t, nodes)) intents.push({ slot: null, nodeId: t.nodeId, delayUntilMs: null, restartTimesMs: [] })
  }
  intents.sort((a, b) => ((a.nodeId ?? '') < (b.nodeId ?? '') ? -1 : (a.nodeId ?? '') > (b.nodeId ?? '') ? 1 : 0))
  plan.create(intents)
}
