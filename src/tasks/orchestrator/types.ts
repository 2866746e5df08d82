/**
 * What the orchestrator core reads and returns (SwarmKit's manager/orchestrator, as pure values).
 * Store objects follow election/state/objects.ts: immutable, `version` is the Raft index of the entry
 * that last changed the object, times are wall-clock milliseconds chosen by the proposer.
 */
import type { ContainerSpec, DesiredState, TaskResources, TaskState } from '../executor/index.js'
import type { PlacementPreference, PortProtocol, SchedulerNode } from '../scheduler/index.js'
import type { AllocatedPort } from '../allocator/index.js'

/** Docker's RestartPolicy.Condition. */
export type RestartCondition = 'none' | 'on-failure' | 'any'

/** Docker's RestartPolicy; durations in nanoseconds, as Docker's API writes them. */
export interface RestartPolicy {
  /** Default 'any'. */
  readonly Condition?: RestartCondition
  /** Between a task's end and its replacement's start; default 5 s (5e9). 0: no delay. */
  readonly Delay?: number
  /** Restarts allowed within `Window` (or ever, when the window is 0); 0 (default) = unlimited. */
  readonly MaxAttempts?: number
  /** The look-back window for MaxAttempts; 0 (default) = since the service's last update. */
  readonly Window?: number
}

/** Docker's Placement, as far as orchestration and scheduling read it. */
export interface Placement {
  /** Docker's syntax, e.g. `node.labels.zone==eu-1` (scheduler/constraints.ts). */
  readonly Constraints?: readonly string[]
  readonly Preferences?: readonly PlacementPreference[]
  /** Tasks of this service one node may hold; 0 (default) = unlimited. Read by the scheduler only. */
  readonly MaxReplicas?: number
  /** Platforms the image supports; empty = any. Read by the scheduler only. */
  readonly Platforms?: ReadonlyArray<{ readonly Architecture?: string, readonly OS?: string }>
}

/** Docker's TaskTemplate (TaskSpec), container runtime only. */
export interface TaskTemplate {
  readonly ContainerSpec: ContainerSpec
  readonly Resources?: TaskResources
  readonly RestartPolicy?: RestartPolicy
  readonly Placement?: Placement
  /** A counter bumped to force a rolling update without other changes; read by the updater (not here). */
  readonly ForceUpdate?: number
}

/** Docker's ServiceMode: `{ Replicated: { Replicas } }` or `{ Global: {} }`. */
export type ServiceMode =
  | { readonly Replicated: { readonly Replicas: number } }
  | { readonly Global: Readonly<Record<string, never>> }

/** Docker's PortConfig. */
export interface PortConfig {
  readonly Name?: string
  readonly Protocol?: PortProtocol
  readonly TargetPort: number
  /** 0 or absent: the allocator assigns one from 30000–32767 (src/tasks/allocator). */
  readonly PublishedPort?: number
  /** Default 'host', the only mode flotilla publishes (Docker's default is 'ingress'). */
  readonly PublishMode?: 'ingress' | 'host'
}

/** Docker's EndpointSpec. */
export interface EndpointSpec {
  readonly Mode?: 'vip' | 'dnsrr'
  readonly Ports?: readonly PortConfig[]
}

/** What the updater does when too many new tasks fail (UpdateConfig.FailureAction). */
export type UpdateFailureAction = 'pause' | 'continue' | 'rollback'

/**
 * Docker's UpdateConfig (and RollbackConfig, the same shape), as the updater reads it (update.ts): how
 * many tasks are replaced at a time, how often, and what a failing new task does to the update.
 */
export interface UpdateConfig {
  /** Replacements in flight at once; 0 = all at once. Default 1. */
  readonly Parallelism?: number
  /** Nanoseconds between a batch's tasks reaching running and the next batch; default 0. */
  readonly Delay?: number
  /** Default 'pause'. A rollback's own failure never rolls back again: it pauses. */
  readonly FailureAction?: UpdateFailureAction
  /** Nanoseconds after a new task reaches running during which its end counts as a failure; default 5 s. */
  readonly Monitor?: number
  /** The fraction of the service's tasks whose replacements may fail before FailureAction applies; default 0. */
  readonly MaxFailureRatio?: number
  /** 'stop-first' (default): the old task stops, then its replacement starts; 'start-first': the reverse. */
  readonly Order?: 'stop-first' | 'start-first'
}

/** Docker's UpdateStatus.State. */
export type UpdateState = 'updating' | 'paused' | 'completed' | 'rollback_started' | 'rollback_paused' | 'rollback_completed'

/**
 * Docker's UpdateStatus: where the service's last update (or rollback) stands. Set to null by every
 * spec update (the control socket), to 'rollback_started' by a requested rollback; the leader's updater
 * writes the rest.
 */
export interface UpdateStatus {
  readonly state: UpdateState
  /** When the update or rollback started (ms since the epoch, the proposer's clock); null when unknown. */
  readonly startedAtMs: number | null
  /** When it completed; null before. */
  readonly completedAtMs: number | null
  readonly message: string
}

/** Docker's ServiceSpec, trimmed to what orchestration needs; normalized by the control socket. */
export interface ServiceSpec {
  readonly Name: string
  readonly Labels?: Readonly<Record<string, string>>
  readonly TaskTemplate: TaskTemplate
  readonly Mode: ServiceMode
  readonly UpdateConfig?: UpdateConfig
  /** How a rollback replaces tasks; Docker's defaults when absent (those of UpdateConfig). */
  readonly RollbackConfig?: UpdateConfig
  readonly EndpointSpec?: EndpointSpec
}

/**
 * A service in the replicated store. `version` changes with the spec only (its PreviousSpec, ports,
 * rollbacks): tasks compare their `specVersion` with it. The updater's bookkeeping (`updateStatus`,
 * `rebalance`) changes without a new version, as SwarmKit's SpecVersion does not move with UpdateStatus.
 */
export interface ServiceObject {
  readonly id: string
  /** Equal to `spec.Name`. */
  readonly name: string
  readonly version: number
  readonly createdAtMs: number
  readonly updatedAtMs: number
  readonly spec: ServiceSpec
  /** Docker's PreviousSpec: the spec before the last update, what `service rollback` returns to; null before any update. */
  readonly previousSpec: ServiceSpec | null
  /** Docker's Service.Endpoint: the spec's ports with every PublishedPort assigned (src/tasks/allocator). */
  readonly endpoint: { readonly ports: readonly AllocatedPort[] }
  /** Docker's UpdateStatus; null before any update, and again after each spec update until the updater starts. */
  readonly updateStatus: UpdateStatus | null
  /**
   * A pending one-shot rebalance (`flotilla service rebalance`): the orchestrator moves tasks off the
   * most loaded nodes until the spread is even, then clears it. A service labelled
   * `flotilla.rebalance=true` is rebalanced continuously, with or without a request.
   */
  readonly rebalance: { readonly requestedAtMs: number } | null
}

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
  /** The service's allocated ports at `specVersion`, published in host mode on the task's node. */
  readonly ports: readonly AllocatedPort[]
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
export type NewTask = Omit<TaskObject, 'version'>

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

/**
 * A node as the orchestrator sees it: the scheduler's view (`ready`, `availability`, and what
 * constraints match on) plus when it went down. A node absent from the input has been removed.
 */
export interface OrchestratorNode extends SchedulerNode {
  /**
   * When the node was marked down (ms, the manager's clock); null when it is ready, or when it is not
   * ready but the time is unknown (its tasks are then never orphaned).
   */
  readonly downSinceMs: number | null
}

/** What a caller may set; see `orchestratorConfig`. */
export interface OrchestratorInit {
  /** Docker's Orchestration.TaskHistoryRetentionLimit: tasks kept per slot (per node, global). Default 5; negative: keep all. */
  readonly taskHistoryRetentionLimit?: number
  /** How long a node stays down before its tasks move to 'orphaned' (SwarmKit's dispatcher: 24 h). */
  readonly orphanedTaskAfterMs?: number
}

export interface OrchestratorConfig {
  readonly taskHistoryRetentionLimit: number
  readonly orphanedTaskAfterMs: number
}

export interface ReconcileInput {
  readonly service: ServiceObject
  /** Every task of the service (tasks of other services are ignored). */
  readonly tasks: readonly TaskObject[]
  /** Every node in the store. */
  readonly nodes: readonly OrchestratorNode[]
  /** The proposer's clock, ms since the epoch: new tasks' times, delays, orphaning. */
  readonly nowMs: number
  /** Called once per created task, in the order of `create`. */
  readonly newId: () => string
  /** Defaults to `DEFAULT_ORCHESTRATOR_CONFIG`. */
  readonly config?: OrchestratorConfig
}

/**
 * What to write, in one transaction: creates, then updates, then deletions. No task appears in two lists.
 * `create` is ordered by slot (replicated) or node ID (global); `update` in the order decided (slot or node
 * order, then orphaning); `delete` oldest first.
 */
export interface ReconcileResult {
  readonly create: NewTask[]
  readonly update: TaskUpdate[]
  readonly delete: TaskDeletion[]
  /**
   * The earliest time after `nowMs` at which reconciling again may do something, or a delayed task may
   * start (its `delayUntilMs`); null when nothing waits on time. The driver sets one timer for it.
   */
  readonly nextWakeMs: number | null
  /** The updater's new UpdateStatus for the service, written with the tasks; absent when it does not change. */
  readonly updateStatus?: UpdateStatus
  /**
   * Set when the updater's FailureAction is rollback and it applies: the service goes back to its
   * PreviousSpec (the driver allocates its ports and proposes `service.rollback` with this message).
   * The pass then replaces no task of the failed update. `pausedMessage` is the status message should
   * the rollback be impossible (its ports taken meanwhile) and the update pause instead.
   */
  readonly rollback?: { readonly message: string, readonly pausedMessage: string }
  /** Set when a pending one-shot rebalance is done: the spread is even and no move is in flight. */
  readonly rebalanced?: true
}
