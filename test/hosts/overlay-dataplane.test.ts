import Docker from 'dockerode'
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createLogger } from '../../src/membership/index.js'
import { DockerDataPlane, SWARM_LABELS, type NetworkView, type NodeNetworkView, type TaskNetworkAddress } from '../../src/tasks/executor/index.js'
import { waitFor } from '../support/agent-process.js'
import { TEST_IMAGE, TestBed, type BedHost } from '../support/bed/index.js'

// One DockerDataPlane per host of a 3-host bed, run in this process with `ip netns exec <host>` before
// every host command and a dockerode client on the host's engine: what a node's agent does, without
// the cluster around it. The views are written here as the leader's dispatcher would send them.
// Needs root and Docker's binaries; without them TestBed.start fails and says what to install.

const DOCKER_CLI = '/usr/local/bin/docker'
const CALL_MS = 15_000
/** How fast a new view must be in force: names and VIP rules. */
const VIEW_MS = 1_000

const WEB = { id: 'net-web', name: 'web', subnet: '10.0.9.0/24', gateway: '10.0.9.1', vxlanId: 4096, vip: '10.0.9.2' }
const INGRESS = { id: 'net-ingress', name: 'ingress', subnet: '10.0.0.0/24', gateway: '10.0.0.1', vxlanId: 4097, vip: '10.0.0.2' }
const PUBLISHED = 8080

/** The two tasks of service web: task t<i> runs on host h<i>, at 10.0.9.(2+i) and 10.0.0.(2+i). */
const TASKS = [1, 2].map(i => ({
  taskId: `t${i}`,
  host: i,
  hostname: `web-h${i}`,
  web: `10.0.9.${2 + i}`,
  ingress: `10.0.0.${2 + i}`
}))
type Task = typeof TASKS[number]

function taskNetworks (t: Task): TaskNetworkAddress[] {
  return [
    { networkId: WEB.id, address: `${t.web}/24`, aliases: ['www'] },
    { networkId: INGRESS.id, address: `${t.ingress}/24`, aliases: [] }
  ]
}

/** The view host `h` gets with `running` the tasks that run now (on any host). */
function viewFor (bed: TestBed, h: BedHost, running: readonly Task[]): NodeNetworkView {
  const peers = bed.hosts.filter(x => x !== h).map(x => x.ip).sort()
  const web: NetworkView = {
    ...WEB, ingress: false, internal: false, nodeAddress: null, peers,
    services: [{ serviceId: 'svc-web', name: 'web', aliases: ['www'], endpointMode: 'vip', vip: WEB.vip, tasks: running.map(t => ({ taskId: t.taskId, address: t.web })), ingressPorts: [] }]
  }
  const ingress: NetworkView = {
    ...INGRESS, ingress: true, internal: false, nodeAddress: `10.0.0.${250 + h.index}`, peers,
    services: [{
      serviceId: 'svc-web', name: 'web', aliases: [], endpointMode: 'vip', vip: INGRESS.vip,
      tasks: running.map(t => ({ taskId: t.taskId, address: t.ingress })),
      ingressPorts: [{ protocol: 'tcp', publishedPort: PUBLISHED, targetPort: 80 }]
    }]
  }
  return { vtep: h.ip, networks: [web, ingress] }
}

/** Run a command; resolves with its stdout, rejects with its stderr. */
async function run (file: string, args: readonly string[], timeoutMs = CALL_MS): Promise<string> {
  return await new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs, killSignal: 'SIGKILL', encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err === null) resolve(stdout)
      else reject(new Error(`${file} ${args.join(' ')} failed: ${err.message} ${stderr}`))
    })
  })
}

/** `sh -c script` in a container, through its host's engine and the docker CLI. */
async function exec (h: BedHost, container: string, script: string, timeoutMs = CALL_MS): Promise<string> {
  return await run(DOCKER_CLI, ['-H', `unix://${h.engine.socket}`, 'exec', container, 'sh', '-c', script], timeoutMs)
}

/** A command in a host's network namespace. */
async function onHost (h: BedHost, args: readonly string[], timeoutMs = CALL_MS): Promise<string> {
  return await run('ip', ['netns', 'exec', h.netns, ...args], timeoutMs)
}

/** `n` HTTP GETs of `url` from a container, one connection each; the bodies (hostnames), one per line. */
async function fetchMany (h: BedHost, container: string, url: string, n: number): Promise<string[]> {
  const out = await exec(h, container, `i=0; while [ $i -lt ${n} ]; do timeout 5 wget -q -O - ${url} || echo FAILED; i=$((i+1)); done`)
  return out.split('\n').filter(l => l !== '')
}

function counts (lines: readonly string[]): Record<string, number> {
  const c: Record<string, number> = {}
  for (const l of lines) c[l] = (c[l] ?? 0) + 1
  return c
}

describe('overlay data plane on a 3-host bed: VXLAN, names, VIPs and the routing mesh', () => {
  let bed: TestBed | undefined
  const planes = new Map<string, DockerDataPlane>()
  const dockers = new Map<string, Docker>()
  const containers = new Map<string, string>()
  const logs: string[] = []
  /** What the summary line prints (ms). */
  const timings: Record<string, number> = {}

  const theBed = (): TestBed => {
    if (bed === undefined) throw new Error('the bed did not start')
    return bed
  }
  const plane = (h: BedHost): DockerDataPlane => planes.get(h.name)!
  const docker = (h: BedHost): Docker => dockers.get(h.name)!
  const hostOf = (t: Task): BedHost => theBed().host(t.host)
  const stateDir = (h: BedHost): string => join(theBed().dir, 'overlay', h.name)

  /** Apply the view with `running` on every host at once; returns how long the slowest took. */
  async function applyAll (running: readonly Task[]): Promise<number> {
    const t0 = Date.now()
    await Promise.all(theBed().hosts.map(async h => { await plane(h).apply(viewFor(theBed(), h, running)) }))
    return Date.now() - t0
  }

  beforeAll(async () => {
    const t0 = Date.now()
    bed = await TestBed.start({ hosts: 3 })
    timings.bedMs = Date.now() - t0
    for (const h of bed.hosts) {
      const d = new Docker({ socketPath: h.engine.socket, timeout: CALL_MS })
      dockers.set(h.name, d)
      const logger = createLogger('info', line => { logs.push(line) }, `dataplane-${h.name}`)
      planes.set(h.name, new DockerDataPlane({ docker: d, stateDir: stateDir(h), logger, hostPrefix: ['ip', 'netns', 'exec', h.netns] }))
    }
  }, 120_000)

  beforeEach(ctx => {
    ctx.onTestFailed(() => { console.log(logs.join('')) })
  })

  afterAll(async () => {
    console.log(`overlay data plane on bed ${bed?.runId ?? '?'}: ${Object.entries(timings).map(([k, v]) => `${k} ${v}`).join(', ')}`)
    for (const p of planes.values()) await p.close()
    await bed?.teardown()
  }, 60_000)

  it('programs each host: an engine network per overlay network, its VXLAN device on the bridge, a flood entry per peer', async () => {
    const b = theBed()
    timings.firstApplyMs = await applyAll(TASKS)
    // A second apply of the same view changes nothing and fails nothing.
    timings.sameViewMs = await applyAll(TASKS)
    for (const h of b.hosts) {
      const nets = await docker(h).listNetworks({ filters: { label: ['flotilla.network.id'] } })
      expect(nets.map(n => n.Name).sort()).toEqual(['flotilla-ingress', 'flotilla-web'])
      for (const vni of [WEB.vxlanId, INGRESS.vxlanId]) {
        const [link] = JSON.parse(await onHost(h, ['ip', '-d', '-j', 'link', 'show', 'dev', `flv${vni}`]))
        expect(link).toMatchObject({ master: `flb${vni}`, mtu: 1450, linkinfo: { info_data: { id: vni, local: h.ip, port: 4789 } } })
        const fdb = JSON.parse(await onHost(h, ['bridge', '-j', 'fdb', 'show', 'dev', `flv${vni}`])) as Array<{ mac: string, dst?: string }>
        expect(fdb.filter(e => e.mac === '00:00:00:00:00:00').map(e => e.dst).sort()).toEqual(b.hosts.filter(x => x !== h).map(x => x.ip).sort())
      }
      // The ingress bridge holds the node's own ingress address.
      expect(await onHost(h, ['ip', '-4', '-o', 'addr', 'show', 'dev', `flb${INGRESS.vxlanId}`])).toContain(`10.0.0.${250 + h.index}/24`)
    }
  })

  it('attaches task containers created with its hosts file bind: they reach each other across hosts by address', async () => {
    for (const t of TASKS) {
      const h = hostOf(t)
      const task = { taskId: t.taskId, networks: taskNetworks(t) }
      const { binds } = await plane(h).createOptions(task)
      expect(binds).toEqual([`${stateDir(h)}/hosts/${t.taskId}:/etc/hosts`])
      const c = await docker(h).createContainer({
        name: `web.${t.host}.${t.taskId}`,
        Image: TEST_IMAGE,
        Hostname: t.hostname,
        Labels: { [SWARM_LABELS.taskId]: t.taskId },
        Cmd: ['sh', '-c', 'mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 80 -h /www'],
        StopSignal: 'SIGKILL',
        HostConfig: { Binds: [...binds] }
      })
      containers.set(t.taskId, c.id)
      await plane(h).attach(task, c.id)
      await plane(h).attach(task, c.id) // idempotent
      await c.start()
      const info = await c.inspect()
      await plane(h).started(task, c.id, info.State.Pid)
      expect(Object.keys(info.NetworkSettings.Networks).sort()).toEqual(['bridge', 'flotilla-ingress', 'flotilla-web'])
      expect(info.NetworkSettings.Networks['flotilla-web']!.IPAddress).toBe(t.web)
      expect(info.NetworkSettings.Networks['flotilla-web']!.Aliases).toContain('www')
    }
    for (const t of TASKS) {
      await waitFor(`httpd in ${t.taskId}`, async () => (await exec(hostOf(t), containers.get(t.taskId)!, 'timeout 2 wget -q -O - http://127.0.0.1/')).trim() === t.hostname, 10_000, 100)
    }
    const [t1, t2] = TASKS as [Task, Task]
    expect((await exec(hostOf(t1), containers.get(t1.taskId)!, `timeout 5 wget -q -O - http://${t2.web}/`)).trim()).toBe(t2.hostname)
    expect((await exec(hostOf(t2), containers.get(t2.taskId)!, `timeout 5 wget -q -O - http://${t1.ingress}/`)).trim()).toBe(t1.hostname)
    expect(await exec(hostOf(t1), containers.get(t1.taskId)!, `ping -c 1 -W 3 ${t2.web}`)).toMatch(/1 packets received/)
  })

  it('resolves names through the hosts file: the service to its VIP, tasks.web to each task, the alias, its own hostname', async () => {
    const [t1, t2] = TASKS as [Task, Task]
    const h = hostOf(t1)
    const c = containers.get(t1.taskId)!
    expect(await exec(h, c, 'getent hosts web')).toMatch(new RegExp(`^${WEB.vip.replace(/\./g, '\\.')}\\s+web www\\n$`))
    expect(await exec(h, c, 'getent hosts www')).toMatch(/^10\.0\.9\.2\s/)
    expect((await exec(h, c, 'getent ahostsv4 tasks.web')).split('\n').filter(l => l.includes('STREAM')).map(l => l.split(/\s+/)[0]).sort()).toEqual([t1.web, t2.web])
    expect(await exec(h, c, `getent hosts ${t1.hostname}`)).toMatch(/^10\.0\.9\.3\s/)
    // The file is the one the data plane wrote, mounted as is (same inode: it is rewritten in place).
    expect(await exec(h, c, 'cat /etc/hosts')).toContain('10.0.9.2\tweb www\n')
    expect((await exec(h, c, 'timeout 5 wget -q -O - http://tasks.web/')).trim()).toMatch(/^web-h[12]$/)
  })

  it('spreads connections to the VIP over both tasks, from either host, by address and by name', async () => {
    for (const t of TASKS) {
      const got = counts(await fetchMany(hostOf(t), containers.get(t.taskId)!, 'http://web/', 30))
      expect(Object.keys(got).sort(), JSON.stringify(got)).toEqual(['web-h1', 'web-h2'])
    }
    const byVip = counts(await fetchMany(hostOf(TASKS[0]!), containers.get('t1')!, `http://${WEB.vip}/`, 20))
    expect(Object.keys(byVip).sort(), JSON.stringify(byVip)).toEqual(['web-h1', 'web-h2'])
  })

  it('publishes the port on every host: h3, which runs no task, forwards it to both tasks (the routing mesh)', async () => {
    const b = theBed()
    const from = b.host(1)
    const to = b.host(3)
    const get = `exec 3<>/dev/tcp/${to.ip}/${PUBLISHED}; printf 'GET / HTTP/1.0\\r\\n\\r\\n' >&3; cat <&3`
    const seen: string[] = []
    for (let i = 0; i < 20; i++) {
      const reply = await onHost(from, ['timeout', '-s', 'KILL', '5', 'bash', '-c', get], 10_000)
      const body = reply.split('\r\n\r\n')[1]?.trim() ?? ''
      expect(body, reply).toMatch(/^web-h[12]$/)
      seen.push(body)
    }
    expect(Object.keys(counts(seen)).sort(), JSON.stringify(counts(seen))).toEqual(['web-h1', 'web-h2'])
  })

  it(`a view without task t2 is in force within ${VIEW_MS} ms: names, VIP and mesh reach only t1`, async () => {
    const b = theBed()
    const [t1] = TASKS as [Task]
    const ms = await applyAll([t1])
    timings.newViewMs = ms
    expect(ms).toBeLessThan(VIEW_MS)
    const h = hostOf(t1)
    const c = containers.get(t1.taskId)!
    expect((await exec(h, c, 'getent ahostsv4 tasks.web')).split('\n').filter(l => l.includes('STREAM')).map(l => l.split(/\s+/)[0])).toEqual([t1.web])
    expect(counts(await fetchMany(h, c, 'http://web/', 10))).toEqual({ 'web-h1': 10 })
    expect(counts(await fetchMany(hostOf(TASKS[1]!), containers.get('t2')!, 'http://web/', 10))).toEqual({ 'web-h1': 10 })
    const get = `exec 3<>/dev/tcp/${b.host(3).ip}/${PUBLISHED}; printf 'GET / HTTP/1.0\\r\\n\\r\\n' >&3; cat <&3`
    for (let i = 0; i < 5; i++) expect(await onHost(b.host(2), ['timeout', '-s', 'KILL', '5', 'bash', '-c', get], 10_000)).toMatch(/\r\n\r\nweb-h1\n$/)
    // No task at all: the VIP refuses at once rather than hang.
    await applyAll([])
    const t0 = Date.now()
    expect(await exec(h, c, `timeout 5 wget -q -O - http://${WEB.vip}/ 2>&1; echo rc=$?`)).toMatch(/refused[\s\S]*rc=1/)
    expect(Date.now() - t0).toBeLessThan(3_000)
    await applyAll(TASKS)
  })

  it('a restarted data plane repairs what it finds wrong: a deleted VXLAN device, a stale flood entry, missing ingress rules', async () => {
    const b = theBed()
    const h = b.host(1)
    await onHost(h, ['ip', 'link', 'del', `flv${WEB.vxlanId}`])
    await onHost(h, ['bridge', 'fdb', 'append', '00:00:00:00:00:00', 'dev', `flv${INGRESS.vxlanId}`, 'dst', '10.213.254.254'])
    await onHost(h, ['iptables', '-w', '-t', 'nat', '-D', 'PREROUTING', '-m', 'addrtype', '--dst-type', 'LOCAL', '-j', 'FLOTILLA-INGRESS'])
    await plane(h).close()
    const fresh = new DockerDataPlane({ docker: docker(h), stateDir: stateDir(h), logger: createLogger('info', line => { logs.push(line) }, 'dataplane-h1b'), hostPrefix: ['ip', 'netns', 'exec', h.netns] })
    planes.set(h.name, fresh)
    const t0 = Date.now()
    await fresh.apply(viewFor(b, h, TASKS))
    timings.repairMs = Date.now() - t0
    const fdb = JSON.parse(await onHost(h, ['bridge', '-j', 'fdb', 'show', 'dev', `flv${INGRESS.vxlanId}`])) as Array<{ mac: string, dst?: string }>
    expect(fdb.filter(e => e.mac === '00:00:00:00:00:00').map(e => e.dst).sort()).toEqual([b.host(2).ip, b.host(3).ip].sort())
    expect((await onHost(h, ['iptables-save', '-t', 'nat'])).match(/^-A PREROUTING .*-j FLOTILLA-INGRESS$/mg)).toHaveLength(1)
    const [t1, t2] = TASKS as [Task, Task]
    expect((await exec(hostOf(t1), containers.get(t1.taskId)!, `timeout 5 wget -q -O - http://${t2.web}/`)).trim()).toBe(t2.hostname)
  })

  it('cleans up: a network left the view waits for its containers, then goes; nothing of the data plane is left', async () => {
    const b = theBed()
    const t0 = Date.now()
    await Promise.all(b.hosts.map(async h => { await plane(h).apply({ vtep: h.ip, networks: [] }) }))
    timings.emptyViewMs = Date.now() - t0
    // h3 ran no task: all gone at once. h1 and h2 keep the networks their containers are connected to.
    expect(await docker(b.host(3)).listNetworks({ filters: { label: ['flotilla.network.id'] } })).toEqual([])
    for (const t of TASKS) expect((await docker(hostOf(t)).listNetworks({ filters: { label: ['flotilla.network.id'] } })).length).toBe(2)
    const t1 = Date.now()
    for (const t of TASKS) {
      const h = hostOf(t)
      await docker(h).getContainer(containers.get(t.taskId)!).remove({ force: true })
      await plane(h).removed(t.taskId)
      expect(existsSync(`${stateDir(h)}/hosts/${t.taskId}`)).toBe(false)
    }
    // Removing the last container lets the data plane's retry remove the networks, with no new view.
    await waitFor('every engine network gone', async () => {
      for (const h of b.hosts) if ((await docker(h).listNetworks({ filters: { label: ['flotilla.network.id'] } })).length > 0) return false
      return true
    }, 5_000, 50)
    timings.leftNetworksGoneMs = Date.now() - t1
    for (const h of b.hosts) {
      expect((await onHost(h, ['ip', '-o', 'link', 'show'])).split('\n').filter(l => /^\d+: fl[bv]\d+[:@]/.test(l))).toEqual([])
      expect(await onHost(h, ['iptables-save'])).not.toContain('FLOTILLA')
    }
  })
})
