import type { Filter } from './types.js'

/** The node must be ready: a down or unknown node takes no new task (SwarmKit's ReadyFilter, status half). */
export const readyFilter: Filter = (node) => node.ready ? null : 'not available for new tasks'
