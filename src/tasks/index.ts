/** The tasks layer: the executor now; orchestrator, scheduler, allocator and dispatcher come with services. */
export type { Executor } from './executor/types.js'
export { DockerExecutor, dockerOptions } from './executor/docker/docker-executor.js'
export { hostDescription, dockerArch } from './executor/host-description.js'
export * from './scheduler/index.js'
