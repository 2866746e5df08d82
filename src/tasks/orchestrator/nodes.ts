/**
 * How the orchestrator judges a task's node (SwarmKit orchestrator.InvalidNode), and the orphaning of a
 * down node's tasks (SwarmKit's dispatcher, here decided by the orchestrator core).
 */
import { olderFirst } from './history.js'
import { orphanable, type Plan } from './plan.js'
import type { OrchestratorConfig, OrchestratorNode, TaskObject } from './types.js'

/**
 * 'removed': not in the store; 'down': not ready; 'drained': availability drain; 'usable' otherwise
 * (active or paused). Only a usable node keeps its tasks.
 */
export type NodeCondition = 'usable' | 'drained' | 'down' | 'removed'

export function nodeCondition (node: OrchestratorNode | undefined): NodeCondition {
  if (node === undefined) return 'removed'
  if (!node.ready) return 'down'
  if (node.availability === 'drain') return 'drained'
  return 'usable'
}

/**
 * Orphan what a node can no longer report on: tasks in assigned…running on a node removed from the store
 * at once, on a down node once it has been down `orphanedTaskAfterMs` (asking to be woken then). The
 * orchestrator has asked these tasks to shut down already; orphaned is terminal, so the reaper may then
 * delete them.
 */
export function orphanTasks (plan: Plan, tasks: readonly TaskObject[], nodes: ReadonlyMap<string, OrchestratorNode>, config: OrchestratorConfig): void {
  for (const t of tasks) {
    if (t.nodeId === null) continue
    const node = nodes.get(t.nodeId)
    if (node === undefined) {
      plan.orphan(t, `node ${t.nodeId} was removed`)
    } else if (!node.ready && node.downSinceMs !== null) {
      const dueMs = node.downSinceMs + config.orphanedTaskAfterMs
      if (plan.nowMs >= dueMs) plan.orphan(t, `node ${t.nodeId} is down`)
      else if (orphanable(t.status.state)) plan.wakeAt(dueMs)
    }
  }
}

/** Whether the task's node is down or gone: what it runs there is lost to the cluster (see Plan.shutdown). */
export function lostWithNode (t: TaskObject, nodes: ReadonlyMap<string, OrchestratorNode>): boolean {
  if (t.nodeId === null) return false
  const c = nodeCondition(nodes.get(t.nodeId))
  return c === 'down' || c === 'removed'
}

/** The newest of a non-empty list of tasks. */
export function newestOf (tasks: readonly TaskObject[]): TaskObject {
  let newest = tasks[0]!
  for (const t of tasks) if (olderFirst(newest, t) < 0) newest = t
  return newest
}

