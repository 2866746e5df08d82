import { FlotillaError } from '../../membership/errors.js'
import type { ProgressState } from './progress.js'
import type { RaftConfig, RaftId, Role } from './types.js'

/** Where a proposal landed: it is committed (and may be acknowledged) once applied at `index` with this `term`. */
export interface Proposed {
  readonly index: number
  readonly term: number
}

/** The leader's view of one follower, for status output. */
export interface ProgressStatus {
  readonly match: number
  readonly next: number
  readonly state: ProgressState
}

/** A snapshot of the core for the driver (ManagerStatus) and tests; `progress` is empty unless leader. */
export interface RaftStatus {
  readonly id: RaftId
  readonly role: Role
  readonly term: number
  readonly leader: RaftId | null
  readonly commit: number
  readonly applied: number
  readonly lastIndex: number
  readonly voters: RaftId[]
  /** Index of the newest conf entry in the in-memory log (0 if none): a change is pending while it is > commit. */
  readonly lastConfIndex: number
  readonly progress: Readonly<Record<RaftId, ProgressStatus>>
  /** The target of a leadership transfer in progress (leader only), else null. */
  readonly leadTransferee: RaftId | null
}

/** Throws `invalid-argument` unless 1 ≤ heartbeatTicks < electionTicks and the limits are positive integers. */
export function validateConfig (c: RaftConfig): void {
  const positive = (n: number): boolean => Number.isSafeInteger(n) && n >= 1
  if (!positive(c.electionTicks) || !positive(c.heartbeatTicks) || c.heartbeatTicks >= c.electionTicks) {
    throw new FlotillaError('invalid-argument', `raft: need 1 ≤ heartbeatTicks (${c.heartbeatTicks}) < electionTicks (${c.electionTicks})`)
  }
  if (!positive(c.maxEntriesPerAppend) || !positive(c.maxInflightAppends) || !positive(c.snapshotChunkBytes)) {
    throw new FlotillaError('invalid-argument', 'raft: maxEntriesPerAppend, maxInflightAppends and snapshotChunkBytes must be positive integers')
  }
  if (typeof c.id !== 'string' || c.id.length === 0) throw new FlotillaError('invalid-argument', 'raft: empty id')
}
