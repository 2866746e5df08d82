/** The orchestrator core: services into tasks (SwarmKit's replicated and global orchestrators, restart supervisor, task reaper). */
export type {
  RestartCondition, RestartPolicy, UpdateFailureAction, UpdateState, UpdateStatus, Placement, TaskTemplate, ServiceMode, UpdateConfig, PortConfig, EndpointSpec, ServiceSpec, ServiceObject,
  TaskStatus, TaskObject, NewTask, TaskUpdate, TaskDeletion, OrchestratorNode, OrchestratorInit, OrchestratorConfig,
  ReconcileInput, ReconcileResult
} from './types.js'
export { reconcile, orchestratorConfig, DEFAULT_ORCHESTRATOR_CONFIG, DEFAULT_ORPHANED_TASK_AFTER_MS } from './reconcile.js'
export {
  restartPolicy, shouldRestart, restartTimesAfter, holdsSlot, endedOnItsOwn, DEFAULT_RESTART_DELAY_NS, type ResolvedRestartPolicy
} from './restart.js'
export { historyToDelete, reapable, olderFirst, DEFAULT_TASK_HISTORY_RETENTION_LIMIT, type HistoryTask } from './history.js'
export { nodeCondition, type NodeCondition } from './nodes.js'
export { eligibleNode } from './global.js'
export {
  isTaskUpToDate, stillStopping, OLD_TASK_TIMEOUT_MS, updateBudget, beginUpdate, finishUpdate, updateFailures, resolveUpdateConfig, currentUpdateConfig, inRollback, updateInProgress,
  DEFAULT_UPDATE_PARALLELISM, DEFAULT_UPDATE_MONITOR_NS, type ResolvedUpdateConfig, type UpdaterVerdict
} from './update.js'
export { REBALANCE_LABEL, rebalanceWanted } from './rebalance.js'
