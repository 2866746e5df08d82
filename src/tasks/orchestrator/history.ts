/**
 * Task history (SwarmKit's task reaper, manager/orchestrator/taskreaper): the tasks of one slot (one node,
 * for a global service) beyond the retention limit, and every stopped task of a slot that no longer
 * exists, are deleted from the store, oldest first.
 */
import { isTerminal, taskStateRank, type DesiredState, type TaskState } from '../executor/index.js'

/** Docker's default Orchestration.TaskHistoryRetentionLimit. */
export const DEFAULT_TASK_HISTORY_RETENTION_LIMIT = 5

/** One task as the reaper weighs it, after this pass's changes. */
export interface HistoryTask {
  readonly id: string
  /** null for a task created in this pass (always the newest). */
  readonly version: number | null
  readonly createdAtMs: number
  readonly desiredState: DesiredState
  readonly state: TaskState
}

/**
 * Oldest first: by creation time, then version (a task created in this pass last), then ID. SwarmKit sorts
 * by status timestamp; creation times are the manager's own clock, and a slot's tasks are created in turn.
 */
export function olderFirst (a: Pick<HistoryTask, 'id' | 'version' | 'createdAtMs'>, b: Pick<HistoryTask, 'id' | 'version' | 'createdAtMs'>): number {
  if (a.createdAtMs !== b.createdAtMs) return a.createdAtMs - b.createdAtMs
  const av = a.version ?? Number.POSITIVE_INFINITY
  const bv = b.version ?? Number.POSITIVE_INFINITY
  if (av !== bv) return av < bv ? -1 : 1
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0
}

/** A task the reaper may delete: it stopped, or it was shut down before reaching a node (SwarmKit's taskWillNeverRun). */
export function reapable (t: HistoryTask): boolean {
  return isTerminal(t.state) || (t.desiredState === 'shutdown' && taskStateRank(t.state) < taskStateRank('assigned'))
}

/**
 * The tasks of one slot to delete, oldest first. A slot that still exists keeps at most `limit` tasks,
 * the live ones included (SwarmKit counts every task of the slot), deleting only reapable ones; a
 * negative `limit` keeps everything. A `removed` slot (scaled away, or its node left the cluster)
 * loses every reapable task.
 */
export function historyToDelete (slot: readonly HistoryTask[], limit: number, removed: boolean): HistoryTask[] {
  const ordered = [...slot].sort(olderFirst)
  if (removed) return ordered.filter(reapable)
  if (limit < 0 || ordered.length <= limit) return []
  const excess = ordered.length - limit
  return ordered.filter(reapable).slice(0, excess)
}
