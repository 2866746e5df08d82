import { describe, expect, it } from 'vitest'
import type { ServiceObject, TaskObject } from '../../../src/tasks/orchestrator/types.js'
import type { NetworkObject } from '../../../src/election/index.js'
import { goTime, isTaskUpToDate, serviceJson, serviceStatus, taskJson } from '../../../src/node/control/service-shapes.js'

const T0 = Date.UTC(2025, 0, 2, 3, 4, 5, 120)

function service (over: Partial<ServiceObject> = {}): ServiceObject {
  return {
    id: 'svc0000000000000000000001',
    name: 'web',
    version: 12,
    createdAtMs: T0,
    updatedAtMs: T0 + 1000,
    previousSpec: null, updateStatus: null, rebalance: null,
    spec: {
      Name: 'web',
      Labels: {},
      TaskTemplate: { ContainerSpec: { Image: 'nginx:1.27' }, ForceUpdate: 0 },
      Mode: { Replicated: { Replicas: 3 } },
      EndpointSpec: { Mode: 'vip', Ports: [{ TargetPort: 80, PublishedPort: 8080, PublishMode: 'host' }] }
    },
    endpoint: { ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'host' }], virtualIps: [] },
    ...over
  }
}

function task (over: Partial<TaskObject> = {}): TaskObject {
  const s = service()
  return {
    id: 'task000000000000000000001',
    serviceId: s.id,
    serviceName: 'web',
    name: 'web.1',
    slot: 1,
    nodeId: 'node00000000000000000001',
    desiredState: 'running',
    status: { state: 'running', timestampMs: T0 + 5000, message: 'started', err: null, exitCode: null },
    specVersion: 12,
    spec: s.spec.TaskTemplate,
    ports: s.endpoint.ports,
    delayUntilMs: null,
    restartTimesMs: [], runningAtMs: null, networks: [],
    createdAtMs: T0,
    updatedAtMs: T0 + 5000,
    version: 20,
    ...over
  }
}

describe('goTime', () => {
  it.each<[number, string]>([
    [Date.UTC(2025, 0, 2, 3, 4, 5, 120), '2025-01-02T03:04:05.12Z'],
    [Date.UTC(2025, 0, 2, 3, 4, 5, 123), '2025-01-02T03:04:05.123Z'],
    [Date.UTC(2025, 0, 2, 3, 4, 5, 0), '2025-01-02T03:04:05Z'],
    [Date.UTC(2025, 0, 2, 3, 4, 5, 100), '2025-01-02T03:04:05.1Z']
  ])('writes %i as Go\'s RFC 3339 nano (%s)', (ms, text) => {
    expect(goTime(ms)).toBe(text)
    expect(Date.parse(text)).toBe(ms)
  })
})

describe('serviceJson', () => {
  it('has Docker\'s Service fields and nothing else', () => {
    const json = serviceJson(service())
    expect(json).toEqual({
      ID: 'svc0000000000000000000001',
      Version: { Index: 12 },
      CreatedAt: '2025-01-02T03:04:05.12Z',
      UpdatedAt: '2025-01-02T03:04:06.12Z',
      Spec: service().spec,
      Endpoint: {
        Spec: { Mode: 'vip', Ports: [{ TargetPort: 80, PublishedPort: 8080, PublishMode: 'host' }] },
        Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'host' }]
      }
    })
  })

  it('shows the service\'s VIPs as Endpoint.VirtualIPs, one per network, and omits the field without any', () => {
    const s = service({
      endpoint: {
        ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' }],
        virtualIps: [{ networkId: 'ingressnet', addr: '10.0.0.2/24' }, { networkId: 'backendnet', addr: '10.0.1.2/24' }]
      }
    })
    expect(serviceJson(s).Endpoint).toMatchObject({
      VirtualIPs: [{ NetworkID: 'ingressnet', Addr: '10.0.0.2/24' }, { NetworkID: 'backendnet', Addr: '10.0.1.2/24' }]
    })
    expect(serviceJson(service()).Endpoint).not.toHaveProperty('VirtualIPs')
  })

  it('omits Endpoint.Ports without ports, and defaults the endpoint mode to vip', () => {
    const s = service({ spec: { ...service().spec, EndpointSpec: undefined }, endpoint: { ports: [], virtualIps: [] } })
    expect(serviceJson(s).Endpoint).toEqual({ Spec: { Mode: 'vip' } })
  })

  it('carries ServiceStatus only when given', () => {
    const status = { RunningTasks: 1, DesiredTasks: 3, CompletedTasks: 0 }
    expect(serviceJson(service())).not.toHaveProperty('ServiceStatus')
    expect(serviceJson(service(), status).ServiceStatus).toEqual(status)
  })
})

describe('serviceStatus', () => {
  const tasks = [
    task({ id: 'a' }),
    task({ id: 'b', slot: 2, status: { state: 'starting', timestampMs: T0, message: '', err: null, exitCode: null } }),
    task({ id: 'c', desiredState: 'shutdown' }),
    task({ id: 'd', serviceId: 'other' })
  ]

  it('counts running tasks meant to run; desired is Replicas for a replicated service', () => {
    expect(serviceStatus(service(), tasks)).toEqual({ RunningTasks: 1, DesiredTasks: 3, CompletedTasks: 0 })
  })

  it('counts the tasks meant to run as desired for a global service', () => {
    const global = service({ spec: { ...service().spec, Mode: { Global: {} } } })
    expect(serviceStatus(global, tasks)).toEqual({ RunningTasks: 1, DesiredTasks: 2, CompletedTasks: 0 })
  })
})

describe('taskJson', () => {
  it('has Docker\'s Task fields; no Name (the CLI builds it)', () => {
    expect(taskJson(task())).toEqual({
      ID: 'task000000000000000000001',
      Version: { Index: 20 },
      CreatedAt: '2025-01-02T03:04:05.12Z',
      UpdatedAt: '2025-01-02T03:04:10.12Z',
      Labels: {},
      Spec: { ContainerSpec: { Image: 'nginx:1.27' }, ForceUpdate: 0 },
      ServiceID: 'svc0000000000000000000001',
      Slot: 1,
      NodeID: 'node00000000000000000001',
      Status: {
        Timestamp: '2025-01-02T03:04:10.12Z',
        State: 'running',
        Message: 'started',
        ContainerStatus: { ExitCode: 0 },
        PortStatus: { Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'host' }] }
      },
      DesiredState: 'running'
    })
  })

  it('omits Slot for a global task and NodeID until the task is placed', () => {
    const json = taskJson(task({ slot: null, nodeId: null, status: { state: 'pending', timestampMs: T0, message: 'pending task scheduling', err: 'no suitable node (insufficient resources on 3 nodes)', exitCode: null } }))
    expect(json).not.toHaveProperty('Slot')
    expect(json).not.toHaveProperty('NodeID')
    expect(json.Status).toEqual({
      Timestamp: '2025-01-02T03:04:05.12Z',
      State: 'pending',
      Message: 'pending task scheduling',
      Err: 'no suitable node (insufficient resources on 3 nodes)',
      PortStatus: {}
    })
  })

  it('reports the exit code of a task that ended, and no ports for one rejected', () => {
    const failed = taskJson(task({ desiredState: 'shutdown', status: { state: 'failed', timestampMs: T0, message: 'started', err: 'task: non-zero exit (2)', exitCode: 2 } }))
    expect(failed.Status).toMatchObject({ State: 'failed', Err: 'task: non-zero exit (2)', ContainerStatus: { ExitCode: 2 } })
    expect(failed.DesiredState).toBe('shutdown')
    const rejected = taskJson(task({ status: { state: 'rejected', timestampMs: T0, message: '', err: 'no such image', exitCode: null } }))
    expect(rejected.Status).toMatchObject({ PortStatus: {} })
    expect(rejected.Status).not.toHaveProperty('Message')
  })

  it('lists only the host-mode ports in PortStatus: the ingress ones are the routing mesh\'s', () => {
    const ports = [
      { Protocol: 'tcp' as const, TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' as const },
      { Protocol: 'udp' as const, TargetPort: 53, PublishedPort: 5353, PublishMode: 'host' as const }
    ]
    expect(taskJson(task({ ports })).Status).toMatchObject({ PortStatus: { Ports: [ports[1]] } })
    expect(taskJson(task({ ports: [ports[0]!] })).Status).toMatchObject({ PortStatus: {} })
  })

  it('shows the task\'s addresses as NetworksAttachments, skipping a network the store no longer has', () => {
    const backend: NetworkObject = {
      id: 'net000000000000000000001', name: 'backend', version: 7, createdAtMs: T0, updatedAtMs: T0,
      spec: { Name: 'backend', Labels: { team: 'a' }, Driver: 'overlay', Options: {}, Attachable: true, Internal: false, Ingress: false, IPAM: { Driver: 'default', Config: [], Options: {} } },
      subnet: '10.0.1.0/24', gateway: '10.0.1.1', vxlanId: 4097
    }
    const t = task({
      networks: [
        { networkId: backend.id, address: '10.0.1.5/24', aliases: ['db'] },
        { networkId: 'gone00000000000000000001', address: '10.0.2.5/24', aliases: [] }
      ]
    })
    expect(taskJson(t, new Map([[backend.id, backend]])).NetworksAttachments).toEqual([{
      Network: {
        ID: backend.id,
        Version: { Index: 7 },
        CreatedAt: '2025-01-02T03:04:05.12Z',
        UpdatedAt: '2025-01-02T03:04:05.12Z',
        Spec: {
          Name: 'backend',
          Labels: { team: 'a' },
          DriverConfiguration: { Name: 'overlay' },
          Attachable: true,
          IPAMOptions: { Driver: { Name: 'default' }, Configs: [{ Subnet: '10.0.1.0/24', Gateway: '10.0.1.1' }] },
          Scope: 'swarm'
        },
        DriverState: { Name: 'overlay', Options: { 'com.docker.network.driver.overlay.vxlanid_list': '4097' } },
        IPAMOptions: { Driver: { Name: 'default' }, Configs: [{ Subnet: '10.0.1.0/24', Gateway: '10.0.1.1' }] }
      },
      Addresses: ['10.0.1.5/24']
    }])
    expect(taskJson(t)).not.toHaveProperty('NetworksAttachments')
    expect(taskJson(task())).not.toHaveProperty('NetworksAttachments')
  })
})

describe('isTaskUpToDate', () => {
  it('compares the task\'s template and ports with the service\'s, whatever their key order', () => {
    const s = service()
    expect(isTaskUpToDate(task(), s)).toBe(true)
    expect(isTaskUpToDate(task({ spec: { ForceUpdate: 0, ContainerSpec: { Image: 'nginx:1.27' } } }), s)).toBe(true)
    expect(isTaskUpToDate(task(), service({ spec: { ...s.spec, Mode: { Replicated: { Replicas: 9 } } } }))).toBe(true)
    expect(isTaskUpToDate(task(), service({ spec: { ...s.spec, TaskTemplate: { ...s.spec.TaskTemplate, ForceUpdate: 1 } } }))).toBe(false)
    expect(isTaskUpToDate(task(), service({ endpoint: { ports: [], virtualIps: [] } }))).toBe(false)
  })
})
