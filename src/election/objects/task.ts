import type { AllocatedPort } from './ports.js'
import type { TaskTemplate } from './service.js'
import type { DesiredState, TaskState } from './task-state.js'

/** A task's observed state. The orchestrator writes 'new' at creation and 'orphaned'; the agent the rest. */
export interface TaskStatus {
  readonly state: TaskState
  /** When the state was reached, in ms since the epoch (the writer's clock). */
  readonly timestampMs: number
  readonly message: string
  /** The error text when the task failed or was rejected; null otherwise. */
  readonly err: string | null
  /** The container's exit code once it exited; null before. */
  readonly exitCode: number | null
}

/** A task's address on one overlay network, allocated by the leader when it placed the task (Docker's NetworkAttachment). */
export interface TaskNetworkAddress {
  readonly networkId: string
  /** With its prefix length, as Docker shows it: `10.0.1.5/24`. */
  readonly address: string
  /** Extra names the task's service answers to on this network (the attachment's Aliases). */
  readonly aliases: readonly string[]
}

/** A task in the replicated store (SwarmKit's api.Task, trimmed). */
export interface TaskObject {
  readonly id: string
  readonly serviceId: string
  /** The service's name when the task was made: its container is named after it. */
  readonly serviceName: string
  /** `<service>.<slot>` for a replicated task, `<service>.<nodeId>` for a global one. */
  readonly name: string
  /** The replica's slot (from 1); null for a global service's task. */
  readonly slot: number | null
  /** The node the task runs on: set by the scheduler (replicated) or at creation (global); null until then. */
  readonly nodeId: string | null
  /** Written by the orchestrator only, and only ever from 'running' to 'shutdown'. */
  readonly desiredState: DesiredState
  readonly status: TaskStatus
  /** The `version` of the service this task was made from. */
  readonly specVersion: number
  /** The service's TaskTemplate at `specVersion` (SwarmKit's Task.Spec): what the node runs, whatever the service becomes. */
  readonly spec: TaskTemplate
  /** The service's allocated ports at `specVersion`: host-mode ones published by the task's node, ingress ones by the routing mesh. */
  readonly ports: readonly AllocatedPort[]
  /**
   * The task's addresses on its networks (its spec's, and ingress when its ports publish in ingress mode),
   * allocated when the scheduler placed it; empty before, and for a task attached to no network. Held
   * (never given to another task) until the task reaches a terminal state.
   */
  readonly networks: readonly TaskNetworkAddress[]
  /**
   * A restart's delayed start (SwarmKit's desired state READY): the task must not be started before this
   * time (ms); null when it may start at once. The scheduler may place it and the agent prepare it earlier.
   */
  readonly delayUntilMs: number | null
  /**
   * The times (ms, = the createdAtMs of each replacement) at which this slot's (or, global, this node's)
   * task was restarted under `specVersion`, oldest first, capped to the last MaxAttempts: what
   * MaxAttempts counts. Written by the orchestrator at creation; empty when MaxAttempts is 0.
   * SwarmKit keeps this in the leader's memory; here it travels from each task to its replacement.
   */
  readonly restartTimesMs: readonly number[]
  /**
   * When the task was first reported running (ms, its node's clock, as `status.timestampMs`); null if it
   * never was. The updater's Monitor counts from it. Written by the store when it applies the report.
   */
  readonly runningAtMs: number | null
  readonly createdAtMs: number
  readonly updatedAtMs: number
  readonly version: number
}

/** A task the orchestrator asks to create: the store sets `version` when it applies the entry. */
export type NewTask = Omit<TaskObject, 'version' | 'networks'>

/**
 * A change to one task. `version` is the task's version the change was computed from: the store refuses
 * the change when the task has moved on since (SwarmKit's optimistic update), and the driver reconciles again.
 */
export interface TaskUpdate {
  readonly id: string
  readonly version: number
  readonly updatedAtMs: number
  /** Only ever 'shutdown'. */
  readonly desiredState?: DesiredState
  /** Only ever an 'orphaned' status. */
  readonly status?: TaskStatus
}

/** A task to remove from the store (history beyond the retention limit, or a removed slot's). */
export interface TaskDeletion {
  readonly id: string
  readonly version: number
}
