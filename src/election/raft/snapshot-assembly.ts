import type { Message, RaftId, Snapshot } from './types.js'

/** What one InstallSnapshot chunk did: refused (out of order or stale), accepted (`size` bytes so far), or completed. */
export type ChunkResult =
  | { readonly status: 'refused' }
  | { readonly status: 'partial', readonly size: number }
  | { readonly status: 'done', readonly size: number, readonly snapshot: Snapshot }

interface Incoming {
  readonly term: number
  readonly index: number
  readonly snapTerm: number
  readonly voters: readonly RaftId[]
  readonly chunks: Uint8Array[]
  size: number
}

/**
 * A follower's snapshot being received in chunks (InstallSnapshot, Raft §7 / Figure 13 "offset"): offset 0
 * starts (or restarts) an assembly; any other chunk is accepted only at exactly the next offset of the
 * same snapshot from the same term, so chunks are assembled in order and a gap is refused.
 */
export class SnapshotAssembly {
  #inc: Incoming | null = null

  clear (): void {
    this.#inc = null
  }

  accept (m: Extract<Message, { type: 'snapshot' }>): ChunkResult {
    let inc = this.#inc
    if (m.offset === 0) {
      inc = { term: m.term, index: m.index, snapTerm: m.snapTerm, voters: [...m.voters], chunks: [], size: 0 }
      this.#inc = inc
    } else if (inc === null || inc.term !== m.term || inc.index !== m.index || inc.snapTerm !== m.snapTerm || inc.size !== m.offset) {
      return { status: 'refused' }
    }
    inc.chunks.push(m.chunk.slice())
    inc.size += m.chunk.length
    if (!m.done) return { status: 'partial', size: inc.size }
    this.#inc = null
    const data = new Uint8Array(inc.size)
    let at = 0
    for (const c of inc.chunks) { data.set(c, at); at += c.length }
    return { status: 'done', size: inc.size, snapshot: { index: inc.index, term: inc.snapTerm, voters: inc.voters, data } }
  }
}
