/**
 * The tasks layer: the executor (the node's engine, task controllers), the scheduler and the
 * orchestrator's pure core; the allocator, the dispatcher and their wiring come with services.
 */
export * from './executor/index.js'
export * from './scheduler/index.js'
export * from './orchestrator/index.js'
