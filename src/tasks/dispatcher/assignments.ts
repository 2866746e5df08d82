/** Which tasks a node is told about, and in what form (SwarmKit dispatcher's Assignments). */
import type { StoreState } from '../../election/index.js'
import { taskStateRank } from '../executor/index.js'
import type { TaskObject } from '../orchestrator/index.js'
import type { Assignment } from './protocol.js'

/**
 * A node is told of its tasks from 'assigned' on, including ended ones: a task's stopped container
 * stays on the node while the task is in the store's history, and goes when the task leaves the set.
 */
export function isAssignedTo (t: TaskObject, nodeId: string): boolean {
  return t.nodeId === nodeId && taskStateRank(t.status.state) >= taskStateRank('assigned')
}

export function assignmentOf (t: TaskObject): Assignment {
  return {
    taskId: t.id,
    serviceId: t.serviceId,
    serviceName: t.serviceName,
    slot: t.slot,
    desiredState: t.desiredState,
    state: t.status.state,
    spec: t.spec,
    ports: t.ports,
    networks: t.networks,
    delayUntilMs: t.delayUntilMs
  }
}

export function assignmentsOf (state: StoreState, nodeId: string): Assignment[] {
  const out: Assignment[] = []
  for (const t of state.tasks.values()) if (isAssignedTo(t, nodeId)) out.push(assignmentOf(t))
  return out
}
