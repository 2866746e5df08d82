import { nodeMatches } from '../constraints.js'
import type { Filter } from './types.js'

/** Every placement constraint must hold on the node (see ../constraints.ts for the matching rules). */
export const constraintsFilter: Filter = (node, task) =>
  nodeMatches(task.constraints, node) ? null : 'scheduling constraints not satisfied'
