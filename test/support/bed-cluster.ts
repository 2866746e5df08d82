/**
 * What the cluster tests on the multi-host bed (test/hosts/) share: the Raft leader as the agents'
 * logs and sockets show it, a writer of unique labels whose acknowledged writes are checked at the
 * end, and each engine's containers by slot. Every wait has a deadline; every loop a count bound.
 */
import Docker from 'dockerode'
import { callSocket, waitFor, type ApiResult } from './agent-process.js'
import type { BedHost, TestBed } from './bed/index.js'

/** Per-call timeout of the reads these helpers poll with, ms. */
const READ_MS = 3_000

/** One `leader changed` line of an agent's log (`… INFO  [raft] leader changed leader=X term=N role=R`). */
export interface LeaderChange {
  /** The bed host whose agent logged it. */
  readonly host: string
  /** The line's own timestamp (the agent's wall clock: the same machine's), epoch ms. */
  readonly atMs: number
  /** A node ID, or `none`. */
  readonly leader: string
  readonly term: number
  readonly role: string
  /** Its position in that agent's log (character offset). */
  readonly offset: number
}

const LEADER_LINE = /^(\S+) +INFO +\[raft\] leader changed leader=(\S+) term=(\d+) role=(\S+)/gm

/** Every `leader changed` line each agent logged since it started (its restarts included), by host. */
export function leaderChanges (bed: TestBed, since: ReadonlyMap<string, number> = new Map()): LeaderChange[] {
  const out: LeaderChange[] = []
  for (const h of bed.hosts) {
    const from = since.get(h.name) ?? 0
    const text = h.agent.logs
    LEADER_LINE.lastIndex = 0
    for (const m of text.matchAll(LEADER_LINE)) {
      if (m.index < from) continue
      out.push({ host: h.name, atMs: Date.parse(m[1]!), leader: m[2]!, term: Number(m[3]), role: m[4]!, offset: m.index })
    }
  }
  return out
}

/** Each agent's log length now: pass it to `leaderChanges` to see only what comes after. */
export function logMarks (bed: TestBed): Map<string, number> {
  return new Map(bed.hosts.map(h => [h.name, h.agent.logs.length]))
}

/** The terms in which the agents' logs name more than one leader (Raft's Election Safety, §5.2), with the leaders. */
export function termsWithTwoLeaders (changes: readonly LeaderChange[]): Array<{ term: number, leaders: string[] }> {
  const byTerm = new Map<number, Set<string>>()
  for (const c of changes) {
    if (c.leader === 'none') continue
    let s = byTerm.get(c.term)
    if (s === undefined) byTerm.set(c.term, s = new Set())
    s.add(c.leader)
  }
  return [...byTerm].filter(([, s]) => s.size > 1).map(([term, s]) => ({ term, leaders: [...s].sort() }))
}

/** Each manager's latest (leader, term) by its own log; undefined for one that logged none yet. */
export function latestViews (bed: TestBed, managers: readonly BedHost[]): Map<string, LeaderChange | undefined> {
  const all = leaderChanges(bed)
  return new Map(managers.map(h => [h.name, all.filter(c => c.host === h.name).at(-1)]))
}

/** The leader and term every manager's latest log line agrees on (not `none`), or undefined. */
export function agreedLeader (bed: TestBed, managers: readonly BedHost[]): { leader: string, term: number } | undefined {
  const views = [...latestViews(bed, managers).values()]
  const first = views[0]
  if (first === undefined || first.leader === 'none') return undefined
  return views.every(v => v !== undefined && v.leader === first.leader && v.term === first.term) ? { leader: first.leader, term: first.term } : undefined
}

interface NodeJson { ID: string, Description: { Hostname: string }, Spec: { Role: string }, Status: { State: string }, ManagerStatus?: { Leader: boolean, Reachability: string } }

/** `GET /nodes` through `via`'s socket (served by the leader); throws unless 200. */
export async function listNodes (via: BedHost, timeoutMs = READ_MS): Promise<NodeJson[]> {
  const r = await via.agent.api('GET', '/nodes', undefined, timeoutMs)
  if (r.status !== 200) throw new Error(`GET /nodes on ${via.name}: ${r.status} ${JSON.stringify(r.body)}`)
  return r.body as NodeJson[]
}

/** The leader's hostname as `GET /nodes` through `via` reports it; throws when none is marked. */
export async function leaderHostname (via: BedHost, timeoutMs = READ_MS): Promise<string> {
  const leader = (await listNodes(via, timeoutMs)).find(n => n.ManagerStatus?.Leader === true)
  if (leader === undefined) throw new Error(`GET /nodes on ${via.name} marks no leader`)
  return leader.Description.Hostname
}

/** Wait until every manager's log agrees on one leader and `GET /nodes` through each running host names it; returns its host. */
export async function waitForAgreedLeader (bed: TestBed, managers: readonly BedHost[], timeoutMs: number): Promise<{ host: BedHost, term: number }> {
  return await waitFor('every manager to agree on one leader', async () => {
    const agreed = agreedLeader(bed, managers)
    if (agreed === undefined) throw new Error(`views: ${JSON.stringify([...latestViews(bed, managers)].map(([h, v]) => `${h}:${v?.leader ?? '?'}@${v?.term ?? '?'}`))}`)
    const hostname = await leaderHostname(managers[0]!)
    const host = bed.host(hostname)
    for (const m of managers) if (await leaderHostname(m) !== hostname) return false
    return { host, term: agreed.term }
  }, timeoutMs, 100)
}

/** A node ID → bed host name map from any host's `GET /nodes`. */
export async function hostsByNodeId (via: BedHost): Promise<Map<string, string>> {
  return new Map((await listNodes(via)).map(n => [n.ID, n.Description.Hostname]))
}

/**
 * Create a replicated service of `replicas` containers of `image` running `sleep 3600` through `via`
 * (the answer: 201 with the ID). A 1 s stop grace period: busybox's sleep as PID 1 ignores SIGTERM.
 */
export async function createService (via: BedHost, name: string, replicas: number, image: string, labels: Record<string, string> = {}, timeoutMs = 15_000): Promise<ApiResult> {
  return await via.agent.api('POST', '/services/create', {
    Name: name,
    Labels: labels,
    TaskTemplate: { ContainerSpec: { Image: image, Command: ['sleep', '3600'], StopGracePeriod: 1_000_000_000 } },
    Mode: { Replicated: { Replicas: replicas } }
  }, timeoutMs)
}

/** Read `service` through `socket`, add `labels` to its spec, and update it with ?version=; the update's answer. */
export async function addLabels (socket: string, service: string, labels: Record<string, string>, timeoutMs = 15_000): Promise<ApiResult> {
  const got = await callSocket(socket, 'GET', `/services/${encodeURIComponent(service)}`, undefined, timeoutMs)
  if (got.status !== 200) return got
  const body = got.body as { ID: string, Version: { Index: number }, Spec: { Labels?: Record<string, string> } }
  const spec = { ...body.Spec, Labels: { ...body.Spec.Labels, ...labels } }
  return await callSocket(socket, 'POST', `/services/${body.ID}/update?version=${body.Version.Index}`, spec, timeoutMs)
}

/** The labels of `service` read through `socket` (after the read barrier: every acknowledged write). */
export async function serviceLabels (socket: string, service: string, timeoutMs = READ_MS): Promise<Record<string, string>> {
  const r = await callSocket(socket, 'GET', `/services/${encodeURIComponent(service)}`, undefined, timeoutMs)
  if (r.status !== 200) throw new Error(`GET /services/${service}: ${r.status} ${JSON.stringify(r.body)}`)
  return (r.body as { Spec: { Labels?: Record<string, string> } }).Spec.Labels ?? {}
}

/** What a `LabelWriter` saw, by outcome. */
export interface WriterCounts {
  /** 200: the label is acknowledged and must survive. */
  ok: number
  /** 409 out of sequence (another version won the race; nothing lost). */
  conflict: number
  /** 503 and other refusals with a body (nothing changed, or outcome stated unknown by the agent). */
  refused: number
  /** Timeouts, resets, refused connections. */
  error: number
}

/**
 * One client that adds a fresh label (`<prefix>.<n>=<n>`) to one service, again and again, through one
 * socket, each time reading the service and updating it with its version. Every 200 is an acknowledged
 * write that must be visible at the end (`missing`). Bounded by `maxWrites` and `stop()`.
 */
export class LabelWriter {
  readonly acked: string[] = []
  readonly counts: WriterCounts = { ok: 0, conflict: 0, refused: 0, error: 0 }
  /** The messages of refused writes (first 20). */
  readonly refusals: string[] = []
  private stopped = false
  private done: Promise<void> = Promise.resolve()

  /** `gapMs` (default 50) between two writes, `pauseMs` (default 100) after a failed one. */
  constructor (readonly socket: string, readonly service: string, readonly prefix: string, private readonly opts: { maxWrites?: number, callMs?: number, pauseMs?: number, gapMs?: number } = {}) {}

  start (): this {
    this.done = this.loop()
    return this
  }

  async stop (): Promise<void> {
    this.stopped = true
    await this.done
  }

  private async loop (): Promise<void> {
    const max = this.opts.maxWrites ?? 2_000
    for (let n = 0; n < max && !this.stopped; n++) {
      const key = `${this.prefix}.${n}`
      try {
        const r = await addLabels(this.socket, this.service, { [key]: String(n) }, this.opts.callMs ?? 12_000)
        if (r.status === 200) {
          this.counts.ok++
          this.acked.push(key)
          await new Promise(resolve => setTimeout(resolve, this.opts.gapMs ?? 50))
        } else if (r.status === 409) this.counts.conflict++
        else {
          this.counts.refused++
          if (this.refusals.length < 20) this.refusals.push(`${r.status} ${JSON.stringify(r.body)}`)
          await new Promise(resolve => setTimeout(resolve, this.opts.pauseMs ?? 100))
        }
      } catch {
        this.counts.error++
        await new Promise(resolve => setTimeout(resolve, this.opts.pauseMs ?? 100))
      }
    }
  }

  /** The acknowledged labels absent from the service as read through `socket` now. */
  async missing (socket: string): Promise<string[]> {
    const labels = await serviceLabels(socket, this.service, 10_000)
    return this.acked.filter(k => labels[k] === undefined)
  }
}

/**
 * How long, from now, until the cluster has settled: every manager's log names one leader in one term,
 * `GET /nodes` through every manager names it, and a write through `writeVia` is accepted. Returns ms.
 */
export async function settleTime (bed: TestBed, managers: readonly BedHost[], writeVia: BedHost, service: string, timeoutMs: number): Promise<{ ms: number, leader: BedHost, term: number }> {
  const t0 = Date.now()
  let n = 0
  return await waitFor('the cluster to settle (one leader agreed, a write accepted)', async () => {
    const { host, term } = await waitForAgreedLeader(bed, managers, Math.max(1, timeoutMs - (Date.now() - t0)))
    const r = await addLabels(writeVia.agent.socket, service, { [`settled.${n++}`]: String(Date.now()) }, 5_000)
    if (r.status !== 200) throw new Error(`write through ${writeVia.name}: ${r.status} ${JSON.stringify(r.body)}`)
    // The write may have raced an election: settled only if the same leader and term still hold.
    const again = agreedLeader(bed, managers)
    return again !== undefined && again.term === term ? { ms: Date.now() - t0, leader: host, term } : undefined
  }, timeoutMs, 50)
}

/** A running container of a service in one host's engine. */
export interface SlotContainer {
  readonly host: string
  readonly id: string
  readonly slot: string
  readonly taskId: string
  readonly nodeId: string
  readonly state: string
}

/** Every container of `service` in every engine (each host's own dockerd, asked with dockerode), running or not. */
export async function serviceContainers (bed: TestBed, service: string, hosts: readonly BedHost[] = bed.hosts): Promise<SlotContainer[]> {
  const out: SlotContainer[] = []
  for (const h of hosts) {
    const docker = new Docker({ socketPath: h.engine.socket, timeout: 10_000 })
    const list = await docker.listContainers({ all: true, filters: { label: [`com.docker.swarm.service.name=${service}`] } })
    for (const c of list) {
      out.push({
        host: h.name,
        id: c.Id,
        slot: c.Labels['com.docker.swarm.task.slot'] ?? '?',
        taskId: c.Labels['com.docker.swarm.task.id'] ?? '?',
        nodeId: c.Labels['com.docker.swarm.node.id'] ?? '?',
        state: c.State
      })
    }
  }
  return out
}

/** Running containers per slot, over all the given engines. */
export function runningPerSlot (containers: readonly SlotContainer[]): Map<string, SlotContainer[]> {
  const bySlot = new Map<string, SlotContainer[]>()
  for (const c of containers.filter(x => x.state === 'running')) {
    let l = bySlot.get(c.slot)
    if (l === undefined) bySlot.set(c.slot, l = [])
    l.push(c)
  }
  return bySlot
}

/** Keep a fault in force for `durationMs` (a duration the scenario needs, not a synchronisation). */
export async function holdFor (durationMs: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, durationMs))
}

/** `${ms} ms` with no decimals, for test output. */
export const ms = (x: number): string => `${Math.round(x)} ms`
