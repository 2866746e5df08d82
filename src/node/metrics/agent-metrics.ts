/**
 * The agent's Prometheus metrics (`GET /metrics` on the control socket and on the dashboard's
 * listener), in a Registry of its own: tests run several agents in one process, and the global registry
 * would mix them. prom-client is imported here only: lower layers report through RaftObserver, public
 * listeners (membership events, Raft soft state) and getters read at scrape time.
 */
import { Registry, collectDefaultMetrics } from 'prom-client'
import type { Membership } from '../../membership/index.js'
import type { Command, Manager, RaftObserver } from '../../election/index.js'
import { ClusterMetrics } from './cluster-metrics.js'
import { RaftMetrics } from './raft-metrics.js'
import { RequestMetrics, type Listener } from './request-metrics.js'

export type { Listener } from './request-metrics.js'

/** What the metrics read of the agent at scrape time. */
export interface MetricsSource {
  readonly membership: () => Membership | null
  readonly manager: () => Manager | null
  readonly nowMs: () => number
}

/** Resolution of the event-loop delay histogram: stalls shorter than this are not seen. */
const EVENT_LOOP_SAMPLE_MS = 100

export class AgentMetrics {
  readonly registry = new Registry()
  private readonly raft: RaftMetrics
  private readonly cluster: ClusterMetrics
  private readonly requests: RequestMetrics

  constructor (source: MetricsSource) {
    // process_cpu_seconds_total, process_resident_memory_bytes, heap and event-loop figures. The event-loop
    // histogram samples every EVENT_LOOP_SAMPLE_MS rather than prom-client's 10 ms: a timer a hundred
    // times a second was a fifth of an idle agent's CPU, for a lag figure scraped every 15 s or so.
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS })
    this.raft = new RaftMetrics(this.registry, source.manager)
    this.cluster = new ClusterMetrics(this.registry, source, source.nowMs)
    this.requests = new RequestMetrics(this.registry)
  }

  /** The hooks a Manager reports through (ManagerDeps.observer). */
  get raftObserver (): RaftObserver {
    return this.raft.observer
  }

  /** Each new manager role of the agent (or null when it stops being one). */
  followManager (mgr: Manager | null): void {
    this.raft.follow(mgr)
  }

  /** Each new membership of the agent. */
  followMembership (m: Membership): void {
    this.cluster.follow(m)
  }

  /** A command the leader's own components proposed has committed. */
  leaderCommitted (cmd: Command, mgr: Manager): void {
    this.cluster.committed(cmd, mgr)
  }

  observeRequest (listener: Listener, method: string, route: string, status: number, seconds: number): void {
    this.requests.observe(listener, method, route, status, seconds)
  }

  /** The exposition: Prometheus text format 0.0.4. */
  async exposition (): Promise<{ readonly contentType: string, readonly text: string }> {
    return { contentType: this.registry.contentType, text: await this.registry.metrics() }
  }
}
