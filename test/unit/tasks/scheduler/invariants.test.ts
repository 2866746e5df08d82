import { describe, expect, it } from 'vitest'
import { nodeMatches, parseConstraints, scheduleBatch, type PlacedTask, type SchedulerNode, type TaskToPlace } from '../../../../src/tasks/scheduler/index.js'
import { CPU, GIB, node, placedOn, rng, task } from './helpers.js'

interface Case { nodes: SchedulerNode[], placed: PlacedTask[], batch: TaskToPlace[] }

function randomCase (seed: number): Case {
  const next = rng(seed)
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!
  const nodes = Array.from({ length: 1 + Math.floor(next() * 25) }, (_, i) => node(`n${i}`, {
    role: pick(['manager', 'worker'] as const),
    availability: next() < 0.85 ? 'active' : pick(['pause', 'drain'] as const),
    ready: next() < 0.9,
    labels: next() < 0.8 ? { zone: pick(['a', 'b', 'c']) } : {},
    resources: { nanoCpus: (1 + Math.floor(next() * 8)) * CPU, memoryBytes: (1 + Math.floor(next() * 16)) * GIB }
  }))
  const placed = Array.from({ length: Math.floor(next() * 20) }, () => placedOn(pick(nodes).id, pick(['s0', 's1', 's2', 's3']), {
    reservations: { nanoCpus: Math.floor(next() * 2) * CPU / 2, memoryBytes: Math.floor(next() * 2) * GIB },
    hostPorts: next() < 0.2 ? [{ protocol: 'tcp', publishedPort: 8080 }] : []
  }))
  const batch: TaskToPlace[] = []
  for (let s = 0; s < 4; s++) {
    const spec: Partial<TaskToPlace> = {
      serviceId: `s${s}`,
      reservations: { nanoCpus: Math.floor(next() * 3) * CPU / 2, memoryBytes: Math.floor(next() * 3) * GIB / 2 },
      constraints: next() < 0.5 ? [pick(['node.role==worker', 'node.labels.zone!=a', 'node.labels.zone==b'])] : [],
      preferences: next() < 0.5 ? [{ Spread: { SpreadDescriptor: 'node.labels.zone' } }] : [],
      maxReplicas: next() < 0.3 ? 1 + Math.floor(next() * 3) : 0,
      hostPorts: next() < 0.2 ? [{ protocol: 'tcp', publishedPort: 8080 }] : []
    }
    const n = Math.floor(next() * 30)
    for (let i = 0; i < n; i++) batch.push(task(`s${s}-${i}`, { ...spec, slot: i + 1 }))
  }
  for (const n of nodes) {
    if (next() < 0.3) batch.push(task(`g-${n.id}`, { serviceId: 'g', slot: null, nodeId: n.id, reservations: { nanoCpus: CPU, memoryBytes: 0 } }))
  }
  return { nodes, placed, batch }
}

describe('scheduleBatch invariants over 200 seeded random batches', () => {
  it.each(Array.from({ length: 200 }, (_, i) => i + 1))('seed %i', (seed) => {
    const { nodes, placed, batch } = randomCase(seed)
    const result = scheduleBatch(nodes, placed, batch)
    const byId = new Map(batch.map(t => [t.id, t]))
    const nodeById = new Map(nodes.map(n => [n.id, n]))

    // Every task decided exactly once.
    const decided = [...result.assignments.map(a => a.taskId), ...result.unschedulable.map(u => u.taskId)]
    expect(decided.sort()).toEqual([...byId.keys()].sort())

    const cpu = new Map<string, number>()
    const mem = new Map<string, number>()
    const ports = new Map<string, number>()
    const perService = new Map<string, number>()
    const add = (m: Map<string, number>, k: string, v: number): void => { m.set(k, (m.get(k) ?? 0) + v) }
    for (const p of placed) {
      add(cpu, p.nodeId, p.reservations.nanoCpus)
      add(mem, p.nodeId, p.reservations.memoryBytes)
      for (const hp of p.hostPorts) add(ports, `${p.nodeId}/${hp.protocol}/${hp.publishedPort}`, 1)
      add(perService, `${p.nodeId}/${p.serviceId}`, 1)
    }
    for (const a of result.assignments) {
      const t = byId.get(a.taskId)!
      const n = nodeById.get(a.nodeId)!
      expect(n.ready && n.availability === 'active').toBe(true)
      expect(nodeMatches(parseConstraints(t.constraints), n)).toBe(true)
      if (t.nodeId !== null) expect(a.nodeId).toBe(t.nodeId)
      // Reservations fit at the moment of assignment (assignments come in decision order).
      if (t.reservations.nanoCpus > 0 || t.reservations.memoryBytes > 0) {
        expect(cpu.get(n.id) ?? 0).toBeLessThanOrEqual(n.resources.nanoCpus - t.reservations.nanoCpus)
        expect(mem.get(n.id) ?? 0).toBeLessThanOrEqual(n.resources.memoryBytes - t.reservations.memoryBytes)
      }
      for (const hp of t.hostPorts) expect(ports.get(`${n.id}/${hp.protocol}/${hp.publishedPort}`) ?? 0).toBe(0)
      if (t.maxReplicas > 0) expect(perService.get(`${n.id}/${t.serviceId}`) ?? 0).toBeLessThan(t.maxReplicas)
      add(cpu, n.id, t.reservations.nanoCpus)
      add(mem, n.id, t.reservations.memoryBytes)
      for (const hp of t.hostPorts) add(ports, `${n.id}/${hp.protocol}/${hp.publishedPort}`, 1)
      add(perService, `${n.id}/${t.serviceId}`, 1)
    }
    for (const u of result.unschedulable) {
      const t = byId.get(u.taskId)!
      if (t.nodeId === null) expect(u.message).toMatch(/^no suitable node( \(.+\))?$/)
    }
  })

  it('spreads a service without reservations evenly: node counts differ by at most one', () => {
    for (let seed = 1; seed <= 50; seed++) {
      const next = rng(seed)
      const nodes = Array.from({ length: 1 + Math.floor(next() * 20) }, (_, i) => node(`n${i}`))
      const n = Math.floor(next() * 100)
      const result = scheduleBatch(nodes, [], Array.from({ length: n }, (_, i) => task(`t${i}`)))
      const counts = nodes.map(nd => result.assignments.filter(a => a.nodeId === nd.id).length)
      expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1)
    }
  })
})
