/**
 * Swarm's task states, in order (SwarmKit api/types.proto TaskState). A task's observed state only moves
 * forward through this list; every state from 'complete' on is terminal. The manager writes new, pending
 * and assigned (and orphaned, for a node that went down); the executor writes the rest (task-step.ts).
 */
export const TASK_STATES = [
  'new', 'pending', 'assigned', 'accepted', 'preparing', 'ready', 'starting', 'running',
  'complete', 'shutdown', 'failed', 'rejected', 'orphaned'
] as const
export type TaskState = typeof TASK_STATES[number]

/**
 * What the orchestrator wants of a task (SwarmKit's desired states RUNNING, SHUTDOWN, REMOVE). A task
 * shut down keeps its stopped container while the task stays in the store's history, as Docker's
 * `docker ps -a` shows; 'remove' (its service was removed, or the task left the node's assignments)
 * also removes the container.
 */
export type DesiredState = 'running' | 'shutdown' | 'remove'

const RANK = new Map<TaskState, number>(TASK_STATES.map((s, i) => [s, i]))

/** The position of `state` in Swarm's order. */
export function taskStateRank (state: TaskState): number {
  return RANK.get(state)!
}

/** Whether `state` is final: complete, shutdown, failed, rejected or orphaned. */
export function isTerminal (state: TaskState): boolean {
  return taskStateRank(state) >= taskStateRank('complete')
}
