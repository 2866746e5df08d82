/**
 * The Raft metrics of a manager: term, commit and applied index, leadership, leader changes,
 * proposals, WAL fsync latency and snapshots. Gauges are read from the manager at scrape time
 * (`collect`); counters and the histogram are fed by the election layer's RaftObserver hooks and by the
 * Raft node's soft-state listener. A worker reports the gauges as 0 (it holds no Raft state).
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import type { Manager, RaftObserver } from '../../election/index.js'

/** fsync on a local disk takes 0.1–10 ms; a slow or shared disk tens to hundreds. */
const FSYNC_BUCKETS_S = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]

export class RaftMetrics {
  readonly observer: RaftObserver
  private readonly leaderChanges: Counter
  /** The manager whose soft state is followed; a listener cannot be removed, so a replaced one is ignored. */
  private followed: Manager | null = null

  constructor (registry: Registry, manager: () => Manager | null) {
    const status = (): ReturnType<Manager['raft']['status']> | null => manager()?.raft.status() ?? null
    const gauge = (name: string, help: string, read: () => number): void => {
      new Gauge({ name, help, registers: [registry], collect () { this.set(read()) } })
    }
    gauge('flotilla_raft_term', 'Current Raft term of this manager (0 on a worker).', () => status()?.term ?? 0)
    gauge('flotilla_raft_commit_index', 'Highest log index known committed (Raft §5.3).', () => status()?.commit ?? 0)
    gauge('flotilla_raft_applied_index', 'Highest log index applied to this manager\'s store.', () => status()?.applied ?? 0)
    gauge('flotilla_raft_is_leader', '1 while this manager is the Raft leader, else 0.', () => manager()?.isLeader === true ? 1 : 0)
    gauge('flotilla_raft_voters', 'Voters in this manager\'s Raft configuration.', () => status()?.voters.length ?? 0)
    this.leaderChanges = new Counter({ name: 'flotilla_raft_leader_changes_total', help: 'Times this manager saw the Raft leader change (to another node or to none).', registers: [registry] })
    const proposals = new Counter({ name: 'flotilla_raft_proposals_total', help: 'Proposals made on this manager, by outcome: committed (and applied) or failed.', labelNames: ['outcome'], registers: [registry] })
    // Both series exist from the start, so that a rate() over them never starts from a missing series.
    proposals.inc({ outcome: 'committed' }, 0)
    proposals.inc({ outcome: 'failed' }, 0)
    const fsync = new Histogram({ name: 'flotilla_raft_wal_fsync_duration_seconds', help: 'Duration of each fsync of the Raft write-ahead log.', buckets: FSYNC_BUCKETS_S, registers: [registry] })
    const snapshots = new Counter({ name: 'flotilla_raft_snapshots_total', help: 'Raft snapshots written to disk (compactions and snapshots installed from the leader).', registers: [registry] })
    this.observer = {
      proposal: outcome => { proposals.inc({ outcome }) },
      walFsync: seconds => { fsync.observe(seconds) },
      snapshotSaved: () => { snapshots.inc() }
    }
  }

  /** Count the leader changes `mgr` sees from now on (called with each new manager role of the agent). */
  follow (mgr: Manager | null): void {
    this.followed = mgr
    if (mgr === null) return
    let leader = mgr.leaderId
    mgr.raft.onSoftState(s => {
      if (this.followed !== mgr || s.leader === leader) return
      leader = s.leader
      this.leaderChanges.inc()
    })
  }
}
