import type { Logger } from './logger.js'
import type { NodeView } from './node-view.js'
import { openView, type ClaimSigner, type ClaimTrust, type SignedView } from './swim-claims.js'
import { admit, type IngressChannel, type IngressContext } from './swim-ingress.js'
import {
  STATE_CODE, SwimCore, checkSwimMessage, type Gossip, type StateEntry, type SwimConfig, type SwimEvent, type SwimMessage, type SwimOutput
} from './swim/index.js'

/** How SWIM's messages leave this node: streams to one member, and the broadcast topic to all. */
export interface SwimTransport {
  send (to: string, msg: SwimMessage): void
  /** Publish this node's news to every member (swim-broadcast.ts). */
  publish (g: readonly Gossip[]): Promise<void>
}

export interface SwimDriverDeps {
  readonly self: string
  /** The incarnation to start at: above every one announced before (see `reserve`). */
  readonly incarnation: number
  /** The incarnation already reserved (durable) at start: at least `incarnation`. */
  readonly reserved: number
  readonly signer: ClaimSigner
  /** This node's certificate, sealed into its view. */
  readonly certificate: () => Uint8Array
  readonly view: NodeView
  /**
   * Members known at start (the data dir, a join grant): the core takes them as alive at incarnation 0,
   * gets each one's view (from the join's answer, or asks the member) and probes it, so SWIM itself finds
   * which are gone. The join's push-pull goes
   * to up to three of them (others when none answers).
   */
  readonly members: readonly string[]
  readonly trust: () => ClaimTrust
  readonly transport: SwimTransport
  /** The peer ID of a member whose key this node holds without a view in hand (the member table). */
  readonly peerOf: (node: string) => string | undefined
  /**
   * Make `ceiling` durable as the highest incarnation this node may announce, so that a restart starts
   * above it. Nothing announcing an incarnation above the last ceiling made durable is sent before.
   */
  readonly reserve: (ceiling: number) => Promise<void>
  /** SWIM's events, in order, as soon as the core produced them. */
  readonly onEvents: (events: readonly SwimEvent[]) => void
  /** Called once per message, or part of one, refused (swim-ingress.ts). */
  readonly rejected: (from: string, reason: string) => void
  readonly config: Partial<SwimConfig>
  /** Monotonic milliseconds. */
  readonly clock: () => number
  readonly random: () => number
  readonly log: Logger
}

/** Seeds asked at once to answer a join's push-pull; others are tried when none answers. */
const JOIN_SEEDS = 3
const JOIN_RESEED_MS = 3000
/**
 * Incarnations are reserved this many at a time, ahead of use: a refutation or a new view then costs no
 * disk write, and nothing waits on one (a node held up by an fsync sends no acks, and is suspected in
 * turn). A restart skips what was left of the block: incarnations only need to grow.
 */
export const INCARNATION_BLOCK = 32
/** A pending timer earlier than the next deadline by more than this is moved rather than left to fire. */
const RESCHEDULE_SLACK_MS = 5

/**
 * The SWIM core's driver: it owns the core's timer and applies its effects in order — the incarnation
 * durable (reserved ahead, see INCARNATION_BLOCK), then send, then deliver events (events go at once:
 * they announce nothing of this node).
 *
 * Every message from the network passes swim-ingress.ts first; every alive claim leaving this node carries
 * its proof (this node's signature, or the proof it checked when the claim came in).
 *
 * News goes to the broadcast topic, but for the deaths this node declares: every member that holds the
 * suspicion (the suspicion itself was broadcast) declares the death on its own timer, so broadcasting
 * each declaration would cost N² messages per death, at the moment a failure or a burst loads the
 * cluster most; SWIM's gossip carries them to members that missed the suspicion.
 *
 * Local health (Lifeguard LHM): a timer that fires later than the probe timeout means this process was
 * starved (a stall, a busy host, a paused VM); the core's health score goes up, and the tick waits for
 * the I/O that piled up meanwhile (setImmediate runs after the poll phase), so that acks already received
 * are read before a probe is failed for want of them.
 */
export class SwimDriver {
  readonly core: SwimCore
  /** Timer firings late by more than the probe timeout. */
  stalls = 0
  private readonly ingress: IngressContext
  private readonly proofs = new Map<string, { inc: number, mv: number, proof: Uint8Array }>()
  private readonly views = new WeakMap<Uint8Array, SignedView>()
  private timer: NodeJS.Timeout | null = null
  private timerAtMs = Infinity
  /** The highest incarnation durably reserved. */
  private reserved: number
  /** Output waiting for a reservation to become durable, in order. */
  private held: SwimOutput[] = []
  private reserving = false
  private joinCandidates: readonly string[] = []
  private joinAtMs = 0
  private stopped = false
  private readonly stallMs: number

  constructor (private readonly deps: SwimDriverDeps) {
    const now = deps.clock()
    this.reserved = Math.max(deps.reserved, deps.incarnation)
    this.core = new SwimCore({
      self: deps.self,
      incarnation: deps.incarnation,
      meta: deps.signer.sealView(deps.incarnation, deps.certificate(), deps.view),
      nowMs: now,
      random: deps.random,
      config: deps.config,
      // Without metadata: the core asks each for its view (it is not on disk) unless the join's answer
      // brought it; the answer does, since the join's request says this node holds version 0 of each.
      members: deps.members.filter(m => m !== deps.self).map(node => ({ node, incarnation: 0 }))
    })
    this.stallMs = this.core.config.probeTimeoutMs
    this.ingress = {
      self: deps.self,
      get trust () { return deps.trust() },
      incarnationOf: node => this.core.member(node)?.incarnation,
      peerOf: deps.peerOf,
      proved: (node, inc, mv, proof) => {
        const p = this.proofs.get(node)
        if (p === undefined || inc > p.inc || (inc === p.inc && mv >= p.mv)) this.proofs.set(node, { inc, mv, proof })
      },
      viewed: (meta, view) => { this.views.set(meta, view) }
    }
  }

  /** Announce this node and push-pull with up to three of the members it knows until one answers. */
  start (): void {
    this.joinCandidates = this.deps.members.filter(c => c !== this.deps.self)
    this.join()
  }

  private join (): void {
    const pool = [...this.joinCandidates]
    const seeds: string[] = []
    while (seeds.length < JOIN_SEEDS && pool.length > 0) seeds.push(pool.splice(Math.floor(this.deps.random() * pool.length), 1)[0]!)
    this.joinAtMs = this.deps.clock()
    this.core.join(seeds, this.joinAtMs)
    this.flush()
  }

  /** A frame from member `from` over its stream, or gossip it broadcast: checked, then given to the core. */
  receive (from: string, frame: unknown, channel: IngressChannel): void {
    if (this.stopped) return
    let msg: SwimMessage
    try {
      msg = checkSwimMessage(frame)
    } catch (err) {
      this.deps.rejected(from, (err as Error).message)
      return
    }
    const { message, rejected } = admit(this.ingress, from, msg, channel)
    for (const r of rejected) this.deps.rejected(from, r)
    if (message === null) return
    this.core.receive(from, message, this.deps.clock())
    this.flush()
  }

  /** Nothing could be sent to `to` (no stream opens). */
  unreachable (to: string): void {
    if (this.stopped) return
    this.core.unreachable(to, this.deps.clock())
    this.flush()
  }

  /** This node's view changed: a new incarnation carries it (the view is sealed at that version). */
  setView (view: NodeView): void {
    if (this.stopped) return
    const mv = this.core.incarnation + 1
    this.core.setMeta(this.deps.signer.sealView(mv, this.deps.certificate(), view), this.deps.clock())
    this.flush()
  }

  /** A member's view, from metadata the core holds (checked when it came in). */
  viewOf (node: string, meta: Uint8Array, mv: number): SignedView | null {
    const v = this.views.get(meta)
    if (v !== undefined) return v
    try {
      const opened = openView(meta, this.deps.trust(), node, mv)
      this.views.set(meta, opened)
      return opened
    } catch (err) {
      this.deps.log.debug('view of member does not verify', { node, err: (err as Error).message })
      return null
    }
  }

  /** Drop a removed member; its claims are refused from now on (swim-ingress.ts). */
  forget (node: string): void {
    this.core.forget(node)
    this.proofs.delete(node)
  }

  /** Leave gracefully: the leave is broadcast, then gossiped until sent its full count or `timeoutMs`. */
  async leave (timeoutMs: number): Promise<void> {
    if (this.stopped) return
    this.core.leave(this.deps.clock())
    this.flush()
    const deadline = this.deps.clock() + timeoutMs
    while (!this.core.leaveComplete && this.deps.clock() < deadline && !this.stopped) {
      await new Promise(resolve => setTimeout(resolve, Math.min(50, this.core.config.gossipIntervalMs)))
    }
  }

  stop (): void {
    this.stopped = true
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
  }

  // ─── effects ──────────────────────────────────────────────────────────────────────────────────

  /** Take the core's output: events at once; messages and news once their incarnation is reserved. */
  private flush (): void {
    const out = this.core.drain()
    if (out.events.length > 0) this.deps.onEvents(out.events)
    if (out.messages.length > 0 || out.news.length > 0) {
      if (this.held.length > 0 || out.incarnation > this.reserved) this.held.push(out)
      else this.send(out)
    }
    if (this.held.length > 0 || this.core.incarnation + INCARNATION_BLOCK / 2 > this.reserved) this.reserveAhead()
    this.schedule()
  }

  /** Reserve the next block of incarnations; then send what waited for it. */
  private reserveAhead (): void {
    if (this.reserving || this.stopped) return
    this.reserving = true
    const ceiling = this.core.incarnation + INCARNATION_BLOCK
    this.deps.reserve(ceiling).then(() => {
      this.reserved = Math.max(this.reserved, ceiling)
      this.reserving = false
      if (this.stopped) return
      // Held output is in incarnation order (it only grows): send the prefix now covered.
      let n = 0
      while (n < this.held.length && this.held[n]!.incarnation <= this.reserved) n++
      const ready = this.held.slice(0, n)
      this.held = this.held.slice(n)
      for (const o of ready) this.send(o)
      if (this.held.length > 0) this.reserveAhead()
    }, (err: unknown) => {
      // Without a durable reservation a restart could reuse an incarnation: announce nothing above it.
      this.reserving = false
      this.deps.log.error('could not reserve incarnations; not announcing them', { err: (err as Error).message })
    })
  }

  private send (out: SwimOutput): void {
    for (const { to, message } of out.messages) this.deps.transport.send(to, this.withProofs(message))
    const news = out.news.filter(g => g.k !== 'dead' || g.node === this.deps.self)
    if (news.length > 0) void this.deps.transport.publish(news.map(g => this.proveGossip(g)))
  }

  private proveGossip (g: Gossip): Gossip {
    if (g.k !== 'alive' || g.proof !== undefined) return g
    const proof = this.proofOf(g.node, g.inc, g.mv)
    return proof === undefined ? g : { ...g, proof }
  }

  private proofOf (node: string, inc: number, mv: number): Uint8Array | undefined {
    if (node === this.deps.self) return this.deps.signer.proveAlive(inc, mv)
    const p = this.proofs.get(node)
    return p !== undefined && p.inc === inc && p.mv === mv ? p.proof : undefined
  }

  private withProofs (m: SwimMessage): SwimMessage {
    if (m.t === 'meta' && m.inc !== undefined) return { ...m, proof: this.deps.signer.proveAlive(m.inc, m.mv) }
    if (m.t === 'push-pull') {
      const states = m.states.map((e): StateEntry => {
        if (e[2] !== STATE_CODE.alive) return e
        const proof = this.proofOf(e[0], e[1], e[3])
        return proof === undefined ? e : [e[0], e[1], e[2], e[3], e[4] ?? null, proof]
      })
      return { ...m, states }
    }
    if (!('g' in m) || m.g === undefined) return m
    return { ...m, g: m.g.map(g => this.proveGossip(g)) }
  }

  // ─── time ─────────────────────────────────────────────────────────────────────────────────────

  private schedule (): void {
    if (this.stopped) return
    const at = this.core.nextDeadlineMs()
    // Keep a timer that is due at about that time; move one that would wake for nothing (an ack ended the
    // probe before its indirect stage): a wakeup costs more than moving a timer.
    if (this.timer !== null && this.timerAtMs <= at && at - this.timerAtMs < RESCHEDULE_SLACK_MS) return
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
    this.timerAtMs = Infinity
    if (at === Infinity) return
    this.timerAtMs = at
    this.timer = setTimeout(() => { this.fire() }, Math.max(0, at - this.deps.clock()))
    this.timer.unref()
  }

  private fire (): void {
    this.timer = null
    const lateMs = this.deps.clock() - this.timerAtMs
    this.timerAtMs = Infinity
    if (this.stopped) return
    if (lateMs > this.stallMs) {
      this.stalls++
      this.core.adjustHealth(1)
      setImmediate(() => { this.tick() })
    } else {
      this.tick()
    }
  }

  private tick (): void {
    if (this.stopped) return
    const now = this.deps.clock()
    if (this.core.joining && now - this.joinAtMs >= JOIN_RESEED_MS) {
      this.join()
      return
    }
    this.core.tick(now)
    this.flush()
  }
}
