/**
 * What bench/leader-scale.ts runs: the leader's real components (LeaderServices: dispatcher,
 * orchestrator, scheduler, allocator) over a real ClusterStore whose proposals apply at once, in this
 * process (as test/unit/tasks/leader/memory-store.ts's MemoryLeader: no Raft, no network, no
 * serialisation), and simulated nodes that are in-process clients of the real dispatcher.
 *
 * The simulated nodes are built to cost next to nothing, so that what the process spends is the
 * leader's: one shared 10 ms timer drives every node (a node heartbeats in its own 10 ms slot of the
 * period, and a node whose slot passed while the loop was busy heartbeats at the next tick, as bytes
 * queued on a socket would arrive), a heartbeat is one `send`, and a node answers an assignment with a
 * single 'running' report (not the worker's five steps) `reportMs` after it heard of it, or at the
 * task's `delayUntilMs`. Their own time is summed with performance.now around every callback
 * (`clientMs`); `nullLinks` runs the same nodes against links that only echo heartbeats, to measure
 * the node side alone.
 */
import { performance } from 'node:perf_hooks'
import { ClusterStore, check, type Command, type StoreEvent, type StoreState, type TaskObject } from '../src/election/index.js'
import { secretDigest } from '../src/election/state/apply.js'
import { silentLogger, type NodeDescription } from '../src/membership/index.js'
import {
  HEARTBEAT_PERIOD_MS, LeaderServices, MAX_REPORTS_PER_FRAME, allocateNetwork, allocateVirtualIps, connectLocal, ingressSpec, isTerminal, taskStateRank,
  type DispatcherLink, type LeaderDeps, type LeaderMessage, type LinkHandlers, type Report, type ServiceSpec
} from '../src/tasks/index.js'

const TICK_MS = 10
const POOL = { defaultAddrPool: ['10.0.0.0/8'], subnetSize: 24 }
const WORKER_SECRET = 'w'
const MANAGER_SECRET = 'm'
const DESCRIPTION: NodeDescription = { os: 'linux', arch: 'x86_64', nanoCpus: 16e9, memoryBytes: 64 * 2 ** 30, engine: { state: 'available', version: '27.0', labels: {} } }

export function nodeId (i: number): string {
  return `node-${String(i).padStart(4, '0')}`
}

/** Node `i`'s data-path address: 172.16.0.0/12, one per node. */
function nodeAddr (i: number): string {
  return `172.${16 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`
}

/**
 * The leader's store with proposals applied at once (each at the next index, a refusal rejecting as
 * the manager's propose does), and counters of what was applied.
 */
export class InProcessLeader {
  readonly store = new ClusterStore()
  private index = 0
  /** Entries applied so far. */
  applied = 0
  lastApplyMs = performance.now()
  readonly ingressId: string
  readonly networkId: string
  private services: LeaderServices | null = null

  /** A cluster whose manager is node 0; `nodes` nodes in all, admitted (status unknown until they open a session). */
  constructor (nodes: number) {
    const now = Date.now()
    // The ingress gets a /16 (Docker's is a /24, 253 node addresses): 1,000 nodes each take one on it.
    const ingress = allocateNetwork({ ...ingressSpec(), IPAM: { Driver: 'default', Config: [{ Subnet: '10.0.0.0/16' }], Options: {} } }, 'net-ingress', [], POOL, now)
    this.ingressId = ingress.id
    this.apply({
      op: 'cluster.init',
      cluster: { id: 'bench', createdAtMs: now, updatedAtMs: now, spec: {}, root: { publicKeyDer: new Uint8Array(), privateKeyDer: new Uint8Array() }, secrets: { worker: WORKER_SECRET, manager: MANAGER_SECRET }, addressPool: POOL },
      node: nodeObject(0, 'manager'),
      networks: [ingress]
    })
    for (let i = 1; i < nodes; i++) this.apply({ op: 'node.admit', node: nodeObject(i, 'worker'), secretDigest: secretDigest(WORKER_SECRET) })
    const overlay = allocateNetwork({
      Name: 'bench', Labels: {}, Driver: 'overlay', Options: {}, Attachable: false, Internal: false, Ingress: false,
      IPAM: { Driver: 'default', Config: [{ Subnet: '10.1.0.0/16' }], Options: {} }
    }, 'net-bench', this.state.networks.values(), POOL, now)
    this.networkId = overlay.id
    this.apply({ op: 'network.create', network: overlay })
  }

  get state (): StoreState { return this.store.state }

  apply (cmd: Command): void {
    this.applied++
    this.lastApplyMs = performance.now()
    check(this.store.apply(++this.index, cmd))
  }

  deps (): LeaderDeps {
    return { store: this.store, propose: async cmd => { this.apply(cmd) }, now: () => Date.now(), logger: silentLogger }
  }

  start (): LeaderServices {
    this.services = new LeaderServices(this.deps())
    this.services.start()
    return this.services
  }

  stop (): void {
    this.services?.stop()
  }

  /** Create a replicated service on the bench network, as the control socket would (its VIP allocated). Restart delay 0: the times measured are the system's, not the policy's. */
  createService (name: string, replicas: number): string {
    const spec: ServiceSpec = {
      Name: name,
      TaskTemplate: { ContainerSpec: { Image: 'busybox' }, RestartPolicy: { Condition: 'any', Delay: 0 }, Networks: [{ Target: this.networkId }] },
      Mode: { Replicated: { Replicas: replicas } }
    }
    const id = `svc-${name}`
    const now = Date.now()
    const virtualIps = allocateVirtualIps(this.state, spec, [], null)
    this.apply({ op: 'service.create', service: { id, name, createdAtMs: now, updatedAtMs: now, spec, previousSpec: null, endpoint: { ports: [], virtualIps }, updateStatus: null, rebalance: null } })
    return id
  }
}

function nodeObject (i: number, role: 'manager' | 'worker'): Extract<Command, { op: 'node.admit' }>['node'] {
  return {
    id: nodeId(i), peerId: `peer-${i}`, hostname: `host-${i}`, spec: { role, availability: 'active', labels: {} }, certificate: new Uint8Array(),
    status: { state: 'unknown', message: '', sinceMs: 0, addr: '' }, description: null, networkAddresses: [], createdAtMs: 0, updatedAtMs: 0
  }
}

interface QueuedReport { readonly dueMs: number, readonly report: Omit<Report, 'timestampMs'> }

interface SimNode {
  readonly index: number
  readonly id: string
  link: DispatcherLink | null
  silent: boolean
  /** What this node has reported of each task it was told of. */
  readonly reported: Map<string, 'running' | 'shutdown'>
  queued: QueuedReport[]
}

export type Connect = (id: string, handlers: LinkHandlers) => DispatcherLink

/** Links to the leader's real dispatcher (connectLocal: frames cross as microtasks). */
export function dispatcherLinks (services: LeaderServices): Connect {
  return (id, handlers) => connectLocal(services.dispatcher, id, handlers)
}

/** Links that reach no leader: each heartbeat is answered after the same two microtask hops connectLocal takes. */
export const nullLinks: Connect = (_id, handlers) => ({
  send (msg) { queueMicrotask(() => { if (msg.t === 'heartbeat') queueMicrotask(() => { handlers.onMessage({ t: 'heartbeat' }) }) }) },
  async close () {}
})

/** `count` simulated nodes, node IDs 0…count−1, driven by one timer. */
export class SimNodes {
  private readonly nodes: SimNode[] = []
  private readonly slots: SimNode[][]
  private timer: NodeJS.Timeout | null = null
  private lastTickMs = 0
  private readonly withReports = new Set<SimNode>()
  /** Time spent in the nodes' own code (ms): the tick and every frame handler. */
  clientMs = 0
  /** Frames received, per kind. */
  readonly frames = { assignments: 0, networks: 0, heartbeat: 0, other: 0 }
  /** When each silenced node last sent a heartbeat (performance.now ms). */
  readonly lastBeatMs = new Map<string, number>()

  constructor (count: number, private readonly connect: Connect, private readonly reportMs: number) {
    this.slots = Array.from({ length: Math.round(HEARTBEAT_PERIOD_MS / TICK_MS) }, () => [])
    for (let i = 0; i < count; i++) {
      const n: SimNode = { index: i, id: nodeId(i), link: null, silent: false, reported: new Map(), queued: [] }
      this.nodes.push(n)
      this.slots[i % this.slots.length]!.push(n)
    }
  }

  /** Open every node's session (with its description and data-path address), then heartbeat on the timer. */
  start (): void {
    const t0 = performance.now()
    for (const n of this.nodes) {
      n.link = this.connect(n.id, { onMessage: msg => { this.onMessage(n, msg) }, onClose: () => { n.link = null } })
      n.link.send({ t: 'open', description: DESCRIPTION, addr: nodeAddr(n.index) })
    }
    this.lastTickMs = performance.now()
    this.clientMs += this.lastTickMs - t0
    this.timer = setInterval(() => { this.tick() }, TICK_MS)
  }

  stop (): void {
    if (this.timer !== null) clearInterval(this.timer)
    for (const n of this.nodes) void n.link?.close()
  }

  /** Stop the heartbeats and reports of these nodes (their sessions stay open, as with a frozen host). */
  silence (indices: readonly number[]): void {
    for (const i of indices) this.nodes[i]!.silent = true
  }

  private tick (): void {
    const start = performance.now()
    const slotOf = (ms: number): number => Math.floor(ms / TICK_MS)
    // Every slot whose time came since the last tick, at most one period's worth.
    const first = Math.max(slotOf(this.lastTickMs) + 1, slotOf(start) - this.slots.length + 1)
    for (let s = first; s <= slotOf(start); s++) {
      for (const n of this.slots[s % this.slots.length]!) {
        if (n.silent || n.link === null) continue
        n.link.send({ t: 'heartbeat' })
        this.lastBeatMs.set(n.id, start)
      }
    }
    this.lastTickMs = start
    if (this.withReports.size > 0) this.flushReports(Date.now())
    this.clientMs += performance.now() - start
  }

  private flushReports (nowMs: number): void {
    for (const n of this.withReports) {
      if (n.silent || n.link === null) continue
      const due = n.queued.filter(q => q.dueMs <= nowMs)
      if (due.length === 0) continue
      n.queued = n.queued.filter(q => q.dueMs > nowMs)
      if (n.queued.length === 0) this.withReports.delete(n)
      for (let i = 0; i < due.length; i += MAX_REPORTS_PER_FRAME) {
        n.link.send({ t: 'status', reports: due.slice(i, i + MAX_REPORTS_PER_FRAME).map(q => ({ ...q.report, timestampMs: nowMs })) })
      }
    }
  }

  private onMessage (n: SimNode, msg: LeaderMessage): void {
    const start = performance.now()
    switch (msg.t) {
      case 'heartbeat': this.frames.heartbeat++; break
      case 'networks': this.frames.networks++; break
      case 'not-leader': this.frames.other++; break
      case 'assignments': {
        this.frames.assignments++
        if (msg.full) n.reported.clear()
        for (const id of msg.removed) n.reported.delete(id)
        const now = Date.now()
        for (const a of msg.tasks) {
          const done = n.reported.get(a.taskId)
          if (a.desiredState === 'running') {
            if (done !== undefined || taskStateRank(a.state) >= taskStateRank('running') || isTerminal(a.state)) continue
            n.reported.set(a.taskId, 'running')
            const dueMs = Math.max(now + this.reportMs, a.delayUntilMs ?? 0)
            n.queued.push({ dueMs, report: { id: a.taskId, state: 'running', message: 'started', err: null, exitCode: null } })
          } else if (done !== 'shutdown' && !isTerminal(a.state)) {
            n.reported.set(a.taskId, 'shutdown')
            n.queued.push({ dueMs: now + this.reportMs, report: { id: a.taskId, state: 'shutdown', message: 'shutdown', err: null, exitCode: null } })
          }
        }
        if (n.queued.length > 0) this.withReports.add(n)
      }
    }
    this.clientMs += performance.now() - start
  }
}

/** A task is placed when it is meant to run and is in assigned…running on a node that is not `dead`. */
type Placement = 'none' | 'placed' | 'running'

/**
 * Counts, per service, the tasks placed and running on live nodes, kept current from store events (not
 * by scanning the store), and when nodes were marked down. `until` resolves once a condition holds.
 */
export class Tracker {
  private readonly placement = new Map<string, { serviceId: string, p: Placement }>()
  private readonly counts = new Map<string, { placed: number, running: number }>()
  private readonly waiters: Array<{ check: () => boolean, resolve: () => void }> = []
  private dead = new Set<string>()
  /** When each node in `dead` was seen marked down (performance.now ms). */
  readonly downAtMs = new Map<string, number>()
  /** Live nodes marked down: heartbeats the leader did not take in time. */
  falseDowns = 0
  private readonly unwatch: () => void

  constructor (private readonly store: ClusterStore) {
    this.unwatch = store.watch((events, state) => { this.onEvents(events, state) })
  }

  stop (): void { this.unwatch() }

  count (serviceId: string): { placed: number, running: number } {
    return this.counts.get(serviceId) ?? { placed: 0, running: 0 }
  }

  /** From now on, tasks on these nodes do not count as placed. */
  setDead (ids: Iterable<string>): void {
    this.dead = new Set(ids)
    for (const t of this.store.state.tasks.values()) this.classify(t.id, t)
  }

  async until (check: () => boolean, what: string, timeoutMs: number): Promise<number> {
    if (check()) return performance.now()
    return await new Promise<number>((resolve, reject) => {
      const waiter = { check, resolve: () => { clearTimeout(timer); resolve(performance.now()) } }
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1)
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`))
      }, timeoutMs)
      this.waiters.push(waiter)
    })
  }

  private classify (id: string, t: TaskObject | undefined): void {
    const before = this.placement.get(id)
    let p: Placement = 'none'
    if (t !== undefined && t.desiredState === 'running' && t.nodeId !== null && !this.dead.has(t.nodeId)) {
      const rank = taskStateRank(t.status.state)
      if (rank >= taskStateRank('assigned') && rank <= taskStateRank('running')) p = t.status.state === 'running' ? 'running' : 'placed'
    }
    const serviceId = t?.serviceId ?? before?.serviceId
    if (serviceId === undefined) return
    let c = this.counts.get(serviceId)
    if (c === undefined) this.counts.set(serviceId, c = { placed: 0, running: 0 })
    if (before !== undefined && before.p !== 'none') { c.placed--; if (before.p === 'running') c.running-- }
    if (p !== 'none') { c.placed++; if (p === 'running') c.running++ }
    if (t === undefined) this.placement.delete(id)
    else this.placement.set(id, { serviceId, p })
  }

  private onEvents (events: readonly StoreEvent[], state: StoreState): void {
    const now = performance.now()
    for (const e of events) {
      if (e.kind === 'task') this.classify(e.id, e.removed ? undefined : state.tasks.get(e.id))
      else if (e.kind === 'node-updated' && state.nodes.get(e.id)?.status.state === 'down') {
        if (!this.dead.has(e.id)) this.falseDowns++
        else if (!this.downAtMs.has(e.id)) this.downAtMs.set(e.id, now)
      }
    }
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i]!
      if (w.check()) { this.waiters.splice(i, 1); w.resolve() }
    }
  }
}
