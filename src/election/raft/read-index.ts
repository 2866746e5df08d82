import { quorumSize } from './quorum.js'
import type { RaftId, ReadState } from './types.js'

interface PendingRead {
  readonly requestId: number
  readonly index: number
  readonly context: number
  readonly acks: Set<RaftId>
}

/**
 * The leader's ReadIndex requests waiting for a heartbeat round to confirm leadership (Raft thesis §6.4,
 * steps 2–3). Each request gets a fresh, increasing context; an answer to context c from a quorum
 * confirms every request with context ≤ c, because leadership held at the later round held at the earlier.
 */
export class ReadIndexQueue {
  #pending: PendingRead[] = []
  #nextContext = 1

  /** Queue a read at commit index `index`; returns the context its heartbeat round carries. */
  add (requestId: number, index: number, self: RaftId | null): number {
    const context = this.#nextContext++
    this.#pending.push({ requestId, index, context, acks: new Set(self === null ? [] : [self]) })
    return context
  }

  /** The context of the newest pending read (0 when none): heartbeats carry it. */
  lastContext (): number {
    return this.#pending.at(-1)?.context ?? 0
  }

  /** A heartbeat answer from `from` for `context`: returns the reads it releases, oldest first. */
  ack (from: RaftId, context: number, voters: readonly RaftId[]): ReadState[] {
    const read = this.#pending.find(r => r.context === context)
    if (read === undefined || !voters.includes(from)) return []
    read.acks.add(from)
    return this.#confirmed(read, voters) ? this.#release(read) : []
  }

  /**
   * The voter set changed (a conf entry appended, thesis §4.1): the reads whose answers already make a
   * quorum of the new set are released, as if those answers came now (a shrinking set may leave no one
   * else to answer). Oldest first.
   */
  recheck (voters: readonly RaftId[]): ReadState[] {
    const newest = this.#pending.findLast(r => this.#confirmed(r, voters))
    return newest === undefined ? [] : this.#release(newest)
  }

  #confirmed (read: PendingRead, voters: readonly RaftId[]): boolean {
    let count = 0
    for (const v of voters) if (read.acks.has(v)) count++
    return count >= quorumSize(voters.length)
  }

  /** `read` and every older one: confirmed by the round that confirmed it. */
  #release (read: PendingRead): ReadState[] {
    const at = this.#pending.indexOf(read)
    return this.#pending.splice(0, at + 1).map(r => ({ requestId: r.requestId, index: r.index }))
  }

  /** Leadership lost: pending reads are dropped (never answered; the client retries). */
  clear (): void {
    this.#pending = []
  }
}
