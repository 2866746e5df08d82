import { describe, expect, it } from 'vitest'
import { clusterView } from '../../../../src/node/ui/model.js'

const GIB = 1024 ** 3

function node (id: string, hostname: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ID: id,
    Spec: { Role: 'worker', Availability: 'active', Labels: {} },
    Description: { Hostname: hostname, Resources: { NanoCPUs: 2e9, MemoryBytes: 4 * GIB }, Engine: { EngineVersion: '20.10.24' } },
    Status: { State: 'ready', Addr: '127.0.0.1' },
    ...extra
  }
}

function task (id: string, service: string, slot: number, nodeId: string | null, state: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ID: id,
    ServiceID: service,
    Slot: slot,
    ...(nodeId === null ? {} : { NodeID: nodeId }),
    DesiredState: 'running',
    Spec: { ContainerSpec: { Image: 'busybox:2', Env: ['PASSWORD=hunter2'] }, Resources: { Reservations: { NanoCPUs: 5e8, MemoryBytes: 256 * 1024 ** 2 } } },
    Status: { State: state, Timestamp: '2025-01-02T03:04:05Z', Message: 'started' },
    ...extra
  }
}

describe('the dashboard\'s view of the cluster', () => {
  const view = clusterView({
    nodes: [
      node('n2', 'beta', { Status: { State: 'down', Message: 'heartbeat failure' } }),
      node('n1', 'alpha', { Spec: { Role: 'manager', Availability: 'drain' }, ManagerStatus: { Leader: true, Reachability: 'reachable' } })
    ],
    services: [{
      ID: 's1',
      Spec: { Name: 'web', Mode: { Replicated: { Replicas: 3 } }, TaskTemplate: { ContainerSpec: { Image: 'busybox:2', Env: ['PASSWORD=hunter2'] } } },
      PreviousSpec: { Name: 'web' },
      Endpoint: { Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' }, { TargetPort: 81, PublishedPort: 8081, PublishMode: 'host' }] },
      UpdateStatus: { State: 'updating', Message: 'update in progress' },
      ServiceStatus: { RunningTasks: 2, DesiredTasks: 3 }
    }],
    tasks: [
      task('t1', 's1', 1, 'n1', 'running'),
      task('t2', 's1', 2, 'n1', 'running'),
      task('t3', 's1', 3, null, 'pending', { Status: { State: 'pending', Err: 'no suitable node (1 node not available for new tasks)', Timestamp: '2025-01-02T03:04:06Z' } })
    ],
    upToDate: new Set(['t2', 't3'])
  })

  it('lists nodes by hostname with their tasks and the resources those reserve', () => {
    expect(view.nodes.map(n => n.hostname)).toEqual(['alpha', 'beta'])
    expect(view.nodes[0]).toEqual({
      id: 'n1', hostname: 'alpha', role: 'manager', leader: true, state: 'ready', availability: 'drain', engine: '20.10.24', addr: '127.0.0.1', message: '',
      running: 2, cpu: { reserved: 1e9, total: 2e9 }, memory: { reserved: 512 * 1024 ** 2, total: 4 * GIB }
    })
    expect(view.nodes[1]).toMatchObject({ state: 'down', message: 'heartbeat failure', leader: false, running: 0 })
  })

  it('shows a service\'s replicas, image, ports and the update\'s progress', () => {
    expect(view.services).toEqual([{
      id: 's1', name: 'web', mode: 'replicated', running: 2, desired: 3, image: 'busybox:2',
      ports: ['8080:80/tcp', '8081:81/tcp (host)'],
      update: { state: 'updating', message: 'update in progress', updated: 1, total: 3 },
      hasPreviousSpec: true
    }])
  })

  it('names tasks as service ps does, and gives a pending task its reason', () => {
    expect(view.tasks.map(t => [t.name, t.nodeId, t.state])).toEqual([['web.1', 'n1', 'running'], ['web.2', 'n1', 'running'], ['web.3', null, 'pending']])
    expect(view.tasks[2]!.message).toBe('no suitable node (1 node not available for new tasks)')
  })

  it('lets no service or task spec through: its environment may hold credentials', () => {
    expect(JSON.stringify(view)).not.toContain('hunter2')
  })

  it('takes whatever the API answers without throwing', () => {
    expect(clusterView({ nodes: null, services: {}, tasks: [null, 1], upToDate: new Set() })).toMatchObject({ nodes: [], services: [] })
  })
})
