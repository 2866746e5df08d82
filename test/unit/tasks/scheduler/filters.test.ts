import { describe, expect, it } from 'vitest'
import { availabilityFilter } from '../../../../src/tasks/scheduler/filters/availability.js'
import { constraintsFilter } from '../../../../src/tasks/scheduler/filters/constraints.js'
import { hostPortsFilter } from '../../../../src/tasks/scheduler/filters/host-ports.js'
import { maxReplicasFilter } from '../../../../src/tasks/scheduler/filters/max-replicas.js'
import { platformFilter } from '../../../../src/tasks/scheduler/filters/platform.js'
import { readyFilter } from '../../../../src/tasks/scheduler/filters/ready.js'
import { resourcesFilter } from '../../../../src/tasks/scheduler/filters/resources.js'
import type { Filter } from '../../../../src/tasks/scheduler/filters/types.js'
import { addPlacedTask, newNodeState, type NodeState } from '../../../../src/tasks/scheduler/node-state.js'
import { prepareTask } from '../../../../src/tasks/scheduler/prepared-task.js'
import { PIPELINE, explainRefusal, explainRefusals, type Refusal, type SchedulerNode, type TaskToPlace, type PlacedTask } from '../../../../src/tasks/scheduler/index.js'
import { countRefusals, firstRefusal, noSuitableNode } from '../../../../src/tasks/scheduler/pipeline.js'
import { CPU, GIB, node, placedOn, task } from './helpers.js'

function check (filter: Filter, n: SchedulerNode, t: TaskToPlace, placed: readonly PlacedTask[] = []): Refusal | null {
  const state = stateOf(n, placed)
  return filter(n, prepareTask(t), state)
}

function stateOf (n: SchedulerNode, placed: readonly PlacedTask[] = []): NodeState {
  const state = newNodeState(n)
  for (const p of placed) addPlacedTask(state, p)
  return state
}

describe('filters', () => {
  it('ready refuses a node that is not ready', () => {
    expect(check(readyFilter, node('a'), task('t'))).toBeNull()
    expect(check(readyFilter, node('a', { ready: false }), task('t'))).toBe('not available for new tasks')
  })

  it.each<[SchedulerNode['availability'], Refusal | null]>([
    ['active', null],
    ['pause', 'not available for new tasks'],
    ['drain', 'not available for new tasks']
  ])('availability %s → %s', (availability, expected) => {
    expect(check(availabilityFilter, node('a', { availability }), task('t'))).toBe(expected)
  })

  describe('resources', () => {
    const n = node('a', { resources: { nanoCpus: 2 * CPU, memoryBytes: 4 * GIB } })
    it.each<[string, number, number, Refusal | null]>([
      ['nothing reserved', 0, 0, null],
      ['exactly the capacity', 2 * CPU, 4 * GIB, null],
      ['one nano-CPU too many', 2 * CPU + 1, 0, 'insufficient resources'],
      ['one byte too many', 0, 4 * GIB + 1, 'insufficient resources']
    ])('%s', (_what, nanoCpus, memoryBytes, expected) => {
      expect(check(resourcesFilter, n, task('t', { reservations: { nanoCpus, memoryBytes } }))).toBe(expected)
    })

    it('counts the reservations of tasks already on the node', () => {
      const placed = [placedOn('a', 'other', { reservations: { nanoCpus: CPU, memoryBytes: GIB } })]
      expect(check(resourcesFilter, n, task('t', { reservations: { nanoCpus: CPU, memoryBytes: 3 * GIB } }), placed)).toBeNull()
      expect(check(resourcesFilter, n, task('t', { reservations: { nanoCpus: CPU + 1, memoryBytes: 0 } }), placed)).toBe('insufficient resources')
    })

    it('lets a task that reserves nothing onto an over-committed node, as SwarmKit does', () => {
      const placed = [placedOn('a', 'other', { reservations: { nanoCpus: 3 * CPU, memoryBytes: 0 } })]
      expect(check(resourcesFilter, n, task('t'), placed)).toBeNull()
    })
  })

  it('constraints refuses a node that does not match', () => {
    const n = node('a', { labels: { zone: 'b' } })
    expect(check(constraintsFilter, n, task('t', { constraints: ['node.labels.zone==b'] }))).toBeNull()
    expect(check(constraintsFilter, n, task('t', { constraints: ['node.labels.zone==a'] }))).toBe('scheduling constraints not satisfied')
  })

  it.each<[string, TaskToPlace['platforms'], SchedulerNode['platform'], Refusal | null]>([
    ['no platform list', [], { os: 'linux', arch: 'x86_64' }, null],
    ['exact match', [{ os: 'linux', arch: 'x86_64' }], { os: 'linux', arch: 'x86_64' }, null],
    ['amd64 image on an x86_64 engine', [{ os: 'linux', arch: 'amd64' }], { os: 'linux', arch: 'x86_64' }, null],
    ['arm64 image on an aarch64 engine', [{ os: 'linux', arch: 'arm64' }], { os: 'linux', arch: 'aarch64' }, null],
    ['empty arch matches any', [{ os: 'linux', arch: '' }], { os: 'linux', arch: 's390x' }, null],
    ['empty os matches any', [{ os: '', arch: 'amd64' }], { os: 'windows', arch: 'x86_64' }, null],
    ['one of several', [{ os: 'windows', arch: 'amd64' }, { os: 'linux', arch: 'arm64' }], { os: 'linux', arch: 'aarch64' }, null],
    ['wrong arch', [{ os: 'linux', arch: 'amd64' }], { os: 'linux', arch: 'aarch64' }, 'unsupported platform'],
    ['wrong os', [{ os: 'windows', arch: 'amd64' }], { os: 'linux', arch: 'x86_64' }, 'unsupported platform']
  ])('platform: %s', (_what, platforms, platform, expected) => {
    expect(check(platformFilter, node('a', { platform }), task('t', { platforms }))).toBe(expected)
  })

  describe('host ports', () => {
    const placed = [placedOn('a', 'other', { hostPorts: [{ protocol: 'tcp', publishedPort: 80 }] })]
    it.each<[string, TaskToPlace['hostPorts'], Refusal | null]>([
      ['same protocol and port', [{ protocol: 'tcp', publishedPort: 80 }], 'host-mode port already in use'],
      ['one of several taken', [{ protocol: 'tcp', publishedPort: 81 }, { protocol: 'tcp', publishedPort: 80 }], 'host-mode port already in use'],
      ['same port, other protocol', [{ protocol: 'udp', publishedPort: 80 }], null],
      ['other port', [{ protocol: 'tcp', publishedPort: 8080 }], null],
      ['port 0 (engine-chosen)', [{ protocol: 'tcp', publishedPort: 0 }], null],
      ['no ports', [], null]
    ])('%s', (_what, hostPorts, expected) => {
      expect(check(hostPortsFilter, node('a'), task('t', { hostPorts }), placed)).toBe(expected)
    })
  })

  it('max replicas refuses a node holding maxReplicas tasks of the service', () => {
    const placed = [placedOn('a', 'svc'), placedOn('a', 'svc'), placedOn('a', 'other')]
    expect(check(maxReplicasFilter, node('a'), task('t', { maxReplicas: 0 }), placed)).toBeNull()
    expect(check(maxReplicasFilter, node('a'), task('t', { maxReplicas: 3 }), placed)).toBeNull()
    expect(check(maxReplicasFilter, node('a'), task('t', { maxReplicas: 2 }), placed)).toBe('max replicas per node limit exceed')
  })
})

describe('pipeline', () => {
  it("runs SwarmKit's filters in SwarmKit's order", () => {
    expect(PIPELINE.map(s => s.name)).toEqual(['ready', 'availability', 'resources', 'constraints', 'platform', 'host-ports', 'max-replicas'])
  })

  it('counts a node under its first refusal only: resources before constraints', () => {
    const t = prepareTask(task('t', { reservations: { nanoCpus: 100 * CPU, memoryBytes: 0 }, constraints: ['node.role==manager'] }))
    expect(firstRefusal(t, stateOf(node('a')))).toBe('insufficient resources')
    expect(firstRefusal(t, stateOf(node('a', { ready: false, availability: 'drain' })))).toBe('not available for new tasks')
  })

  it.each<[Refusal, number, string]>([
    ['not available for new tasks', 1, '1 node not available for new tasks'],
    ['not available for new tasks', 2, '2 nodes not available for new tasks'],
    ['insufficient resources', 1, 'insufficient resources on 1 node'],
    ['insufficient resources', 3, 'insufficient resources on 3 nodes'],
    ['scheduling constraints not satisfied', 4, 'scheduling constraints not satisfied on 4 nodes'],
    ['unsupported platform', 1, 'unsupported platform on 1 node'],
    ['host-mode port already in use', 2, 'host-mode port already in use on 2 nodes'],
    ['max replicas per node limit exceed', 5, 'max replicas per node limit exceed']
  ])('explains %s on %i node(s) as SwarmKit does', (refusal, nodes, expected) => {
    expect(explainRefusal(refusal, nodes)).toBe(expected)
  })

  it('lists refusals most frequent first, ties in pipeline order', () => {
    expect(explainRefusals(new Map<Refusal, number>([
      ['scheduling constraints not satisfied', 1],
      ['insufficient resources', 3],
      ['not available for new tasks', 1]
    ]))).toBe('insufficient resources on 3 nodes; 1 node not available for new tasks; scheduling constraints not satisfied on 1 node')
    expect(explainRefusals(new Map())).toBe('')
  })

  it('aggregates over the nodes: readiness and availability share one reason', () => {
    const t = prepareTask(task('t', { constraints: ['node.labels.zone==a'] }))
    const states = [
      node('down', { ready: false }),
      node('drained', { availability: 'drain' }),
      node('paused', { availability: 'pause' }),
      node('elsewhere', { labels: { zone: 'b' } }),
      node('fits', { labels: { zone: 'a' } })
    ].map(n => stateOf(n))
    expect(countRefusals(t, states)).toEqual(new Map([['not available for new tasks', 3], ['scheduling constraints not satisfied', 1]]))
    expect(noSuitableNode(t, states)).toBe('no suitable node (3 nodes not available for new tasks; scheduling constraints not satisfied on 1 node)')
  })

  it('says just "no suitable node" when there are no nodes', () => {
    expect(noSuitableNode(prepareTask(task('t')), [])).toBe('no suitable node')
  })
})
