import { encode } from '../codec.js'
import { Awareness } from './awareness.js'
import { AntiEntropy } from './anti-entropy.js'
import { resolveSwimConfig, retransmitLimit, type SwimConfig } from './config.js'
import { ALIVE, DEAD, LEFT, MemberDirectory, SUSPECT, UNKNOWN, type SlotState } from './member-list.js'
import { Prober, type PiggybackMessage, type ProbeOutbox } from './probe.js'
import { SwimState } from './swim-state.js'
import type {
  Gossip, KnownSwimMember, MemberState, Outgoing, SwimEvent, SwimMember, SwimMessage, SwimOutput, SwimStats
} from './types.js'

/** What the driver passes to start a core. */
export interface SwimInit {
  /** This node's ID. */
  readonly self: string
  /**
   * This node's starting incarnation. A restarted node must start above every incarnation it announced
   * before (the driver persists `SwimOutput.incarnation`, or bumps a persisted start counter).
   */
  readonly incarnation: number
  /** This node's opaque metadata (e.g. its encoded node description and role); its version is `incarnation`. */
  readonly meta: Uint8Array
  /** The driver's clock at start, ms; every later input carries its own `nowMs`. */
  readonly nowMs: number
  /** Uniform in [0, 1): the core's only source of randomness (a seeded generator in tests and simulation). */
  readonly random: () => number
  readonly config?: Partial<SwimConfig>
  /** Members known at start (data dir, join grant), taken as alive without any gossip. */
  readonly members?: readonly KnownSwimMember[]
  /** Shared ID interning for many cores in one process (the simulation); by default the core's own. */
  readonly directory?: MemberDirectory
  /** Encoded size of one gossip item in bytes, for the piggyback budget; by default its msgpack size. */
  readonly sizeOf?: (g: Gossip) => number
}

const EMPTY_MESSAGES: readonly Outgoing[] = Object.freeze([])
const EMPTY_EVENTS: readonly SwimEvent[] = Object.freeze([])
const EMPTY_NEWS: readonly Gossip[] = Object.freeze([])
const STATE_NAME: Record<Exclude<SlotState, typeof UNKNOWN>, MemberState> = { [ALIVE]: 'alive', [SUSPECT]: 'suspect', [DEAD]: 'dead', [LEFT]: 'left' }

/**
 * SWIM membership with Lifeguard (Das, Gupta, Motivala 2002; Dadgar, Phillips, Currey 2018), in the
 * shape of hashicorp/memberlist, as a pure core: no clock, no timers, no I/O, no randomness but the
 * injected `random`. The driver calls
 *   - `tick(nowMs)` at `nextDeadlineMs()` (or more often): probes, timeouts, gossip, anti-entropy;
 *   - `receive(from, message, nowMs)` for each message from an authenticated member;
 *   - `unreachable(to, nowMs)` when a send failed outright (dial refused): a probe goes indirect at once;
 *   - `join(seeds)`, `leave()`, `setMeta(meta)`, `adjustHealth(delta)`, `forget(node)`;
 * and after each call applies `drain()`: persist the incarnation, send the messages, deliver the events.
 * Probing is probe.ts, the member table and its precedence rules swim-state.ts; see README.md.
 */
export class SwimCore {
  readonly config: SwimConfig
  readonly stats: SwimStats = {
    probes: 0, failedProbes: 0, indirectProbes: 0, refutations: 0, suspicionsRaised: 0, deathsDeclared: 0, pushPulls: 0, gossipMessages: 0, dropped: 0
  }

  private readonly self: string
  private readonly state: SwimState
  private readonly directory: MemberDirectory
  private readonly random: () => number
  private readonly awareness: Awareness
  private readonly prober: Prober
  private nextGossipAtMs: number
  private readonly antiEntropy: AntiEntropy
  private messages: Outgoing[] = []

  constructor (init: SwimInit) {
    this.config = resolveSwimConfig(init.config)
    this.self = init.self
    this.random = init.random
    this.directory = init.directory ?? new MemberDirectory()
    this.awareness = new Awareness(this.config.awarenessMax)
    this.state = new SwimState({
      config: this.config,
      self: init.self,
      incarnation: init.incarnation,
      meta: init.meta,
      nowMs: init.nowMs,
      random: init.random,
      directory: this.directory,
      awareness: this.awareness,
      stats: this.stats,
      sizeOf: init.sizeOf ?? ((g: Gossip) => encode(g).byteLength),
      members: init.members ?? []
    })
    const now = init.nowMs
    const outbox: ProbeOutbox = {
      send: (to, message) => { this.send(to, message) },
      sendWithGossip: (to, message) => { this.sendWithGossip(to, message) },
      takeGossip: () => this.takeGossip()
    }
    // A random stagger, so that nodes started together do not probe, gossip and push-pull in lockstep.
    this.prober = new Prober({
      self: init.self, config: this.config, state: this.state, directory: this.directory, awareness: this.awareness, random: this.random, stats: this.stats, out: outbox
    }, now + Math.floor(this.random() * this.config.probeIntervalMs))
    this.nextGossipAtMs = now + Math.floor(this.random() * this.config.gossipIntervalMs)
    this.antiEntropy = new AntiEntropy({
      config: this.config, state: this.state, directory: this.directory, random: this.random, stats: this.stats, send: (to, message) => { this.send(to, message) }
    }, now)
  }

  private get now (): number { return this.state.now }

  // ─── inputs ───────────────────────────────────────────────────────────────────────────────────

  /** Advance to `nowMs`: fire due suspicion timers, probe steps, gossip, push-pull, join and metadata requests. */
  tick (nowMs: number): void {
    this.advance(nowMs)
    const now = this.now
    // A death this node declares also goes straight to the member, as its suspicions do: one that is in
    // fact alive, and whose refutation this node missed, answers at once (see answerAccuser).
    for (const d of this.state.expireSuspicions()) {
      if (this.config.notifySuspect) this.send(d.node, { t: 'gossip', g: [{ k: 'dead', node: d.node, inc: d.inc, from: this.self }] })
    }
    this.prober.tick()
    if (this.state.queue.size > 0 && now >= this.nextGossipAtMs) {
      this.gossip()
      this.nextGossipAtMs = now + this.config.gossipIntervalMs
    }
    this.antiEntropy.tick()
    this.requestMeta()
  }

  /**
   * The earliest time at which `tick` has something to do (Infinity: nothing until the next input).
   * May be `now` or earlier when work is already due.
   */
  nextDeadlineMs (): number {
    let t = this.prober.nextDeadlineMs()
    if (this.state.queue.size > 0) t = Math.min(t, Math.max(this.nextGossipAtMs, this.now))
    t = Math.min(t, this.antiEntropy.nextDeadlineMs())
    for (const s of this.state.suspicions.values()) t = Math.min(t, this.state.expiresAtMs(s))
    for (const at of this.state.metaWanted.values()) t = Math.min(t, at)
    return t
  }

  /**
   * A message from member `from`: authenticated by the transport, decoded and checked by
   * `decodeSwimMessage`. Its piggybacked gossip is applied first, then the message itself.
   */
  receive (from: string, msg: SwimMessage, nowMs: number): void {
    this.advance(nowMs)
    if (from === this.self) {
      this.stats.dropped++
      return
    }
    // (A push-pull brings the stranger's table by itself.)
    if (msg.t !== 'push-pull' && !this.state.leaving && this.state.known(from) < 0) this.antiEntropy.stranger(from)
    if ('g' in msg && msg.g !== undefined) {
      let accused = false
      for (const g of msg.g) {
        if (g.k !== 'alive' && g.node === this.self && g.from === from) accused = true
        this.state.apply(g)
      }
      if (accused) this.answerAccuser(from)
    }
    if (msg.t === 'ping' || msg.t === 'ping-req') this.tellTheDead(from)
    switch (msg.t) {
      case 'ping':
        if (msg.target !== this.self) {
          this.stats.dropped++
          return
        }
        this.sendWithGossip(from, { t: 'ack', seq: msg.seq })
        return
      case 'ack': this.prober.onAck(msg.seq); return
      case 'nack': this.prober.onNack(msg.seq); return
      case 'ping-req': this.prober.onPingReq(from, msg.seq, msg.target, msg.nack); return
      case 'gossip': return
      case 'push-pull': this.antiEntropy.onPushPull(from, msg.join, msg.reply, msg.states); return
      case 'meta-req': this.send(from, { t: 'meta', mv: this.state.mv, meta: this.state.meta, inc: this.state.inc }); return
      case 'meta':
        // The owner's answer is also its alive at its incarnation: a member known only from the data dir
        // (incarnation 0) takes its real one, which this node can then pass on with its proof. Then the
        // metadata itself, which may be newer than what this node knew of even when the alive is not.
        if (msg.inc !== undefined) this.state.alive(from, msg.inc, msg.mv, undefined, true)
        this.state.metaFrom(from, msg.mv, msg.meta)
    }
  }

  /**
   * The driver could not send to `to` at all (no connection could be opened). The current probe of `to`
   * goes indirect at once; a helper that cannot be reached is not expected to nack.
   */
  unreachable (to: string, nowMs: number): void {
    this.advance(nowMs)
    this.prober.unreachable(to)
  }

  /**
   * Announce this node (its alive with metadata: a fresh incarnation's or a first one) and push-pull the
   * full table with each of `seeds` (members from a join grant or the data dir); their answers bring
   * every member's state and metadata. Until one answers, the push-pull is repeated every joinRetryMs.
   */
  join (seeds: readonly string[], nowMs: number): void {
    this.advance(nowMs)
    this.state.broadcast(this.self, this.state.selfAlive(true))
    this.antiEntropy.join(seeds.filter(s => s !== this.self))
  }

  /**
   * Leave gracefully: stop probing and gossip a dead about this node from itself, which others record as
   * `left`. The driver keeps ticking until `leaveComplete` (or its own timeout), then stops.
   */
  leave (nowMs: number): void {
    this.advance(nowMs)
    if (this.state.leaving) return
    this.prober.stop()
    this.state.leave()
  }

  /** New metadata for this node: a new incarnation (which is its new metadata version), gossiped with the metadata. */
  setMeta (meta: Uint8Array, nowMs: number): void {
    this.advance(nowMs)
    this.state.setMeta(meta)
  }

  /**
   * A local health signal from the driver (Lifeguard LHM): +1 for each sign that this node is slow
   * (e.g. an event-loop stall longer than the probe timeout), -1 when it is healthy again.
   */
  adjustHealth (delta: number): void {
    this.awareness.apply(delta)
  }

  /** Drop `node` from the table (e.g. removed from the cluster); gossip may bring it back with a newer incarnation. */
  forget (node: string): void {
    const slot = this.directory.find(node)
    if (slot === undefined || slot === this.state.selfSlot || slot >= this.state.list.capacity) return
    this.state.forget(slot)
    this.prober.stop(slot)
  }

  /** Everything produced since the last drain, in order; the core keeps no reference to it. */
  drain (): SwimOutput {
    const st = this.state
    const out: SwimOutput = {
      messages: this.messages.length === 0 ? EMPTY_MESSAGES : this.messages,
      events: st.events.length === 0 ? EMPTY_EVENTS : st.events,
      news: st.news.length === 0 ? EMPTY_NEWS : st.news,
      incarnation: st.inc
    }
    if (this.messages.length > 0) this.messages = []
    if (st.events.length > 0) st.events = []
    if (st.news.length > 0) st.news = []
    return out
  }

  // ─── views ────────────────────────────────────────────────────────────────────────────────────

  get id (): string { return this.self }
  get incarnation (): number { return this.state.inc }
  get metaVersion (): number { return this.state.mv }
  /** Lifeguard's health score: 0 healthy, up to awarenessMax - 1. */
  get healthScore (): number { return this.awareness.score }
  /** Broadcasts waiting to be gossiped. */
  get pendingBroadcasts (): number { return this.state.queue.size }
  /** Members alive or suspect, this node included (the N that timeouts scale with). */
  get liveMembers (): number { return this.state.list.liveCount }
  /** True while a join waits for its first answer. */
  get joining (): boolean { return this.antiEntropy.joining }
  /** True once the leave was gossiped its full retransmit budget, or nobody is left to tell. */
  get leaveComplete (): boolean {
    return this.state.leaving && (!this.state.queue.has(this.self) || this.state.list.liveCount === 0)
  }

  /** How this node sees `node` (itself included); undefined when unknown. */
  member (node: string): SwimMember | undefined {
    const slot = this.state.known(node)
    return slot < 0 ? undefined : this.view(slot)
  }

  /** The state of `node` as this node sees it, without building a view; undefined when unknown. */
  stateOf (node: string): MemberState | undefined {
    const slot = this.state.known(node)
    return slot < 0 ? undefined : STATE_NAME[this.state.list.state[slot] as Exclude<SlotState, typeof UNKNOWN>]
  }

  /** Every member this node knows, itself included, in slot order. */
  members (): SwimMember[] {
    const out: SwimMember[] = []
    for (let slot = 0; slot < this.state.list.capacity; slot++) {
      const m = this.view(slot)
      if (m !== undefined) out.push(m)
    }
    return out
  }

  /** This node's round-robin probe order for the rest of the round (tests). */
  probeOrder (): string[] {
    return this.state.list.pendingOrder().map(s => this.directory.idOf(s))
  }

  private view (slot: number): SwimMember | undefined {
    const l = this.state.list
    const s = l.state[slot] as SlotState
    if (s === UNKNOWN) return undefined
    return {
      node: this.directory.idOf(slot),
      state: STATE_NAME[s],
      incarnation: l.incarnation[slot]!,
      metaVersion: l.metaVersion[slot]!,
      meta: this.state.currentMeta(slot),
      changedAtMs: l.changedAtMs[slot]!
    }
  }

  // ─── dissemination (SWIM §4.1; memberlist's gossip); anti-entropy is anti-entropy.ts ──────────

  private takeGossip (): Gossip[] {
    if (this.state.queue.size === 0) return []
    return this.state.queue.take(this.config.maxPiggybackBytes, retransmitLimit(this.config.retransmitMult, this.state.list.liveCount))
  }

  private send (to: string, message: SwimMessage): void {
    this.messages.push({ to, message })
  }

  /** Send `message` with whatever gossip fits piggybacked. */
  private sendWithGossip (to: string, message: PiggybackMessage): void {
    const g = this.takeGossip()
    this.send(to, g.length > 0 ? { ...message, g } : message)
  }

  /** Gossip-only messages to a few random members, recently dead ones included so that they can refute. */
  private gossip (): void {
    const l = this.state.list
    const now = this.now
    const toTheDead = this.config.gossipToTheDeadMs
    const targets = l.randomMembers(this.config.gossipNodes, this.random, s => {
      if (s === this.state.selfSlot) return false
      const st = l.state[s]
      return st === ALIVE || st === SUSPECT || (st === DEAD && now - l.changedAtMs[s]! <= toTheDead)
    })
    for (const t of targets) {
      const g = this.takeGossip()
      if (g.length === 0) return
      this.stats.gossipMessages++
      this.send(this.directory.idOf(t), { t: 'gossip', g })
    }
  }

  /**
   * A member we hold dead is probing: tell it, so that it refutes (and its refutation reaches us on its
   * next message). Without this, after a partition that outlasted gossipToTheDeadMs each side would learn
   * of the other only one push-pull at a time. Only pings and ping-reqs call for it, never the notice
   * itself, so that two members that hold each other dead cannot bounce notices.
   */
  private tellTheDead (from: string): void {
    const slot = this.state.known(from)
    if (slot < 0 || this.state.list.state[slot] !== DEAD) return
    this.send(from, { t: 'gossip', g: [{ k: 'dead', node: from, inc: this.state.list.incarnation[slot]!, from: this.self }] })
  }

  /**
   * `from` itself suspects this node or holds it dead (its own claim: the buddy system's suspicion on a
   * ping or straight to us, or "tell the dead"): answer it directly with this node's current alive —
   * the refutation just made, or the one that already answered an older accusation, which the accuser
   * evidently missed. Without it, a member that declared this node dead at an incarnation since refuted
   * would hold it dead until the next push-pull: an old accusation calls for no new refutation, and the
   * refutation's gossip may have run out before reaching it.
   */
  private answerAccuser (from: string): void {
    if (this.state.leaving) return
    this.send(from, { t: 'gossip', g: [this.state.selfAlive(false)] })
  }

  /** Ask the owners of metadata we know is newer than ours, again every metaRetryMs while it does not come. */
  private requestMeta (): void {
    const l = this.state.list
    for (const [slot, at] of this.state.metaWanted) {
      if (at > this.now) continue
      const s = l.state[slot]
      // (A member known at start holds no metadata at all: version 0 of 0 is still wanted.)
      if ((s !== ALIVE && s !== SUSPECT) || (l.metaHave[slot]! >= l.metaVersion[slot]! && l.meta[slot] !== undefined)) {
        this.state.metaWanted.delete(slot)
        continue
      }
      this.send(this.directory.idOf(slot), { t: 'meta-req' })
      this.state.metaWanted.set(slot, this.now + this.config.metaRetryMs)
    }
  }

  private advance (nowMs: number): void {
    if (nowMs > this.state.now) this.state.now = nowMs
  }
}
