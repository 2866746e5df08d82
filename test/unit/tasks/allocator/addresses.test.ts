import { afterEach, describe, expect, it } from 'vitest'
import { addressesInUse, type NetworkObject, type ServiceSpec, type TaskObject } from '../../../../src/election/index.js'
import {
  AllocatorDriver, Dispatcher, OrchestratorDriver, SchedulerDriver, allocateNetwork, connectLocal, type LeaderMessage, type NodeNetworkView, allocateVirtualIps, ingressSpec, lowestFreeAddress, networkIndex, nodeAddressesNeeded, viewFor
} from '../../../../src/tasks/index.js'
import { DEFAULT_ADDRESS_POOL } from '../../../../src/election/objects/index.js'
import { waitFor } from '../../../support/agent-process.js'
import { catchError } from '../../../support/errors.js'
import { MemoryLeader, description } from '../leader/memory-store.js'

const TEMPLATE = { ContainerSpec: { Image: 'busybox' }, RestartPolicy: { Condition: 'any' as const, Delay: 0 } }

function addNetwork (leader: MemoryLeader, name: string, subnet?: string, ingress = false): NetworkObject {
  const spec = ingress ? ingressSpec() : { ...ingressSpec(), Name: name, Ingress: false, IPAM: { Driver: 'default' as const, Config: subnet === undefined ? [] : [{ Subnet: subnet }], Options: {} } }
  const network = allocateNetwork(spec, `net-${name}`, leader.state.networks.values(), DEFAULT_ADDRESS_POOL, 0)
  leader.apply({ op: 'network.create', network })
  return leader.state.networks.get(network.id)!
}

function spec (name: string, replicas: number, networks: string[], over: Partial<ServiceSpec> = {}): ServiceSpec {
  return { Name: name, TaskTemplate: { ...TEMPLATE, Networks: networks.map(Target => ({ Target, Aliases: [`${name}-alias`] })) }, Mode: { Replicated: { Replicas: replicas } }, ...over }
}

function createService (leader: MemoryLeader, s: ServiceSpec): string {
  const id = `svc-${s.Name}`
  const ports = (s.EndpointSpec?.Ports ?? []).map(p => ({ Protocol: 'tcp' as const, TargetPort: p.TargetPort, PublishedPort: p.PublishedPort ?? 30000, PublishMode: p.PublishMode ?? 'ingress' }))
  const virtualIps = allocateVirtualIps(leader.state, s, ports, null)
  leader.apply({ op: 'service.create', service: { id, name: s.Name, createdAtMs: 0, updatedAtMs: 0, spec: s, previousSpec: null, endpoint: { ports, virtualIps }, updateStatus: null, rebalance: null } })
  return id
}

function tasksOf (leader: MemoryLeader, serviceId: string): TaskObject[] {
  return [...leader.state.tasks.values()].filter(t => t.serviceId === serviceId)
}

describe('lowestFreeAddress', () => {
  it('skips the network and broadcast addresses and what is taken, and says when the subnet is full', () => {
    const leader = new MemoryLeader()
    const n = addNetwork(leader, 'small', '10.9.0.0/29')
    expect(n.gateway).toBe('10.9.0.1')
    expect(lowestFreeAddress(n, new Set(['10.9.0.1']))).toBe('10.9.0.2/29')
    expect(lowestFreeAddress(n, new Set(['10.9.0.1', '10.9.0.2', '10.9.0.4']))).toBe('10.9.0.3/29')
    expect(lowestFreeAddress(n, new Set(['10.9.0.1', '10.9.0.2', '10.9.0.3', '10.9.0.4', '10.9.0.5', '10.9.0.6']))).toBeNull()
  })
})

describe('service VIPs', () => {
  it('gives a vip-mode service one VIP per network, keeps it on update, none in dnsrr, and the ingress VIP when it publishes there', () => {
    const leader = new MemoryLeader()
    const ingress = addNetwork(leader, 'ingress', undefined, true)
    const a = addNetwork(leader, 'a')
    const b = addNetwork(leader, 'b')
    const id = createService(leader, spec('web', 1, [a.id, b.id], { EndpointSpec: { Ports: [{ TargetPort: 80, PublishedPort: 8080 }] } }))
    const web = leader.state.services.get(id)!
    expect(web.endpoint.virtualIps).toEqual([
      { networkId: a.id, addr: `${a.subnet.replace(/0\/24$/, '2')}/24` },
      { networkId: b.id, addr: `${b.subnet.replace(/0\/24$/, '2')}/24` },
      { networkId: ingress.id, addr: '10.0.0.2/24' }
    ])
    // On update the VIPs it keeps networks on stay; a dropped network's goes.
    expect(allocateVirtualIps(leader.state, spec('web', 1, [b.id]), [], web)).toEqual([web.endpoint.virtualIps[1]])
    expect(allocateVirtualIps(leader.state, spec('db', 1, [a.id], { EndpointSpec: { Mode: 'dnsrr' } }), [], null)).toEqual([])
    const err = catchError(() => allocateVirtualIps(leader.state, spec('db', 1, [a.id], { EndpointSpec: { Mode: 'dnsrr' } }), [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 81, PublishMode: 'ingress' }], null))
    expect(err).toMatchObject({ code: 'invalid-argument', message: expect.stringMatching(/ingress mode can't be used with dnsrr/) as string })
  })

  it('refuses a VIP the store already gave away', () => {
    const leader = new MemoryLeader()
    const a = addNetwork(leader, 'a')
    const first = allocateVirtualIps(leader.state, spec('one', 1, [a.id]), [], null)
    createService(leader, spec('one', 1, [a.id]))
    expect(() => { leader.apply({ op: 'service.create', service: { id: 'svc-two', name: 'two', createdAtMs: 0, updatedAtMs: 0, spec: spec('two', 1, [a.id]), previousSpec: null, endpoint: { ports: [], virtualIps: first }, updateStatus: null, rebalance: null } }) })
      .toThrow(/address .* on network a is in use/)
  })
})

describe('task addresses', () => {
  const stops: Array<() => void> = []
  afterEach(() => { for (const s of stops.splice(0)) s() })

  function start (leader: MemoryLeader): void {
    const deps = leader.deps()
    const parts = [new OrchestratorDriver(deps), new SchedulerDriver(deps), new AllocatorDriver(deps)]
    for (const p of parts) p.start()
    stops.push(() => { for (const p of parts) p.stop() })
  }

  it('gives each placed task a distinct address with its aliases, frees it when the task ends, never reuses a live one', async () => {
    const leader = new MemoryLeader()
    leader.ready('n1')
    const a = addNetwork(leader, 'a', '10.9.1.0/24')
    start(leader)
    const id = createService(leader, spec('web', 3, [a.id]))
    const placed = await waitFor('3 assigned tasks', () => { const t = tasksOf(leader, id).filter(t => t.status.state === 'assigned'); return t.length === 3 ? t : undefined }, 5000, 10)
    const addresses = placed.map(t => t.networks[0]!.address).sort()
    expect(addresses).toEqual(['10.9.1.3/24', '10.9.1.4/24', '10.9.1.5/24']) // .1 gateway, .2 the VIP
    expect(placed.every(t => t.networks[0]!.aliases[0] === 'web-alias')).toBe(true)
    const ended = placed.find(t => t.networks[0]!.address === '10.9.1.4/24')!
    leader.apply({ op: 'tasks.report', nodeId: 'n1', reports: [{ id: ended.id, state: 'failed', timestampMs: leader.nowMs, message: '', err: 'exit 1', exitCode: 1 }] })
    expect(addressesInUse(leader.state, a.id).has('10.9.1.4')).toBe(false)
    // Its replacement takes the freed address; the dead task keeps showing the one it had.
    const replacement = await waitFor('a replacement', () => tasksOf(leader, id).find(t => t.id !== ended.id && t.slot === ended.slot && t.status.state === 'assigned'), 5000, 10)
    expect(replacement.networks[0]!.address).toBe('10.9.1.4/24')
    expect(leader.state.tasks.get(ended.id)!.networks[0]!.address).toBe('10.9.1.4/24')
  })

  it('places several tasks publishing one ingress port on one node (the mesh publishes it, not the node), each with an ingress address', async () => {
    const leader = new MemoryLeader()
    leader.ready('n1')
    addNetwork(leader, 'ingress', undefined, true)
    start(leader)
    const id = createService(leader, spec('web', 3, [], { EndpointSpec: { Ports: [{ TargetPort: 80, PublishedPort: 8080 }] } }))
    const placed = await waitFor('3 assigned tasks', () => { const t = tasksOf(leader, id).filter(t => t.status.state === 'assigned'); return t.length === 3 ? t : undefined }, 5000, 10)
    expect(new Set(placed.map(t => t.networks[0]!.address)).size).toBe(3)
  })

  it('leaves tasks pending with the reason when their network is full, and places them once addresses free up', async () => {
    const leader = new MemoryLeader()
    leader.ready('n1')
    const small = addNetwork(leader, 'small', '10.9.2.0/29') // 6 hosts: gateway, VIP, 4 tasks
    start(leader)
    const id = createService(leader, spec('web', 6, [small.id]))
    const pending = await waitFor('2 pending tasks', () => { const p = tasksOf(leader, id).filter(t => t.status.state === 'pending'); return p.length === 2 ? p : undefined }, 5000, 10)
    expect(pending[0]!.status.err).toBe('network small has no free address left in 10.9.2.0/29')
    expect(tasksOf(leader, id).filter(t => t.status.state === 'assigned')).toHaveLength(4)
    // No two tasks hold one address.
    const held = tasksOf(leader, id).flatMap(t => t.networks.map(n => n.address))
    expect(new Set(held).size).toBe(held.length)
    const svc = leader.state.services.get(id)!
    leader.apply({ op: 'service.update', id, version: svc.version, spec: spec('web', 4, [small.id]), ports: [], virtualIps: svc.endpoint.virtualIps, nowMs: leader.nowMs })
    await waitFor('no pending task left running', () => tasksOf(leader, id).filter(t => t.desiredState === 'running' && t.status.state === 'pending').length === 0, 5000, 10)
  })

  it('skips a placement whose address another entry took meanwhile', () => {
    const leader = new MemoryLeader()
    leader.ready('n1')
    const a = addNetwork(leader, 'a', '10.9.3.0/24')
    createService(leader, spec('web', 0, [a.id]))
    const task = (id: string): TaskObject => ({
      id, serviceId: 'svc-web', serviceName: 'web', name: `web.${id}`, slot: 1, nodeId: null, desiredState: 'running',
      status: { state: 'new', timestampMs: 0, message: '', err: null, exitCode: null }, specVersion: 1, spec: spec('web', 0, [a.id]).TaskTemplate, ports: [],
      networks: [], delayUntilMs: null, restartTimesMs: [], runningAtMs: null, createdAtMs: 0, updatedAtMs: 0, version: 0
    })
    leader.apply({ op: 'tasks.reconcile', serviceId: 'svc-web', serviceVersion: null, create: [task('t1'), task('t2')], update: [], delete: [] })
    const v = (id: string): number => leader.state.tasks.get(id)!.version
    const at = { networkId: a.id, address: '10.9.3.9/24', aliases: [] }
    leader.apply({ op: 'tasks.schedule', nowMs: 0, placements: [{ id: 't1', version: v('t1'), nodeId: 'n1', networks: [at] }, { id: 't2', version: v('t2'), nodeId: 'n1', networks: [at] }] })
    expect(leader.state.tasks.get('t1')!.status.state).toBe('assigned')
    expect(leader.state.tasks.get('t2')!.status.state).toBe('new')
  })

  it('refuses to remove a network while a service names it, not once the service is gone', () => {
    const leader = new MemoryLeader()
    leader.ready('n1')
    const a = addNetwork(leader, 'a', '10.9.4.0/24')
    createService(leader, spec('web', 0, [a.id]))
    expect(() => { leader.apply({ op: 'network.remove', id: a.id, nowMs: 0 }) }).toThrow(/network a is in use by service web/)
    leader.apply({ op: 'service.remove', id: 'svc-web', nowMs: 0 })
    leader.apply({ op: 'network.remove', id: a.id, nowMs: 0 })
    expect(leader.state.networks.has(a.id)).toBe(false)
  })
})

describe('node addresses on ingress', () => {
  it('gives every node one, distinct from the tasks\' and VIPs', () => {
    const leader = new MemoryLeader()
    leader.addNode('n2')
    const ingress = addNetwork(leader, 'ingress', undefined, true)
    const needed = nodeAddressesNeeded(leader.state)
    expect(needed).toEqual([{ nodeId: 'n1', address: '10.0.0.2/24' }, { nodeId: 'n2', address: '10.0.0.3/24' }])
    for (const { nodeId, address } of needed) leader.apply({ op: 'node.networks', id: nodeId, addresses: [{ networkId: ingress.id, address }], nowMs: 0 })
    expect(nodeAddressesNeeded(leader.state)).toEqual([])
    expect(() => { leader.apply({ op: 'node.networks', id: 'n2', addresses: [{ networkId: ingress.id, address: '10.0.0.2/24' }], nowMs: 0 }) }).toThrow(/in use/)
    expect(allocateVirtualIps(leader.state, spec('web', 1, [], { EndpointSpec: { Ports: [{ TargetPort: 80 }] } }), [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' }], null))
      .toEqual([{ networkId: ingress.id, addr: '10.0.0.4/24' }])
  })
})

describe('the network view a node is sent', () => {
  it('holds the networks its tasks attach to, ingress while something publishes there, the peers on them and the running tasks', () => {
    const leader = new MemoryLeader()
    leader.addNode('n2'); leader.addNode('n3')
    for (const [n, addr] of [['n1', '10.1.0.1'], ['n2', '10.1.0.2'], ['n3', '10.1.0.3']] as const) {
      leader.apply({ op: 'node.status', id: n, state: 'ready', message: '', description: null, nowMs: 0, addr })
    }
    const ingress = addNetwork(leader, 'ingress', undefined, true)
    const a = addNetwork(leader, 'a', '10.9.5.0/24')
    createService(leader, spec('web', 0, [a.id], { EndpointSpec: { Ports: [{ TargetPort: 80, PublishedPort: 8080 }] } }))
    const mk = (id: string, node: string, address: string, state: TaskObject['status']['state']): TaskObject => ({
      id, serviceId: 'svc-web', serviceName: 'web', name: `web.${id}`, slot: 1, nodeId: node, desiredState: 'running',
      status: { state, timestampMs: 0, message: '', err: null, exitCode: null }, specVersion: 1, spec: TEMPLATE, ports: [],
      networks: [{ networkId: a.id, address, aliases: ['web-alias'] }], delayUntilMs: null, restartTimesMs: [], runningAtMs: null, createdAtMs: 0, updatedAtMs: 0, version: 1
    })
    const tasks = new Map(leader.state.tasks)
    for (const t of [mk('t1', 'n1', '10.9.5.3/24', 'running'), mk('t2', 'n2', '10.9.5.4/24', 'starting'), mk('t3', 'n2', '10.9.5.5/24', 'failed')]) tasks.set(t.id, t)
    const index = networkIndex({ ...leader.state, tasks })
    const v1 = viewFor(index, 'n1')!
    expect(v1.vtep).toBe('10.1.0.1')
    expect(v1.networks.map(n => n.name).sort()).toEqual(['a', 'ingress'])
    const onA = v1.networks.find(n => n.id === a.id)!
    expect(onA.peers).toEqual(['10.1.0.2']) // n3 holds nothing on a
    expect(onA.services).toEqual([{ serviceId: 'svc-web', name: 'web', aliases: ['web-alias'], endpointMode: 'vip', vip: '10.9.5.2', tasks: [{ taskId: 't1', address: '10.9.5.3' }], ingressPorts: [] }])
    const onIngress = v1.networks.find(n => n.id === ingress.id)!
    expect(onIngress.peers).toEqual(['10.1.0.2', '10.1.0.3'])
    expect(onIngress.services[0]!.ingressPorts).toEqual([{ protocol: 'tcp', publishedPort: 8080, targetPort: 80 }])
    // n3 runs nothing but takes part in the routing mesh.
    expect(viewFor(index, 'n3')!.networks.map(n => n.name)).toEqual(['ingress'])
  })

  it('is sent on the session after the full set, again only when it changes, with the address the node told', async () => {
    const leader = new MemoryLeader()
    leader.addNode('n2')
    leader.ready('n1')
    const a = addNetwork(leader, 'a', '10.9.6.0/24')
    const deps = leader.deps()
    const parts = [new OrchestratorDriver(deps), new SchedulerDriver(deps)]
    const dispatcher = new Dispatcher(deps, { downAfterMs: 60_000, graceMs: 60_000 })
    for (const p of parts) p.start()
    dispatcher.start()
    const heard: LeaderMessage[] = []
    const link = connectLocal(dispatcher, 'n2', { onMessage: m => heard.push(m), onClose: () => {} })
    try {
      link.send({ t: 'open', description: description(), addr: '10.1.0.2' })
      await waitFor('n2 ready with its address', () => leader.state.nodes.get('n2')?.status.addr === '10.1.0.2', 2000, 5)
      const views = (): NodeNetworkView[] => heard.flatMap(m => m.t === 'networks' ? [m.view] : [])
      await waitFor('an empty view', () => views().length === 1, 2000, 5)
      expect(heard[0]!.t).toBe('assignments')
      expect(views()[0]).toEqual({ vtep: '10.1.0.2', networks: [] })
      const id = createService(leader, { ...spec('web', 1, [a.id]), TaskTemplate: { ...spec('web', 1, [a.id]).TaskTemplate, Placement: { Constraints: ['node.id==n2'] } } })
      await waitFor('a view with network a', () => views().at(-1)?.networks.length === 1, 5000, 5)
      const task = tasksOf(leader, id)[0]!
      expect(views().at(-1)!.networks[0]!.services[0]!.tasks).toEqual([])
      link.send({ t: 'status', reports: [{ id: task.id, state: 'running', timestampMs: leader.nowMs, message: '', err: null, exitCode: null }] })
      await waitFor('the running task in the view', () => views().at(-1)!.networks[0]!.services[0]!.tasks.length === 1, 5000, 5)
      expect(views().at(-1)!.networks[0]!.services[0]!.tasks[0]!.address).toBe(task.networks[0]!.address.split('/')[0])
      const sent = views().length
      leader.apply({ op: 'node.update', id: 'n1', version: leader.state.nodes.get('n1')!.version, spec: { role: 'manager', availability: 'active', labels: { x: 'y' } }, nowMs: 0 })
      await new Promise(resolve => setTimeout(resolve, 100))
      expect(views()).toHaveLength(sent) // a change that moves no view sends nothing
    } finally {
      void link.close()
      dispatcher.stop()
      for (const p of parts) p.stop()
    }
  })

  it('is null for a node that has told no data-path address', () => {
    const leader = new MemoryLeader()
    expect(viewFor(networkIndex(leader.state), 'n1')).toBeNull()
  })
})
