import type { Filter } from './types.js'

/**
 * The task's reservations must fit in what the node has left after every task placed on it, this
 * batch's included. A task that reserves nothing fits anywhere, even on an over-committed node
 * (SwarmKit's ResourceFilter is disabled for it).
 */
export const resourcesFilter: Filter = (_node, task, state) => {
  const { nanoCpus, memoryBytes } = task.reservations
  if (nanoCpus === 0 && memoryBytes === 0) return null
  return nanoCpus > state.availableNanoCpus || memoryBytes > state.availableMemoryBytes ? 'insufficient resources' : null
}
