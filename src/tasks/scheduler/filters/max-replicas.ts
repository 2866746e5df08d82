import { serviceTasks } from '../node-state.js'
import type { Filter } from './types.js'

/** With maxReplicas > 0, the node must hold fewer than maxReplicas tasks of the service. */
export const maxReplicasFilter: Filter = (_node, task, state) =>
  task.maxReplicas > 0 && serviceTasks(state, task.serviceId) >= task.maxReplicas ? 'max replicas per node limit exceed' : null
