/**
 * The tasks layer: the executor (the node's engine, task controllers), and the pure cores of the
 * scheduler, the orchestrator and the allocator; the dispatcher and their wiring come with services.
 */
export * from './executor/index.js'
export * from './scheduler/index.js'
export * from './orchestrator/index.js'
export * from './allocator/index.js'
export * from './dispatcher/index.js'
export * from './leader/index.js'
export * from './worker/index.js'
export * from './secrets/index.js'
