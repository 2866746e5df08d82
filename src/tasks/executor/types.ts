import type { NodeDescription } from '../../membership/index.js'
import type { DataPlane } from './network-view.js'
import type { ContainerSpec, TaskNetworkAddress, TaskResources, TaskState } from '../../election/index.js'
import type { TaskBlob } from '../secrets/task-blobs.js'

export { TASK_STATES, type TaskState, type DesiredState, type ContainerSpec, type HealthConfig, type TaskResources, type FileTarget } from '../../election/index.js'

/** A call on a task's controller. */
export type ControllerCall = 'prepare' | 'start' | 'wait' | 'shutdown' | 'remove'
/** What the driver does next for a task: one controller call, or nothing. */
export type ControllerAction = ControllerCall | 'none'

/**
 * How a controller call ended, as the driver hands it to `taskStep`. `exitCode` is set by a successful
 * 'wait' (the container exited with it). An error is `retryable` when the same call may succeed later
 * (the engine did not answer, a wait was interrupted); `message` is the engine's own text where it has one.
 */
export type ControllerResult =
  | { readonly action: ControllerCall, readonly ok: true, readonly exitCode?: number, readonly message?: string }
  | { readonly action: ControllerCall, readonly ok: false, readonly message: string, readonly retryable: boolean }

/** How `taskStep` classifies a failed call (SwarmKit agent/exec.Do's `fatal`). */
export type ErrorClass = 'retry' | 'rejected' | 'failed'

/** A port published in host mode: the engine binds PublishedPort on the node (0: any free port) to TargetPort. */
export interface HostPort {
  readonly TargetPort: number
  readonly PublishedPort: number
  readonly Protocol?: 'tcp' | 'udp' | 'sctp'
}

/** One task as the manager assigned it to this node: what a controller needs and nothing else. */
export interface TaskDescription {
  readonly taskId: string
  readonly serviceId: string
  readonly serviceName: string
  /** The replica's slot (from 1); null for a global service's task, whose name then carries the node ID. */
  readonly slot: number | null
  readonly nodeId: string
  readonly spec: ContainerSpec
  readonly resources?: TaskResources
  readonly ports?: readonly HostPort[]
  /** The task's addresses on its overlay networks; the data plane attaches the container to them. */
  readonly networks?: readonly TaskNetworkAddress[]
  /** The data of the secrets and configs `spec` references (spec.Secrets / spec.Configs say where). */
  readonly secrets?: readonly TaskBlob[]
  readonly configs?: readonly TaskBlob[]
}

/** How a task's container ended. Times are the engine's RFC 3339 strings. */
export interface ExitStatus {
  readonly exitCode: number
  /** The engine's error text ('' when none); 'OOM killed' when the kernel killed it for memory. */
  readonly error: string
  readonly startedAt: string
  readonly finishedAt: string
}

/** A container state change from the engine's events stream, as a controller reports it. */
export interface ContainerStatus {
  readonly taskId: string
  readonly containerId: string
  readonly state: 'created' | 'running' | 'paused' | 'exited' | 'removed'
  /** The engine's time of the change, in milliseconds since the epoch. */
  readonly timestampMs: number
  /** Set when state is 'exited'. */
  readonly exitCode?: number
  /** The engine's error text when state is 'exited' ('' when none). */
  readonly error?: string
}

/**
 * One task's container, driven by `taskStep` (SwarmKit agent/exec.Controller). Every call is idempotent:
 * prepare finds an existing container of this task, start an already started one, shutdown and remove
 * a missing one. Errors are FlotillaErrors whose `retryable` and message feed a ControllerResult.
 */
export interface TaskController {
  readonly task: TaskDescription
  /** Pull the image if absent, then create the container. */
  prepare(): Promise<void>
  start(): Promise<void>
  /** Resolve when the container exits. Rejects (retryable) when `signal` aborts or the events stream drops. */
  wait(signal?: AbortSignal): Promise<ExitStatus>
  /** Send the stop signal, SIGKILL after the grace period; resolves once the container has stopped. */
  shutdown(): Promise<void>
  /** Remove the container (and its anonymous volumes), stopping it first if needed. */
  remove(): Promise<void>
  /** The container's current status, or undefined when there is none. */
  inspect(): Promise<ContainerStatus | undefined>
  /**
   * Report every state change of this task's container, in the engine's order, from the moment the
   * returned promise resolves (the node's events stream is open) until the function it gives is called.
   */
  subscribe(listener: (status: ContainerStatus) => void): Promise<() => void>
}

/** A container of this node found on the engine at start-up whose task is still assigned. */
export interface AdoptedTask {
  readonly taskId: string
  readonly containerId: string
  /** The state to resume `taskStep` from: 'ready' (created), 'running', 'complete' or 'failed'. */
  readonly observed: TaskState
  readonly exit?: ExitStatus
}

export interface AdoptResult {
  readonly adopted: readonly AdoptedTask[]
  /** IDs of containers removed because their task is no longer assigned to this node. */
  readonly removed: readonly string[]
}

/** Which containers of a node `Executor.logs` reads: those of a service, and/or named tasks. */
export interface LogSelector {
  /** Every container of this service on the node, including those that start while following. */
  readonly serviceId: string | null
  /** Containers of these tasks (any service). */
  readonly taskIds: readonly string[]
}

/** Docker's log options (GET /containers/{id}/logs), per container: `tail` lines of each, 'all' for all. */
export interface LogOptions {
  /** Keep reading, and pick up containers started later, until the signal aborts. */
  readonly follow: boolean
  readonly tail: number | 'all'
  /** Only lines from this time on: Docker's unix timestamp `seconds[.nanoseconds]`, null for all. */
  readonly since: string | null
}

/** One line a task's container wrote, as Docker's log broker carries it (SwarmKit api.LogMessage). */
export interface LogLine {
  readonly taskId: string
  readonly serviceId: string
  /** The node whose engine holds the container. */
  readonly nodeId: string
  readonly stream: 'stdout' | 'stderr'
  /** The engine's time of the line, RFC 3339 in UTC with 9 fractional digits (so that strings sort by time). */
  readonly timestamp: string
  /** The line as written, newline included when the container wrote one. */
  readonly text: string
}

/**
 * The container runtime behind one node, as the rest of flotilla sees it (SwarmKit agent/exec.Executor).
 * Only the Docker executor (executor/docker) touches dockerode.
 */
export interface Executor {
  /** The node's overlay data plane; null when this executor has none (tasks attached to networks are then rejected). */
  readonly dataPlane: DataPlane | null
  /** Describe the node from its engine: platform, resources, engine version and labels. Never throws:
   *  an engine that does not answer is described as unavailable, with the host's own platform and size. */
  describe(): Promise<NodeDescription>
  /** The controller of one task; performs no I/O until called. */
  controller(task: TaskDescription): TaskController
  /**
   * Find the containers labelled with `nodeId` (and only those: agents may share an engine). Those whose
   * task is in `assigned` are adopted, the others removed.
   */
  adopt(nodeId: string, assigned: ReadonlySet<string>): Promise<AdoptResult>
  /**
   * The log lines of node `nodeId`'s containers that `selector` names (only containers labelled with
   * that node), each container's in order. Without `follow` it ends once every container's logs were
   * read; with it, it also reads containers started later, until `signal` aborts (then it ends quietly).
   * Throws a FlotillaError when the engine cannot list the containers.
   */
  logs(nodeId: string, selector: LogSelector, options: LogOptions, signal: AbortSignal): AsyncIterable<LogLine>
  /** Remove every task's secret and config files (the node left the cluster). */
  wipeTaskFiles(): Promise<void>
  /** Close the events streams; pending waits reject, retryable (the tasks have not failed). */
  close(): Promise<void>
}
