/**
 * The two systems bench/hosts.ts compares on one multi-host test bed (test/support/bed), each formed of
 * the bed's 5 hosts as 3 managers (h1–h3) and 2 workers (h4, h5), and each spoken to through Docker's
 * own swarm API on a host's unix socket:
 *   - swarm mode: every host's dockerd. `swarm init` on h1's engine (listen and advertise on h1's address,
 *     data path on it too), then `swarm join` to h1:2377 with the manager token on h2 and h3, one after
 *     the other (swarmkit takes one Raft membership change at a time), and with the worker token on h4
 *     and h5 at once. Docker's defaults throughout (dispatcher heartbeat 5 s, Raft tick 1 s, election
 *     tick 10). The leader's process is its dockerd: `killLeader` SIGKILLs dockerd with its containerd,
 *     shims and containers at once (BedEngine.kill, as a crash would), `restartLeader` starts it again
 *     on the same data root, and it rejoins as a manager by itself. `leave` leaves the swarm on every engine.
 *   - flotilla: every host's agent, formed with `bed.formCluster({ managers: 3 })`; the leader's process
 *     is its agent (bed.killAgent / bed.restartAgent).
 */
import { performance } from 'node:perf_hooks'
import { callSocket, type ApiResult } from '../test/support/agent-process.js'
import type { BedHost, TestBed } from '../test/support/bed/index.js'
import { pollUntil, progress } from './support.js'

/** Per-call timeout of the reads the bench polls with. */
export const CALL_TIMEOUT_MS = 5_000
/** Swarm's control port (listen and advertise). */
const SWARM_PORT = 2377
const FORM_TIMEOUT_MS = 120_000

/** One node of `GET /nodes`, as far as the bench reads it. */
export interface NodeView {
  readonly id: string
  readonly state: string
  readonly leader: boolean
  /** Managers only: reachable, unreachable or unknown. */
  readonly reachability: string | null
}

/** A cluster on the bed, driven through Docker's swarm API on each host's socket. */
export interface System {
  /** `swarm mode` or `flotilla`. */
  readonly name: string
  readonly managers: readonly BedHost[]
  readonly workers: readonly BedHost[]
  /** The socket that serves Docker's swarm API on host `h`. */
  socket: (h: BedHost) => string
  nodeId: (h: BedHost) => string
  /** The host whose node has ID `id`; throws for an unknown one. */
  hostOf: (id: string) => BedHost
  /** SIGKILL the leader's process (resolves once it is dead). */
  killLeader: (h: BedHost) => Promise<void>
  /** Start it again (resolves once its socket answers; it rejoins by itself). */
  restartLeader: (h: BedHost) => Promise<void>
}

/** A short description of an answer that is not a success, for progress lines and errors. */
export function describe (r: ApiResult): string {
  const body = r.body as { message?: unknown } | undefined
  const msg = typeof body?.message === 'string' ? body.message : typeof r.body === 'string' ? r.body : JSON.stringify(r.body)
  return `${r.status} ${msg.slice(0, 160)}`
}

/** `GET /nodes` through `socket`. */
export async function nodesVia (socket: string): Promise<NodeView[]> {
  const r = await callSocket(socket, 'GET', '/nodes', undefined, CALL_TIMEOUT_MS)
  if (r.status !== 200 || !Array.isArray(r.body)) throw new Error(`GET /nodes answered ${describe(r)}`)
  return (r.body as unknown[]).map(raw => {
    const n = raw as { ID?: unknown, Status?: { State?: unknown }, ManagerStatus?: { Leader?: unknown, Reachability?: unknown } }
    return {
      id: String(n.ID),
      state: String(n.Status?.State),
      leader: n.ManagerStatus?.Leader === true,
      reachability: n.ManagerStatus === undefined ? null : String(n.ManagerStatus.Reachability)
    }
  })
}

function hostMap (bed: TestBed, ids: ReadonlyMap<string, string>): (id: string) => BedHost {
  const byId = new Map([...ids].map(([name, id]) => [id, bed.host(name)]))
  return id => {
    const h = byId.get(id)
    if (h === undefined) throw new Error(`no host of the bed has node ${id}`)
    return h
  }
}

async function post (socket: string, path: string, body: unknown, what: string): Promise<ApiResult> {
  const r = await callSocket(socket, 'POST', path, body, FORM_TIMEOUT_MS)
  if (r.status !== 200) throw new Error(`${what} answered ${describe(r)}`)
  return r
}

/**
 * Docker's swarm mode on the bed's engines (the agents must not run: they are not part of it).
 * Returns once every engine is in the swarm; the caller waits for it to settle.
 */
export async function formSwarmMode (bed: TestBed, managerCount: number): Promise<System> {
  const [first, ...rest] = bed.hosts
  if (first === undefined) throw new Error('the bed has no host')
  const addrs = (h: BedHost): Record<string, string> => ({ ListenAddr: `${h.ip}:${SWARM_PORT}`, AdvertiseAddr: h.ip, DataPathAddr: h.ip })
  await post(first.engine.socket, '/swarm/init', addrs(first), `swarm init on ${first.name}'s engine`)
  const sw = await callSocket(first.engine.socket, 'GET', '/swarm', undefined, CALL_TIMEOUT_MS)
  const tokens = (sw.body as { JoinTokens?: { Manager: string, Worker: string } } | undefined)?.JoinTokens
  if (sw.status !== 200 || tokens === undefined) throw new Error(`GET /swarm on ${first.name}'s engine answered ${describe(sw)}`)
  const join = async (h: BedHost, token: string): Promise<void> => {
    await post(h.engine.socket, '/swarm/join', { ...addrs(h), RemoteAddrs: [`${first.ip}:${SWARM_PORT}`], JoinToken: token }, `swarm join on ${h.name}'s engine`)
  }
  const managers = bed.hosts.slice(0, managerCount)
  const workers = bed.hosts.slice(managerCount)
  for (const h of rest.filter(x => x.index <= managerCount)) await join(h, tokens.Manager)
  await Promise.all(workers.map(async h => { await join(h, tokens.Worker) }))
  const ids = new Map<string, string>()
  for (const h of bed.hosts) {
    const info = await callSocket(h.engine.socket, 'GET', '/info', undefined, CALL_TIMEOUT_MS)
    const id = (info.body as { Swarm?: { NodeID?: unknown } } | undefined)?.Swarm?.NodeID
    if (info.status !== 200 || typeof id !== 'string' || id === '') throw new Error(`GET /info on ${h.name}'s engine has no swarm node ID: ${describe(info)}`)
    ids.set(h.name, id)
  }
  return {
    name: 'swarm mode',
    managers,
    workers,
    socket: h => h.engine.socket,
    nodeId: h => ids.get(h.name)!,
    hostOf: hostMap(bed, ids),
    killLeader: async h => { await h.engine.kill() },
    restartLeader: async h => { await h.engine.start() }
  }
}

/** Leave swarm mode on every engine that answers (workers first), best effort, reporting what failed. */
export async function leaveSwarmMode (bed: TestBed): Promise<void> {
  for (const h of [...bed.hosts].reverse()) {
    if (!h.engine.running) continue
    try {
      const r = await callSocket(h.engine.socket, 'POST', '/swarm/leave?force=true', undefined, 60_000)
      if (r.status !== 200 && r.status !== 503) progress(`swarm leave on ${h.name}'s engine answered ${describe(r)}`)
    } catch (err) {
      progress(`swarm leave on ${h.name}'s engine failed: ${(err as Error).message}`)
    }
  }
}

/** flotilla's agents on the bed (started if they are not), formed into one cluster. */
export async function formFlotilla (bed: TestBed, managerCount: number): Promise<System> {
  await Promise.all(bed.hosts.map(async h => { if (!h.agent.running) await h.agent.start([]) }))
  const cluster = await bed.formCluster({ managers: managerCount, timeoutMs: FORM_TIMEOUT_MS })
  return {
    name: 'flotilla',
    managers: cluster.managers,
    workers: cluster.workers,
    socket: h => h.agent.socket,
    nodeId: h => cluster.nodeIds.get(h.name)!,
    hostOf: hostMap(bed, cluster.nodeIds),
    killLeader: async h => { await bed.killAgent(h) },
    restartLeader: async h => { await bed.restartAgent(h) }
  }
}

/**
 * Wait until the cluster is healthy and has stayed so for `stableMs`: every manager's socket lists every
 * host's node, all ready, every manager reachable, and exactly one leader, the same for every manager.
 * Returns the leader's host.
 */
export async function settle (sys: System, hostCount: number, what: string, stableMs: number, timeoutMs: number): Promise<BedHost> {
  let leaderSince: { id: string, at: number } | undefined
  const id = await pollUntil(`${sys.name}: a healthy cluster with one leader for ${stableMs} ms (${what})`, async () => {
    let leader: string | undefined
    try {
      const views = await Promise.all(sys.managers.map(async h => await nodesVia(sys.socket(h))))
      const leaders = views.map(v => {
        const healthy = v.length === hostCount && v.every(n => n.state === 'ready' && (n.reachability === null || n.reachability === 'reachable'))
        const ls = v.filter(n => n.leader)
        return healthy && ls.length === 1 ? ls[0]!.id : undefined
      })
      if (leaders[0] !== undefined && leaders.every(l => l === leaders[0])) leader = leaders[0]
    } catch {
      leader = undefined
    }
    if (leader === undefined) { leaderSince = undefined; return undefined }
    if (leaderSince?.id !== leader) leaderSince = { id: leader, at: performance.now() }
    return performance.now() - leaderSince.at >= stableMs ? leader : undefined
  }, timeoutMs, 200)
  return sys.hostOf(id)
}
