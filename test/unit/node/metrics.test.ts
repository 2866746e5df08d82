import { describe, expect, it } from 'vitest'
import type { Member, MemberEvent, Membership } from '../../../src/membership/index.js'
import type { Command, Manager } from '../../../src/election/index.js'
import { AgentMetrics } from '../../../src/node/metrics/agent-metrics.js'
import { parsePrometheus, sampleValue, type Sample } from '../../support/prometheus.js'

async function scrape (m: AgentMetrics): Promise<Sample[]> {
  const e = await m.exposition()
  expect(e.contentType).toContain('text/plain')
  return parsePrometheus(e.text)
}

function member (nodeId: string, liveness: Member['liveness'], left = false): Member {
  return { nodeId, liveness, left } as unknown as Member
}

/** A manager as far as the metrics read it: Raft's status and soft state, and the store. */
function fakeManager (): { mgr: Manager, setLeader: (leader: string | null) => void } {
  const listeners: Array<(s: { leader: string | null }) => void> = []
  const service = { id: 's1', name: 'web' }
  const task = (id: string, state: string, nodeId: string | null, createdAtMs: number): unknown =>
    ({ id, serviceId: 's1', serviceName: 'web', nodeId, desiredState: 'running', status: { state }, createdAtMs })
  const mgr = {
    isLeader: true,
    leaderId: 'a',
    raft: { status: () => ({ term: 4, commit: 120, applied: 118, voters: ['a', 'b', 'c'] }), onSoftState: (fn: (s: { leader: string | null }) => void) => { listeners.push(fn) } },
    store: { state: { services: new Map([['s1', service]]), tasks: new Map([['t1', task('t1', 'running', 'n1', 1000)], ['t2', task('t2', 'pending', null, 1500)], ['t3', task('t3', 'assigned', 'n2', 2000)]]) } }
  } as unknown as Manager
  return { mgr, setLeader: leader => { for (const l of listeners) l({ leader }) } }
}

describe('the agent\'s metrics', () => {
  it('report process CPU and memory, and Raft as zero on a worker', async () => {
    const s = await scrape(new AgentMetrics({ membership: () => null, manager: () => null, nowMs: () => 0 }))
    expect(sampleValue(s, 'process_cpu_seconds_total')).toBeGreaterThan(0)
    expect(sampleValue(s, 'process_resident_memory_bytes')).toBeGreaterThan(1e6)
    expect(sampleValue(s, 'flotilla_raft_term')).toBe(0)
    expect(sampleValue(s, 'flotilla_raft_is_leader')).toBe(0)
    expect(sampleValue(s, 'flotilla_raft_proposals_total', { outcome: 'failed' })).toBe(0)
  })

  it('read a manager\'s Raft state and store at scrape time, and count leader changes, proposals, fsyncs and snapshots', async () => {
    const { mgr, setLeader } = fakeManager()
    const m = new AgentMetrics({ membership: () => null, manager: () => mgr, nowMs: () => 3000 })
    m.followManager(mgr)
    setLeader('a') // no change
    setLeader(null)
    setLeader('b')
    m.raftObserver.proposal('committed')
    m.raftObserver.proposal('committed')
    m.raftObserver.proposal('failed')
    m.raftObserver.walFsync(0.003)
    m.raftObserver.snapshotSaved()
    const s = await scrape(m)
    expect([sampleValue(s, 'flotilla_raft_term'), sampleValue(s, 'flotilla_raft_commit_index'), sampleValue(s, 'flotilla_raft_applied_index')]).toEqual([4, 120, 118])
    expect(sampleValue(s, 'flotilla_raft_is_leader')).toBe(1)
    expect(sampleValue(s, 'flotilla_raft_voters')).toBe(3)
    expect(sampleValue(s, 'flotilla_raft_leader_changes_total')).toBe(2)
    expect(sampleValue(s, 'flotilla_raft_proposals_total', { outcome: 'committed' })).toBe(2)
    expect(sampleValue(s, 'flotilla_raft_proposals_total', { outcome: 'failed' })).toBe(1)
    expect(sampleValue(s, 'flotilla_raft_wal_fsync_duration_seconds_count')).toBe(1)
    expect(sampleValue(s, 'flotilla_raft_wal_fsync_duration_seconds_bucket', { le: '0.005' })).toBe(1)
    expect(sampleValue(s, 'flotilla_raft_wal_fsync_duration_seconds_bucket', { le: '0.0025' })).toBe(0)
    expect(sampleValue(s, 'flotilla_raft_snapshots_total')).toBe(1)
    expect(sampleValue(s, 'flotilla_tasks', { service: 'web', state: 'running' })).toBe(1)
    expect(sampleValue(s, 'flotilla_tasks', { service: 'web', state: 'pending' })).toBe(1)
    expect(sampleValue(s, 'flotilla_tasks', { service: 'web', state: 'failed' })).toBe(0)
    expect(sampleValue(s, 'flotilla_tasks_pending')).toBe(1)
  })

  it('give the scheduling latency of the placements that took', async () => {
    const { mgr } = fakeManager()
    const m = new AgentMetrics({ membership: () => null, manager: () => mgr, nowMs: () => 3000 })
    const cmd: Command = { op: 'tasks.schedule', nowMs: 3000, placements: [{ id: 't3', version: 1, nodeId: 'n2' }, { id: 't1', version: 1, nodeId: 'n9' }, { id: 't2', version: 1, pending: 'no node' }] }
    m.leaderCommitted(cmd, mgr)
    m.leaderCommitted({ op: 'tasks.report', nodeId: 'n1', reports: [] }, mgr)
    const s = await scrape(m)
    // t3 was created at 2000 and placed on n2 at 3000; t1's placement did not take (it is on n1); t2 waits.
    expect(sampleValue(s, 'flotilla_scheduling_latency_seconds_count')).toBe(1)
    expect(sampleValue(s, 'flotilla_scheduling_latency_seconds_sum')).toBe(1)
  })

  it('count members by liveness and each suspicion', async () => {
    const listeners: Array<(e: MemberEvent) => void> = []
    const members = [member('a', 'ready'), member('b', 'suspect'), member('c', 'down'), member('d', 'down', true)]
    const membership = { members: () => members, onEvent: (fn: (e: MemberEvent) => void) => { listeners.push(fn) } } as unknown as Membership
    const m = new AgentMetrics({ membership: () => membership, manager: () => null, nowMs: () => 0 })
    m.followMembership(membership)
    for (const l of listeners) {
      l({ kind: 'suspect', member: members[1]! })
      l({ kind: 'down', member: members[2]! })
    }
    const s = await scrape(m)
    expect(['ready', 'suspect', 'down', 'unknown'].map(state => sampleValue(s, 'flotilla_members', { state }))).toEqual([1, 1, 1, 0])
    expect(sampleValue(s, 'flotilla_member_suspicions_total')).toBe(1)
  })

  it('count requests by listener, route and status, with their latency, in a registry of each agent\'s own', async () => {
    const a = new AgentMetrics({ membership: () => null, manager: () => null, nowMs: () => 0 })
    const b = new AgentMetrics({ membership: () => null, manager: () => null, nowMs: () => 0 })
    a.observeRequest('socket', 'GET', '/services/{id}', 404, 0.002)
    a.observeRequest('socket', 'GET', '/services/{id}', 404, 0.02)
    a.observeRequest('ui', 'GET', '/api/state', 200, 0.01)
    const s = await scrape(a)
    expect(sampleValue(s, 'flotilla_control_requests_total', { listener: 'socket', method: 'GET', route: '/services/{id}', status: '404' })).toBe(2)
    expect(sampleValue(s, 'flotilla_control_request_duration_seconds_count', { listener: 'socket', route: '/services/{id}' })).toBe(2)
    expect(sampleValue(s, 'flotilla_control_requests_total', { listener: 'ui', route: '/api/state' })).toBe(1)
    expect(sampleValue(await scrape(b), 'flotilla_control_requests_total', { listener: 'socket' })).toBeUndefined()
  })
})
