import { describe, expect, it } from 'vitest'
import type { Command, NetworkObject, StoreEvent, StoreState } from '../../../../src/election/index.js'
import type { NodeNetworkView, ServiceSpec, TaskState } from '../../../../src/tasks/index.js'
import {
  allocateNetwork, allocateVirtualIps, ingressSpec, networkIndex, orchestrationPass, passView, schedulingPass, viewFor, viewsMayChange
} from '../../../../src/tasks/index.js'
import { DEFAULT_ADDRESS_POOL } from '../../../../src/election/objects/index.js'
import { Rng } from '../../../support/rng.js'
import { MemoryLeader, description } from '../leader/memory-store.js'

const NODES = ['n1', 'n2', 'n3', 'n4']
const TEMPLATE = { ContainerSpec: { Image: 'busybox' }, RestartPolicy: { Condition: 'any' as const, Delay: 0 } }

function addNetwork (leader: MemoryLeader, name: string, subnet: string, ingress = false): NetworkObject {
  const base = ingressSpec()
  const spec = { ...base, Name: name, Ingress: ingress, IPAM: { Driver: 'default' as const, Config: [{ Subnet: subnet }], Options: {} } }
  const network = allocateNetwork(spec, `net-${name}`, leader.state.networks.values(), DEFAULT_ADDRESS_POOL, 0)
  leader.apply({ op: 'network.create', network })
  return leader.state.networks.get(network.id)!
}

function serviceSpec (name: string, replicas: number, networks: readonly string[], publish: boolean): ServiceSpec {
  return {
    Name: name,
    TaskTemplate: { ...TEMPLATE, Networks: networks.map(Target => ({ Target, Aliases: [`${name}-alias`] })) },
    Mode: { Replicated: { Replicas: replicas } },
    ...(publish ? { EndpointSpec: { Ports: [{ TargetPort: 80, PublishedPort: 8080 }] } } : {})
  }
}

/** A cluster of four nodes, two overlay networks and the ingress, and services on them (one on none, one published). */
function cluster (): { leader: MemoryLeader, services: string[] } {
  const leader = new MemoryLeader()
  for (const n of NODES.slice(1)) leader.addNode(n)
  NODES.forEach((n, i) => { leader.apply({ op: 'node.status', id: n, state: 'ready', message: '', description: description(), nowMs: 0, addr: `10.1.0.${i + 1}` }) })
  const ingress = addNetwork(leader, 'ingress', '10.0.0.0/24', true)
  const a = addNetwork(leader, 'a', '10.9.1.0/24')
  const b = addNetwork(leader, 'b', '10.9.2.0/24')
  const specs = [serviceSpec('web', 3, [a.id], true), serviceSpec('api', 2, [a.id, b.id], false), serviceSpec('db', 2, [b.id], false), serviceSpec('plain', 2, [], false)]
  const services = specs.map(s => {
    const ports = s.EndpointSpec === undefined ? [] : [{ Protocol: 'tcp' as const, TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' as const }]
    const id = `svc-${s.Name}`
    leader.apply({ op: 'service.create', service: { id, name: s.Name, createdAtMs: 0, updatedAtMs: 0, spec: s, previousSpec: null, endpoint: { ports, virtualIps: allocateVirtualIps(leader.state, s, ports, null) }, updateStatus: null, rebalance: null } })
    return id
  })
  NODES.forEach((n, i) => { leader.apply({ op: 'node.networks', id: n, addresses: [{ networkId: ingress.id, address: `10.0.0.${i + 10}/24` }], nowMs: 0 }) })
  return { leader, services }
}

const FORWARD: readonly TaskState[] = ['accepted', 'preparing', 'starting', 'running', 'running', 'complete', 'failed']

/** One random change to the cluster, as the leader's components or the nodes would make it. */
function randomCommands (rng: Rng, leader: MemoryLeader, services: readonly string[], step: number): Command[] {
  const state = leader.state
  const roll = rng.next()
  if (roll < 0.25) {
    const view = passView(state)
    let n = 0
    return services.flatMap(id => orchestrationPass(view, id, leader.nowMs, () => `t${step}-${n++}`).commands)
  }
  if (roll < 0.4) {
    const placements = schedulingPass(state)
    return placements.length === 0 ? [] : [{ op: 'tasks.schedule', placements, nowMs: leader.nowMs }]
  }
  if (roll < 0.7) {
    const placed = [...state.tasks.values()].filter(t => t.nodeId !== null)
    if (placed.length === 0) return []
    const t = rng.pick(placed)
    return [{ op: 'tasks.report', nodeId: t.nodeId!, reports: [{ id: t.id, state: rng.pick(FORWARD), timestampMs: leader.nowMs, message: '', err: null, exitCode: null }] }]
  }
  if (roll < 0.8) {
    const ingress = [...state.networks.values()].find(n => n.spec.Ingress)!
    return [{ op: 'node.networks', id: rng.pick(NODES), addresses: [{ networkId: ingress.id, address: `10.0.0.${rng.int(10, 60)}/24` }], nowMs: leader.nowMs }]
  }
  if (roll < 0.9) {
    const id = rng.pick(NODES)
    const addr = rng.chance(0.3) ? `10.1.0.${rng.int(1, 6)}` : undefined
    return [{ op: 'node.status', id, state: rng.pick(['ready', 'down'] as const), message: '', description: null, nowMs: leader.nowMs, ...(addr === undefined ? {} : { addr }) }]
  }
  const service = state.services.get(rng.pick(services))!
  const spec = { ...service.spec, Mode: { Replicated: { Replicas: rng.int(0, 4) } } }
  return [{ op: 'service.update', id: service.id, version: service.version, spec, ports: service.endpoint.ports, virtualIps: service.endpoint.virtualIps, nowMs: leader.nowMs }]
}

function views (state: StoreState): Array<NodeNetworkView | null> {
  const index = networkIndex(state)
  return NODES.map(n => viewFor(index, n))
}

describe('network views across changes', () => {
  it('are recomputed only when a change may move one, and reuse the last view exactly when nothing in it differs', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const rng = new Rng(seed)
      const { leader, services } = cluster()
      let index = networkIndex(leader.state)
      const last = new Map<string, NodeNetworkView | null>(NODES.map(n => [n, viewFor(index, n)]))
      const seen = { skipped: 0, recomputed: 0, reused: 0, changed: 0, running: 0 }
      for (let step = 0; step < 400; step++) {
        leader.nowMs += 100
        for (const cmd of randomCommands(rng, leader, services, step)) {
          const prev = leader.state
          const batches: StoreEvent[][] = []
          const unwatch = leader.store.watch(events => { batches.push([...events]) })
          try { leader.apply(cmd) } catch { /* refused: the state moved on */ } finally { unwatch() }
          const next = leader.state
          const events = batches.flat()
          const context = `seed ${seed}, step ${step}, ${cmd.op}`
          if (!viewsMayChange(prev, next, events)) {
            seen.skipped++
            expect(JSON.stringify(views(next)), context).toBe(JSON.stringify(views(prev)))
            continue
          }
          seen.recomputed++
          if ([...next.tasks.values()].some(t => t.networks.length > 0 && t.status.state === 'running')) seen.running++
          index = networkIndex(next, index)
          const fresh = views(next)
          NODES.forEach((n, i) => {
            const before = last.get(n) ?? null
            const view = viewFor(index, n, before)
            expect(view, context).toEqual(fresh[i])
            expect(view === before, context).toBe(JSON.stringify(view) === JSON.stringify(before))
            if (view === before) seen.reused++
            else seen.changed++
            last.set(n, view)
          })
        }
      }
      // The walk went through both kinds of batches and both kinds of views, with tasks on the networks.
      expect(seen.running).toBeGreaterThan(20)
      expect(seen.skipped).toBeGreaterThan(20)
      expect(seen.recomputed).toBeGreaterThan(20)
      expect(seen.reused).toBeGreaterThan(20)
      expect(seen.changed).toBeGreaterThan(20)
    }
  })

  it('keeps the previous index\'s lists where they are equal', () => {
    const { leader } = cluster()
    const first = networkIndex(leader.state)
    const again = networkIndex({ ...leader.state, index: leader.state.index + 1 }, first)
    expect(again.services).toEqual(first.services)
    for (const [id, list] of again.services) expect(list).toBe(first.services.get(id))
    for (const [id, list] of again.endpoints) expect(list).toBe(first.endpoints.get(id))
  })

  it('ignores a task report that does not start or end a networked task, a status write that keeps the address, and secrets', () => {
    const { leader, services } = cluster()
    const view = passView(leader.state)
    let n = 0
    for (const cmd of services.flatMap(id => orchestrationPass(view, id, leader.nowMs, () => `x${n++}`).commands)) leader.apply(cmd)
    leader.apply({ op: 'tasks.schedule', placements: schedulingPass(leader.state), nowMs: 0 })
    const web = [...leader.state.tasks.values()].find(t => t.serviceId === 'svc-web')!
    const plain = [...leader.state.tasks.values()].find(t => t.serviceId === 'svc-plain')!
    const step = (cmd: Command): boolean => {
      const prev = leader.state
      const events: StoreEvent[] = []
      const unwatch = leader.store.watch(e => { events.push(...e) })
      leader.apply(cmd)
      unwatch()
      return viewsMayChange(prev, leader.state, events)
    }
    const report = (id: string, nodeId: string, state: TaskState): Command => ({ op: 'tasks.report', nodeId, reports: [{ id, state, timestampMs: 0, message: '', err: null, exitCode: null }] })
    expect(step(report(web.id, web.nodeId!, 'starting'))).toBe(false)
    expect(step(report(web.id, web.nodeId!, 'running'))).toBe(true)
    expect(step(report(plain.id, plain.nodeId!, 'running'))).toBe(false)
    expect(step({ op: 'node.status', id: 'n2', state: 'down', message: 'heartbeat failure', description: null, nowMs: 0 })).toBe(false)
    expect(step({ op: 'node.status', id: 'n2', state: 'ready', message: '', description: null, nowMs: 0, addr: '10.1.0.9' })).toBe(true)
    expect(step({ op: 'secret.create', secret: { id: 's1', name: 's1', createdAtMs: 0, updatedAtMs: 0, spec: { Name: 's1', Labels: {} }, sealed: new Uint8Array(28) } })).toBe(false)
    expect(step(report(web.id, web.nodeId!, 'failed'))).toBe(true)
  })
})
