import type { Entry, Snapshot } from './types.js'

/** An empty byte array, shared (never written to). */
export const NO_DATA: Uint8Array = new Uint8Array(0)

/** The snapshot a log starts from when storage has none: nothing applied, no voters. */
export const EMPTY_SNAPSHOT: Snapshot = Object.freeze({ index: 0, term: 0, voters: Object.freeze([]), data: NO_DATA })

/**
 * The in-memory Raft log: a snapshot (everything up to `snapshot.index`, compacted, Raft §7) followed
 * by contiguous entries `snapshot.index + 1 … lastIndex()`. Pure data structure: it knows nothing of
 * commit, persistence or roles; the core keeps the invariants (never truncate at or below commit).
 */
export class RaftLog {
  #snapshot: Snapshot
  #entries: Entry[]

  /** `entries` must be contiguous; those at or below `snapshot.index` are dropped. Throws on a gap. */
  constructor (snapshot: Snapshot | null, entries: readonly Entry[]) {
    this.#snapshot = snapshot ?? EMPTY_SNAPSHOT
    const after = entries.filter(e => e.index > this.#snapshot.index)
    after.forEach((e, i) => {
      if (e.index !== this.#snapshot.index + 1 + i) throw new RangeError(`raft log: entry ${e.index} is not contiguous after ${this.#snapshot.index + i}`)
    })
    this.#entries = after
  }

  get snapshot (): Snapshot { return this.#snapshot }

  firstIndex (): number { return this.#snapshot.index + 1 }

  lastIndex (): number { return this.#snapshot.index + this.#entries.length }

  lastTerm (): number { return this.term(this.lastIndex()) ?? 0 }

  /** The term of the entry at `index`; the snapshot's term at its index; undefined if compacted or absent. */
  term (index: number): number | undefined {
    if (index === this.#snapshot.index) return this.#snapshot.term
    return this.entry(index)?.term
  }

  entry (index: number): Entry | undefined {
    if (index <= this.#snapshot.index) return undefined
    return this.#entries[index - this.#snapshot.index - 1]
  }

  /** Entries in [lo, hi] (inclusive), clamped to what is in memory. */
  slice (lo: number, hi: number): Entry[] {
    const base = this.#snapshot.index + 1
    return this.#entries.slice(Math.max(lo, base) - base, Math.max(hi + 1, base) - base)
  }

  /** True when the log holds `index` with `term` (the snapshot's last entry counts). */
  matchTerm (index: number, term: number): boolean {
    return this.term(index) === term
  }

  /** Raft §5.4.1: (lastTerm, lastIndex) at least as up to date as ours. */
  isUpToDate (lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm()
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex())
  }

  /**
   * The largest index ≤ `index` whose term is ≤ `term` (fast back-off, Raft §5.3 "optimization"):
   * stops at the first index whose term is unknown (compacted).
   */
  findConflictByTerm (index: number, term: number): number {
    let i = Math.min(index, this.lastIndex())
    for (;;) {
      const t = this.term(i)
      if (t === undefined || t <= term) return i
      i--
    }
  }

  /** Append after lastIndex; `entries[0].index` must be lastIndex + 1. */
  append (entries: readonly Entry[]): void {
    for (const e of entries) {
      if (e.index !== this.lastIndex() + 1) throw new RangeError(`raft log: append ${e.index} after ${this.lastIndex()}`)
      this.#entries.push(e)
    }
  }

  /** Drop every entry at or after `index` (> snapshot.index). */
  truncateFrom (index: number): void {
    if (index <= this.#snapshot.index) throw new RangeError(`raft log: truncate at ${index} ≤ snapshot ${this.#snapshot.index}`)
    this.#entries.length = Math.max(0, index - this.#snapshot.index - 1)
  }

  /** Log compaction (Raft §7): `snapshot` covers entries up to its index, which this log holds. */
  compact (snapshot: Snapshot): void {
    if (snapshot.index <= this.#snapshot.index || snapshot.index > this.lastIndex()) {
      throw new RangeError(`raft log: compact at ${snapshot.index} outside (${this.#snapshot.index}, ${this.lastIndex()}]`)
    }
    this.#entries = this.#entries.slice(snapshot.index - this.#snapshot.index)
    this.#snapshot = snapshot
  }

  /** InstallSnapshot (Raft §7, Figure 13 step 7): discard the whole log; the snapshot replaces it. */
  restore (snapshot: Snapshot): void {
    this.#snapshot = snapshot
    this.#entries = []
  }
}
