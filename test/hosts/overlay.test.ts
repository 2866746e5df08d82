import { execFile } from 'node:child_process'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { callSocket, waitFor } from '../support/agent-process.js'
import { TEST_IMAGE, TestBed, type BedCluster, type BedHost } from '../support/bed/index.js'

// Overlay networks end to end on a 3-host bed (own netns, dockerd and agent each): h1 manages, h2 and h3
// work. Everything is driven through the stock docker CLI on a worker's socket; what runs inside the
// task containers is checked through each host's own engine. Needs root, iproute2, iptables and Docker.

const DOCKER = '/usr/local/bin/docker'
const CALL_MS = 10_000

interface Task { ID: string, NodeID: string, DesiredState: string, Status: { State: string }, NetworksAttachments?: Array<{ Network: { ID: string, Spec: { Name: string } }, Addresses: string[] }> }

async function run (file: string, args: readonly string[], timeoutMs = 30_000): Promise<{ code: number, stdout: string, stderr: string }> {
  return await new Promise(resolve => {
    execFile(file, args, { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr })
    })
  })
}

/** The stock docker CLI against `h`'s flotilla socket; throws with its output unless it exits 0. */
async function docker (h: BedHost, args: readonly string[]): Promise<string> {
  const r = await run(DOCKER, ['-H', `unix://${h.agent.socket}`, ...args])
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')} on ${h.name} exited ${r.code}: ${r.stderr}${r.stdout}`)
  return r.stdout
}

/** A command inside a container, through its host's own engine. */
async function exec (h: BedHost, container: string, cmd: readonly string[], timeoutMs = 10_000): Promise<{ code: number, stdout: string, stderr: string }> {
  return await run(DOCKER, ['-H', `unix://${h.engine.socket}`, 'exec', container, ...cmd], timeoutMs)
}

/** A command in the host's network namespace. */
async function onHost (h: BedHost, cmd: readonly string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  return await run('ip', ['netns', 'exec', h.netns, ...cmd])
}

async function containersOf (h: BedHost, service: string): Promise<string[]> {
  const filters = encodeURIComponent(JSON.stringify({ label: [`com.docker.swarm.service.name=${service}`], status: ['running'] }))
  const r = await callSocket(h.engine.socket, 'GET', `/containers/json?filters=${filters}`, undefined, CALL_MS)
  return (r.body as Array<{ Id: string }>).map(c => c.Id)
}

async function running (via: BedHost, service: string, replicas: number): Promise<Task[]> {
  return await waitFor(`${replicas} running tasks of ${service}`, async () => {
    const filters = encodeURIComponent(JSON.stringify({ service: [service], 'desired-state': ['running'] }))
    const r = await via.agent.api('GET', `/tasks?filters=${filters}`, undefined, CALL_MS)
    const tasks = r.body as Task[]
    if (tasks.length === replicas && tasks.every(t => t.Status.State === 'running')) return tasks
    throw new Error(`tasks now: ${JSON.stringify(tasks.map(t => t.Status.State))}`)
  }, 60_000, 200)
}

function addressOn (t: Task, network: string): string {
  const a = t.NetworksAttachments?.find(n => n.Network.Spec.Name === network)?.Addresses[0]
  if (a === undefined) throw new Error(`task ${t.ID} has no address on ${network}: ${JSON.stringify(t.NetworksAttachments)}`)
  return a.split('/')[0]!
}

/** `getent hosts NAME` inside the container: the addresses it resolves to, sorted. */
async function resolve (h: BedHost, container: string, name: string): Promise<string[]> {
  const r = await exec(h, container, ['getent', 'hosts', name])
  if (r.code !== 0) return []
  return r.stdout.trim().split('\n').map(l => l.split(/\s+/)[0]!).sort()
}

/** GET http://target/ from inside the container: the answering container's hostname, or null when nothing answered. */
async function fetchFrom (h: BedHost, container: string, target: string): Promise<string | null> {
  // busybox 1.35's `wget -T` crashes: bound it with `timeout` instead.
  const r = await exec(h, container, ['busybox', 'timeout', '3', 'wget', '-q', '-O', '-', `http://${target}/`])
  return r.code === 0 ? r.stdout.trim() : null
}

/** Which hostnames answer `count` requests to `target` from the container. */
async function spread (h: BedHost, container: string, target: string, count: number): Promise<Map<string, number>> {
  const seen = new Map<string, number>()
  for (let i = 0; i < count; i++) {
    const who = await fetchFrom(h, container, target) ?? 'none'
    seen.set(who, (seen.get(who) ?? 0) + 1)
  }
  return seen
}

/** The flotilla-made devices and engine networks on a host. */
async function leftovers (h: BedHost): Promise<string[]> {
  const links = (await onHost(h, ['ip', '-o', 'link', 'show'])).stdout.split('\n').map(l => l.split(':')[1]?.trim().split('@')[0] ?? '').filter(n => /^fl[bv]\d+$/.test(n))
  const nets = (await run(DOCKER, ['-H', `unix://${h.engine.socket}`, 'network', 'ls', '--format', '{{.Name}}'])).stdout.split('\n').filter(n => n.startsWith('flotilla-'))
  const chains = (await onHost(h, ['sh', '-c', 'iptables -w -t nat -S; iptables -w -S'])).stdout.split('\n').filter(l => /^-A .*FLOTILLA|^-A FL-/.test(l))
  return [...links, ...nets, ...chains]
}

const SERVE = ['sh', '-c', 'mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 80 -h /www']

describe('overlay networks across hosts: 1 manager + 2 workers, each host its own engine', () => {
  let bed: TestBed | undefined
  let cluster: BedCluster
  let h1: BedHost, h2: BedHost, h3: BedHost
  let client = ''

  beforeAll(async () => {
    bed = await TestBed.start({ hosts: 3 })
    cluster = await bed.formCluster({ managers: 1 })
    ;[h1, h2, h3] = bed.hosts as [BedHost, BedHost, BedHost]
  }, 180_000)

  beforeEach(ctx => { ctx.onTestFailed(() => { if (bed !== undefined) console.log(bed.logs()) }) })

  afterAll(async () => { await bed?.teardown() }, 60_000)

  it('creates an overlay network through a worker\'s socket, and refuses a clashing one', async () => {
    await docker(h3, ['network', 'create', '-d', 'overlay', '--subnet', '10.55.0.0/24', 'appnet'])
    expect(await docker(h2, ['network', 'ls', '--filter', 'driver=overlay', '--format', '{{.Name}} {{.Scope}}'])).toMatch(/appnet swarm/)
    await expect(docker(h3, ['network', 'create', '-d', 'overlay', '--subnet', '10.55.0.128/25', 'other'])).rejects.toThrow(/overlaps network appnet/)
    await expect(docker(h3, ['service', 'create', '--detach', '--network', 'nope', TEST_IMAGE, 'sleep', '1'])).rejects.toThrow(/network nope not found/)
  })

  it('keeps tasks pending with the reason when their network has no address left, and frees the addresses with the service', async () => {
    await docker(h3, ['network', 'create', '-d', 'overlay', '--subnet', '10.56.0.0/29', 'tiny']) // 6 hosts: gateway, VIP, 4 tasks
    await docker(h3, ['service', 'create', '--detach', '--name', 'crowd', '--replicas', '6', '--network', 'tiny', '--stop-signal', 'KILL', TEST_IMAGE, 'sleep', '3600'])
    const states = await waitFor('4 running and 2 pending tasks of crowd', async () => {
      const lines = (await docker(h2, ['service', 'ps', '--no-trunc', '--format', '{{.CurrentState}}|{{.Error}}', 'crowd'])).trim().split('\n')
      const runningCount = lines.filter(l => l.startsWith('Running')).length
      const pending = lines.filter(l => l.startsWith('Pending'))
      return runningCount === 4 && pending.length === 2 ? pending : undefined
    }, 60_000, 250)
    // docker 28 quotes the Error column.
    for (const line of states) expect(line).toMatch(/\|"?network tiny has no free address left in 10\.56\.0\.0\/29"?$/)
    await docker(h3, ['service', 'rm', 'crowd'])
    await waitFor('network rm tiny to succeed', async () => { await docker(h3, ['network', 'rm', 'tiny']); return true }, 30_000, 250)
  }, 120_000)

  it('runs tasks on two hosts that reach each other by address, by name and through the VIP', async () => {
    const nodeOf = (h: BedHost): string => cluster.nodeIds.get(h.name)!
    await docker(h3, ['service', 'create', '--detach', '--name', 'web', '--replicas', '2', '--network', 'name=appnet,alias=www', '--stop-signal', 'KILL',
      '--constraint', `node.id!=${nodeOf(h3)}`, '--replicas-max-per-node', '1', TEST_IMAGE, ...SERVE])
    await docker(h3, ['service', 'create', '--detach', '--name', 'client', '--network', 'appnet', '--stop-signal', 'KILL', '--constraint', `node.id==${nodeOf(h3)}`, TEST_IMAGE, 'sleep', '3600'])
    const web = await running(h2, 'web', 2)
    await running(h2, 'client', 1)
    client = (await containersOf(h3, 'client'))[0]!
    const svc = JSON.parse(await docker(h2, ['service', 'inspect', 'web'])) as Array<{ Endpoint: { VirtualIPs: Array<{ Addr: string }> } }>
    const vip = svc[0]!.Endpoint.VirtualIPs[0]!.Addr.split('/')[0]!
    const webAddrs = web.map(t => addressOn(t, 'appnet')).sort()

    // By address, across hosts: each web task answers with its own hostname.
    const answers = await Promise.all(webAddrs.map(async a => await fetchFrom(h3, client, a)))
    expect(answers.every(a => a !== null && /^[0-9a-f]{12}$/.test(a))).toBe(true)
    expect(new Set(answers).size).toBe(2)

    // By name: the service and its alias resolve to the VIP, tasks.web to the task addresses.
    await waitFor('names in the client', async () => (await resolve(h3, client, 'web')).join() === vip, 5_000, 100)
    expect(await resolve(h3, client, 'www')).toEqual([vip])
    expect(await resolve(h3, client, 'tasks.web')).toEqual(webAddrs)

    // Through the VIP: connections spread over both tasks on both hosts.
    const seen = await spread(h3, client, 'web', 24)
    expect([...seen.keys()].sort()).toEqual([...answers].sort() as string[])
  }, 120_000)

  it('sends VIP traffic to a new task within a second of it running, and stops sending it to tasks that stop', async () => {
    await docker(h3, ['service', 'update', '--detach', '--replicas-max-per-node', '0', '--constraint-rm', `node.id!=${cluster.nodeIds.get(h3.name)!}`, 'web'])
    await docker(h3, ['service', 'scale', '--detach', 'web=3'])
    const web = await running(h2, 'web', 3)
    const addrs = web.map(t => addressOn(t, 'appnet')).sort()
    await waitFor('3 task addresses behind the name', async () => (await resolve(h3, client, 'tasks.web')).join() === addrs.join(), 5_000, 50)
    const hostnames = new Set((await Promise.all(addrs.map(async a => await fetchFrom(h3, client, a)))))
    await waitFor('the VIP reaching all 3 tasks', async () => (await spread(h3, client, 'web', 12)).size === 3 && [...(await spread(h3, client, 'web', 1)).keys()].every(k => hostnames.has(k)), 10_000, 0)

    await docker(h3, ['service', 'scale', '--detach', 'web=1'])
    const left = await running(h2, 'web', 1)
    const only = await fetchFrom(h3, client, addressOn(left[0]!, 'appnet'))
    await waitFor('the VIP reaching the one task left', async () => {
      const s = await spread(h3, client, 'web', 10)
      return s.size === 1 && s.has(only!)
    }, 10_000, 100)
    expect(await resolve(h3, client, 'tasks.web')).toEqual([addressOn(left[0]!, 'appnet')])
  }, 120_000)

  it('publishes a port on every node through the routing mesh, also on a node that runs no task of it', async () => {
    await docker(h3, ['service', 'create', '--detach', '--name', 'mesh', '--publish', '8080:80', '--stop-signal', 'KILL', '--constraint', `node.id==${cluster.nodeIds.get(h1.name)!}`, TEST_IMAGE, ...SERVE])
    await running(h2, 'mesh', 1)
    const answered = new Set<string>()
    for (const target of [h1, h2, h3]) {
      const body = await waitFor(`port 8080 on ${target.name}`, async () => {
        const r = await onHost(h2, ['timeout', '3', '/bin/busybox', 'wget', '-q', '-O', '-', `http://${target.ip}:8080/`])
        if (r.code !== 0) throw new Error(r.stderr)
        return r.stdout.trim()
      }, 10_000, 200)
      answered.add(body)
    }
    expect(answered.size).toBe(1) // the one task, on h1, answered on all three
  }, 120_000)

  it('opens no UDP socket in any agent', () => {
    for (const h of [h1, h2, h3]) expect(h.agent.udpSockets(), h.name).toEqual([])
  })

  it('repairs what it finds wrong on a host after its agent restarts', async () => {
    const before = (await leftovers(h2)).filter(x => /^flv/.test(x))
    expect(before.length).toBeGreaterThan(0)
    await bed!.killAgent(h2)
    for (const dev of before) await onHost(h2, ['ip', 'link', 'del', dev])
    await bed!.restartAgent(h2)
    await waitFor('the VXLAN devices back on h2', async () => {
      const now = (await leftovers(h2)).filter(x => /^flv/.test(x))
      return before.every(d => now.includes(d))
    }, 20_000, 200)
    const web = await running(h2, 'web', 1)
    expect(await fetchFrom(h3, client, addressOn(web[0]!, 'appnet'))).not.toBeNull()
  }, 120_000)

  it('removes from every host what it made once the services and the network are gone', async () => {
    await docker(h3, ['service', 'rm', 'web', 'client', 'mesh'])
    await waitFor('network rm to succeed', async () => {
      await docker(h3, ['network', 'rm', 'appnet'])
      return true
    }, 30_000, 250)
    for (const h of [h1, h2, h3]) {
      await waitFor(`nothing left on ${h.name}`, async () => {
        const left = await leftovers(h)
        if (left.length === 0) return true
        throw new Error(`left: ${left.join(', ')}`)
      }, 20_000, 200)
    }
  }, 120_000)
})
