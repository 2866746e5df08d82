/** The leader's components, driving the pure cores from the replicated store. */
export { LeaderServices } from './leader-services.js'
export { OrchestratorDriver, orchestrationPass, passView, type PassView } from './orchestrator-driver.js'
export { SchedulerDriver, schedulingPass, taskNetworkIds } from './scheduler-driver.js'
export { AllocatorDriver } from './allocator-driver.js'
export { MAX_TASKS_PER_ENTRY, type LeaderStore, type LeaderDeps } from './store-view.js'
export { orchestratorNode, schedulerNode } from './views.js'
