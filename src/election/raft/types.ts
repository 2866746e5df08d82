/**
 * Types shared by the Raft core (pure, in this folder), its storage (../storage) and its driver and
 * transport (../). The core's shape follows etcd's raft: inputs are ticks, messages and proposals; the
 * output is a `Ready` batch that the driver applies in a fixed order — persist hard state, entries
 * and snapshot (fsync), then send messages, then apply committed entries — and then `advance`s.
 */

/** A manager's Raft identity: its flotilla node ID (25 lowercase alphanumerics). */
export type RaftId = string

/**
 * One log entry. `normal` carries an opaque command for the state machine (may be empty: a new
 * leader's no-op, Raft §8); `conf` carries a membership change, one voter at a time (Raft §4.1 of
 * Ongaro's thesis), which takes effect when it is appended, not when committed.
 */
export type Entry =
  | { readonly kind: 'normal', readonly term: number, readonly index: number, readonly data: Uint8Array }
  | { readonly kind: 'conf', readonly term: number, readonly index: number, readonly change: ConfChange }

export type ConfChange =
  | { readonly type: 'add-voter', readonly id: RaftId }
  | { readonly type: 'remove-voter', readonly id: RaftId }
  /** Disaster recovery (`--force-new-cluster`): the voter set becomes exactly `voters`. */
  | { readonly type: 'reset-voters', readonly voters: readonly RaftId[] }

/** What must be on disk before any message that depends on it is sent (Raft Figure 2, "persistent state"). */
export interface HardState {
  readonly term: number
  readonly vote: RaftId | null
  readonly commit: number
}

/** A snapshot: the state machine at `index` (whose entry had `term`), and the voters then. */
export interface Snapshot {
  readonly index: number
  readonly term: number
  readonly voters: readonly RaftId[]
  readonly data: Uint8Array
}

export type Role = 'follower' | 'pre-candidate' | 'candidate' | 'leader'

/** Messages between cores. `from`/`to` are RaftIds; `term` is the sender's current term. */
export type Message =
  | { readonly type: 'pre-vote', readonly from: RaftId, readonly to: RaftId, readonly term: number, readonly lastIndex: number, readonly lastTerm: number }
  | { readonly type: 'pre-vote-resp', readonly from: RaftId, readonly to: RaftId, readonly term: number, readonly granted: boolean }
  | { readonly type: 'vote', readonly from: RaftId, readonly to: RaftId, readonly term: number, readonly lastIndex: number, readonly lastTerm: number, readonly transfer: boolean }
  | { readonly type: 'vote-resp', readonly from: RaftId, readonly to: RaftId, readonly term: number, readonly granted: boolean }
  | { readonly type: 'append', readonly from: RaftId, readonly to: RaftId, readonly term: number, readonly prevIndex: number, readonly prevTerm: number, readonly entries: readonly Entry[], readonly commit: number }
  /** success: matchIndex is the follower's last index covered; failure: hint the leader's next probe (fast back-off). */
  | { readonly type: 'append-resp', readonly from: RaftId, readonly to: RaftId, readonly term: number, readonly success: boolean, readonly matchIndex: number, readonly hintIndex: number, readonly hintTerm: number }
  /** Leader heartbeat; `context` non-empty when it confirms leadership for ReadIndex requests. */
  | { readonly type: 'heartbeat', readonly from: RaftId, readonly to: RaftId, readonly term: number, readonly commit: number, readonly context: number }
  | { readonly type: 'heartbeat-resp', readonly from: RaftId, readonly to: RaftId, readonly term: number, readonly context: number }
  /** InstallSnapshot, chunked: `offset` into the snapshot data, `done` on the last chunk. */
  | { readonly type: 'snapshot', readonly from: RaftId, readonly to: RaftId, readonly term: number, readonly index: number, readonly snapTerm: number, readonly voters: readonly RaftId[], readonly offset: number, readonly chunk: Uint8Array, readonly done: boolean }
  | { readonly type: 'snapshot-resp', readonly from: RaftId, readonly to: RaftId, readonly term: number, readonly index: number, readonly offset: number, readonly success: boolean }
  /** Leadership transfer: the target starts an election at once, ignoring leases (Raft thesis §3.10). */
  | { readonly type: 'timeout-now', readonly from: RaftId, readonly to: RaftId, readonly term: number }

/** A linearizable read is safe once the state machine has applied `index` (ReadIndex, Raft thesis §6.4). */
export interface ReadState {
  readonly requestId: number
  readonly index: number
}

/** The role and leader as they stand after a Ready; not persisted. */
export interface SoftState {
  readonly role: Role
  readonly leader: RaftId | null
  readonly term: number
}

/**
 * The output of the core since the last accepted Ready. Unless `persistAsync`, the driver must, in this
 * order: write `snapshot` (if any), append `entries` (truncating any conflicting suffix at
 * entries[0].index) and write `hardState` (if any), fsync, after every earlier Ready's write; then send
 * `messages`; then apply `snapshotToApply` and `committed` to the state machine in order; then call
 * `advance(ready)`.
 *
 * When `persistAsync` (a leader, Raft thesis §10.2.1), the driver instead sends `messages` and applies
 * `committed` at once, calls `accept(ready)`, and writes the rest behind every earlier write (storage
 * keeps writes in order); it may take further Readies meanwhile, and calls `persisted(ready)` once the
 * write is durable. A Ready that is not `persistAsync` is taken only when no write is in flight.
 */
export interface Ready {
  readonly softState: SoftState
  readonly hardState: HardState | null
  readonly entries: readonly Entry[]
  readonly snapshot: Snapshot | null
  readonly messages: readonly Message[]
  /** A snapshot received from the leader that replaces the state machine (apply before `committed`). */
  readonly snapshotToApply: Snapshot | null
  readonly committed: readonly Entry[]
  readonly readStates: readonly ReadState[]
  /**
   * Nothing here waits for this Ready's own write: its messages acknowledge nothing (a leader's appends,
   * heartbeats, snapshot chunks, refusals, its term and vote already durable) and `committed` is already
   * durable here. The leader counts itself toward a quorum only once `persisted` reports the write.
   */
  readonly persistAsync: boolean
}

/** What the core starts from: the durable state recovered by storage. */
export interface RaftInitialState {
  readonly hardState: HardState
  readonly snapshot: Snapshot | null
  /** Entries after the snapshot (or from index 1), in order, contiguous. */
  readonly entries: readonly Entry[]
}

export interface RaftConfig {
  readonly id: RaftId
  /** Ticks without hearing a leader before an election; randomized in [electionTicks, 2*electionTicks). */
  readonly electionTicks: number
  /** Ticks between leader heartbeats. Must be < electionTicks. */
  readonly heartbeatTicks: number
  /** Seeded random source in [0, 1): the core never calls Math.random. */
  readonly random: () => number
  /** Entries per append message; appends are pipelined (no wait for the previous response). */
  readonly maxEntriesPerAppend: number
  /** Unacknowledged append messages in flight per follower before the leader waits. */
  readonly maxInflightAppends: number
  /** Bytes per InstallSnapshot chunk, well under the transport's frame cap. */
  readonly snapshotChunkBytes: number
}
