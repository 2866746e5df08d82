import type { Filter } from './types.js'

/** None of the task's host-mode published ports may be in use on the node (same protocol and port). */
export const hostPortsFilter: Filter = (_node, task, state) => {
  for (const key of task.hostPortKeys) {
    if (state.usedHostPorts.has(key)) return 'host-mode port already in use'
  }
  return null
}
