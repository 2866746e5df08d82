import { describe, expect, it } from 'vitest'
import { FlotillaError } from '../../../../src/membership/errors.js'
import { scheduleBatch, type PlacedTask, type SchedulerNode, type TaskToPlace } from '../../../../src/tasks/scheduler/index.js'
import { catchError } from '../../../support/errors.js'
import { CPU, GIB, countByNode, node, placedOn, task, tasks } from './helpers.js'

const zone = (id: string, z: string, over: Partial<SchedulerNode> = {}): SchedulerNode => node(id, { labels: { zone: z }, ...over })
const spreadZone: TaskToPlace['preferences'] = [{ Spread: { SpreadDescriptor: 'node.labels.zone' } }]

describe('scheduleBatch: spreading', () => {
  it('spreads 6 tasks over 3 nodes 2/2/2', () => {
    const r = scheduleBatch([node('a'), node('b'), node('c')], [], tasks(6, 't'))
    expect(r.unschedulable).toEqual([])
    expect(countByNode(r.assignments)).toEqual({ a: 2, b: 2, c: 2 })
  })

  it('goes round the nodes in node ID order when counts tie', () => {
    const r = scheduleBatch([node('c'), node('a'), node('b')], [], tasks(4, 't'))
    expect(r.assignments).toEqual([
      { taskId: 't1', nodeId: 'a' }, { taskId: 't2', nodeId: 'b' }, { taskId: 't3', nodeId: 'c' }, { taskId: 't4', nodeId: 'a' }
    ])
  })

  it("counts the service's tasks already placed", () => {
    const placed = [placedOn('a', 'svc'), placedOn('a', 'svc'), placedOn('b', 'svc')]
    const r = scheduleBatch([node('a'), node('b'), node('c')], placed, tasks(3, 't'))
    // 2/1/0 before, 2/2/2 after.
    expect(countByNode(r.assignments)).toEqual({ b: 1, c: 2 })
  })

  it('breaks ties on the service count by fewest tasks overall', () => {
    const placed = [placedOn('a', 'other'), placedOn('a', 'other'), placedOn('b', 'other')]
    const r = scheduleBatch([node('a'), node('b'), node('c')], placed, tasks(3, 't'))
    expect(r.assignments.map(a => a.nodeId)).toEqual(['c', 'b', 'a'])
  })

  it('sees assignments of earlier services in the same batch', () => {
    const r = scheduleBatch([node('a'), node('b')], [], [...tasks(1, 'x', { serviceId: 'svc-1' }), ...tasks(1, 'y', { serviceId: 'svc-2' })])
    expect(r.assignments).toEqual([{ taskId: 'x1', nodeId: 'a' }, { taskId: 'y1', nodeId: 'b' }])
  })

  it("spreads two specs of one service (a rolling update) as one service", () => {
    const v1 = tasks(2, 'v1-', { reservations: { nanoCpus: CPU, memoryBytes: 0 } })
    const v2 = tasks(2, 'v2-', { reservations: { nanoCpus: 2 * CPU, memoryBytes: 0 } })
    const r = scheduleBatch([node('a'), node('b')], [], [...v1, ...v2])
    expect(r.assignments).toEqual([
      { taskId: 'v1-1', nodeId: 'a' }, { taskId: 'v1-2', nodeId: 'b' }, { taskId: 'v2-1', nodeId: 'a' }, { taskId: 'v2-2', nodeId: 'b' }
    ])
  })

  it('ignores placed tasks on nodes it was not given', () => {
    const r = scheduleBatch([node('a')], [placedOn('gone', 'svc')], tasks(1, 't'))
    expect(r.assignments).toEqual([{ taskId: 't1', nodeId: 'a' }])
  })
})

describe('scheduleBatch: filters', () => {
  it('skips drained, paused and down nodes', () => {
    const nodes = [node('a', { availability: 'drain' }), node('b', { availability: 'pause' }), node('c', { ready: false }), node('d')]
    const r = scheduleBatch(nodes, [], tasks(3, 't'))
    expect(countByNode(r.assignments)).toEqual({ d: 3 })
  })

  it('explains why no node fits: no suitable node (…)', () => {
    const nodes = [node('a'), node('b'), node('c')]
    const r = scheduleBatch(nodes, [], tasks(2, 't', { reservations: { nanoCpus: 8 * CPU, memoryBytes: 0 } }))
    expect(r.assignments).toEqual([])
    expect(r.unschedulable).toEqual([
      { taskId: 't1', message: 'no suitable node (insufficient resources on 3 nodes)' },
      { taskId: 't2', message: 'no suitable node (insufficient resources on 3 nodes)' }
    ])
  })

  it('aggregates several reasons, most frequent first', () => {
    const nodes = [node('a', { ready: false }), node('b', { labels: { zone: 'x' } }), node('c'), node('d')]
    const r = scheduleBatch(nodes, [], tasks(1, 't', { constraints: ['node.labels.zone==y'] }))
    expect(r.unschedulable).toEqual([{ taskId: 't1', message: 'no suitable node (scheduling constraints not satisfied on 3 nodes; 1 node not available for new tasks)' }])
  })

  it('says "no suitable node" when there are no nodes', () => {
    expect(scheduleBatch([], [], tasks(1, 't')).unschedulable).toEqual([{ taskId: 't1', message: 'no suitable node' }])
  })

  it('takes reservations out of capacity within the batch', () => {
    const nodes = [node('a', { resources: { nanoCpus: 2 * CPU, memoryBytes: 8 * GIB } }), node('b', { resources: { nanoCpus: 1 * CPU, memoryBytes: 8 * GIB } })]
    const r = scheduleBatch(nodes, [], tasks(4, 't', { reservations: { nanoCpus: CPU, memoryBytes: GIB } }))
    expect(countByNode(r.assignments)).toEqual({ a: 2, b: 1 })
    expect(r.unschedulable).toEqual([{ taskId: 't4', message: 'no suitable node (insufficient resources on 2 nodes)' }])
  })

  it('counts the reservations of placed tasks and of earlier services in the batch', () => {
    const nodes = [node('a', { resources: { nanoCpus: 2 * CPU, memoryBytes: 2 * GIB } })]
    const placed = [placedOn('a', 'old', { reservations: { nanoCpus: 0, memoryBytes: GIB } })]
    const r = scheduleBatch(nodes, placed, [
      task('x', { serviceId: 'svc-1', reservations: { nanoCpus: 0, memoryBytes: GIB } }),
      task('y', { serviceId: 'svc-2', reservations: { nanoCpus: 0, memoryBytes: 1 } })
    ])
    expect(r.assignments).toEqual([{ taskId: 'x', nodeId: 'a' }])
    expect(r.unschedulable).toEqual([{ taskId: 'y', message: 'no suitable node (insufficient resources on 1 node)' }])
  })

  it('keeps a host-mode port to one task per node', () => {
    const hostPorts: TaskToPlace['hostPorts'] = [{ protocol: 'tcp', publishedPort: 80 }]
    const placed: PlacedTask[] = [placedOn('a', 'web', { hostPorts })]
    const r = scheduleBatch([node('a'), node('b'), node('c')], placed, tasks(3, 't', { serviceId: 'web', hostPorts }))
    expect(countByNode(r.assignments)).toEqual({ b: 1, c: 1 })
    expect(r.unschedulable).toEqual([{ taskId: 't3', message: 'no suitable node (host-mode port already in use on 3 nodes)' }])
  })

  it('lets the same port on another protocol through', () => {
    const r = scheduleBatch([node('a')], [], [
      task('tcp', { serviceId: 'a', hostPorts: [{ protocol: 'tcp', publishedPort: 53 }] }),
      task('udp', { serviceId: 'b', hostPorts: [{ protocol: 'udp', publishedPort: 53 }] })
    ])
    expect(r.assignments).toHaveLength(2)
  })

  it('stops at maxReplicas per node, counting placed tasks', () => {
    const r = scheduleBatch([node('a'), node('b')], [placedOn('a', 'svc')], tasks(4, 't', { maxReplicas: 2 }))
    expect(countByNode(r.assignments)).toEqual({ a: 1, b: 2 })
    expect(r.unschedulable).toEqual([{ taskId: 't4', message: 'no suitable node (max replicas per node limit exceed)' }])
  })

  it('honours constraints and platforms', () => {
    const nodes = [node('m', { role: 'manager' }), node('w1'), node('w2', { platform: { os: 'linux', arch: 'aarch64' } })]
    const r = scheduleBatch(nodes, [], tasks(2, 't', { constraints: ['node.role==worker'], platforms: [{ os: 'linux', arch: 'amd64' }] }))
    expect(countByNode(r.assignments)).toEqual({ w1: 2 })
  })

  it('returns tasks with a malformed constraint as unschedulable, naming it', () => {
    const r = scheduleBatch([node('a')], [], [...tasks(2, 'bad', { constraints: ['node.role=worker'] }), task('ok', { serviceId: 'other' })])
    expect(r.assignments).toEqual([{ taskId: 'ok', nodeId: 'a' }])
    expect(r.unschedulable).toEqual([
      { taskId: 'bad1', message: 'invalid constraint "node.role=worker": expected one operator from ==, !=' },
      { taskId: 'bad2', message: 'invalid constraint "node.role=worker": expected one operator from ==, !=' }
    ])
  })

  it('refuses duplicate node or task IDs', () => {
    expect(catchError(() => scheduleBatch([node('a'), node('a')], [], []))).toBeInstanceOf(FlotillaError)
    expect(catchError(() => scheduleBatch([node('a')], [], [task('t'), task('t')]))).toMatchObject({ code: 'invalid-argument', message: 'task t is listed twice' })
  })
})

describe('scheduleBatch: placement preferences', () => {
  it('spreads over zones first: zones of 1 and 3 nodes, 4 tasks → 2/2 by zone', () => {
    const nodes = [zone('a1', 'a'), zone('b1', 'b'), zone('b2', 'b'), zone('b3', 'b')]
    const r = scheduleBatch(nodes, [], tasks(4, 't', { preferences: spreadZone }))
    expect(countByNode(r.assignments)).toEqual({ a1: 2, b1: 1, b2: 1 })
  })

  it('puts nodes without the label in a branch of their own', () => {
    const nodes = [zone('a1', 'a'), zone('a2', 'a'), zone('b1', 'b'), node('n1'), node('n2')]
    const r = scheduleBatch(nodes, [], tasks(6, 't', { preferences: spreadZone }))
    const byZone = { a: 0, b: 0, none: 0 }
    for (const a of r.assignments) byZone[a.nodeId.startsWith('a') ? 'a' : a.nodeId.startsWith('b') ? 'b' : 'none']++
    expect(byZone).toEqual({ a: 2, b: 2, none: 2 })
  })

  it('counts tasks already in a zone', () => {
    const nodes = [zone('a1', 'a'), zone('b1', 'b'), zone('c1', 'c')]
    const placed = [placedOn('a1', 'svc'), placedOn('a1', 'svc'), placedOn('b1', 'svc')]
    const r = scheduleBatch(nodes, placed, tasks(3, 't', { preferences: spreadZone }))
    expect(countByNode(r.assignments)).toEqual({ b1: 1, c1: 2 })
  })

  it('moves on to the other zones when one runs out of room', () => {
    const nodes = [zone('a1', 'a', { resources: { nanoCpus: CPU, memoryBytes: GIB } }), zone('b1', 'b'), zone('b2', 'b')]
    const r = scheduleBatch(nodes, [], tasks(5, 't', { preferences: spreadZone, reservations: { nanoCpus: CPU, memoryBytes: 0 } }))
    expect(r.unschedulable).toEqual([])
    expect(countByNode(r.assignments)).toEqual({ a1: 1, b1: 2, b2: 2 })
  })

  it('skips a zone whose nodes all fail the filters', () => {
    const nodes = [zone('a1', 'a', { availability: 'drain' }), zone('b1', 'b')]
    const r = scheduleBatch(nodes, [], tasks(2, 't', { preferences: spreadZone }))
    expect(countByNode(r.assignments)).toEqual({ b1: 2 })
  })

  it('nests levels: zone, then rack', () => {
    const rack = (id: string, z: string, rk: string): SchedulerNode => node(id, { labels: { zone: z, rack: rk } })
    const nodes = [rack('a-r1-1', 'a', 'r1'), rack('a-r1-2', 'a', 'r1'), rack('a-r2-1', 'a', 'r2'), rack('b-r3-1', 'b', 'r3')]
    const preferences: TaskToPlace['preferences'] = [...spreadZone, { Spread: { SpreadDescriptor: 'node.labels.rack' } }]
    const r = scheduleBatch(nodes, [], tasks(4, 't', { preferences }))
    // Zone a gets 2 (one per rack), zone b gets 2 on its only node.
    expect(countByNode(r.assignments)).toEqual({ 'a-r1-1': 1, 'a-r2-1': 1, 'b-r3-1': 2 })
  })

  it('spreads over engine labels too, and ignores descriptors SwarmKit does not support', () => {
    const nodes = [node('a', { engineLabels: { dc: 'x' } }), node('b', { engineLabels: { dc: 'y' } }), node('c', { engineLabels: { dc: 'y' } })]
    const preferences: TaskToPlace['preferences'] = [{ Spread: { SpreadDescriptor: 'node.hostname' } }, { Spread: { SpreadDescriptor: 'engine.labels.dc' } }]
    const r = scheduleBatch(nodes, [], tasks(2, 't', { preferences }))
    expect(countByNode(r.assignments)).toEqual({ a: 1, b: 1 })
  })
})

describe('scheduleBatch: global tasks', () => {
  it('places a global task on its node only, before replicated tasks', () => {
    const r = scheduleBatch([node('a'), node('b')], [], [task('r1'), task('g-b', { serviceId: 'svc', slot: null, nodeId: 'b' })])
    expect(r.assignments).toEqual([{ taskId: 'g-b', nodeId: 'b' }, { taskId: 'r1', nodeId: 'a' }])
  })

  it('leaves a global task unschedulable with the reason for its node', () => {
    const nodes = [node('a', { availability: 'drain' }), node('b', { resources: { nanoCpus: CPU, memoryBytes: GIB } })]
    const g = (id: string, nodeId: string): TaskToPlace => task(id, { slot: null, nodeId, reservations: { nanoCpus: 2 * CPU, memoryBytes: 0 } })
    const r = scheduleBatch(nodes, [], [g('ga', 'a'), g('gb', 'b'), g('gz', 'zz')])
    expect(r.assignments).toEqual([])
    expect(r.unschedulable).toEqual([
      { taskId: 'ga', message: '1 node not available for new tasks' },
      { taskId: 'gb', message: 'insufficient resources on 1 node' },
      { taskId: 'gz', message: 'node zz not found' }
    ])
  })
})

describe('scheduleBatch: determinism', () => {
  function bigInput (): [SchedulerNode[], PlacedTask[], TaskToPlace[]] {
    const nodes = Array.from({ length: 30 }, (_, i) => zone(`n${String(i).padStart(2, '0')}`, `z${i % 4}`, { role: i < 3 ? 'manager' : 'worker' }))
    const placed = Array.from({ length: 20 }, (_, i) => placedOn(`n${String((i * 7) % 30).padStart(2, '0')}`, `s${i % 3}`))
    const batch = [
      ...tasks(50, 'a', { serviceId: 's0', preferences: spreadZone }),
      ...tasks(40, 'b', { serviceId: 's1', constraints: ['node.role==worker'], reservations: { nanoCpus: CPU / 2, memoryBytes: GIB } }),
      ...tasks(30, 'c', { serviceId: 's2', maxReplicas: 1 }),
      ...nodes.slice(0, 5).map(n => task(`g-${n.id}`, { serviceId: 's3', slot: null, nodeId: n.id }))
    ]
    return [nodes, placed, batch]
  }

  it('gives the same output for the same input', () => {
    const first = scheduleBatch(...bigInput())
    const second = scheduleBatch(...bigInput())
    expect(second).toEqual(first)
    expect(first.assignments.length + first.unschedulable.length).toBe(125)
  })

  it('does not depend on the order of nodes and placed tasks', () => {
    const [nodes, placed, batch] = bigInput()
    expect(scheduleBatch([...nodes].reverse(), [...placed].reverse(), batch)).toEqual(scheduleBatch(nodes, placed, batch))
  })

  it('does not mutate its inputs', () => {
    const input = bigInput()
    const copy = structuredClone(input)
    scheduleBatch(...input)
    expect(input).toEqual(copy)
  })
})
