/**
 * The filter pipeline (SwarmKit's manager/scheduler/pipeline.go): each node goes through the filters in
 * SwarmKit's order and stops at the first refusal; when no node takes a task, the refusals counted
 * over the nodes become its message.
 *
 * Order: ready, availability, resources, constraints, platform, host ports, max replicas. The order
 * decides which reason a node that fails several is counted under; SwarmKit checks resources before
 * constraints, so a node both too small and excluded by a constraint counts as "insufficient resources".
 */
import { availabilityFilter } from './filters/availability.js'
import { constraintsFilter } from './filters/constraints.js'
import { hostPortsFilter } from './filters/host-ports.js'
import { maxReplicasFilter } from './filters/max-replicas.js'
import { platformFilter } from './filters/platform.js'
import { readyFilter } from './filters/ready.js'
import { resourcesFilter } from './filters/resources.js'
import type { Filter, Refusal } from './filters/types.js'
import type { NodeState } from './node-state.js'
import type { PreparedTask } from './prepared-task.js'

export type FilterName = 'ready' | 'availability' | 'resources' | 'constraints' | 'platform' | 'host-ports' | 'max-replicas'

export interface PipelineStage {
  readonly name: FilterName
  readonly filter: Filter
  /**
   * Whether the verdict can change as the batch assigns tasks (capacity, ports, counts). Within one
   * spec's group it can only turn from pass to refuse, never back: assignments only take.
   */
  readonly changesWithBatch: boolean
}

export const PIPELINE: readonly PipelineStage[] = [
  { name: 'ready', filter: readyFilter, changesWithBatch: false },
  { name: 'availability', filter: availabilityFilter, changesWithBatch: false },
  { name: 'resources', filter: resourcesFilter, changesWithBatch: true },
  { name: 'constraints', filter: constraintsFilter, changesWithBatch: false },
  { name: 'platform', filter: platformFilter, changesWithBatch: false },
  { name: 'host-ports', filter: hostPortsFilter, changesWithBatch: true },
  { name: 'max-replicas', filter: maxReplicasFilter, changesWithBatch: true }
]

const BATCH_STAGES = PIPELINE.filter(s => s.changesWithBatch)

/** The first filter's refusal of the node, or null when every filter passes. */
export function firstRefusal (task: PreparedTask, state: NodeState): Refusal | null {
  for (const stage of PIPELINE) {
    const refusal = stage.filter(state.node, task, state)
    if (refusal !== null) return refusal
  }
  return null
}

/** Only the filters whose verdict the batch can change: for a node that passed the full pipeline earlier. */
export function batchRefusal (task: PreparedTask, state: NodeState): Refusal | null {
  for (const stage of BATCH_STAGES) {
    const refusal = stage.filter(state.node, task, state)
    if (refusal !== null) return refusal
  }
  return null
}

// Ties in the message are listed in pipeline order (SwarmKit's unstable sort leaves them in any order).
const REFUSAL_ORDER: readonly Refusal[] = [
  'not available for new tasks',
  'insufficient resources',
  'scheduling constraints not satisfied',
  'unsupported platform',
  'host-mode port already in use',
  'max replicas per node limit exceed'
]

/** SwarmKit's Explain(nodes) for one filter: most phrases say how many nodes, two differently. */
export function explainRefusal (refusal: Refusal, nodes: number): string {
  const counted = nodes === 1 ? '1 node' : `${nodes} nodes`
  switch (refusal) {
    case 'not available for new tasks': return `${counted} not available for new tasks`
    case 'max replicas per node limit exceed': return refusal
    case 'insufficient resources':
    case 'scheduling constraints not satisfied':
    case 'unsupported platform':
    case 'host-mode port already in use':
      return `${refusal} on ${counted}`
  }
}

/** The refusals joined with "; ", most frequent first: e.g. `insufficient resources on 3 nodes; 1 node not available for new tasks`. */
export function explainRefusals (counts: ReadonlyMap<Refusal, number>): string {
  return REFUSAL_ORDER
    .filter(r => (counts.get(r) ?? 0) > 0)
    .sort((a, b) => (counts.get(b) ?? 0) - (counts.get(a) ?? 0))
    .map(r => explainRefusal(r, counts.get(r) ?? 0))
    .join('; ')
}

/** Count, over `states`, the first refusal of each node that refuses the task. */
export function countRefusals (task: PreparedTask, states: Iterable<NodeState>): Map<Refusal, number> {
  const counts = new Map<Refusal, number>()
  for (const state of states) {
    const refusal = firstRefusal(task, state)
    if (refusal !== null) counts.set(refusal, (counts.get(refusal) ?? 0) + 1)
  }
  return counts
}

/** The pending message of a replicated task no node takes: `no suitable node (<explanation>)`. */
export function noSuitableNode (task: PreparedTask, states: Iterable<NodeState>): string {
  const explanation = explainRefusals(countRefusals(task, states))
  return explanation === '' ? 'no suitable node' : `no suitable node (${explanation})`
}
