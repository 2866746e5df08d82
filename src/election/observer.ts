/**
 * What a manager reports about its Raft node and storage, for the agent's metrics (src/node/metrics
 * implements it with prom-client; this layer imports no metrics library). Every call is synchronous,
 * cheap and must not throw: it runs on Raft's own path.
 */
export interface RaftObserver {
  /**
   * A proposal of this node was answered: `committed` once its entry committed and was applied here
   * (whatever the store's verdict on it), `failed` when it was not (timed out, leadership lost, the
   * entry overwritten by another leader's).
   */
  proposal(outcome: 'committed' | 'failed'): void
  /** One fsync of the write-ahead log took `seconds`. */
  walFsync(seconds: number): void
  /** A snapshot was written to disk (log compaction, or a snapshot installed from the leader). */
  snapshotSaved(): void
}
