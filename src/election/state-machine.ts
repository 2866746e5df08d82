/**
 * What the Raft driver applies committed entries to (etcd's application, HashiCorp raft's FSM). The
 * driver knows nothing of what the entries mean: it encodes a proposal, hands each committed entry's
 * bytes to `apply`, and moves whole states in and out as snapshots.
 */
export interface StateMachine<C, R> {
  /** A proposal as entry data. */
  encode: (cmd: C) => Uint8Array
  /**
   * Apply the data of the committed normal entry at `index`, and return what its proposer is answered
   * with. Must be deterministic, and must not throw for data that does not decode (it answers a refusal).
   */
  apply: (index: number, data: Uint8Array) => R
  /** Record that the committed entry at `index` carried no data (a no-op, a voter change). */
  skip: (index: number) => void
  /** The whole state, as snapshot data. */
  snapshot: () => Uint8Array
  /** Replace the whole state with snapshot data (from the leader, or from disk at start). */
  restore: (data: Uint8Array) => void
}
