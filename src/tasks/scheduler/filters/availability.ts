import type { Filter } from './types.js'

/** Only `active` nodes take new tasks; `pause` and `drain` do not (SwarmKit's ReadyFilter, availability half). */
export const availabilityFilter: Filter = (node) => node.availability === 'active' ? null : 'not available for new tasks'
