/** The scheduler core: a pure pipeline of filters and a spreading placement (SwarmKit's manager/scheduler). */
export type {
  Resources, NodeRole, NodeAvailability, Platform, SchedulerNode, PortProtocol, ReservedHostPort, PlacementPreference,
  TaskToPlace, PlacedTask, Assignment, Unschedulable, ScheduleResult
} from './types.js'
export { parseConstraint, parseConstraints, constraintMatches, nodeMatches, type Constraint, type ConstraintKey, type ConstraintOperator } from './constraints.js'
export type { Refusal, Filter } from './filters/types.js'
export { PIPELINE, explainRefusal, explainRefusals, type FilterName, type PipelineStage } from './pipeline.js'
export { scheduleBatch } from './schedule.js'
