import type { RaftLog } from './log.js'
import {
  becomeProbe, becomeReplicate, becomeSnapshot, maybeDecrTo, maybeUpdate, newProgress, type Progress
} from './progress.js'
import type { Message, RaftConfig, RaftId } from './types.js'

/** A message as the core builds it: `from` is filled in, `term` defaults to the current term. */
export type Outgoing<M = Message> = M extends Message ? Omit<M, 'from' | 'term'> & { readonly term?: number } : never

/** What the replicator needs from the core: the log (shared, mutated only by the core), the commit index, an outbox. */
export interface ReplicationHost {
  readonly log: RaftLog
  commit: () => number
  send: (m: Outgoing) => void
}

/** What an append answer did to the follower's progress. */
export type AppendRespResult = 'advanced' | 'unchanged' | 'rejected'

/**
 * The leader's side of log replication (Raft §5.3, §7), one Progress per follower voter (etcd's shape):
 * probing with fast back-off, pipelined appends, chunked InstallSnapshot, stall detection. Commit
 * decisions (§5.4.2), elections and ReadIndex stay in the core; this class only moves the log.
 */
export class Replicator {
  readonly #c: RaftConfig
  readonly #host: ReplicationHost
  readonly #progress = new Map<RaftId, Progress>()

  constructor (config: RaftConfig, host: ReplicationHost) {
    this.#c = config
    this.#host = host
  }

  get (id: RaftId): Progress | undefined {
    return this.#progress.get(id)
  }

  entries (): IterableIterator<[RaftId, Progress]> {
    return this.#progress.entries()
  }

  clear (): void {
    this.#progress.clear()
  }

  /** Track exactly `voters` other than `self` (a new voter starts probing from our last index). */
  sync (voters: readonly RaftId[], self: RaftId): void {
    for (const id of [...this.#progress.keys()]) if (!voters.includes(id)) this.#progress.delete(id)
    for (const v of voters) {
      // A new voter counts as recently active (as etcd does): CheckQuorum gives it a whole election
      // timeout to answer before it can cost the leader its quorum.
      if (v !== self && !this.#progress.has(v)) this.#progress.set(v, { ...newProgress(this.#host.log.lastIndex() + 1), recentActive: true })
    }
  }

  /** CheckQuorum (thesis §6.2): how many of `voters` were heard from since the last call; resets the marks. */
  takeRecentActive (voters: readonly RaftId[]): number {
    let active = 0
    for (const [id, pr] of this.#progress) {
      if (pr.recentActive && voters.includes(id)) active++
      pr.recentActive = false
    }
    return active
  }

  /** A leader tick: a follower with nothing acknowledged for an election timeout falls back (lost pipeline or chunk). */
  tick (): void {
    for (const [id, pr] of this.#progress) {
      const waiting = (pr.state === 'replicate' && pr.inflight.length > 0) || (pr.state === 'snapshot' && pr.transfer?.awaiting === true)
      if (!waiting || ++pr.stallTicks < this.#c.electionTicks) continue
      if (pr.state === 'replicate') becomeProbe(pr)
      else becomeSnapshot(pr, this.#host.log.snapshot)
      this.sendAppend(id, false)
    }
  }

  /** `commitOnly`: the commit index moved, so followers with nothing new still get an (empty) append. */
  broadcastAppend (commitOnly: boolean): void {
    for (const id of this.#progress.keys()) this.sendAppend(id, commitOnly)
  }

  /** Heartbeats carry min(match, commit): a follower may commit only what it is known to hold. */
  broadcastHeartbeat (context: number): void {
    const commit = this.#host.commit()
    for (const [id, pr] of this.#progress) {
      this.#host.send({ type: 'heartbeat', to: id, commit: Math.min(pr.match, commit), context })
    }
  }

  /**
   * Send what follower `to` needs: appends (one while probing; pipelined up to maxInflightAppends while
   * replicating) or, when the entries were compacted, the next snapshot chunk. `commitOnly`: with nothing
   * new, still send an empty append so that the follower learns the commit index.
   */
  sendAppend (to: RaftId, commitOnly: boolean): void {
    const pr = this.#progress.get(to)
    if (pr === undefined) return
    if (pr.state === 'snapshot') { this.#sendChunk(to, pr); return }
    if (pr.state === 'probe' && pr.probeSent) return
    const last = this.#host.log.lastIndex()
    if (pr.state === 'probe') {
      // One append (possibly empty) to find where the logs match; paused until answered or a heartbeat answer.
      if (this.#sendEntries(to, pr, last)) pr.probeSent = true
      return
    }
    let sent = false
    while (pr.inflight.length < this.#c.maxInflightAppends && pr.next <= last) {
      if (!this.#sendEntries(to, pr, last)) return
      sent = true
      pr.next = (pr.inflight.at(-1) ?? pr.next) + 1
    }
    if (sent || !commitOnly) return
    // Anchored at the acknowledged match, so that a reordered empty append is never a spurious rejection.
    const prevTerm = this.#host.log.term(pr.match)
    if (prevTerm !== undefined) this.#host.send({ type: 'append', to, prevIndex: pr.match, prevTerm, entries: [], commit: this.#host.commit() })
  }

  /** An append answer (§5.3); on 'advanced' the core re-evaluates the commit index and then calls `sendAppend`. */
  handleAppendResp (m: Extract<Message, { type: 'append-resp' }>): AppendRespResult {
    const pr = this.#progress.get(m.from)
    if (pr === undefined) return 'unchanged'
    pr.recentActive = true
    if (!m.success) {
      if (pr.state === 'snapshot') return 'rejected'
      // Fast back-off: the follower's hint (index, term) becomes our last index with term ≤ hintTerm.
      const hint = m.hintTerm > 0 ? this.#host.log.findConflictByTerm(m.hintIndex, m.hintTerm) : m.hintIndex
      if (maybeDecrTo(pr, m.matchIndex, hint)) this.sendAppend(m.from, false)
      return 'rejected'
    }
    if (m.matchIndex > this.#host.log.lastIndex()) return 'unchanged'
    const probing = pr.state === 'probe' && pr.match === m.matchIndex
    if (!maybeUpdate(pr, m.matchIndex) && !probing) return 'unchanged'
    if (pr.state === 'probe') becomeReplicate(pr)
    else if (pr.state === 'snapshot' && pr.match >= (pr.transfer?.snapshot.index ?? 0)) becomeProbe(pr)
    return 'advanced'
  }

  handleHeartbeatResp (m: Extract<Message, { type: 'heartbeat-resp' }>): void {
    const pr = this.#progress.get(m.from)
    if (pr === undefined) return
    pr.recentActive = true
    if (pr.state === 'probe') pr.probeSent = false // a lost probe is retried at heartbeat pace
    if (pr.match < this.#host.log.lastIndex()) this.sendAppend(m.from, false)
  }

  /** InstallSnapshot answers: next chunk on success, restart from offset 0 on a refusal of the chunk in flight. */
  handleSnapshotResp (m: Extract<Message, { type: 'snapshot-resp' }>): void {
    const pr = this.#progress.get(m.from)
    if (pr === undefined) return
    pr.recentActive = true
    const t = pr.transfer
    if (pr.state !== 'snapshot' || t === null || !t.awaiting || m.index !== t.snapshot.index) return
    if (!m.success) {
      if (m.offset !== t.offset) return // refusal of an older chunk
      becomeSnapshot(pr, this.#host.log.snapshot)
      this.#sendChunk(m.from, pr)
      return
    }
    if (m.offset !== t.sentEnd) return // a duplicate answer
    t.offset = t.sentEnd
    t.awaiting = false
    pr.stallTicks = 0
    if (t.offset < t.snapshot.data.length) { this.#sendChunk(m.from, pr); return }
    pr.match = Math.max(pr.match, t.snapshot.index)
    becomeProbe(pr)
    this.sendAppend(m.from, false)
  }

  /**
   * One append of up to maxEntriesPerAppend entries from `pr.next` (recorded in `inflight` while
   * replicating); switches to InstallSnapshot (§7) and returns false when the entries it needs were compacted.
   */
  #sendEntries (to: RaftId, pr: Progress, last: number): boolean {
    const log = this.#host.log
    const prevIndex = pr.next - 1
    const prevTerm = log.term(prevIndex)
    if (prevTerm === undefined) {
      becomeSnapshot(pr, log.snapshot)
      this.#sendChunk(to, pr)
      return false
    }
    const entries = log.slice(pr.next, Math.min(last, pr.next + this.#c.maxEntriesPerAppend - 1))
    this.#host.send({ type: 'append', to, prevIndex, prevTerm, entries, commit: this.#host.commit() })
    if (pr.state === 'replicate') pr.inflight.push(prevIndex + entries.length)
    return true
  }

  /** One InstallSnapshot chunk of at most snapshotChunkBytes, stop-and-wait. */
  #sendChunk (to: RaftId, pr: Progress): void {
    const t = pr.transfer
    if (t === null || t.awaiting) return
    const data = t.snapshot.data
    const end = Math.min(t.offset + this.#c.snapshotChunkBytes, data.length)
    this.#host.send({
      type: 'snapshot',
      to,
      index: t.snapshot.index,
      snapTerm: t.snapshot.term,
      voters: t.snapshot.voters,
      offset: t.offset,
      chunk: data.subarray(t.offset, end),
      done: end === data.length
    })
    t.awaiting = true
    t.sentEnd = end
    pr.stallTicks = 0
  }
}
