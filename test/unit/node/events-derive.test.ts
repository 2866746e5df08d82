import { afterEach, describe, expect, it } from 'vitest'
import { decodeStore, encodeStore } from '../../../src/election/state/snapshot-codec.js'
import type { Command, NewTask, StoreState } from '../../../src/election/index.js'
import { OrchestratorDriver, SchedulerDriver } from '../../../src/tasks/index.js'
import { deriveEvents, eventLine, type ClusterEvent } from '../../../src/node/events/derive.js'
import { waitFor } from '../../support/agent-process.js'
import { MemoryLeader } from '../tasks/leader/memory-store.js'

const TEMPLATE = { ContainerSpec: { Image: 'busybox:1' } }
const T0 = 1_700_000_000_123_456_789n

/** Every event derived from the leader's store from now on, batch by batch, as an EventSource would. */
function record (leader: MemoryLeader): { events: ClusterEvent[], stop: () => void } {
  const events: ClusterEvent[] = []
  let before = leader.state
  const stop = leader.store.watch((evs, after) => {
    events.push(...deriveEvents(evs, before, after, T0))
    before = after
  })
  return { events, stop }
}

/** The events without their index, seq and time: what a test compares. */
function shapes (events: readonly ClusterEvent[]): Array<Pick<ClusterEvent, 'type' | 'action' | 'id' | 'attributes'>> {
  return events.map(e => ({ type: e.type, action: e.action, id: e.id, attributes: e.attributes }))
}

function createService (name: string, replicas: number | null = 1): Command {
  return {
    op: 'service.create',
    service: {
      id: `svc-${name}`, name, createdAtMs: 0, updatedAtMs: 0,
      spec: { Name: name, TaskTemplate: TEMPLATE, Mode: replicas === null ? { Global: {} } : { Replicated: { Replicas: replicas } } },
      previousSpec: null, updateStatus: null, rebalance: null, endpoint: { ports: [], virtualIps: [] }
    }
  }
}

function task (id: string, serviceId: string, slot: number, nodeId: string | null): NewTask {
  return {
    id, serviceId, serviceName: 'web', name: `web.${slot}`, slot, nodeId, desiredState: 'running',
    status: { state: nodeId === null ? 'new' : 'running', timestampMs: 0, message: '', err: null, exitCode: null },
    specVersion: 0, spec: TEMPLATE, ports: [], delayUntilMs: null, restartTimesMs: [], runningAtMs: null, createdAtMs: 0, updatedAtMs: 0
  }
}

describe('deriveEvents: one committed batch into Docker swarm events', () => {
  const stops: Array<() => void> = []
  afterEach(() => { for (const s of stops.splice(0)) s() })
  const recording = (leader: MemoryLeader): ClusterEvent[] => {
    const r = record(leader)
    stops.push(r.stop)
    return r.events
  }

  it('cluster init: the first node and the ingress network are created; the cluster object makes none', () => {
    const leader = new MemoryLeader()
    const e = deriveEvents([{ kind: 'cluster', id: 'c1' }, { kind: 'node-added', id: 'n1' }], { ...leader.state, index: 0, cluster: null, nodes: new Map() }, leader.state, T0)
    expect(shapes(e)).toEqual([{ type: 'node', action: 'create', id: 'n1', attributes: { name: 'host-n1' } }])
    expect(e[0]!.index).toBe(leader.state.index)
  })

  it('nodes: create on admission; update with state, availability and role old/new; remove with the old name', () => {
    const leader = new MemoryLeader()
    const events = recording(leader)
    leader.addNode('n2')
    leader.ready('n2')
    leader.ready('n2') // the same state again: the object changed (description), no state attributes
    const n2 = leader.state.nodes.get('n2')!
    leader.apply({ op: 'node.update', id: 'n2', version: n2.version, spec: { role: 'manager', availability: 'drain', labels: {} }, nowMs: 1 })
    leader.apply({ op: 'node.status', id: 'n2', state: 'down', message: 'heartbeat failure', description: null, nowMs: 2 })
    leader.apply({ op: 'node.remove', id: 'n2', nowMs: 3 })
    expect(shapes(events)).toEqual([
      { type: 'node', action: 'create', id: 'n2', attributes: { name: 'host-n2' } },
      { type: 'node', action: 'update', id: 'n2', attributes: { name: 'host-n2', 'state.old': 'unknown', 'state.new': 'ready' } },
      { type: 'node', action: 'update', id: 'n2', attributes: { name: 'host-n2' } },
      { type: 'node', action: 'update', id: 'n2', attributes: { name: 'host-n2', 'availability.old': 'active', 'availability.new': 'drain', 'role.old': 'worker', 'role.new': 'manager' } },
      { type: 'node', action: 'update', id: 'n2', attributes: { name: 'host-n2', 'state.old': 'ready', 'state.new': 'down' } },
      { type: 'node', action: 'remove', id: 'n2', attributes: { name: 'host-n2' } }
    ])
  })

  it('services: create, update with image, replicas and updatestate old/new, remove; task changes alone make none', () => {
    const leader = new MemoryLeader()
    const events = recording(leader)
    leader.apply(createService('web', 2))
    let s = leader.state.services.get('svc-web')!
    leader.apply({ op: 'tasks.reconcile', serviceId: s.id, serviceVersion: s.version, create: [task('t1', s.id, 1, null), task('t2', s.id, 2, null)], update: [], delete: [] })
    leader.apply({
      op: 'service.update', id: s.id, version: s.version, nowMs: 5, ports: [],
      spec: { ...s.spec, TaskTemplate: { ContainerSpec: { Image: 'busybox:2' } }, Mode: { Replicated: { Replicas: 5 } } }
    })
    s = leader.state.services.get('svc-web')!
    const status = { state: 'updating' as const, startedAtMs: 6, completedAtMs: null, message: 'update in progress' }
    leader.apply({ op: 'tasks.reconcile', serviceId: s.id, serviceVersion: s.version, create: [], update: [], delete: [], updateStatus: status })
    leader.apply({ op: 'tasks.reconcile', serviceId: s.id, serviceVersion: s.version, create: [], update: [], delete: [], updateStatus: { ...status, state: 'completed', completedAtMs: 7 } })
    leader.apply({ op: 'service.remove', id: s.id, nowMs: 8 })
    expect(shapes(events)).toEqual([
      { type: 'service', action: 'create', id: 'svc-web', attributes: { name: 'web' } },
      {
        type: 'service', action: 'update', id: 'svc-web',
        attributes: { name: 'web', 'image.old': 'busybox:1', 'image.new': 'busybox:2', 'replicas.old': '2', 'replicas.new': '5' }
      },
      { type: 'service', action: 'update', id: 'svc-web', attributes: { name: 'web', 'updatestate.new': 'updating' } },
      { type: 'service', action: 'update', id: 'svc-web', attributes: { name: 'web', 'updatestate.old': 'updating', 'updatestate.new': 'completed' } },
      { type: 'service', action: 'remove', id: 'svc-web', attributes: { name: 'web' } }
    ])
  })

  it('a global service has no replicas attributes; a mode change has none either', () => {
    const leader = new MemoryLeader()
    const events = recording(leader)
    leader.apply(createService('agent', null))
    const s = leader.state.services.get('svc-agent')!
    leader.apply({ op: 'service.update', id: s.id, version: s.version, nowMs: 1, ports: [], spec: { ...s.spec, Mode: { Replicated: { Replicas: 3 } } } })
    expect(shapes(events).map(e => e.attributes)).toEqual([{ name: 'agent' }, { name: 'agent' }])
  })

  it('networks, secrets and configs: create, update (labels) and remove, with their names', () => {
    const leader = new MemoryLeader()
    const events = recording(leader)
    const net = {
      id: 'net1', name: 'backend', createdAtMs: 0, updatedAtMs: 0, subnet: '10.0.9.0/24', gateway: '10.0.9.1', vxlanId: 4200,
      spec: { Name: 'backend', Labels: {}, Driver: 'overlay' as const, Options: {}, Attachable: false, Internal: false, Ingress: false, IPAM: { Driver: 'default' as const, Config: [], Options: {} } }
    }
    leader.apply({ op: 'network.create', network: net })
    leader.apply({ op: 'network.remove', id: 'net1', nowMs: 1 })
    const blob = { createdAtMs: 0, updatedAtMs: 0, spec: { Name: 'db-pass', Labels: {} } }
    leader.apply({ op: 'secret.create', secret: { ...blob, id: 'sec1', name: 'db-pass', sealed: new Uint8Array(28) } })
    leader.apply({ op: 'secret.update', id: 'sec1', version: leader.state.secrets.get('sec1')!.version, spec: { Name: 'db-pass', Labels: { a: 'b' } }, nowMs: 2 })
    leader.apply({ op: 'secret.remove', id: 'sec1' })
    leader.apply({ op: 'config.create', config: { ...blob, id: 'cfg1', name: 'nginx.conf', spec: { Name: 'nginx.conf', Labels: {} }, data: new Uint8Array(3) } })
    leader.apply({ op: 'config.remove', id: 'cfg1' })
    expect(shapes(events)).toEqual([
      { type: 'network', action: 'create', id: 'net1', attributes: { name: 'backend' } },
      { type: 'network', action: 'remove', id: 'net1', attributes: { name: 'backend' } },
      { type: 'secret', action: 'create', id: 'sec1', attributes: { name: 'db-pass' } },
      { type: 'secret', action: 'update', id: 'sec1', attributes: { name: 'db-pass' } },
      { type: 'secret', action: 'remove', id: 'sec1', attributes: { name: 'db-pass' } },
      { type: 'config', action: 'create', id: 'cfg1', attributes: { name: 'nginx.conf' } },
      { type: 'config', action: 'remove', id: 'cfg1', attributes: { name: 'nginx.conf' } }
    ])
  })

  it('stamps index, seq and 1 ns apart; the line is Docker\'s events.Message with the exact timeNano', () => {
    const leader = new MemoryLeader()
    leader.addNode('n2')
    const before = leader.state
    leader.apply(createService('web', 1))
    const s = leader.state.services.get('svc-web')!
    const mid = leader.state
    leader.apply({ op: 'service.remove', id: s.id, nowMs: 1 })
    const e = deriveEvents([{ kind: 'service', id: s.id }, { kind: 'node-updated', id: 'n2' }, { kind: 'service', id: s.id }], before, mid, T0)
    // The service once; the node did not change between the two states.
    expect(e.map(x => [x.type, x.index, x.seq, x.timeNano])).toEqual([['service', mid.index, 0, T0]])
    const two = deriveEvents([{ kind: 'service', id: 'svc-web' }, { kind: 'node-added', id: 'n2' }], { ...before, nodes: new Map() }, mid, T0)
    expect(two.map(x => [x.seq, x.timeNano])).toEqual([[0, T0], [1, T0 + 1n]])
    const line = eventLine(e[0]!)
    expect(line).toBe('{"Type":"service","Action":"create","Actor":{"ID":"svc-web","Attributes":{"name":"web"}},"scope":"swarm","time":1700000000,"timeNano":1700000000123456789}\n')
    expect(JSON.parse(line)).toMatchObject({ Type: 'service', scope: 'swarm', time: 1700000000 })
  })

  it('a restored snapshot makes events only for what changed (by version, and UpdateStatus for services)', () => {
    const leader = new MemoryLeader()
    leader.addNode('n2')
    leader.apply(createService('web', 1))
    leader.apply(createService('api', 1))
    const before: StoreState = decodeStore(encodeStore(leader.state))
    const api = leader.state.services.get('svc-api')!
    leader.apply({ op: 'tasks.reconcile', serviceId: api.id, serviceVersion: api.version, create: [], update: [], delete: [], updateStatus: { state: 'completed', startedAtMs: 1, completedAtMs: 2, message: '' } })
    leader.apply({ op: 'service.remove', id: 'svc-web', nowMs: 3 })
    leader.ready('n2')
    leader.apply(createService('db', 1))
    const after: StoreState = decodeStore(encodeStore(leader.state))
    const e = deriveEvents([{ kind: 'cluster', id: 'c1' }], before, after, T0)
    expect(shapes(e).map(x => `${x.type} ${x.action} ${x.id} ${JSON.stringify(x.attributes)}`).sort()).toEqual([
      'node update n2 {"name":"host-n2","state.old":"unknown","state.new":"ready"}',
      'service create svc-db {"name":"db"}',
      'service remove svc-web {"name":"web"}',
      'service update svc-api {"name":"api","updatestate.new":"completed"}'
    ])
    // A cluster update (tokens rotated) leaves every map as it was: nothing.
    const c = leader.state.cluster!
    const b2 = leader.state
    leader.apply({ op: 'cluster.update', version: c.version, spec: c.spec, secrets: { worker: 'w2', manager: 'm2' }, nowMs: 4 })
    expect(deriveEvents([{ kind: 'cluster', id: 'c1' }], b2, leader.state, T0)).toEqual([])
  })

  it('reschedule: tasks lost with their down node and replaced in the same batch make one service event per node', () => {
    const leader = new MemoryLeader()
    leader.addNode('n2'); leader.addNode('n3')
    for (const n of ['n1', 'n2', 'n3']) leader.ready(n)
    leader.apply(createService('web', 4))
    const s = leader.state.services.get('svc-web')!
    leader.apply({
      op: 'tasks.reconcile', serviceId: s.id, serviceVersion: s.version, delete: [], update: [],
      create: [task('t1', s.id, 1, 'n1'), task('t2', s.id, 2, 'n2'), task('t3', s.id, 3, 'n2'), task('t4', s.id, 4, 'n3')]
    })
    const events = recording(leader)
    leader.apply({ op: 'node.status', id: 'n2', state: 'down', message: 'heartbeat failure', description: null, nowMs: 9 })
    const v = (id: string): number => leader.state.tasks.get(id)!.version
    leader.apply({
      op: 'tasks.reconcile', serviceId: s.id, serviceVersion: s.version, delete: [],
      update: [{ id: 't2', version: v('t2'), updatedAtMs: 10, desiredState: 'remove' }, { id: 't3', version: v('t3'), updatedAtMs: 10, desiredState: 'remove' }],
      create: [task('t5', s.id, 2, null), task('t6', s.id, 3, null)]
    })
    expect(shapes(events)).toEqual([
      { type: 'node', action: 'update', id: 'n2', attributes: { name: 'host-n2', 'state.old': 'ready', 'state.new': 'down' } },
      { type: 'service', action: 'reschedule', id: 'svc-web', attributes: { name: 'web', node: 'n2', 'node.name': 'host-n2', reason: 'node down', 'tasks.rescheduled': '2' } }
    ])
  })

  it('no reschedule for a scale-down, a restart on a live node, or a lost task nobody replaces (a global service)', () => {
    const leader = new MemoryLeader()
    leader.addNode('n2')
    for (const n of ['n1', 'n2']) leader.ready(n)
    leader.apply(createService('web', 2))
    const s = leader.state.services.get('svc-web')!
    leader.apply({ op: 'tasks.reconcile', serviceId: s.id, serviceVersion: s.version, delete: [], update: [], create: [task('t1', s.id, 1, 'n1'), task('t2', s.id, 2, 'n2')] })
    const events = recording(leader)
    const v = (id: string): number => leader.state.tasks.get(id)!.version
    // A task replaced on a live node (a restart, an update).
    leader.apply({ op: 'tasks.reconcile', serviceId: s.id, serviceVersion: s.version, delete: [], update: [{ id: 't1', version: v('t1'), updatedAtMs: 1, desiredState: 'shutdown' }], create: [task('t3', s.id, 1, null)] })
    leader.apply({ op: 'node.status', id: 'n2', state: 'down', message: '', description: null, nowMs: 2 })
    // Lost, not replaced (scaled down, or a global service's task).
    leader.apply({ op: 'tasks.reconcile', serviceId: s.id, serviceVersion: s.version, delete: [], update: [{ id: 't2', version: v('t2'), updatedAtMs: 3, desiredState: 'remove' }], create: [] })
    expect(events.filter(e => e.action === 'reschedule')).toEqual([])
  })

  it('reschedule from the real orchestrator: a down node\'s replicas are replaced, and the event says how many', async () => {
    const leader = new MemoryLeader()
    leader.addNode('n2'); leader.addNode('n3')
    for (const n of ['n1', 'n2', 'n3']) leader.ready(n)
    const deps = leader.deps()
    const o = new OrchestratorDriver(deps)
    const sch = new SchedulerDriver(deps)
    o.start(); sch.start()
    stops.push(() => { o.stop(); sch.stop() })
    const events = recording(leader)
    leader.apply(createService('web', 6))
    await waitFor('6 assigned tasks', () => [...leader.state.tasks.values()].filter(t => t.status.state === 'assigned').length === 6, 5000, 10)
    const onN3 = [...leader.state.tasks.values()].filter(t => t.nodeId === 'n3').length
    expect(onN3).toBe(2)
    leader.apply({ op: 'node.status', id: 'n3', state: 'down', message: 'heartbeat failure', description: null, nowMs: leader.nowMs })
    const e = await waitFor('a reschedule event', () => events.find(x => x.action === 'reschedule'), 5000, 10)
    expect(e.attributes).toEqual({ name: 'web', node: 'n3', 'node.name': 'host-n3', reason: 'node down', 'tasks.rescheduled': '2' })
    // Per-task changes (scheduling, reports) make no event of their own.
    expect(new Set(events.map(x => `${x.type} ${x.action}`))).toEqual(new Set(['service create', 'node update', 'service reschedule']))
  })
})
