/** Which tasks a node is told about, and in what form (SwarmKit dispatcher's Assignments). */
import type { StoreState } from '../../election/index.js'
import { taskStateRank } from '../executor/index.js'
import type { TaskObject } from '../orchestrator/index.js'
import type { Assignment } from './protocol.js'
import { taskSecretsOf } from '../secrets/task-blobs.js'

/**
 * A node is told of its tasks from 'assigned' on, including ended ones: a task's stopped container
 * stays on the node while the task is in the store's history, and goes when the task leaves the set.
 */
export function isAssignedTo (t: TaskObject, nodeId: string): boolean {
  return t.nodeId === nodeId && taskStateRank(t.status.state) >= taskStateRank('assigned')
}

/** The assignment of `t`, with the secrets and configs its container references (`state`: the leader's store). */
export function assignmentOf (t: TaskObject, state: StoreState): Assignment {
  const blobs = (t.spec.ContainerSpec.Secrets ?? []).length + (t.spec.ContainerSpec.Configs ?? []).length > 0 ? taskSecretsOf(state, t.spec.ContainerSpec) : null
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
    ...(blobs === null ? {} : blobs),
    delayUntilMs: t.delayUntilMs
  }
}

export function assignmentsOf (state: StoreState, nodeId: string): Assignment[] {
  const out: Assignment[] = []
  for (const t of state.tasks.values()) if (isAssignedTo(t, nodeId)) out.push(assignmentOf(t, state))
  return out
}
