import type { NodeState } from '../node-state.js'
import type { PreparedTask } from '../prepared-task.js'
import type { SchedulerNode } from '../types.js'

/**
 * Why a filter refused a node: SwarmKit's wording, which the pipeline aggregates over nodes into the
 * pending task's message (see explainRefusals). Readiness and availability share one phrase, as they
 * are one filter in SwarmKit.
 */
export type Refusal =
  | 'not available for new tasks'
  | 'insufficient resources'
  | 'scheduling constraints not satisfied'
  | 'unsupported platform'
  | 'host-mode port already in use'
  | 'max replicas per node limit exceed'

/** A filter: null when `node` may take `task` given the batch's `state` of that node, else why not. */
export type Filter = (node: SchedulerNode, task: PreparedTask, state: NodeState) => Refusal | null
