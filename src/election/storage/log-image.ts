import type { Entry, HardState } from '../raft/types.js'

/**
 * The durable Raft state as the disk holds it: the last snapshot's index and term, the entries after
 * it, and the hard state. Recovery rebuilds it by replaying a segment; RaftStorage keeps it current so
 * that compaction can write the retained entries without re-reading the disk. Entry objects are shared
 * with the caller, not copied.
 */
export class LogImage {
  snapshotIndex: number
  snapshotTerm: number
  /** entries[i].index === snapshotIndex + 1 + i. */
  entries: Entry[] = []
  hardState: HardState | null = null

  constructor (snapshotIndex: number, snapshotTerm: number) {
    this.snapshotIndex = snapshotIndex
    this.snapshotTerm = snapshotTerm
  }

  lastIndex (): number {
    return this.snapshotIndex + this.entries.length
  }

  /** The term of the entry at `index`; the snapshot's term at its index; undefined outside the log. */
  termAt (index: number): number | undefined {
    if (index === this.snapshotIndex) return this.snapshotTerm
    return this.entries[index - this.snapshotIndex - 1]?.term
  }

  /**
   * Why `entries` cannot be appended (null if they can): they must be non-empty, contiguous, start
   * after the snapshot and no later than lastIndex + 1. An earlier start replaces the log from there.
   */
  checkAppend (entries: readonly Entry[]): string | null {
    const first = entries[0]
    if (first === undefined) return 'no entries'
    if (first.index <= this.snapshotIndex) return `entry ${first.index} is at or below the snapshot index ${this.snapshotIndex}`
    if (first.index > this.lastIndex() + 1) return `entry ${first.index} leaves a gap after the last index ${this.lastIndex()}`
    for (let i = 1; i < entries.length; i++) {
      if (entries[i]!.index !== first.index + i) return `entries are not contiguous at position ${i}`
    }
    return null
  }

  /** Drop entries at and after `from` (snapshotIndex < from <= lastIndex + 1). */
  truncateFrom (from: number): void {
    this.entries.length = from - this.snapshotIndex - 1
  }

  /** Append entries already checked with checkAppend, replacing any suffix they overlap. */
  append (entries: readonly Entry[]): void {
    this.truncateFrom(entries[0]!.index)
    for (const e of entries) this.entries.push(e)
  }

  /**
   * Move the log's start to a snapshot (Raft §7): if the log holds the snapshot's last entry with the
   * same term, keep the entries after it; otherwise the snapshot supersedes the whole log.
   */
  applySnapshot (index: number, term: number): void {
    const retained = this.termAt(index) === term ? this.entries.slice(index - this.snapshotIndex) : []
    this.snapshotIndex = index
    this.snapshotTerm = term
    this.entries = retained
  }
}
