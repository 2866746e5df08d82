import { describe, expect, it } from 'vitest'
import { samePlacement, specKey, splitBatch } from '../../../../src/tasks/scheduler/task-groups.js'
import type { TaskToPlace } from '../../../../src/tasks/scheduler/index.js'
import { task } from './helpers.js'

describe('task groups', () => {
  const variants: Array<[string, Partial<TaskToPlace>]> = [
    ['service', { serviceId: 'other' }],
    ['cpu', { reservations: { nanoCpus: 1, memoryBytes: 0 } }],
    ['memory', { reservations: { nanoCpus: 0, memoryBytes: 1 } }],
    ['max replicas', { maxReplicas: 1 }],
    ['constraints', { constraints: ['node.role==worker'] }],
    ['constraint split', { constraints: ['node.role==worker', 'node.labels.a==b'] }],
    ['constraint joined', { constraints: ['node.role==workernode.labels.a==b'] }],
    ['preferences', { preferences: [{ Spread: { SpreadDescriptor: 'node.labels.zone' } }] }],
    ['host ports', { hostPorts: [{ protocol: 'tcp', publishedPort: 80 }] }],
    ['host port protocol', { hostPorts: [{ protocol: 'udp', publishedPort: 80 }] }],
    ['platforms', { platforms: [{ os: 'linux', arch: 'amd64' }] }],
    ['platform split', { platforms: [{ os: 'linuxa', arch: 'md64' }] }]
  ]

  it('tells apart tasks that differ in any field placement reads, by comparison and by key', () => {
    const all = [task('base'), ...variants.map(([name, over]) => task(name, over))]
    for (const a of all) {
      for (const b of all) {
        expect(samePlacement(a, b)).toBe(a === b)
        expect(specKey(a) === specKey(b)).toBe(a === b)
      }
    }
  })

  it('ignores id and slot, and compares arrays by content', () => {
    const a = task('a', { slot: 1, constraints: ['node.role==worker'] })
    const b = task('b', { slot: 2, constraints: ['node.role==worker'] })
    expect(samePlacement(a, b)).toBe(true)
    expect(specKey(a)).toBe(specKey(b))
  })

  it('groups by service and spec, services in ID order, globals apart', () => {
    const batch = [
      task('z1', { serviceId: 'z' }), task('a1', { serviceId: 'a' }), task('g', { serviceId: 'a', slot: null, nodeId: 'n' }),
      task('z2', { serviceId: 'z', maxReplicas: 1 }), task('a2', { serviceId: 'a' }), task('z3', { serviceId: 'z' })
    ]
    const { globals, groups } = splitBatch(batch)
    expect(globals.map(t => t.id)).toEqual(['g'])
    expect(groups.map(g => g.tasks.map(t => t.id))).toEqual([['a1', 'a2'], ['z1', 'z3'], ['z2']])
  })

  it('keeps grouping right past the scan limit (many specs in one service)', () => {
    const batch = Array.from({ length: 60 }, (_, i) => task(`t${i}`, { maxReplicas: i % 20 }))
    const { groups } = splitBatch(batch)
    expect(groups).toHaveLength(20)
    for (const g of groups) {
      expect(g.tasks).toHaveLength(3)
      expect(new Set(g.tasks.map(t => t.maxReplicas)).size).toBe(1)
    }
  })
})
