import type { Awareness } from './awareness.js'
import type { SwimConfig } from './config.js'
import { ALIVE, SUSPECT, type MemberDirectory } from './member-list.js'
import type { SwimState } from './swim-state.js'
import type { Gossip, SwimMessage, SwimStats } from './types.js'

/** The messages that carry piggybacked gossip. */
export type PiggybackMessage = Extract<SwimMessage, { t: 'ping' | 'ack' | 'ping-req' | 'nack' }>

/** How the prober sends (the core's outbox): as is, or with whatever gossip fits piggybacked. */
export interface ProbeOutbox {
  send (to: string, message: SwimMessage): void
  sendWithGossip (to: string, message: PiggybackMessage): void
  /** Gossip due for one message (counted as sent). */
  takeGossip (): Gossip[]
}

/** What the prober shares with the core: the table (and its clock), the health score, the outbox. */
export interface ProberDeps {
  readonly self: string
  readonly config: SwimConfig
  readonly state: SwimState
  readonly directory: MemberDirectory
  readonly awareness: Awareness
  readonly random: () => number
  readonly stats: SwimStats
  readonly out: ProbeOutbox
}

interface Probe {
  readonly slot: number
  readonly seq: number
  readonly indirectAtMs: number
  endAtMs: number
  indirect: boolean
  helpers: number[]
  expectedNacks: number
  nacks: number
}

/** An indirect probe this node runs for `origin`. */
interface Relay {
  readonly origin: string
  readonly originSeq: number
  readonly expiresAtMs: number
  readonly nack: boolean
}

/**
 * The failure detector (SWIM §3.1, §4.3; memberlist's probe and probeNode; Lifeguard's LHA-Probe and buddy
 * system): one probe per protocol period, round-robin; at the probe timeout, ping-reqs to k members and
 * a second direct ping; at the period's end without an ack, a suspicion. Both the period and the timeout
 * are stretched by the local health score, which missed nacks raise and acks lower. Also runs the
 * indirect probes others ask of this node.
 */
export class Prober {
  private seq = 0
  private probe: Probe | null = null
  private readonly relays = new Map<number, Relay>()

  constructor (private readonly d: ProberDeps, private nextProbeAtMs: number) {}

  private get now (): number { return this.d.state.now }

  /** Expire relays (nacking), move the current probe on, start the next when due. */
  tick (): void {
    const now = this.now
    for (const [seq, r] of this.relays) {
      if (r.expiresAtMs > now) continue
      this.relays.delete(seq)
      if (r.nack) this.d.out.sendWithGossip(r.origin, { t: 'nack', seq: r.originSeq })
    }
    if (this.probe !== null && !this.probe.indirect && now >= this.probe.indirectAtMs) this.probeIndirect()
    if (this.probe !== null && now >= this.probe.endAtMs) this.probeFailed()
    if (this.probe === null && !this.d.state.leaving && now >= this.nextProbeAtMs) this.startProbe()
  }

  nextDeadlineMs (): number {
    let t = Infinity
    if (this.probe !== null) t = this.probe.indirect ? this.probe.endAtMs : this.probe.indirectAtMs
    else if (!this.d.state.leaving) t = this.nextProbeAtMs
    for (const r of this.relays.values()) t = Math.min(t, r.expiresAtMs)
    return t
  }

  /** No more probes (leaving), or none of a forgotten member. */
  stop (slot?: number): void {
    if (slot === undefined || this.probe?.slot === slot) this.probe = null
  }

  private startProbe (): void {
    const { state, config, directory, awareness } = this.d
    const l = state.list
    const slot = l.nextProbeTarget(this.d.random)
    if (slot < 0) {
      this.nextProbeAtMs = this.now + config.probeIntervalMs
      return
    }
    const seq = ++this.seq
    this.probe = {
      slot,
      seq,
      indirectAtMs: this.now + awareness.scale(config.probeTimeoutMs),
      endAtMs: this.now + awareness.scale(config.probeIntervalMs),
      indirect: false,
      helpers: [],
      expectedNacks: 0,
      nacks: 0
    }
    this.nextProbeAtMs = this.probe.endAtMs
    this.d.stats.probes++
    const target = directory.idOf(slot)
    const g = this.d.out.takeGossip()
    // Lifeguard's buddy system: a suspect hears of its suspicion with every probe, so it can refute.
    if (l.state[slot] === SUSPECT) g.unshift({ k: 'suspect', node: target, inc: l.incarnation[slot]!, from: this.d.self })
    this.d.out.send(target, g.length > 0 ? { t: 'ping', seq, target, g } : { t: 'ping', seq, target })
  }

  private probeIndirect (): void {
    const p = this.probe
    if (p === null) return
    const { state, config, directory } = this.d
    p.indirect = true
    // A timer that fired late must not cut the indirect probes short: they get their full share of the period.
    p.endAtMs = Math.max(p.endAtMs, this.now + (p.endAtMs - p.indirectAtMs))
    this.nextProbeAtMs = p.endAtMs
    const l = state.list
    const ts = l.state[p.slot]
    if (ts !== ALIVE && ts !== SUSPECT) return
    p.helpers = l.randomMembers(config.indirectChecks, this.d.random, s => s !== state.selfSlot && s !== p.slot && l.state[s] === ALIVE)
    p.expectedNacks = p.helpers.length
    if (p.helpers.length > 0) this.d.stats.indirectProbes++
    const target = directory.idOf(p.slot)
    for (const h of p.helpers) this.d.out.sendWithGossip(directory.idOf(h), { t: 'ping-req', seq: p.seq, target, nack: true })
    if (config.retryPing) this.d.out.send(target, { t: 'ping', seq: p.seq, target })
  }

  /** An ack: ends our probe (health improves), or is forwarded to whoever asked us to probe. */
  onAck (seq: number): void {
    if (this.probe !== null && this.probe.seq === seq) {
      this.probe = null
      this.d.awareness.apply(-1)
      return
    }
    const r = this.relays.get(seq)
    if (r === undefined) return
    this.relays.delete(seq)
    this.d.out.sendWithGossip(r.origin, { t: 'ack', seq: r.originSeq })
  }

  onNack (seq: number): void {
    if (this.probe !== null && this.probe.seq === seq && this.probe.indirect) this.probe.nacks++
  }

  private probeFailed (): void {
    const p = this.probe
    if (p === null) return
    const { state, config, directory, self } = this.d
    this.probe = null
    this.d.stats.failedProbes++
    // Lifeguard: missed nacks mean our own messages are not getting through; with nobody to nack, blame ourselves once.
    this.d.awareness.apply(p.expectedNacks > 0 ? Math.max(0, p.expectedNacks - p.nacks) : 1)
    const l = state.list
    const s = l.state[p.slot]
    if (s !== ALIVE && s !== SUSPECT) return
    const node = directory.idOf(p.slot)
    const inc = l.incarnation[p.slot]!
    if (state.suspect(node, inc, self)) {
      this.d.stats.suspicionsRaised++
      if (config.notifySuspect) this.d.out.send(node, { t: 'gossip', g: [{ k: 'suspect', node, inc, from: self }] })
    }
  }

  /** Probe `target` for `from`: ping it with our own sequence number, forward its ack, or nack after our timeout. */
  onPingReq (from: string, originSeq: number, target: string, nack: boolean): void {
    if (target === this.d.self) {
      this.d.out.sendWithGossip(from, { t: 'ack', seq: originSeq })
      return
    }
    const seq = ++this.seq
    this.relays.set(seq, { origin: from, originSeq, expiresAtMs: this.now + this.d.awareness.scale(this.d.config.probeTimeoutMs), nack })
    this.d.out.sendWithGossip(target, { t: 'ping', seq, target })
  }

  /**
   * The driver could not send to `to` at all: a probe of `to` goes indirect at once; a helper that cannot
   * be reached is not expected to nack.
   */
  unreachable (to: string): void {
    const p = this.probe
    if (p === null) return
    const slot = this.d.directory.find(to)
    if (slot === p.slot && !p.indirect) this.probeIndirect()
    else if (slot !== undefined && p.indirect && p.helpers.includes(slot)) {
      p.helpers = p.helpers.filter(h => h !== slot)
      p.expectedNacks--
    }
  }
}
