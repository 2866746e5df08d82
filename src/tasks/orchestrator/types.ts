/**
 * What the orchestrator core reads and returns (SwarmKit's manager/orchestrator, as pure values).
 * Store objects are defined in election/objects: immutable, `version` is the Raft index of the entry
 * that last changed the object, times are wall-clock milliseconds chosen by the proposer.
 */
import type { NewTask, ServiceObject, TaskDeletion, TaskObject, TaskUpdate, UpdateStatus } from '../../election/index.js'
import type { SchedulerNode } from '../scheduler/index.js'

export type {
  RestartCondition, RestartPolicy, Placement, TaskTemplate, ServiceMode, PortConfig, EndpointSpec, UpdateFailureAction, UpdateConfig,
  UpdateState, UpdateStatus, ServiceSpec, ServiceObject, TaskStatus, TaskObject, NewTask, TaskUpdate, TaskDeletion
} from '../../election/index.js'

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
