/**
 * The tasks layer: the executor (the node's engine, task controllers) and the scheduler; the
 * orchestrator, allocator and dispatcher come with services.
 */
export * from './executor/index.js'
export * from './scheduler/index.js'
