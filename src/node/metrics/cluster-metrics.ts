/**
 * What this agent sees of the cluster: members by liveness and suspicions (gossip, every node); tasks
 * by service and state and pending tasks (a manager's replicated store: every manager reports the same
 * cluster, so aggregate with max, or read the leader's via flotilla_raft_is_leader); and the scheduling
 * latency of the tasks this node's scheduler placed while it led.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import type { Liveness, Membership } from '../../membership/index.js'
import { TASK_STATES, type Command, type Manager } from '../../election/index.js'

const LIVENESS: readonly Liveness[] = ['ready', 'suspect', 'down', 'unknown']
/** From a task's creation to its placement: a pass takes milliseconds; a task waiting for a node, as long as it waits. */
const SCHEDULING_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300]

export interface ClusterSource {
  readonly membership: () => Membership | null
  readonly manager: () => Manager | null
}

export class ClusterMetrics {
  private readonly suspicions: Counter
  private readonly schedulingLatency: Histogram
  private followed: Membership | null = null

  constructor (registry: Registry, source: ClusterSource, private readonly nowMs: () => number) {
    new Gauge({
      name: 'flotilla_members',
      help: 'Cluster members as this node\'s gossip sees them, by liveness (members that left are not counted).',
      labelNames: ['state'],
      registers: [registry],
      collect () {
        const counts = new Map<Liveness, number>(LIVENESS.map(l => [l, 0]))
        for (const m of source.membership()?.members() ?? []) if (!m.left) counts.set(m.liveness, (counts.get(m.liveness) ?? 0) + 1)
        for (const [state, n] of counts) this.set({ state }, n)
      }
    })
    this.suspicions = new Counter({ name: 'flotilla_member_suspicions_total', help: 'Times a member fell silent long enough to be suspected (SWIM\'s suspect state).', registers: [registry] })
    new Gauge({
      name: 'flotilla_tasks',
      help: 'Tasks in this manager\'s store by service and observed state, history included (managers only).',
      labelNames: ['service', 'state'],
      registers: [registry],
      collect () {
        // reset: a removed service's series must disappear rather than keep its last value.
        this.reset()
        const state = source.manager()?.store.state
        if (state === undefined) return
        for (const s of state.services.values()) for (const st of TASK_STATES) this.set({ service: s.name, state: st }, 0)
        for (const t of state.tasks.values()) this.inc({ service: t.serviceName, state: t.status.state })
      }
    })
    new Gauge({
      name: 'flotilla_tasks_pending',
      help: 'Tasks meant to run that wait for a node (new or pending, not yet assigned), in this manager\'s store.',
      registers: [registry],
      collect () {
        let n = 0
        for (const t of source.manager()?.store.state.tasks.values() ?? []) {
          if (t.desiredState === 'running' && t.nodeId === null && (t.status.state === 'new' || t.status.state === 'pending')) n++
        }
        this.set(n)
      }
    })
    this.schedulingLatency = new Histogram({
      name: 'flotilla_scheduling_latency_seconds',
      help: 'From a task\'s creation to its placement on a node committed, for the tasks this node\'s scheduler placed while leading.',
      buckets: SCHEDULING_BUCKETS_S,
      registers: [registry]
    })
  }

  /** Count suspicions on `m` (each new membership of the agent). */
  follow (m: Membership): void {
    this.followed = m
    m.onEvent(e => { if (this.followed === m && e.kind === 'suspect') this.suspicions.inc() })
  }

  /** A leader's command committed: a `tasks.schedule` entry's placements give the scheduling latency. */
  committed (cmd: Command, mgr: Manager): void {
    if (cmd.op !== 'tasks.schedule') return
    const now = this.nowMs()
    for (const p of cmd.placements) {
      if (!('nodeId' in p)) continue
      const t = mgr.store.state.tasks.get(p.id)
      // The store may have refused the placement (the task moved on meanwhile): count only what took.
      if (t === undefined || t.nodeId !== p.nodeId) continue
      this.schedulingLatency.observe(Math.max(0, now - t.createdAtMs) / 1000)
    }
  }
}
