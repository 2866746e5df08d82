/**
 * Network benchmark: the overlay data plane on the multi-host test bed (test/support/bed: 3 network
 * namespaces, each with its own dockerd and flotilla agent; h1 manages, h2 and h3 work), every path side
 * by side in one run, measured by bench/net-probe.js run inside the namespace the traffic starts from:
 *   - host link: h1's namespace → h2's host address (the bed's own veth/bridge link, no overlay);
 *   - overlay: a task on h1 → a task on h2, by the task's overlay address (veth, bridge, VXLAN, bridge, veth);
 *   - VIP: the same client → the service's VIP (DNAT in the client task's namespace) → either task;
 *   - routing mesh: h2's namespace → h1's host address on a port published in ingress mode (h1 runs no
 *     task of it) → DNAT and SNAT on h1 → a task over the overlay.
 * Per path and repetition: connect latency (median of 200 sequential connects), request latency (median
 * of 1,000 one-byte round trips on one connection) and throughput (one connection, 256 MiB). Then, per
 * repetition, `service scale web=3` (web: busybox httpd answering its hostname, 2 replicas at first)
 * while the client task GETs the VIP every 10 ms: the figure is from the new task's running timestamp
 * (its node's clock; the bed's hosts share one) to its first answer through the VIP; scaled back to 2.
 * Targets: overlay throughput ≥ 80 % of the host link's; the VIP adds ≤ 0.1 ms per connection over
 * connecting to a task directly; a new task answers through the VIP within 1 s of running.
 *
 * Usage: node dist/bench/network.js [--reps N] (default 5). Prints markdown tables (medians over the
 * repetitions, with min–max) to stdout, progress to stderr. Exits 0 when it ran (MISSED marks a target
 * not met), 1 on an error, 2 on bad flags. The bed is torn down at the end and on SIGINT/SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { callSocket, runCommand } from '../test/support/agent-process.js'
import { TestBed, type BedHost } from '../test/support/bed/index.js'
import { TEST_IMAGE } from '../test/support/test-image.js'
import { UsageError, flagPairs, median, pollUntil, positiveInt, progress, runBench } from './support.js'

const DOCKER = '/usr/local/bin/docker'
const NODE = process.execPath
const PROBE = join(import.meta.dirname, 'net-probe.js')
const PORT = 9000
const MESH_PORT = 8081
const SERVE_HTTP = ['sh', '-c', 'mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 80 -h /www']

interface Args { reps: number }

function parse (argv: readonly string[]): Args {
  let reps = 5
  for (const { flag, value } of flagPairs(argv)) {
    if (flag === '--reps') reps = positiveInt(value, '--reps', 50)
    else throw new UsageError(`unknown flag ${flag}; use --reps N`)
  }
  return { reps }
}

async function docker (h: BedHost, args: readonly string[]): Promise<string> {
  const r = await runCommand(DOCKER, ['-H', `unix://${h.agent.socket}`, ...args], 60_000)
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')}: ${r.stderr}`)
  return r.stdout
}

interface Task { ID: string, Status: { State: string, Timestamp: string }, NetworksAttachments?: Array<{ Network: { Spec: { Name: string } }, Addresses: string[] }> }

async function tasks (via: BedHost, service: string): Promise<Task[]> {
  const filters = encodeURIComponent(JSON.stringify({ service: [service], 'desired-state': ['running'] }))
  return (await via.agent.api('GET', `/tasks?filters=${filters}`, undefined, 10_000)).body as Task[]
}

async function running (via: BedHost, service: string, n: number): Promise<Task[]> {
  return await pollUntil(`${n} running tasks of ${service}`, async () => {
    const ts = await tasks(via, service)
    return ts.length === n && ts.every(t => t.Status.State === 'running') ? ts : undefined
  }, 60_000, 100)
}

function addressOn (t: Task, network: string): string {
  return t.NetworksAttachments!.find(a => a.Network.Spec.Name === network)!.Addresses[0]!.split('/')[0]!
}

/** The init pid of the running container of `service` on `h` (the first, when several). */
async function containerPid (h: BedHost, service: string): Promise<{ id: string, pid: number }> {
  const filters = encodeURIComponent(JSON.stringify({ label: [`com.docker.swarm.service.name=${service}`], status: ['running'] }))
  const list = (await callSocket(h.engine.socket, 'GET', `/containers/json?filters=${filters}`, undefined, 10_000)).body as Array<{ Id: string }>
  const id = list[0]?.Id
  if (id === undefined) throw new Error(`no running container of ${service} on ${h.name}`)
  const info = (await callSocket(h.engine.socket, 'GET', `/containers/${id}/json`, undefined, 10_000)).body as { State: { Pid: number } }
  return { id, pid: info.State.Pid }
}

/** Where a probe runs: a host's namespace or a container's (by its pid). */
type Place = { readonly host: BedHost } | { readonly pid: number }

function probeCommand (at: Place, args: readonly string[]): [string, string[]] {
  return 'host' in at
    ? ['ip', ['netns', 'exec', at.host.netns, NODE, PROBE, ...args]]
    : ['nsenter', ['-t', String(at.pid), '-n', NODE, PROBE, ...args]]
}

async function probe (at: Place, args: readonly string[]): Promise<Record<string, number>> {
  const [cmd, argv] = probeCommand(at, args)
  const r = await runCommand(cmd, argv, 120_000)
  if (r.code !== 0) throw new Error(`net-probe ${args.join(' ')} failed: ${r.stderr}`)
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, number>
}

/** Start a probe server; resolves once it listens. */
async function server (at: Place, port: number): Promise<ChildProcess> {
  const [cmd, argv] = probeCommand(at, ['serve', String(port)])
  const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'inherit'] })
  await new Promise<void>((resolve, reject) => {
    child.stdout.once('data', () => { resolve() })
    child.once('exit', code => { reject(new Error(`probe server exited ${String(code)}`)) })
  })
  return child
}

interface PathFigures { connectMs: number[], rttMs: number[], mbit: number[] }

async function measure (client: Place, host: string, port: number, into: PathFigures): Promise<void> {
  into.connectMs.push((await probe(client, ['connect', host, String(port), '200'])).medianMs!)
  into.rttMs.push((await probe(client, ['rtt', host, String(port), '1000'])).medianMs!)
  into.mbit.push((await probe(client, ['bulk', host, String(port), '256'])).mbitPerS!)
}

function cell (xs: readonly number[], digits: number): string {
  return `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})`
}

runBench('network', parse, async ({ reps }) => {
  progress('starting a 3-host bed')
  const bed = await TestBed.start({ hosts: 3, logLevel: 'info' })
  const servers: ChildProcess[] = []
  try {
    const cluster = await bed.formCluster({ managers: 1 })
    const [h1, h2, h3] = bed.hosts as [BedHost, BedHost, BedHost]
    const id = (h: BedHost): string => cluster.nodeIds.get(h.name)!
    await docker(h3, ['network', 'create', '-d', 'overlay', 'benchnet'])
    // srv: one task on h2 and one on h3, their ports served by probe servers in their namespaces.
    await docker(h3, ['service', 'create', '--detach', '--name', 'srv', '--replicas', '2', '--replicas-max-per-node', '1', '--constraint', `node.id!=${id(h1)}`,
      '--network', 'benchnet', '--publish', `${MESH_PORT}:${PORT}`, TEST_IMAGE, 'sleep', '36000'])
    await docker(h3, ['service', 'create', '--detach', '--name', 'cli', '--constraint', `node.id==${id(h1)}`, '--network', 'benchnet', TEST_IMAGE, 'sleep', '36000'])
    await docker(h3, ['service', 'create', '--detach', '--name', 'web', '--replicas', '2', '--constraint', `node.id!=${id(h1)}`, '--network', 'benchnet', TEST_IMAGE, ...SERVE_HTTP])
    const srv = await running(h1, 'srv', 2)
    await running(h1, 'cli', 1)
    await running(h1, 'web', 2)
    const srvOnH2 = await containerPid(h2, 'srv')
    servers.push(await server({ pid: srvOnH2.pid }, PORT), await server({ pid: (await containerPid(h3, 'srv')).pid }, PORT), await server({ host: h2 }, PORT))
    const cli = { pid: (await containerPid(h1, 'cli')).pid }
    const byContainer = srv.map(t => ({ t, ip: addressOn(t, 'benchnet') }))
    const vip = (JSON.parse(await docker(h1, ['service', 'inspect', 'srv'])) as Array<{ Endpoint: { VirtualIPs: Array<{ NetworkID: string, Addr: string }> } }>)[0]!
      .Endpoint.VirtualIPs.map(v => v.Addr.split('/')[0]!).find(a => !a.startsWith('10.0.0.'))!
    const paths = {
      'host link (h1 → h2)': { client: { host: h1 } as Place, host: h2.ip, port: PORT, f: { connectMs: [], rttMs: [], mbit: [] } as PathFigures },
      'overlay (task on h1 → task on h2/h3)': { client: cli as Place, host: byContainer[0]!.ip, port: PORT, f: { connectMs: [], rttMs: [], mbit: [] } as PathFigures },
      'VIP (task on h1 → srv VIP)': { client: cli as Place, host: vip, port: PORT, f: { connectMs: [], rttMs: [], mbit: [] } as PathFigures },
      'routing mesh (h2 → h1:8081, no task on h1)': { client: { host: h2 } as Place, host: h1.ip, port: MESH_PORT, f: { connectMs: [], rttMs: [], mbit: [] } as PathFigures }
    }
    const scaleMs: number[] = []
    for (let rep = 1; rep <= reps; rep++) {
      for (const [name, p] of Object.entries(paths)) {
        progress(`rep ${rep}/${reps}: ${name}`)
        await measure(p.client, p.host, p.port, p.f)
      }
      progress(`rep ${rep}/${reps}: scale web 2 → 3 while GETting its VIP`)
      const webVip = (JSON.parse(await docker(h1, ['service', 'inspect', 'web'])) as Array<{ Endpoint: { VirtualIPs: Array<{ Addr: string }> } }>)[0]!.Endpoint.VirtualIPs[0]!.Addr.split('/')[0]!
      const before = new Set((await running(h1, 'web', 2)).map(t => t.ID))
      const [cmd, argv] = probeCommand(cli, ['watch', webVip, '80', '12000'])
      const watching = runCommand(cmd, argv, 30_000)
      await new Promise(resolve => setTimeout(resolve, 1000))
      await docker(h1, ['service', 'scale', '--detach', 'web=3'])
      const now = await running(h1, 'web', 3)
      const fresh = now.find(t => !before.has(t.ID))!
      const runningAt = Date.parse(fresh.Status.Timestamp)
      const watched = await watching
      const hostOf = async (): Promise<string> => {
        for (const h of [h2, h3]) {
          const list = (await callSocket(h.engine.socket, 'GET', `/containers/json?filters=${encodeURIComponent(JSON.stringify({ label: [`com.docker.swarm.task.id=${fresh.ID}`] }))}`, undefined, 10_000)).body as Array<{ Id: string }>
          if (list[0] !== undefined) return list[0].Id.slice(0, 12)
        }
        throw new Error(`no container of task ${fresh.ID}`)
      }
      const hostname = await hostOf()
      const first = watched.stdout.trim().split('\n').map(l => JSON.parse(l) as { at: number, body: string | null }).find(l => l.body === hostname)
      if (first === undefined) throw new Error(`the new task ${fresh.ID} (${hostname}) never answered through the VIP within the watch`)
      scaleMs.push(first.at - runningAt)
      await docker(h1, ['service', 'scale', '--detach', 'web=2'])
      await running(h1, 'web', 2)
    }
    const host = paths['host link (h1 → h2)'].f
    const overlay = paths['overlay (task on h1 → task on h2/h3)'].f
    const viaVip = paths['VIP (task on h1 → srv VIP)'].f
    const lines = [
      `## Network (${reps} repetitions, median (min–max))`, '',
      '| path | connect ms | request RTT ms | throughput Mbit/s |', '|---|---|---|---|',
      ...Object.entries(paths).map(([name, p]) => `| ${name} | ${cell(p.f.connectMs, 3)} | ${cell(p.f.rttMs, 3)} | ${cell(p.f.mbit, 0)} |`),
      '', '| target | figure | |', '|---|---|---|'
    ]
    const ratio = median(overlay.mbit) / median(host.mbit)
    const vipAdds = median(viaVip.connectMs) - median(overlay.connectMs)
    const scale = median(scaleMs)
    lines.push(`| overlay throughput ≥ 80 % of the host link | ${(ratio * 100).toFixed(1)} % | ${ratio >= 0.8 ? 'met' : 'MISSED'} |`)
    lines.push(`| VIP adds ≤ 0.1 ms per connection | ${vipAdds.toFixed(3)} ms | ${vipAdds <= 0.1 ? 'met' : 'MISSED'} |`)
    lines.push(`| new task gets VIP traffic ≤ 1 s after running | ${scale.toFixed(0)} ms (${scaleMs.map(x => x.toFixed(0)).join(', ')}) | ${scale <= 1000 ? 'met' : 'MISSED'} |`)
    process.stdout.write(`${lines.join('\n')}\n`)
  } finally {
    for (const s of servers) s.kill('SIGKILL')
    await bed.teardown()
  }
})
