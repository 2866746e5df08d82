/**
 * The scheduler's running view of one node during a batch: capacity left, host ports taken, and task
 * counts (SwarmKit's NodeInfo). Built from the node and the tasks already placed on it, then updated
 * as the batch assigns tasks. Private to one scheduleBatch call, so mutable.
 */
import { occupiedPortKeys } from './prepared-task.js'
import type { PreparedTask } from './prepared-task.js'
import type { PlacedTask, SchedulerNode } from './types.js'

export interface NodeState {
  readonly node: SchedulerNode
  /** Capacity minus every placed task's reservations; negative when the node is over-committed. */
  availableNanoCpus: number
  availableMemoryBytes: number
  /** `protocol/port` keys of host-mode ports in use. */
  readonly usedHostPorts: Set<string>
  /** Tasks per service on this node: the ranking's first key and the max-replicas count. */
  readonly tasksByService: Map<string, number>
  /** Tasks of every service on this node: the ranking's second key. */
  totalTasks: number
}

export function newNodeState (node: SchedulerNode): NodeState {
  return {
    node,
    availableNanoCpus: node.resources.nanoCpus,
    availableMemoryBytes: node.resources.memoryBytes,
    usedHostPorts: new Set(),
    tasksByService: new Map(),
    totalTasks: 0
  }
}

export function serviceTasks (state: NodeState, serviceId: string): number {
  return state.tasksByService.get(serviceId) ?? 0
}

/** Count a task that was on the node before the batch. */
export function addPlacedTask (state: NodeState, task: PlacedTask): void {
  take(state, task.serviceId, task.reservations.nanoCpus, task.reservations.memoryBytes, occupiedPortKeys(task.hostPorts))
}

/** Count a task this batch assigns to the node. */
export function addAssignedTask (state: NodeState, task: PreparedTask): void {
  take(state, task.serviceId, task.reservations.nanoCpus, task.reservations.memoryBytes, task.hostPortKeys)
}

function take (state: NodeState, serviceId: string, nanoCpus: number, memoryBytes: number, portKeys: readonly string[]): void {
  state.availableNanoCpus -= nanoCpus
  state.availableMemoryBytes -= memoryBytes
  for (const key of portKeys) state.usedHostPorts.add(key)
  state.tasksByService.set(serviceId, serviceTasks(state, serviceId) + 1)
  state.totalTasks++
}
