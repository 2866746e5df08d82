/**
 * Interns node IDs as small integer slots. One directory may be shared by every core in a process (the
 * simulation runs thousands), so that each core's member list is a handful of typed arrays indexed by
 * slot rather than a map of objects per member: at 5,000 nodes that is the difference between ~0.6 GB
 * and several GB. A directory holds nothing but names.
 */
export class MemberDirectory {
  private readonly slots = new Map<string, number>()
  private readonly ids: string[] = []

  get size (): number { return this.ids.length }

  /** The slot of `id`, allocated on first use. */
  slotOf (id: string): number {
    let s = this.slots.get(id)
    if (s === undefined) {
      s = this.ids.length
      this.ids.push(id)
      this.slots.set(id, s)
    }
    return s
  }

  /** The slot of `id` if it has one. */
  find (id: string): number | undefined {
    return this.slots.get(id)
  }

  idOf (slot: number): string {
    const id = this.ids[slot]
    if (id === undefined) throw new RangeError(`member directory: no slot ${slot}`)
    return id
  }
}

/** State codes in the member list; UNKNOWN is a slot this node has no member for. */
export const UNKNOWN = 0
export const ALIVE = 1
export const SUSPECT = 2
export const DEAD = 3
export const LEFT = 4
export type SlotState = typeof UNKNOWN | typeof ALIVE | typeof SUSPECT | typeof DEAD | typeof LEFT

/**
 * One node's member table, itself included, as parallel arrays indexed by directory slot, with the
 * round-robin probe order (SWIM §4.3: each round visits every member once in a random order, reshuffled
 * between rounds; a new member is inserted at a random place among those not yet visited, so that
 * detection stays time-bounded). Pure bookkeeping: the precedence rules are the core's.
 */
export class MemberList {
  state = new Uint8Array(0)
  incarnation = new Float64Array(0)
  /** Metadata version as last announced by the member. */
  metaVersion = new Uint32Array(0)
  /** Version of the metadata held in `meta` (below `metaVersion` while the newer one is awaited). */
  metaHave = new Uint32Array(0)
  changedAtMs = new Float64Array(0)
  meta: Array<Uint8Array | undefined> = []
  private order = new Int32Array(0)
  private orderLen = 0
  private probeIndex = 0
  private readonly counts = [0, 0, 0, 0, 0]

  constructor (readonly directory: MemberDirectory, readonly self: number) {
    this.reserve(directory.size)
  }

  /** Members this node knows in `state` (itself included); not meaningful for UNKNOWN. */
  count (state: SlotState): number {
    return this.counts[state] ?? 0
  }

  /** Members that are alive or suspect, itself included: the N the timeouts and limits scale with. */
  get liveCount (): number {
    return this.count(ALIVE) + this.count(SUSPECT)
  }

  /** One past the highest slot this list may hold. */
  get capacity (): number {
    return this.state.length
  }

  /** Make room for every slot the directory has handed out. */
  reserve (slots: number): void {
    if (slots <= this.state.length) return
    const n = Math.max(slots, this.state.length * 2, 16)
    const grow = <T extends Uint8Array | Uint32Array | Float64Array | Int32Array>(a: T, make: (n: number) => T): T => {
      const b = make(n)
      b.set(a)
      return b
    }
    this.state = grow(this.state, k => new Uint8Array(k))
    this.incarnation = grow(this.incarnation, k => new Float64Array(k))
    this.metaVersion = grow(this.metaVersion, k => new Uint32Array(k))
    this.metaHave = grow(this.metaHave, k => new Uint32Array(k))
    this.changedAtMs = grow(this.changedAtMs, k => new Float64Array(k))
    this.order = grow(this.order, k => new Int32Array(k))
  }

  /**
   * Set `slot`'s state. A member that becomes known, or comes back from dead or left, is added to the
   * probe order at a random place not yet visited this round (`random` in [0, 1)).
   */
  setState (slot: number, next: SlotState, nowMs: number, random: () => number): void {
    this.reserve(slot + 1)
    const prev = this.state[slot] as SlotState
    if (prev === next) return
    this.counts[prev]!--
    this.counts[next]!++
    this.state[slot] = next
    this.changedAtMs[slot] = nowMs
    const wasProbeable = prev === ALIVE || prev === SUSPECT
    const isProbeable = next === ALIVE || next === SUSPECT
    if (slot !== this.self && isProbeable && !wasProbeable) this.insertInOrder(slot, random)
  }

  /**
   * Load a member known before the first probe round (construction only): no probe-order insertion,
   * since the first round's order is built from the whole table.
   */
  load (slot: number, next: SlotState, nowMs: number): void {
    this.reserve(slot + 1)
    const prev = this.state[slot] as SlotState
    this.counts[prev]!--
    this.counts[next]!++
    this.state[slot] = next
    this.changedAtMs[slot] = nowMs
  }

  /** Forget `slot` altogether (e.g. a node removed from the cluster): it becomes unknown. */
  forget (slot: number): void {
    if (slot >= this.state.length || this.state[slot] === UNKNOWN) return
    this.counts[this.state[slot]!]!--
    this.counts[UNKNOWN]!++
    this.state[slot] = UNKNOWN
    this.incarnation[slot] = 0
    this.metaVersion[slot] = 0
    this.metaHave[slot] = 0
    this.meta[slot] = undefined
  }

  private insertInOrder (slot: number, random: () => number): void {
    if (this.orderLen >= this.order.length) this.reserveOrder(this.orderLen + 1)
    this.order[this.orderLen] = slot
    // Swap with a random position among [probeIndex, orderLen]: probed before this round ends.
    const lo = Math.min(this.probeIndex, this.orderLen)
    const j = lo + Math.floor(random() * (this.orderLen - lo + 1))
    const other = this.order[j]!
    this.order[j] = slot
    this.order[this.orderLen] = other
    this.orderLen++
  }

  private reserveOrder (n: number): void {
    const b = new Int32Array(Math.max(n, this.order.length * 2, 16))
    b.set(this.order.subarray(0, this.orderLen))
    this.order = b
  }

  /**
   * The next member to probe: alive or suspect, never this node; a round ends when the order is used
   * up, then the order is rebuilt from the current members and reshuffled (Fisher–Yates). -1 when
   * there is nobody to probe.
   */
  nextProbeTarget (random: () => number): number {
    for (let checked = 0; checked <= this.orderLen + 1; checked++) {
      if (this.probeIndex >= this.orderLen) {
        this.reshuffle(random)
        if (this.orderLen === 0) return -1
      }
      const slot = this.order[this.probeIndex++]!
      const s = this.state[slot]
      if (slot !== this.self && (s === ALIVE || s === SUSPECT)) return slot
    }
    return -1
  }

  private reshuffle (random: () => number): void {
    let n = 0
    for (let slot = 0; slot < this.state.length; slot++) {
      const s = this.state[slot]
      if (slot !== this.self && (s === ALIVE || s === SUSPECT)) {
        if (n >= this.order.length) this.reserveOrder(n + 1)
        this.order[n++] = slot
      }
    }
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1))
      const a = this.order[i]!
      this.order[i] = this.order[j]!
      this.order[j] = a
    }
    this.orderLen = n
    this.probeIndex = 0
  }

  /** The current round's probe order from the next target on (for tests). */
  pendingOrder (): number[] {
    return Array.from(this.order.subarray(this.probeIndex, this.orderLen))
  }

  /**
   * Up to `k` distinct random slots that `accept` (memberlist's kRandomNodes): an exhaustive shuffle
   * when the table is small, otherwise up to 3·n random draws.
   */
  randomMembers (k: number, random: () => number, accept: (slot: number) => boolean): number[] {
    const out: number[] = []
    const n = Math.min(this.state.length, this.directory.size)
    if (k <= 0 || n === 0) return out
    if (n < k * 3) {
      const all: number[] = []
      for (let s = 0; s < n; s++) all.push(s)
      for (let i = n - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1))
        const a = all[i]!
        all[i] = all[j]!
        all[j] = a
      }
      for (const s of all) {
        if (out.length >= k) break
        if (this.state[s] !== UNKNOWN && accept(s)) out.push(s)
      }
      return out
    }
    for (let tries = 0; tries < 3 * n && out.length < k; tries++) {
      const s = Math.floor(random() * n)
      if (this.state[s] === UNKNOWN || out.includes(s) || !accept(s)) continue
      out.push(s)
    }
    return out
  }
}
