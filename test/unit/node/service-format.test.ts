import { describe, expect, it } from 'vitest'
import {
  displayImage, ellipsis, humanDuration, naturalCompare, serviceReplicas, serviceRows, servicePorts, taskRows, type ServiceJson, type TaskJson
} from '../../../src/node/cli/service-format.js'
import { formatTable } from '../../../src/node/cli/table.js'

function svc (over: Partial<ServiceJson> & { name: string, mode?: ServiceJson['Spec']['Mode'], maxReplicas?: number }): ServiceJson {
  return {
    ID: `${over.name}000000000000000000000000`.slice(0, 25),
    Version: { Index: 1 },
    Spec: {
      Name: over.name,
      Mode: over.mode ?? { Replicated: { Replicas: 3 } },
      TaskTemplate: { ContainerSpec: { Image: 'nginx:1.27@sha256:' + 'a'.repeat(64) }, Placement: { MaxReplicas: over.maxReplicas } }
    },
    ServiceStatus: { RunningTasks: 2, DesiredTasks: 3 },
    ...over
  }
}

describe('service ls rendering', () => {
  it('prints docker\'s columns, sorted by name, IDs cut to 12, digests dropped', () => {
    const services = [
      svc({ name: 'web10' }),
      svc({ name: 'web2', Endpoint: { Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' }] } }),
      svc({ name: 'agent', mode: { Global: {} }, ServiceStatus: { RunningTasks: 3, DesiredTasks: 3 } })
    ]
    expect(formatTable(['ID', 'NAME', 'MODE', 'REPLICAS', 'IMAGE', 'PORTS'], serviceRows(services))).toBe([
      'ID             NAME      MODE         REPLICAS   IMAGE        PORTS',
      'agent0000000   agent     global       3/3        nginx:1.27',
      'web200000000   web2      replicated   2/3        nginx:1.27   *:8080->80/tcp',
      'web100000000   web10     replicated   2/3        nginx:1.27',
      ''
    ].join('\n'))
  })

  it('shows the per-node maximum of a replicated service', () => {
    expect(serviceReplicas(svc({ name: 'web', maxReplicas: 2 }))).toBe('2/3 (max 2 per node)')
    expect(serviceReplicas(svc({ name: 'web', maxReplicas: 2, mode: { Global: {} } }))).toBe('2/3')
  })

  it.each<[string, Array<[number, number, string?]>, string]>([
    ['one port', [[8080, 80]], '*:8080->80/tcp'],
    ['consecutive ports', [[8081, 81], [8080, 80]], '*:8080-8081->80-81/tcp'],
    ['many to one', [[8080, 80], [8081, 80]], '*:8080-8081->80/tcp'],
    ['a gap', [[8080, 80], [8082, 82]], '*:8080->80/tcp, *:8082->82/tcp'],
    ['two protocols', [[53, 53, 'udp'], [53, 53, 'tcp']], '*:53->53/tcp, *:53->53/udp'],
    ['a range then an overlap', [[80, 80], [81, 81], [82, 80]], '*:80-81->80-81/tcp, *:82->80/tcp']
  ])('groups %s as docker does', (_name, ports, text) => {
    expect(servicePorts(ports.map(([p, t, proto]) => ({ PublishedPort: p, TargetPort: t, Protocol: proto ?? 'tcp', PublishMode: 'ingress' })))).toBe(text)
  })
})

describe('task rendering', () => {
  it.each<[number, string]>([
    [0, 'less than a second'], [999, 'less than a second'], [1000, '1 second'], [5000, '5 seconds'], [59_000, '59 seconds'],
    [60_000, 'about a minute'], [119_000, 'about a minute'], [120_000, '2 minutes'], [3_599_000, '59 minutes'],
    [3_600_000, 'about an hour'], [5 * 3_600_000, '5 hours'], [47 * 3_600_000, '47 hours'], [3 * 86_400_000, '3 days'],
    [15 * 86_400_000, '2 weeks'], [90 * 86_400_000, '3 months'], [800 * 86_400_000, '2 years']
  ])('%i ms is "%s" (go-units HumanDuration)', (ms, text) => {
    expect(humanDuration(ms)).toBe(text)
  })

  it('orders names naturally', () => {
    expect(['web.10', 'web.2', 'web.1', 'api.1'].sort(naturalCompare)).toEqual(['api.1', 'web.1', 'web.2', 'web.10'])
  })

  it.each<[string, string]>([
    ['busybox:latest@sha256:' + 'a'.repeat(64), 'busybox:latest'],
    ['docker.io/library/nginx:1.27', 'nginx:1.27'],
    ['registry:5000/app:v1', 'registry:5000/app:v1'],
    ['registry:5000/app', 'registry:5000/app'],
    ['busybox@sha256:' + 'a'.repeat(64), 'busybox@sha256:' + 'a'.repeat(64)]
  ])('shows the image %s as %s', (image, shown) => {
    expect(displayImage(image)).toBe(shown)
  })

  it('cuts errors to 30 characters with an ellipsis', () => {
    expect(ellipsis('a'.repeat(30), 30)).toBe('a'.repeat(30))
    expect(ellipsis('a'.repeat(31), 30)).toBe('a'.repeat(29) + '…')
  })

  const now = Date.UTC(2025, 0, 1, 12, 0, 0)
  const ago = (ms: number): string => new Date(now - ms).toISOString()
  function task (id: string, slot: number | undefined, nodeId: string | undefined, state: string, desired: string, createdMs: number, err?: string): TaskJson {
    return {
      ID: id, ServiceID: 'svc1', Slot: slot, NodeID: nodeId, CreatedAt: ago(createdMs), DesiredState: desired,
      Spec: { ContainerSpec: { Image: 'nginx:1.27@sha256:' + 'b'.repeat(64) } },
      Status: { Timestamp: ago(createdMs - 1000), State: state, Err: err, PortStatus: state === 'running' ? { Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080 }] } : {} }
    }
  }

  it('prints docker\'s `service ps` rows: names, history indented, states with their age, quoted errors', () => {
    const tasks = [
      task('t1aaaaaaaaaaaaaaaaaaaaaaa', 1, 'n1', 'running', 'running', 10_000),
      task('t2aaaaaaaaaaaaaaaaaaaaaaa', 1, 'n1', 'failed', 'shutdown', 120_000, 'task: non-zero exit (1): the container exited with an error'),
      task('t3aaaaaaaaaaaaaaaaaaaaaaa', 10, undefined, 'pending', 'running', 3_000, 'no suitable node (insufficient resources on 3 nodes)'),
      task('t4aaaaaaaaaaaaaaaaaaaaaaa', 2, 'gone', 'running', 'running', 7_200_000)
    ]
    const rows = taskRows(tasks, { serviceNames: new Map([['svc1', 'web']]), nodeNames: new Map([['n1', 'alpha']]), nowMs: now, trunc: true })
    expect(formatTable(['ID', 'NAME', 'IMAGE', 'NODE', 'DESIRED STATE', 'CURRENT STATE', 'ERROR', 'PORTS'], rows)).toBe([
      'ID             NAME        IMAGE        NODE      DESIRED STATE   CURRENT STATE               ERROR                              PORTS',
      't1aaaaaaaaaa   web.1       nginx:1.27   alpha     Running         Running 9 seconds ago                                          *:8080->80/tcp',
      't2aaaaaaaaaa    \\_ web.1   nginx:1.27   alpha     Shutdown        Failed about a minute ago   "task: non-zero exit (1): the …"',
      't4aaaaaaaaaa   web.2       nginx:1.27   gone      Running         Running 2 hours ago                                            *:8080->80/tcp',
      't3aaaaaaaaaa   web.10      nginx:1.27             Running         Pending 2 seconds ago       "no suitable node (insufficien…"',
      ''
    ].join('\n'))
  })

  it('names a global task after its node, and shows full values with --no-trunc', () => {
    const [row] = taskRows([task('t1aaaaaaaaaaaaaaaaaaaaaaa', undefined, 'node1', 'running', 'running', 1000)], { serviceNames: new Map(), nodeNames: new Map(), nowMs: now, trunc: false })
    expect(row!.slice(0, 4)).toEqual(['t1aaaaaaaaaaaaaaaaaaaaaaa', 'svc1.node1', 'nginx:1.27@sha256:' + 'b'.repeat(64), 'node1'])
  })
})
