/**
 * What runs on the Raft leader only (SwarmKit's manager.becomeLeader): the dispatcher, the orchestrator,
 * the scheduler and the allocator, all on the same store. Started when this manager wins an election, stopped when it
 * loses leadership; the next leader starts its own from the replicated state.
 */
import { Dispatcher, type DispatcherTiming } from '../dispatcher/index.js'
import { AllocatorDriver } from './allocator-driver.js'
import { OrchestratorDriver } from './orchestrator-driver.js'
import { SchedulerDriver } from './scheduler-driver.js'
import type { LeaderDeps } from './store-view.js'

export class LeaderServices {
  readonly dispatcher: Dispatcher
  private readonly orchestrator: OrchestratorDriver
  private readonly scheduler: SchedulerDriver
  private readonly allocator: AllocatorDriver

  constructor (deps: LeaderDeps, timing?: DispatcherTiming) {
    this.dispatcher = new Dispatcher(deps, timing)
    this.orchestrator = new OrchestratorDriver(deps)
    this.scheduler = new SchedulerDriver(deps)
    this.allocator = new AllocatorDriver(deps)
  }

  start (): void {
    this.dispatcher.start()
    this.orchestrator.start()
    this.scheduler.start()
    this.allocator.start()
  }

  stop (): void {
    this.allocator.stop()
    this.scheduler.stop()
    this.orchestrator.stop()
    this.dispatcher.stop()
  }
}
