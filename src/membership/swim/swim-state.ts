import type { Awareness } from './awareness.js'
import { BroadcastQueue } from './broadcast-queue.js'
import { expectedConfirmations, suspicionBoundsMs, type SwimConfig } from './config.js'
import { ALIVE, DEAD, LEFT, MemberList, SUSPECT, UNKNOWN, type MemberDirectory, type SlotState } from './member-list.js'
import { Suspicion } from './suspicion.js'
import { STATE_CODE, type Gossip, type KnownSwimMember, type StateCode, type StateEntry, type SwimEvent, type SwimStats } from './types.js'

const SLOT_CODE: Record<Exclude<SlotState, typeof UNKNOWN>, StateCode> = {
  [ALIVE]: STATE_CODE.alive, [SUSPECT]: STATE_CODE.suspect, [DEAD]: STATE_CODE.dead, [LEFT]: STATE_CODE.left
}

/** What the core hands the table: its resolved config, identity, clock, shared parts and known members. */
export interface SwimStateInit {
  readonly config: SwimConfig
  readonly self: string
  readonly incarnation: number
  readonly meta: Uint8Array
  readonly nowMs: number
  readonly random: () => number
  readonly directory: MemberDirectory
  readonly awareness: Awareness
  readonly stats: SwimStats
  readonly sizeOf: (g: Gossip) => number
  readonly members: readonly KnownSwimMember[]
}

/**
 * The member table with SWIM's rules (SWIM §4.2; memberlist's aliveNode, suspectNode, deadNode, refute
 * and mergeState): which claim wins, the suspicion timers (Lifeguard LHA-Suspicion), refutation, and
 * the broadcast queue that every accepted change feeds (SWIM §4.1). Events for the driver accumulate in
 * `events`. The clock is the core's: it sets `now` before each call.
 *
 * Precedence for one member: a higher incarnation wins; at the same incarnation suspect beats alive and
 * dead or left beats both; alive never wins at the same incarnation (a suspect refutes with a higher one).
 */
export class SwimState {
  readonly list: MemberList
  readonly queue: BroadcastQueue
  readonly selfSlot: number
  readonly suspicions = new Map<number, Suspicion>()
  /** Suspicions started while this node was unhealthy → the health multiplier then (see `expiresAtMs`). */
  private readonly stretch = new WeakMap<Suspicion, number>()
  /** Members whose newer metadata is awaited → when to ask their owner (again). */
  readonly metaWanted = new Map<number, number>()
  events: SwimEvent[] = []
  /** Gossip this node originated since the last drain (see `broadcast`). */
  news: Gossip[] = []
  now: number
  inc: number
  /** This node's metadata version: the incarnation at which it last set its metadata (monotonic across restarts). */
  mv: number
  meta: Uint8Array
  leaving = false

  private readonly config: SwimConfig
  private readonly self: string
  private readonly directory: MemberDirectory
  private readonly random: () => number
  private readonly awareness: Awareness
  private readonly stats: SwimStats

  constructor (init: SwimStateInit) {
    this.config = init.config
    this.self = init.self
    this.now = init.nowMs
    this.inc = init.incarnation
    this.mv = init.incarnation
    this.meta = init.meta
    this.random = init.random
    this.directory = init.directory
    this.awareness = init.awareness
    this.stats = init.stats
    this.selfSlot = init.directory.slotOf(init.self)
    const slots = init.members.map(m => init.directory.slotOf(m.node))
    this.list = new MemberList(init.directory, this.selfSlot)
    this.queue = new BroadcastQueue(init.sizeOf, init.config.maxQueuedBroadcasts)
    const l = this.list
    l.incarnation[this.selfSlot] = this.inc
    l.metaVersion[this.selfSlot] = l.metaHave[this.selfSlot] = this.mv
    l.meta[this.selfSlot] = this.meta
    l.load(this.selfSlot, ALIVE, this.now)
    init.members.forEach((m, i) => {
      const slot = slots[i]!
      if (slot === this.selfSlot || l.state[slot] !== UNKNOWN) return
      l.incarnation[slot] = m.incarnation ?? 0
      l.metaVersion[slot] = m.metaVersion ?? 0
      if (m.meta !== undefined) {
        l.meta[slot] = m.meta
        l.metaHave[slot] = m.metaVersion ?? 0
      }
      // Without its metadata (a member from the data dir, whose view is not kept there): ask it, unless a
      // join's answer brings it first — so not at once, when every member would be asked.
      if (m.meta === undefined) this.metaWanted.set(slot, this.now + 2 * this.config.joinRetryMs)
      l.load(slot, ALIVE, this.now)
    })
  }

  /**
   * Queue `g` (about `key`) for dissemination. Gossip this node originated — its own alive or leave, a
   * suspicion it raises or a death it declares (not its confirmation of another's suspicion) — also goes
   * to `news`, for a driver that sends each once more to every member over a broadcast channel of its own.
   */
  broadcast (key: string, g: Gossip): void {
    this.queue.queue(key, g)
    if (g.k === 'alive' ? g.node === this.self : g.from === this.self) this.news.push(g)
  }

  /** This node's alive, with its metadata (a join or a metadata change) or without (a refutation). */
  selfAlive (withMeta: boolean): Gossip {
    return withMeta ? { k: 'alive', node: this.self, inc: this.inc, mv: this.mv, meta: this.meta } : { k: 'alive', node: this.self, inc: this.inc, mv: this.mv }
  }

  /** New metadata for this node: a new incarnation, which is also the new metadata version; queued with the metadata. */
  setMeta (meta: Uint8Array): void {
    this.meta = meta
    this.inc++
    this.mv = this.inc
    const l = this.list
    l.incarnation[this.selfSlot] = this.inc
    l.metaVersion[this.selfSlot] = l.metaHave[this.selfSlot] = this.mv
    l.meta[this.selfSlot] = meta
    if (!this.leaving) this.broadcast(this.self, this.selfAlive(true))
  }

  /** This node leaves: it is `left` in its own table and gossips a dead from itself. */
  leave (): void {
    this.leaving = true
    this.list.setState(this.selfSlot, LEFT, this.now, this.random)
    this.broadcast(this.self, { k: 'dead', node: this.self, inc: this.inc, from: this.self })
  }

  forget (slot: number): void {
    this.list.forget(slot)
    this.suspicions.delete(slot)
    this.metaWanted.delete(slot)
  }

  /** Apply one gossip item; `quiet`: old news (a join's answer), applied but not gossiped on. */
  apply (g: Gossip, quiet = false): void {
    switch (g.k) {
      case 'alive': this.alive(g.node, g.inc, g.mv, g.meta, quiet, g); return
      case 'suspect': this.suspect(g.node, g.inc, g.from, g); return
      case 'dead': this.dead(g.node, g.inc, g.from, g)
    }
  }

  /**
   * An alive claim wins over any state at a lower incarnation, never at the same one. About this node:
   * one at or above our incarnation that does not match us is an older life's, and refuted.
   * `g`: the received item, gossiped on as is.
   */
  alive (node: string, inc: number, mv: number, meta: Uint8Array | undefined, quiet: boolean, g?: Gossip): void {
    if (node === this.self) {
      if (this.leaving || inc < this.inc || (inc === this.inc && mv === this.mv)) return
      this.refute(inc)
      return
    }
    const l = this.list
    const slot = this.directory.slotOf(node)
    l.reserve(slot + 1)
    const prev = l.state[slot] as SlotState
    if (prev !== UNKNOWN && inc <= l.incarnation[slot]!) {
      // Old news; it may still carry the metadata we wait for.
      if (meta !== undefined && mv === l.metaVersion[slot] && l.metaHave[slot]! < mv) this.storeMeta(slot, mv, meta)
      return
    }
    this.suspicions.delete(slot)
    l.incarnation[slot] = inc
    if (mv > l.metaVersion[slot]!) l.metaVersion[slot] = mv
    let metaChanged = false
    if (meta !== undefined && mv === l.metaVersion[slot] && l.metaHave[slot]! < mv) {
      l.meta[slot] = meta
      l.metaHave[slot] = mv
      metaChanged = true
    }
    if (l.metaHave[slot]! < l.metaVersion[slot]!) {
      if (!this.metaWanted.has(slot)) this.metaWanted.set(slot, this.now)
    } else {
      this.metaWanted.delete(slot)
    }
    l.setState(slot, ALIVE, this.now, this.random)
    if (!quiet) this.broadcast(node, g ?? (meta === undefined ? { k: 'alive', node, inc, mv } : { k: 'alive', node, inc, mv, meta }))
    const known = this.currentMeta(slot)
    if (prev !== ALIVE) this.events.push({ kind: 'alive', node, incarnation: inc, meta: known, atMs: this.now })
    else if (metaChanged && known !== null) this.events.push({ kind: 'meta', node, incarnation: inc, meta: known, atMs: this.now })
  }

  /**
   * A suspect claim at or above the member's incarnation: confirms a running suspicion (gossiped on when
   * the accuser is new, so that others count it too), or turns an alive member suspect and starts its
   * timer. About this node: refuted. Returns true when it started a suspicion.
   */
  suspect (node: string, inc: number, from: string, g?: Gossip): boolean {
    if (node === this.self) {
      if (!this.leaving && inc >= this.inc) this.refute(inc)
      return false
    }
    const l = this.list
    const slot = this.known(node)
    if (slot < 0 || inc < l.incarnation[slot]!) return false
    const running = this.suspicions.get(slot)
    if (running !== undefined) {
      // Gossiped so that others count it too, but not news: every member that probes a suspect confirms
      // it, and a broadcast of each confirmation would flood the cluster when it is busiest.
      if (running.confirm(from)) this.queue.queue(node, g ?? { k: 'suspect', node, inc, from })
      return false
    }
    if (l.state[slot] !== ALIVE) return false
    this.broadcast(node, g ?? { k: 'suspect', node, inc, from })
    l.incarnation[slot] = inc
    l.setState(slot, SUSPECT, this.now, this.random)
    const n = l.liveCount
    const { minMs, maxMs } = suspicionBoundsMs(this.config, n)
    const suspicion = new Suspicion(from, this.now, expectedConfirmations(this.config, n), minMs, maxMs)
    this.suspicions.set(slot, suspicion)
    if (this.awareness.score > 0) this.stretch.set(suspicion, this.awareness.score + 1)
    this.events.push({ kind: 'suspect', node, incarnation: inc, from, atMs: this.now })
    return true
  }

  /** A dead claim at or above the member's incarnation ends it (left when from the member itself). About this node: refuted. */
  dead (node: string, inc: number, from: string, g?: Gossip): void {
    if (node === this.self) {
      if (!this.leaving && inc >= this.inc) this.refute(inc)
      return
    }
    const l = this.list
    const slot = this.known(node)
    if (slot < 0 || inc < l.incarnation[slot]!) return
    this.suspicions.delete(slot)
    const prev = l.state[slot]
    if (prev === DEAD || prev === LEFT) return
    this.broadcast(node, g ?? { k: 'dead', node, inc, from })
    l.incarnation[slot] = inc
    const left = from === node
    l.setState(slot, left ? LEFT : DEAD, this.now, this.random)
    this.metaWanted.delete(slot)
    this.events.push(left ? { kind: 'left', node, incarnation: inc, atMs: this.now } : { kind: 'dead', node, incarnation: inc, from, atMs: this.now })
  }

  /** Heard ourselves accused at `accusedInc`: take an incarnation above it and gossip alive (SWIM §4.2). */
  private refute (accusedInc: number): void {
    this.inc = Math.max(this.inc + 1, accusedInc + 1)
    this.list.incarnation[this.selfSlot] = this.inc
    this.awareness.apply(1)
    this.stats.refutations++
    this.broadcast(this.self, this.selfAlive(false))
  }

  /**
   * When this node declares a suspicion's member dead: its timeout (LHA-Suspicion) stretched by this
   * node's health multiplier when the suspicion started, as LHA-Probe stretches a probe by the multiplier
   * at its start. A node that is itself slow (its timers late, its probes failing) waits longer before it
   * accuses anyone of being dead; healthy members' declarations still reach it, and it takes them. (Fixed
   * at the start, not the current score: a lone observer's failing probes of a dead member raise its score
   * each period, which would otherwise push the death back faster than time goes.)
   */
  expiresAtMs (s: Suspicion): number {
    return s.startedAtMs + (s.deadlineMs - s.startedAtMs) * (this.stretch.get(s) ?? 1)
  }

  /** Declare dead every suspect whose timer ran out by `now`; returns the deaths declared. */
  expireSuspicions (): Array<{ node: string, inc: number }> {
    const declared: Array<{ node: string, inc: number }> = []
    for (const [slot, s] of this.suspicions) {
      if (this.expiresAtMs(s) > this.now) continue
      this.suspicions.delete(slot)
      if (this.list.state[slot] !== SUSPECT) continue
      this.stats.deathsDeclared++
      const node = this.directory.idOf(slot)
      const inc = this.list.incarnation[slot]!
      this.dead(node, inc, this.self)
      declared.push({ node, inc })
    }
    return declared
  }

  /** Metadata `meta` at version `mv` from its owner `from`. */
  metaFrom (from: string, mv: number, meta: Uint8Array): void {
    const slot = this.known(from)
    if (slot < 0) return
    const l = this.list
    if (mv <= l.metaHave[slot]!) return
    if (mv > l.metaVersion[slot]!) l.metaVersion[slot] = mv
    if (mv === l.metaVersion[slot]) this.storeMeta(slot, mv, meta)
  }

  private storeMeta (slot: number, mv: number, meta: Uint8Array): void {
    const l = this.list
    l.meta[slot] = meta
    l.metaHave[slot] = mv
    this.metaWanted.delete(slot)
    const s = l.state[slot]
    if (s === ALIVE || s === SUSPECT) this.events.push({ kind: 'meta', node: this.directory.idOf(slot), incarnation: l.incarnation[slot]!, meta, atMs: this.now })
  }

  /** The member's metadata when it is the version last announced, else null. */
  currentMeta (slot: number): Uint8Array | null {
    const l = this.list
    return l.metaHave[slot]! >= l.metaVersion[slot]! ? (l.meta[slot] ?? null) : null
  }

  /** The slot of a member this node knows, or -1. */
  known (node: string): number {
    const slot = this.directory.find(node)
    if (slot === undefined || slot >= this.list.capacity || this.list.state[slot] === UNKNOWN) return -1
    return slot
  }

  /**
   * Merge a push-pull table (memberlist's mergeState): alive entries as alive claims, left as left, and a
   * remote suspect or dead as our own suspicion (we will see for ourselves) rather than a death.
   */
  merge (states: readonly StateEntry[], quiet: boolean): void {
    for (const [node, inc, code, mv, meta] of states) {
      switch (code) {
        case STATE_CODE.alive: this.alive(node, inc, mv, meta ?? undefined, quiet); break
        case STATE_CODE.left: this.dead(node, inc, node); break
        case STATE_CODE.suspect:
        case STATE_CODE.dead: this.suspect(node, inc, this.self); break
      }
    }
  }

  /**
   * The whole table as push-pull entries. Metadata goes with this node's own entry and, when answering
   * `asker` (node → metadata version it holds), with every member the asker is behind on.
   */
  fullState (asker: ReadonlyMap<string, number> | null): StateEntry[] {
    const l = this.list
    const out: StateEntry[] = []
    for (let slot = 0; slot < l.capacity; slot++) {
      const s = l.state[slot] as SlotState
      if (s === UNKNOWN) continue
      const node = this.directory.idOf(slot)
      const code = SLOT_CODE[s]
      const have = l.metaHave[slot]!
      const meta = l.meta[slot]
      const withMeta = meta !== undefined && have > 0 && (slot === this.selfSlot || (asker !== null && (asker.get(node) ?? 0) < have))
      out.push(withMeta ? [node, l.incarnation[slot]!, code, l.metaVersion[slot]!, meta] : [node, l.incarnation[slot]!, code, l.metaVersion[slot]!])
    }
    return out
  }
}
