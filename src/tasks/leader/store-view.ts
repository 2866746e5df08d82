/**
 * What the leader's components need of the manager: the replicated store to read and watch, and a way
 * to propose commands (SwarmKit's rule: components talk only through the store). Kept to an interface
 * so that the components can be driven by a plain in-memory store in tests.
 */
import type { Command, StoreEvent, StoreState } from '../../election/index.js'
import type { Logger } from '../../membership/index.js'

export interface LeaderStore {
  readonly state: StoreState
  /** Called after every applied change; returns the unsubscribe function. */
  watch(fn: (events: readonly StoreEvent[], state: StoreState) => void): () => void
}

export interface LeaderDeps {
  readonly store: LeaderStore
  /** Propose on the leader; rejects with the store's refusal (a FlotillaError) or when leadership is lost. */
  readonly propose: (cmd: Command) => Promise<void>
  readonly now: () => number
  readonly logger: Logger
}

/** The largest number of task changes one proposal carries, so that an entry stays well under the 1 MiB command cap. */
export const MAX_TASKS_PER_ENTRY = 500
