/** The executor: the node's description, the task step function, its driver, and the Docker executor. */
export type {
  Executor, TaskController, TaskDescription, ContainerSpec, HealthConfig, TaskResources, HostPort, ExitStatus, ContainerStatus,
  AdoptedTask, AdoptResult, LogSelector, LogOptions, LogLine, TaskState, DesiredState, ControllerCall, ControllerAction, ControllerResult, ErrorClass
} from './types.js'
export { TASK_STATES } from './types.js'
export type { DataPlane, NodeNetworkView, NetworkView, ServiceOnNetwork, IngressPort, TaskNetworkAddress } from './network-view.js'
export { taskStep, actionFor, classifyError, isTerminal, taskStateRank, type TaskStep, type TaskStepInput } from './task-step.js'
export { TaskRunner, callController, type TaskRunnerInit } from './task-runner.js'
export { hostDescription, dockerArch } from './host-description.js'
export { DockerExecutor, dockerOptions } from './docker/docker-executor.js'
export { DockerDataPlane, type DockerDataPlaneInit } from './docker/overlay/data-plane.js'
export { muxFrame, MuxParser, type MuxFrame, type MuxStream } from './docker/log-frames.js'
export { LABELS as SWARM_LABELS, containerName } from './docker/containers.js'
