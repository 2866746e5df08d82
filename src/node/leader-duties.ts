import type { Logger } from '../membership/index.js'
import type { Command, LeaderRole, Manager } from '../election/index.js'
import { LeaderServices } from '../tasks/index.js'

/**
 * What this node runs while its manager leads (SwarmKit's manager: the dispatcher, orchestrator,
 * allocator and scheduler), started by the manager's `lead` hook once a read barrier has passed and
 * stopped when leadership is lost.
 */
export class LeaderDuties {
  private services: LeaderServices | null = null

  constructor (private readonly deps: {
    readonly logger: Logger
    readonly now: () => number
    /** Told each command the leader's components committed (the scheduling latency metric reads placements). */
    readonly committed?: (cmd: Command, mgr: Manager) => void
  }) {}

  /** The `lead` hook of Manager.start. */
  lead (mgr: Manager): LeaderRole {
    const services = new LeaderServices({ store: mgr.store, propose: async cmd => { await mgr.propose(cmd); this.deps.committed?.(cmd, mgr) }, now: this.deps.now, logger: this.deps.logger })
    services.start()
    this.services = services
    return {
      stop: () => {
        services.stop()
        if (this.services === services) this.services = null
      }
    }
  }

  /** The running dispatcher, when `manager` leads. */
  dispatcherOf (manager: Manager | null): LeaderServices['dispatcher'] | null {
    return manager?.isLeader === true ? this.services?.dispatcher ?? null : null
  }
}
