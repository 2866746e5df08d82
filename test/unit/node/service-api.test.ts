import { describe, expect, it } from 'vitest'
import type { ServiceObject } from '../../../src/tasks/orchestrator/types.js'
import type { ApiResponse } from '../../../src/node/control/http-server.js'
import { INGRESS_ID, harness, NOW, type Harness } from './service-harness.js'
import { retryAddressRace } from '../../../src/node/control/service-api.js'
import { FlotillaError } from '../../../src/membership/errors.js'

function spec (name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { Name: name, TaskTemplate: { ContainerSpec: { Image: 'nginx:1.27' } }, Mode: { Replicated: { Replicas: 2 } }, ...extra }
}

async function create (h: Harness, name: string, extra: Record<string, unknown> = {}): Promise<string> {
  const res = await h.call('POST', '/services/create', spec(name, extra))
  expect(res.status).toBe(201)
  return (res.json as { ID: string }).ID
}

function message (res: ApiResponse): string {
  return (res.json as { message: string }).message
}

describe('POST /services/create', () => {
  it('answers 201 with the ID and stores the normalized spec with allocated ports', async () => {
    const h = harness()
    const res = await h.call('POST', '/v1.41/services/create', spec('web', { EndpointSpec: { Ports: [{ TargetPort: 80 }, { TargetPort: 53, Protocol: 'udp', PublishedPort: 5353 }] } }))
    expect(res).toEqual({ status: 201, json: { ID: 'svc1xxxxxxxxxxxxxxxxxxxxx', Warnings: [] } })
    const s = h.state().services.get('svc1xxxxxxxxxxxxxxxxxxxxx')!
    expect(s).toMatchObject({ name: 'web', createdAtMs: NOW, updatedAtMs: NOW })
    expect(s.spec.EndpointSpec?.Mode).toBe('vip')
    expect(s.endpoint.ports).toEqual([
      { Protocol: 'tcp', TargetPort: 80, PublishedPort: 30000, PublishMode: 'ingress' },
      { Protocol: 'udp', TargetPort: 53, PublishedPort: 5353, PublishMode: 'ingress' }
    ])
    // Published in ingress mode (Docker's default), the service has a VIP on the routing mesh's network.
    expect(s.endpoint.virtualIps).toEqual([{ networkId: INGRESS_ID, addr: '10.0.0.2/24' }])
  })

  it('attaches a service to the networks it names, by name or ID, with a VIP on each', async () => {
    const h = harness()
    const net = await h.call('POST', '/networks/create', { Name: 'backend', Driver: 'overlay' })
    expect(net.status).toBe(201)
    const id = (net.json as { Id: string }).Id
    await create(h, 'api', { TaskTemplate: { ContainerSpec: { Image: 'busybox' }, Networks: [{ Target: 'backend', Aliases: ['db'] }] } })
    const s = [...h.state().services.values()][0]!
    expect(s.spec.TaskTemplate.Networks).toEqual([{ Target: id, Aliases: ['db'] }])
    expect(s.endpoint.virtualIps).toEqual([{ networkId: id, addr: '10.0.1.2/24' }])
    const shown = (await h.call('GET', `/services/${s.id}`)).json as { Endpoint: { VirtualIPs: unknown } }
    expect(shown.Endpoint.VirtualIPs).toEqual([{ NetworkID: id, Addr: '10.0.1.2/24' }])
  })

  it.each<[string, unknown, number, string]>([
    ['a network that does not exist', [{ Target: 'nope' }], 404, 'network nope not found'],
    ['the ingress network', [{ Target: 'ingress' }], 400, 'service cannot be explicitly attached to the ingress network'],
    ['a network twice', [{ Target: 'backend' }, { Target: 'backend' }], 400, 'network backend is attached more than once'],
    ['an alias that is no DNS name', [{ Target: 'backend', Aliases: ['no spaces'] }], 400, 'is not a valid DNS name']
  ])('refuses %s and stores nothing', async (_name, networks, status, text) => {
    const h = harness()
    await h.call('POST', '/networks/create', { Name: 'backend', Driver: 'overlay' })
    const res = await h.call('POST', '/services/create', spec('web', { TaskTemplate: { ContainerSpec: { Image: 'busybox' }, Networks: networks } }))
    expect(message(res)).toContain(text)
    expect(res.status).toBe(status)
    expect(h.state().services.size).toBe(0)
  })

  it('gives a service without a name a generated one', async () => {
    const h = harness()
    await create(h, '')
    expect([...h.state().services.values()].map(s => s.name)).toEqual(['brave_turing'])
  })

  it('refuses a taken name with 409 and stores nothing', async () => {
    const h = harness()
    await create(h, 'web')
    const res = await h.call('POST', '/services/create', spec('web'))
    expect(res.status).toBe(409)
    expect(message(res)).toContain('service web already exists')
    expect(h.state().services.size).toBe(1)
    expect(h.proposed).toHaveLength(1)
  })

  it.each<[string, unknown[], number, string]>([
    ['a port another service publishes', [{ TargetPort: 80, PublishedPort: 8080 }], 409, 'EndpointSpec.Ports: published port tcp/8080 is already in use'],
    ['a published port listed twice', [{ TargetPort: 80, PublishedPort: 9090 }, { TargetPort: 81, PublishedPort: 9090 }], 400, 'EndpointSpec.Ports: published port tcp/9090 is listed more than once'],
    ['an unknown publish mode', [{ TargetPort: 80, PublishedPort: 9090, PublishMode: 'bridge' }], 400, 'EndpointSpec.Ports[0]: unknown publish mode'],
    ['a target port out of range', [{ TargetPort: 70000 }], 400, 'EndpointSpec.Ports[0]: target port 70000'],
    ['an unknown protocol', [{ TargetPort: 80, Protocol: 'icmp' }], 400, 'EndpointSpec.Ports[0]: unknown protocol']
  ])('refuses %s and stores nothing', async (_name, ports, status, text) => {
    const h = harness()
    await create(h, 'api', { EndpointSpec: { Ports: [{ TargetPort: 80, PublishedPort: 8080 }] } })
    const res = await h.call('POST', '/services/create', spec('web', { EndpointSpec: { Ports: ports } }))
    expect(res.status).toBe(status)
    expect(message(res)).toContain(text)
    expect([...h.state().services.values()].map(s => s.name)).toEqual(['api'])
  })

  it('refuses an invalid spec with 400 before proposing anything', async () => {
    const h = harness()
    const res = await h.call('POST', '/services/create', spec('web', { Mode: { Replicated: { Replicas: -1 } } }))
    expect(res.status).toBe(400)
    expect(message(res)).toContain('Mode.Replicated.Replicas:')
    expect(h.proposed).toEqual([])
  })

  it('refuses a body that is not JSON', async () => {
    const h = harness()
    const handler = await h.call('POST', '/services/create')
    expect(handler.status).toBe(400)
    expect(message(handler)).toContain('request body is empty')
  })
})

describe('GET /services', () => {
  it('lists services in Docker\'s shape, filtered by id, name, label and mode', async () => {
    const h = harness()
    const web = await create(h, 'web', { Labels: { tier: 'front' } })
    const api = await create(h, 'api')
    await create(h, 'agent', { Mode: { Global: {} } })
    const names = async (filters?: unknown): Promise<string[]> => {
      const q = filters === undefined ? '' : `?filters=${encodeURIComponent(JSON.stringify(filters))}`
      const res = await h.call('GET', `/services${q}`)
      expect(res.status).toBe(200)
      return (res.json as Array<{ Spec: { Name: string } }>).map(s => s.Spec.Name).sort()
    }
    expect(await names()).toEqual(['agent', 'api', 'web'])
    expect(await names({ name: { a: true } })).toEqual(['agent', 'api'])
    expect(await names({ id: { [web.slice(0, 4)]: true } })).toEqual(['web'])
    expect(await names({ id: [api] })).toEqual(['api'])
    expect(await names({ label: { tier: true } })).toEqual(['web'])
    expect(await names({ label: { 'tier=back': true } })).toEqual([])
    expect(await names({ mode: { global: true } })).toEqual(['agent'])
    expect(await names({ mode: { replicated: true } })).toEqual(['api', 'web'])
  })

  it.each<[unknown, string]>([
    [{ color: { red: true } }, 'invalid filter \'color\''],
    [{ mode: { sharded: true } }, 'invalid filter \'mode=sharded\'']
  ])('refuses the filter %j with 400', async (filters, text) => {
    const res = await harness().call('GET', `/services?filters=${encodeURIComponent(JSON.stringify(filters))}`)
    expect(res.status).toBe(400)
    expect(message(res)).toContain(text)
  })

  it('adds ServiceStatus when asked (?status=true), as docker 28\'s `service ls` asks', async () => {
    const h = harness()
    const web = await create(h, 'web')
    h.addTask({ id: 't1', serviceId: web, slot: 1 })
    h.addTask({ id: 't2', serviceId: web, slot: 2, status: { state: 'pending', timestampMs: NOW, message: '', err: 'no suitable node', exitCode: null } })
    h.addTask({ id: 't3', serviceId: web, slot: 1, desiredState: 'shutdown', status: { state: 'running', timestampMs: NOW, message: '', err: null, exitCode: null } })
    const plain = (await h.call('GET', '/services')).json as Array<Record<string, unknown>>
    expect(plain[0]).not.toHaveProperty('ServiceStatus')
    const withStatus = (await h.call('GET', '/services?status=true')).json as Array<Record<string, unknown>>
    expect(withStatus[0]!.ServiceStatus).toEqual({ RunningTasks: 1, DesiredTasks: 2, CompletedTasks: 0 })
  })
})

describe('GET /services/{id}', () => {
  it('finds a service by ID, name or unique ID prefix; ignores insertDefaults', async () => {
    const h = harness()
    const id = await create(h, 'web')
    for (const ref of [id, 'web', id.slice(0, 5)]) {
      const res = await h.call('GET', `/services/${ref}?insertDefaults=false`)
      expect(res.status).toBe(200)
      expect((res.json as { ID: string }).ID).toBe(id)
    }
  })

  it('answers 404 for an unknown service and 400 for an ambiguous prefix, as dockerd', async () => {
    const h = harness()
    await create(h, 'web')
    await create(h, 'api')
    expect((await h.call('GET', '/services/nope')).status).toBe(404)
    const res = await h.call('GET', '/services/svc')
    expect(res.status).toBe(400)
    expect(message(res)).toContain('ambiguous')
  })
})

describe('POST /services/{id}/update', () => {
  it('updates at the version read and keeps the published ports the service had', async () => {
    const h = harness()
    const id = await create(h, 'web', { EndpointSpec: { Ports: [{ TargetPort: 80 }] } })
    await create(h, 'api', { EndpointSpec: { Ports: [{ TargetPort: 80 }] } })
    const version = h.state().services.get(id)!.version
    const res = await h.call('POST', `/services/${id}/update?version=${version}`, spec('web', { Mode: { Replicated: { Replicas: 5 } }, EndpointSpec: { Ports: [{ TargetPort: 443 }, { TargetPort: 80 }] } }))
    expect(res).toEqual({ status: 200, json: { Warnings: [] } })
    const s = h.state().services.get(id)!
    expect(s.spec.Mode).toEqual({ Replicated: { Replicas: 5 } })
    expect(s.endpoint.ports.map(p => [p.TargetPort, p.PublishedPort])).toEqual([[443, 30002], [80, 30000]])
  })

  it('refuses a stale version with the store\'s 409', async () => {
    const h = harness()
    const id = await create(h, 'web')
    const version = h.state().services.get(id)!.version
    expect((await h.call('POST', `/services/web/update?version=${version}`, spec('web'))).status).toBe(200)
    const res = await h.call('POST', `/services/web/update?version=${version}`, spec('web'))
    expect(res.status).toBe(409)
    expect(message(res)).toContain('update out of sequence')
  })

  it.each<[string, Record<string, unknown>, string]>([
    ['a renamed service', spec('web2'), 'Name: renaming services is not supported'],
    ['a mode change', spec('web', { Mode: { Global: {} } }), 'Mode: service mode change is not allowed'],
    ['an invalid spec', spec('web', { TaskTemplate: { ContainerSpec: { Image: '' } } }), 'TaskTemplate.ContainerSpec.Image: image reference must be provided']
  ])('refuses %s with 400', async (_name, body, text) => {
    const h = harness()
    const id = await create(h, 'web')
    const res = await h.call('POST', `/services/${id}/update?version=${h.state().services.get(id)!.version}`, body)
    expect(res.status).toBe(400)
    expect(message(res)).toContain(text)
    expect(h.proposed).toHaveLength(1)
  })

  it('requires ?version=, and rolls back to PreviousSpec (swapping the two) only after an update', async () => {
    const h = harness()
    const id = await create(h, 'web')
    expect((await h.call('POST', '/services/web/update', spec('web'))).status).toBe(400)
    const v1 = h.state().services.get(id)!.version
    expect(message(await h.call('POST', `/services/web/update?version=${v1}&rollback=previous`, spec('web')))).toContain('service web does not have a previous spec')
    expect((await h.call('POST', `/services/web/update?version=${v1}`, spec('web', { Mode: { Replicated: { Replicas: 5 } } }))).status).toBe(200)
    const updated = h.state().services.get(id)!
    expect(updated.previousSpec?.Mode).toEqual({ Replicated: { Replicas: 2 } })
    const res = await h.call('POST', `/services/web/update?version=${updated.version}&rollback=previous`, spec('web', { Mode: { Replicated: { Replicas: 5 } } }))
    expect(res.status).toBe(200)
    const rolled = h.state().services.get(id)!
    expect(rolled.spec.Mode).toEqual({ Replicated: { Replicas: 2 } })
    expect(rolled.previousSpec?.Mode).toEqual({ Replicated: { Replicas: 5 } })
  })
})

describe('DELETE /services/{id}', () => {
  it('removes the service and asks its tasks to be removed', async () => {
    const h = harness()
    const id = await create(h, 'web')
    h.addTask({ id: 't1', serviceId: id })
    expect((await h.call('DELETE', '/services/web')).status).toBe(200)
    expect(h.state().services.size).toBe(0)
    expect(h.state().tasks.get('t1')!.desiredState).toBe('remove')
    expect((await h.call('DELETE', '/services/web')).status).toBe(404)
  })
})

describe('GET /tasks', () => {
  async function setup (): Promise<{ h: Harness, web: string, api: string }> {
    const h = harness()
    const web = await create(h, 'web')
    const api = await create(h, 'api')
    h.addTask({ id: 'task1aaa', serviceId: web, slot: 1, nodeId: 'node1aaaaaa' })
    h.addTask({ id: 'task2bbb', serviceId: web, slot: 2, nodeId: 'node2bbbbbb' })
    h.addTask({ id: 'task3ccc', serviceId: web, slot: 1, nodeId: 'node1aaaaaa', desiredState: 'shutdown' })
    h.addTask({ id: 'task4ddd', serviceId: api, slot: 1, nodeId: null })
    return { h, web, api }
  }

  const ids = async (h: Harness, filters?: unknown): Promise<string[]> => {
    const q = filters === undefined ? '' : `?filters=${encodeURIComponent(JSON.stringify(filters))}`
    const res = await h.call('GET', `/tasks${q}`)
    expect(res.status).toBe(200)
    return (res.json as Array<{ ID: string }>).map(t => t.ID).sort()
  }

  it('filters by service (ID or name), node (ID or hostname), desired state, ID prefix and name', async () => {
    const { h, web } = await setup()
    expect(await ids(h)).toEqual(['task1aaa', 'task2bbb', 'task3ccc', 'task4ddd'])
    expect(await ids(h, { service: { web: true } })).toEqual(['task1aaa', 'task2bbb', 'task3ccc'])
    expect(await ids(h, { service: { [web]: true } })).toEqual(['task1aaa', 'task2bbb', 'task3ccc'])
    expect(await ids(h, { node: { beta: true } })).toEqual(['task2bbb'])
    expect(await ids(h, { node: { node1aaaaaa: true }, 'desired-state': { running: true } })).toEqual(['task1aaa'])
    expect(await ids(h, { 'desired-state': { shutdown: true } })).toEqual(['task3ccc'])
    expect(await ids(h, { id: { task4: true } })).toEqual(['task4ddd'])
    expect(await ids(h, { name: { 'web.2': true } })).toEqual(['task2bbb'])
    expect(await ids(h, { label: { a: true } })).toEqual([])
  })

  it('keeps tasks up to date through a change of replicas, not through a new image (`_up-to-date`)', async () => {
    const { h, web } = await setup()
    const upToDate = { service: { [web]: true }, '_up-to-date': { true: true } }
    expect(await ids(h, upToDate)).toEqual(['task1aaa', 'task2bbb', 'task3ccc'])
    let version = h.state().services.get(web)!.version
    await h.call('POST', `/services/${web}/update?version=${version}`, spec('web', { Mode: { Replicated: { Replicas: 7 } } }))
    expect(await ids(h, upToDate)).toEqual(['task1aaa', 'task2bbb', 'task3ccc'])
    version = h.state().services.get(web)!.version
    await h.call('POST', `/services/${web}/update?version=${version}`, spec('web', { TaskTemplate: { ContainerSpec: { Image: 'nginx:1.28' } } }))
    expect(await ids(h, upToDate)).toEqual([])
  })

  it.each<[unknown, number, string]>([
    [{ color: { red: true } }, 400, 'invalid filter \'color\''],
    [{ 'desired-state': { sleeping: true } }, 400, 'Invalid desired-state filter: \'sleeping\''],
    [{ service: { nope: true } }, 404, 'service nope not found'],
    [{ node: { nope: true } }, 404, 'node nope not found']
  ])('answers the filter %j with %i', async (filters, status, text) => {
    const { h } = await setup()
    const res = await h.call('GET', `/tasks?filters=${encodeURIComponent(JSON.stringify(filters))}`)
    expect(res.status).toBe(status)
    expect(message(res)).toContain(text)
  })

  it('serves one task by ID or unique prefix', async () => {
    const { h, web } = await setup()
    const res = await h.call('GET', '/tasks/task2')
    expect(res.status).toBe(200)
    expect(res.json).toMatchObject({ ID: 'task2bbb', ServiceID: web, Slot: 2, NodeID: 'node2bbbbbb', DesiredState: 'running' })
    expect((await h.call('GET', '/tasks/task')).status).toBe(400) // ambiguous prefix: dockerd's InvalidParameter
    expect((await h.call('GET', '/tasks/zzz')).status).toBe(404)
  })
})

describe('stored services', () => {
  it('hold what the orchestrator reads: spec, name, endpoint ports', async () => {
    const h = harness()
    const id = await create(h, 'web', { TaskTemplate: { ContainerSpec: { Image: 'nginx' }, RestartPolicy: { Condition: 'on-failure', Delay: 0 } } })
    const s: ServiceObject = h.state().services.get(id)!
    expect(s.spec.TaskTemplate).toEqual({ ContainerSpec: { Image: 'nginx' }, RestartPolicy: { Condition: 'on-failure', Delay: 0 }, ForceUpdate: 0 })
    expect(s.spec.Mode).toEqual({ Replicated: { Replicas: 2 } })
    expect(s.endpoint.ports).toEqual([])
  })
})

describe('allocating VIPs while the scheduler takes addresses', () => {
  it('allocates again when the store refused an address taken meanwhile, and only then', async () => {
    let calls = 0
    const raced = await retryAddressRace(async () => {
      if (++calls === 1) throw new FlotillaError('conflict', 'address 10.0.1.3 on network appnet is in use')
      return 'created'
    })
    expect([raced, calls]).toEqual(['created', 2])
    calls = 0
    await expect(retryAddressRace(async () => { calls++; throw new FlotillaError('conflict', 'service web already exists') })).rejects.toThrow(/already exists/)
    expect(calls).toBe(1)
    calls = 0
    await expect(retryAddressRace(async () => { calls++; throw new FlotillaError('conflict', 'address 10.0.1.3 on network appnet is in use') })).rejects.toThrow(/in use/)
    expect(calls).toBe(3)
  })
})
