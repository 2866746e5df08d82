import { MemberDirectory, SwimCore, type KnownSwimMember, type SwimConfig, type SwimEvent, type SwimMessage } from '../../../src/membership/swim/index.js'
import { Rng } from '../../support/rng.js'
import { EventHeap } from './event-heap.js'
import { Accusations, CrashTrack, Spread, addTraffic, newTraffic, type Traffic } from './metrics.js'
import { LAN, gossipBytes, messageBytes, type NetworkModel } from './network.js'

export interface MembershipSimOptions {
  readonly seed: number
  readonly nodes: number
  /** Virtual ms before measuring starts (staggers settle). Default 5000. */
  readonly warmupMs?: number
  /** Virtual ms measured, with faults. */
  readonly windowMs: number
  /** After the window: faults stop (partition healed, slow nodes recover) for this long, then every view must agree. 0: no check. */
  readonly settleMs?: number
  readonly network?: Partial<NetworkModel>
  /** A random healthy node crashes this often during the window (0: never). */
  readonly crashEveryMs?: number
  /** A crashed node restarts (a higher incarnation) and rejoins this long after every member marked it dead. Default 5000. */
  readonly restartAfterMs?: number
  /** A new node joins this often during the window (0: never). */
  readonly joinEveryMs?: number
  /** Share of nodes that are slow: each of their timers and received messages runs up to slowLagMs late. */
  readonly slowFraction?: number
  readonly slowLagMs?: number
  /** A partition: at atMs (from the window start) a random `fraction` of nodes is cut off for durationMs. */
  readonly partition?: { readonly atMs: number, readonly durationMs: number, readonly fraction: number }
  readonly config?: Partial<SwimConfig>
  /** Bytes of each node's metadata (an encoded node description). Default 256. */
  readonly metaBytes?: number
  /** Invariants after every event (costs memory at thousands of nodes). Default: nodes ≤ 1000. */
  readonly checks?: boolean
}

export interface MembershipSimResult {
  readonly seed: number
  readonly nodes: number
  readonly windowMs: number
  readonly violations: readonly string[]
  readonly crashes: readonly CrashTrack[]
  readonly joins: readonly Spread[]
  /** Distinct (member, incarnation) suspected / declared dead while up, not slow, no partition involved. */
  readonly falseSuspicions: number
  readonly falseDeaths: number
  /** The same for slow members, and for accusations while a partition was or had been in place. */
  readonly slowSuspicions: number
  readonly slowDeaths: number
  readonly partitionDeaths: number
  /** Up-node-seconds in the window: the denominator of per-node rates; the slow nodes' share (they never crash). */
  readonly nodeSeconds: number
  readonly slowNodeSeconds: number
  readonly traffic: Traffic
  readonly meanHealth: { readonly healthy: number, readonly slow: number }
  readonly events: number
  readonly wallMs: number
}

interface SimNode {
  readonly index: number
  readonly id: string
  readonly meta: Uint8Array
  readonly rng: Rng
  core: SwimCore | null
  /** Slow now (until faults stop). */
  slow: boolean
  /** Slow during the faulty part of the run. */
  slowAtStart: boolean
  side: number
  /** Highest incarnation the node announced (what its driver would persist). */
  incarnation: number
  /** Incarnation this life started at: accusations below it are about an earlier life. */
  lifeIncarnation: number
  wake: number
  tickEvent: Ev
}

type Ev =
  | { readonly k: 'tick', readonly node: number }
  | { readonly k: 'deliver', readonly from: number, readonly to: number, readonly msg: SwimMessage }
  | { readonly k: 'crash' }
  | { readonly k: 'join' }
  | { readonly k: 'restart', readonly node: number }
  | { readonly k: 'partition' }
  | { readonly k: 'heal' }

const BASE36 = '0123456789abcdefghijklmnopqrstuvwxyz'

class World {
  private readonly rng: Rng
  private readonly net: NetworkModel
  private readonly heap = new EventHeap<Ev>()
  private readonly nodes: SimNode[] = []
  private readonly byId = new Map<string, SimNode>()
  private readonly directory = new MemberDirectory()
  private readonly windowStart: number
  private readonly windowEnd: number
  /** No crash, restart or join after this: each has time to spread before the window ends. */
  private readonly lastFaultAt: number
  private now = 0
  private faulty = true
  private partitioned = false
  private partitionSeen = false
  private upCount = 0
  private upSince = 0
  private readonly crashTracks = new Map<number, CrashTrack>()
  private readonly joinTracks = new Map<number, Spread>()
  private readonly seenIncarnation = new Map<number, Map<number, number>>()
  readonly violations: string[] = []
  readonly crashes: CrashTrack[] = []
  readonly joins: Spread[] = []
  readonly falseSuspicions = new Accusations()
  readonly falseDeaths = new Accusations()
  readonly slowSuspicions = new Accusations()
  readonly slowDeaths = new Accusations()
  readonly partitionDeaths = new Accusations()
  readonly traffic = newTraffic()
  nodeSeconds = 0
  events = 0

  constructor (private readonly opts: MembershipSimOptions) {
    this.rng = new Rng(opts.seed)
    this.net = { ...LAN, ...opts.network }
    this.windowStart = opts.warmupMs ?? 5000
    this.windowEnd = this.windowStart + opts.windowMs
    this.lastFaultAt = this.windowEnd - Math.min(10_000, opts.windowMs / 4)
    const members: KnownSwimMember[] = []
    for (let i = 0; i < opts.nodes; i++) {
      const n = this.newNode()
      n.slow = n.slowAtStart = this.rng.chance(opts.slowFraction ?? 0)
      members.push({ node: n.id, incarnation: 1, metaVersion: 1, meta: n.meta })
    }
    for (const n of this.nodes) this.start(n, 1, members, null)
    const crashEvery = opts.crashEveryMs ?? 0
    if (crashEvery > 0) this.heap.push(this.windowStart + this.rng.int(0, crashEvery), { k: 'crash' })
    const joinEvery = opts.joinEveryMs ?? 0
    if (joinEvery > 0) this.heap.push(this.windowStart + this.rng.int(0, joinEvery), { k: 'join' })
    if (opts.partition !== undefined) this.heap.push(this.windowStart + opts.partition.atMs, { k: 'partition' })
  }

  private get checks (): boolean { return this.opts.checks ?? this.opts.nodes <= 1000 }

  private newNode (): SimNode {
    const index = this.nodes.length
    let id = ''
    for (let i = 0; i < 25; i++) id += BASE36[this.rng.int(0, 35)]
    const meta = new Uint8Array(this.opts.metaBytes ?? 256)
    for (let i = 0; i < meta.length; i++) meta[i] = (index + i) & 0xff
    const n: SimNode = {
      index, id, meta, rng: this.rng.fork(), core: null, slow: false, slowAtStart: false, side: 0, incarnation: 0, lifeIncarnation: 0, wake: Infinity, tickEvent: { k: 'tick', node: index }
    }
    this.nodes.push(n)
    this.byId.set(id, n)
    return n
  }

  private start (n: SimNode, incarnation: number, members: readonly KnownSwimMember[], seed: SimNode | null): void {
    this.countUp(+1)
    n.core = new SwimCore({
      self: n.id, incarnation, meta: n.meta, nowMs: this.now, random: () => n.rng.next(), config: this.opts.config, members, directory: this.directory, sizeOf: gossipBytes
    })
    n.incarnation = n.lifeIncarnation = incarnation
    n.wake = Infinity
    n.tickEvent = { k: 'tick', node: n.index }
    if (seed !== null) {
      n.core.join([seed.id], this.now)
      const required = this.nodes.filter(m => m !== n && m.core !== null).map(m => m.index)
      const track = new Spread(n.index, this.now, required, incarnation)
      this.joinTracks.set(n.index, track)
      if (this.inWindow()) this.joins.push(track)
    }
    this.drive(n)
  }

  private inWindow (): boolean {
    return this.now >= this.windowStart && this.now < this.windowEnd
  }

  private countUp (delta: number): void {
    const from = Math.max(this.upSince, this.windowStart)
    const to = Math.min(this.now, this.windowEnd)
    if (to > from) this.nodeSeconds += this.upCount * (to - from) / 1000
    this.upSince = this.now
    this.upCount += delta
  }

  run (): void {
    const settle = this.opts.settleMs ?? 0
    const end = this.windowEnd + settle
    for (;;) {
      const ev = this.heap.pop()
      if (ev === undefined) break
      this.now = this.heap.lastTime
      if (this.now >= end) break
      if (this.faulty && this.now >= this.windowEnd) this.stopFaults()
      this.events++
      this.handle(ev)
    }
    this.now = end
    this.countUp(0)
    if (settle > 0) this.checkConverged()
  }

  private handle (ev: Ev): void {
    switch (ev.k) {
      case 'tick': {
        const n = this.nodes[ev.node]!
        if (n.core === null || ev !== n.tickEvent || this.heap.lastTime !== n.wake) return
        n.wake = Infinity
        n.core.tick(this.now)
        this.drive(n)
        return
      }
      case 'deliver': {
        const n = this.nodes[ev.to]!
        if (n.core === null || this.cut(ev.from, ev.to)) return
        n.core.receive(this.nodes[ev.from]!.id, ev.msg, this.now)
        this.drive(n)
        return
      }
      case 'crash': this.crash(); return
      case 'join': this.joinFresh(); return
      case 'restart': {
        const n = this.nodes[ev.node]!
        const seed = this.pickUp(m => m !== n)
        if (n.core === null && seed !== null && this.now <= this.lastFaultAt) this.start(n, n.incarnation + 1, [], seed)
        return
      }
      case 'partition': {
        const p = this.opts.partition
        if (p === undefined || !this.faulty) return
        for (const n of this.nodes) n.side = this.rng.chance(p.fraction) ? 1 : 0
        this.partitioned = this.partitionSeen = true
        this.heap.push(this.now + p.durationMs, { k: 'heal' })
        return
      }
      case 'heal':
        this.partitioned = false
    }
  }

  private cut (a: number, b: number): boolean {
    return this.partitioned && this.nodes[a]!.side !== this.nodes[b]!.side
  }

  /** Apply a core's output (the driver's job): note the incarnation, send, observe events, re-arm the timer. */
  private drive (n: SimNode): void {
    const core = n.core
    if (core === null) return
    const out = core.drain()
    n.incarnation = out.incarnation
    for (const m of out.messages) this.send(n, m.to, m.message)
    for (const e of out.events) this.observe(n, e)
    const d = core.nextDeadlineMs()
    if (d === Infinity) return
    let t = Math.max(d, this.now)
    if (n.slow) t += this.rng.next() * (this.opts.slowLagMs ?? 0)
    if (t < n.wake) {
      n.wake = t
      this.heap.push(t, n.tickEvent)
    }
  }

  private send (from: SimNode, to: string, msg: SwimMessage): void {
    if (this.inWindow()) addTraffic(this.traffic, msg.t, messageBytes(msg))
    const dest = this.byId.get(to)
    if (dest === undefined || this.cut(from.index, dest.index)) return
    const rng = this.rng
    const net = this.net
    if (rng.next() < net.lossRate) return
    let delay = net.minDelayMs - Math.log(1 - rng.next()) * net.meanDelayMs
    if (rng.next() < net.tailRate) delay += rng.next() * net.tailMs
    if (dest.slow) delay += rng.next() * (this.opts.slowLagMs ?? 0)
    this.heap.push(this.now + delay, { k: 'deliver', from: from.index, to: dest.index, msg })
  }

  private observe (n: SimNode, e: SwimEvent): void {
    const target = this.byId.get(e.node)
    if (target === undefined) {
      this.violate(`${n.id} reports unknown node ${e.node}`)
      return
    }
    if (target === n) this.violate(`${n.id} reports a change of itself: ${e.kind}`)
    if (this.checks) this.checkIncarnation(n, target, e)
    const up = target.core !== null && e.incarnation >= target.lifeIncarnation
    switch (e.kind) {
      case 'suspect': {
        const crash = this.crashTracks.get(target.index)
        if (crash !== undefined && crash.suspectMs === null) crash.suspectMs = this.now - crash.atMs
        if (!up || !this.inWindow()) return
        if (target.slowAtStart) this.slowSuspicions.add(target.index, e.incarnation)
        else if (!this.partitionSeen) this.falseSuspicions.add(target.index, e.incarnation)
        return
      }
      case 'dead': {
        const crash = this.crashTracks.get(target.index)
        if (crash !== undefined && target.core === null && crash.mark(n.index, this.now)) this.crashDetected(crash)
        if (!up || !this.inWindow()) return
        if (target.slowAtStart) this.slowDeaths.add(target.index, e.incarnation)
        else if (this.partitionSeen) this.partitionDeaths.add(target.index, e.incarnation)
        else this.falseDeaths.add(target.index, e.incarnation)
        return
      }
      case 'alive': {
        const join = this.joinTracks.get(target.index)
        if (join !== undefined && e.incarnation >= join.incarnation && join.mark(n.index, this.now)) this.joinTracks.delete(target.index)
        return
      }
      case 'left':
      case 'meta':
    }
  }

  private checkIncarnation (n: SimNode, target: SimNode, e: SwimEvent): void {
    let seen = this.seenIncarnation.get(n.index)
    if (seen === undefined) this.seenIncarnation.set(n.index, seen = new Map())
    const last = seen.get(target.index) ?? 0
    if (e.incarnation < last) this.violate(`${n.id} saw ${target.id} go back from incarnation ${last} to ${e.incarnation} (${e.kind})`)
    seen.set(target.index, e.incarnation)
    if (e.incarnation > target.incarnation) this.violate(`${n.id} reports ${target.id} at incarnation ${e.incarnation}, above any it announced (${target.incarnation})`)
  }

  private violate (what: string): void {
    if (this.violations.length < 20) this.violations.push(`t=${this.now.toFixed(1)} ${what}`)
  }

  private pickUp (accept: (n: SimNode) => boolean): SimNode | null {
    const up = this.nodes.filter(n => n.core !== null && accept(n))
    return up.length === 0 ? null : this.rng.pick(up)
  }

  private crash (): void {
    if (this.now > this.lastFaultAt) return
    this.heap.push(this.now + (this.opts.crashEveryMs ?? 0), { k: 'crash' })
    const victim = this.pickUp(n => !n.slow && !this.joinTracks.has(n.index) && !this.crashTracks.has(n.index))
    if (victim === null) return
    victim.core = null
    victim.wake = Infinity
    this.countUp(-1)
    for (const t of this.crashTracks.values()) if (t.mark(victim.index, this.now)) this.crashDetected(t)
    for (const [k, t] of this.joinTracks) if (t.mark(victim.index, this.now)) this.joinTracks.delete(k)
    const required = this.nodes.filter(n => {
      const s = n.core?.stateOf(victim.id)
      return s === 'alive' || s === 'suspect'
    }).map(n => n.index)
    const track = new CrashTrack(victim.index, this.now, required, victim.incarnation)
    this.crashTracks.set(victim.index, track)
    this.crashes.push(track)
  }

  private crashDetected (t: CrashTrack): void {
    this.crashTracks.delete(t.node)
    this.heap.push(this.now + (this.opts.restartAfterMs ?? 5000), { k: 'restart', node: t.node })
  }

  private joinFresh (): void {
    if (this.now > this.lastFaultAt) return
    this.heap.push(this.now + (this.opts.joinEveryMs ?? 0), { k: 'join' })
    const seed = this.pickUp(() => true)
    if (seed === null) return
    const n = this.newNode()
    this.start(n, 1, [], seed)
  }

  private stopFaults (): void {
    this.faulty = false
    this.partitioned = false
    for (const n of this.nodes) n.slow = false
  }

  /** After settling: every live node sees every live node alive, and no crashed node alive. */
  private checkConverged (): void {
    const up = this.nodes.filter(n => n.core !== null)
    let bad = 0
    for (const a of up) {
      for (const b of this.nodes) {
        const s = a.core?.stateOf(b.id)
        const want = b.core !== null ? s === 'alive' : s !== 'alive' && s !== 'suspect'
        if (want || a === b) continue
        if (bad++ < 5) this.violate(`not converged: ${a.id} sees ${b.id} (${b.core === null ? 'crashed' : 'up'}) as ${s ?? 'unknown'}`)
      }
    }
    if (bad > 5) this.violate(`not converged: ${bad} views in all`)
  }

  slowCount (): number {
    return this.nodes.filter(n => n.slowAtStart).length
  }

  /** Mean Lifeguard health score of the live nodes that were slow (or not). */
  meanHealth (slow: boolean): number {
    const xs = this.nodes.filter(n => n.core !== null && n.slowAtStart === slow).map(n => n.core?.healthScore ?? 0)
    return xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length
  }
}

/**
 * One seeded run: `nodes` cores that start knowing each other, a network with loss and delay, crashes
 * (each restarting once every member saw it dead), fresh joins, slow nodes and a partition as
 * configured; measured over the window. Never throws: broken invariants come back in `violations`.
 */
export function simulateMembership (opts: MembershipSimOptions): MembershipSimResult {
  const started = performance.now()
  const w = new World(opts)
  w.run()
  return {
    seed: opts.seed,
    nodes: opts.nodes,
    windowMs: opts.windowMs,
    violations: w.violations,
    crashes: w.crashes,
    joins: w.joins,
    falseSuspicions: w.falseSuspicions.count,
    falseDeaths: w.falseDeaths.count,
    slowSuspicions: w.slowSuspicions.count,
    slowDeaths: w.slowDeaths.count,
    partitionDeaths: w.partitionDeaths.count,
    nodeSeconds: w.nodeSeconds,
    slowNodeSeconds: w.slowCount() * opts.windowMs / 1000,
    traffic: w.traffic,
    meanHealth: { healthy: w.meanHealth(false), slow: w.meanHealth(true) },
    events: w.events,
    wallMs: performance.now() - started
  }
}
