import { FlotillaError } from '../../membership/errors.js'
import { RaftLog } from './log.js'
import {
  becomeProbe, becomeReplicate, becomeSnapshot, maybeDecrTo, maybeUpdate, newProgress,
  type Progress, type ProgressState
} from './progress.js'
import { applyConfChange, quorumIndex, quorumSize, voteResult, votersAfter } from './quorum.js'
import { ReadIndexQueue } from './read-index.js'
import type {
  ConfChange, Entry, HardState, Message, RaftConfig, RaftId, RaftInitialState, Ready, ReadState, Role, Snapshot, SoftState
} from './types.js'
import { isValidMessage } from './validate.js'

/** Where a proposal landed: it is committed (and may be acknowledged) once applied at `index` with this `term`. */
export interface Proposed {
  readonly index: number
  readonly term: number
}

/** The leader's view of one follower, for status output. */
export interface ProgressStatus {
  readonly match: number
  readonly next: number
  readonly state: ProgressState
}

/** A snapshot of the core for the driver (ManagerStatus) and tests; `progress` is empty unless leader. */
export interface RaftStatus {
  readonly id: RaftId
  readonly role: Role
  readonly term: number
  readonly leader: RaftId | null
  readonly commit: number
  readonly applied: number
  readonly lastIndex: number
  readonly voters: RaftId[]
  /** Index of the newest conf entry in the in-memory log (0 if none): a change is pending while it is > commit. */
  readonly lastConfIndex: number
  readonly progress: Readonly<Record<RaftId, ProgressStatus>>
  readonly leadTransferee: RaftId | null
}

type Campaign = 'pre-vote' | 'vote' | 'transfer'

/** A snapshot being received in chunks (InstallSnapshot, Raft §7): chunks are accepted in order only. */
interface Incoming {
  readonly term: number
  readonly index: number
  readonly snapTerm: number
  readonly voters: readonly RaftId[]
  readonly chunks: Uint8Array[]
  size: number
}

/** A message as the core builds it: `from` is filled in, `term` defaults to the current term. */
type Outgoing<M = Message> = M extends Message ? Omit<M, 'from' | 'term'> & { readonly term?: number } : never

function validateConfig (c: RaftConfig): void {
  const positive = (n: number): boolean => Number.isSafeInteger(n) && n >= 1
  if (!positive(c.electionTicks) || !positive(c.heartbeatTicks) || c.heartbeatTicks >= c.electionTicks) {
    throw new FlotillaError('invalid-argument', `raft: need 1 ≤ heartbeatTicks (${c.heartbeatTicks}) < electionTicks (${c.electionTicks})`)
  }
  if (!positive(c.maxEntriesPerAppend) || !positive(c.maxInflightAppends) || !positive(c.snapshotChunkBytes)) {
    throw new FlotillaError('invalid-argument', 'raft: maxEntriesPerAppend, maxInflightAppends and snapshotChunkBytes must be positive integers')
  }
  if (c.id.length === 0) throw new FlotillaError('invalid-argument', 'raft: empty id')
}

function concat (chunks: readonly Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size)
  let at = 0
  for (const c of chunks) { out.set(c, at); at += c.length }
  return out
}

/**
 * The Raft consensus core (Ongaro & Ousterhout 2014; Ongaro's thesis 2014), shaped like etcd's raft:
 * synchronous, deterministic, no I/O. Inputs: `tick`, `step`, `propose`, `proposeConfChange`, `readIndex`,
 * `transferLeadership`, `compact`; output: `ready()` batches, acknowledged with `advance`. Always on:
 * PreVote (§9.6), CheckQuorum and leader lease (§6.2, §4.2.3), pipelined replication with fast back-off,
 * chunked InstallSnapshot (§7), ReadIndex (§6.4), leadership transfer (§3.10).
 *
 * Membership changes are single-voter (thesis §4.1) and take effect when appended. A leader that removes
 * itself keeps leading without counting itself (thesis §4.2.2) until the change commits, then hands over
 * with `timeout-now` to an up-to-date voter (if any) and steps down.
 */
export class RaftCore {
  readonly #c: RaftConfig
  readonly #id: RaftId
  #log: RaftLog
  #term: number
  #vote: RaftId | null
  #commit: number
  #applied: number
  #role: Role = 'follower'
  #leader: RaftId | null = null
  #voters: RaftId[] = []
  /** Index of the newest conf entry in the in-memory log (0 when none): pending while > commit. */
  #lastConfIndex = 0

  // Ready bookkeeping: what storage already holds and what the driver has seen.
  #persistedTo: number
  #persistedHard: HardState
  #reportedSoft: SoftState
  #pendingSnapshot: Snapshot | null = null
  #snapshotToApply: Snapshot | null = null
  #msgs: Message[] = []
  #readStates: ReadState[] = []

  #electionElapsed = 0
  #heartbeatElapsed = 0
  #randomizedTimeout = 0
  #votes = new Map<RaftId, boolean>()

  // Leader only.
  #progress = new Map<RaftId, Progress>()
  #leadTransferee: RaftId | null = null
  #transferElapsed = 0
  #reads = new ReadIndexQueue()
  #readsAwaitingCommit: number[] = []

  // Follower only.
  #incoming: Incoming | null = null

  /** Start from storage's durable state (which is treated as persisted). Throws on an invalid config or an inconsistent state. */
  constructor (config: RaftConfig, initial: RaftInitialState) {
    validateConfig(config)
    this.#c = config
    this.#id = config.id
    this.#log = new RaftLog(initial.snapshot, initial.entries)
    const hs = initial.hardState
    if (hs.commit > this.#log.lastIndex()) {
      throw new FlotillaError('internal', `raft: commit ${hs.commit} beyond last index ${this.#log.lastIndex()}`)
    }
    this.#term = hs.term
    this.#vote = hs.vote
    this.#commit = Math.max(hs.commit, this.#log.snapshot.index)
    this.#applied = this.#log.snapshot.index
    this.#persistedTo = this.#log.lastIndex()
    this.#persistedHard = hs
    this.#recomputeVoters()
    this.#becomeFollower(this.#term, null)
    this.#reportedSoft = this.#softState()
  }

  /**
   * `swarm init`: a one-voter cluster whose log starts with a conf entry adding `id` (term 1, committed),
   * so that members added later learn the first voter from the log. The driver persists it before use.
   */
  static bootstrap (id: RaftId): RaftInitialState {
    const entry: Entry = { kind: 'conf', term: 1, index: 1, change: { type: 'add-voter', id } }
    return { hardState: { term: 1, vote: null, commit: 1 }, snapshot: null, entries: [entry] }
  }

  /**
   * Disaster recovery (swarmkit's --force-new-cluster): keep the whole log, append `reset-voters [id]`
   * at lastIndex + 1 with a term above any seen, and commit through it: this node alone is the cluster
   * and elects itself. The driver persists the result before constructing the core.
   */
  static forceNewCluster (initial: RaftInitialState, id: RaftId): RaftInitialState {
    const log = new RaftLog(initial.snapshot, initial.entries)
    const term = Math.max(initial.hardState.term, log.lastTerm()) + 1
    const index = log.lastIndex() + 1
    const entry: Entry = { kind: 'conf', term, index, change: { type: 'reset-voters', voters: [id] } }
    return {
      hardState: { term, vote: null, commit: index },
      snapshot: initial.snapshot,
      entries: [...log.slice(log.firstIndex(), log.lastIndex()), entry]
    }
  }

  // ─── inputs ────────────────────────────────────────────────────────────────────────────────────

  /** One unit of logical time: election timeout on followers/candidates, heartbeats and CheckQuorum on the leader. */
  tick (): void {
    if (this.#role === 'leader') this.#tickLeader()
    else this.#tickElection()
  }

  /** Deliver a message from the network. Malformed messages and messages for another node are dropped. */
  step (m: Message): void {
    if (!isValidMessage(m) || m.to !== this.#id || m.from === this.#id) return
    if (m.term > this.#term) {
      if (m.type === 'pre-vote' || m.type === 'vote') {
        // Leader lease (thesis §4.2.3, §9.6): a node that heard from a live leader within the minimum
        // election timeout does not let a (pre-)candidate disrupt it, unless this is a transfer.
        const inLease = this.#leader !== null && this.#electionElapsed < this.#c.electionTicks
        if (inLease && !(m.type === 'vote' && m.transfer)) {
          if (m.type === 'pre-vote') this.#send({ type: 'pre-vote-resp', to: m.from, granted: false })
          return
        }
      }
      if (m.type === 'pre-vote' || (m.type === 'pre-vote-resp' && m.granted)) {
        // PreVote (thesis §9.6): asking and granting a pre-vote never changes anyone's term.
      } else if (m.type === 'append' || m.type === 'heartbeat' || m.type === 'snapshot') {
        this.#becomeFollower(m.term, m.from)
      } else {
        this.#becomeFollower(m.term, null) // Raft §5.1: a higher term makes us a follower
      }
    } else if (m.term < this.#term) {
      // Stale sender (§5.1). A stale leader learns our term (it may have been partitioned while we
      // moved on, and with CheckQuorum it could not learn it from our votes); a stale pre-candidate is refused.
      if (m.type === 'append' || m.type === 'heartbeat' || m.type === 'snapshot') {
        this.#send({ type: 'append-resp', to: m.from, success: false, matchIndex: 0, hintIndex: 0, hintTerm: 0 })
      } else if (m.type === 'pre-vote') {
        this.#send({ type: 'pre-vote-resp', to: m.from, granted: false })
      }
      return
    }

    switch (m.type) {
      case 'pre-vote':
      case 'vote':
        this.#handleVoteRequest(m)
        return
      case 'pre-vote-resp':
        if (this.#role !== 'pre-candidate') return
        if ((m.granted && m.term === this.#term + 1) || (!m.granted && m.term === this.#term)) this.#tally(m.from, m.granted)
        return
      case 'vote-resp':
        if (this.#role === 'candidate' && m.term === this.#term) this.#tally(m.from, m.granted)
        return
      case 'append':
      case 'heartbeat':
      case 'snapshot':
        if (this.#role === 'leader') return // another leader in our term is impossible (§5.2); drop
        if (this.#role !== 'follower') this.#becomeFollower(this.#term, m.from)
        this.#leader = m.from
        this.#electionElapsed = 0
        if (m.type === 'append') this.#handleAppend(m)
        else if (m.type === 'heartbeat') this.#handleHeartbeat(m)
        else this.#handleSnapshot(m)
        return
      case 'timeout-now':
        // Leadership transfer (thesis §3.10): campaign now, skipping PreVote and the leases.
        if (this.#role !== 'leader' && this.#promotable()) this.#campaign('transfer')
        return
      case 'append-resp':
        if (this.#role === 'leader') this.#handleAppendResp(m)
        return
      case 'heartbeat-resp':
        if (this.#role === 'leader') this.#handleHeartbeatResp(m)
        return
      case 'snapshot-resp':
        if (this.#role === 'leader') this.#handleSnapshotResp(m)
    }
  }

  /** Append a command (leader only; null when not leader or while transferring leadership). */
  propose (data: Uint8Array): Proposed | null {
    if (this.#role !== 'leader' || this.#leadTransferee !== null) return null
    return this.#appendAsLeader({ kind: 'normal', term: this.#term, index: this.#log.lastIndex() + 1, data })
  }

  /**
   * Append a membership change (thesis §4.1), one at a time: null when not leader, transferring, when a
   * conf entry is still uncommitted, or when the change would leave no voter.
   */
  proposeConfChange (change: ConfChange): Proposed | null {
    if (this.#role !== 'leader' || this.#leadTransferee !== null || this.#lastConfIndex > this.#commit) return null
    if (applyConfChange(this.#voters, change).length === 0) return null
    return this.#appendAsLeader({ kind: 'conf', term: this.#term, index: this.#log.lastIndex() + 1, change })
  }

  /**
   * ReadIndex (thesis §6.4): true when accepted; `{requestId, index}` then appears in a later Ready's
   * `readStates` once leadership is confirmed, and the read may be served after applying `index`.
   * Waits for the leader's first commit in its term. False when not leader. Lost if leadership is lost.
   */
  readIndex (requestId: number): boolean {
    if (this.#role !== 'leader') return false
    if (this.#log.term(this.#commit) !== this.#term) this.#readsAwaitingCommit.push(requestId)
    else this.#startRead(requestId)
    return true
  }

  /** Leadership transfer (thesis §3.10) to voter `to`: false when not leader or `to` is not another voter. Aborted after an election timeout. */
  transferLeadership (to: RaftId): boolean {
    if (this.#role !== 'leader' || to === this.#id || !this.#voters.includes(to)) return false
    if (this.#leadTransferee === to) return true
    this.#leadTransferee = to
    this.#transferElapsed = 0
    const pr = this.#progress.get(to)
    if (pr !== undefined && pr.match === this.#log.lastIndex()) this.#send({ type: 'timeout-now', to })
    else this.#sendAppend(to, false)
    return true
  }

  /**
   * Log compaction (Raft §7), called by the driver after applying through `index`: records the snapshot
   * {index, its term, voters as of index, data}, drops entries ≤ index, and hands the snapshot to storage
   * in the next Ready. Returns false (and does nothing) unless snapshot index < `index` ≤ applied.
   */
  compact (index: number, data: Uint8Array): boolean {
    if (!Number.isSafeInteger(index) || index <= this.#log.snapshot.index || index > this.#applied) return false
    const term = this.#log.term(index)
    if (term === undefined) return false
    const voters = votersAfter(this.#log.snapshot.voters, this.#log.slice(this.#log.firstIndex(), index))
    const snapshot: Snapshot = { index, term, voters, data }
    this.#log.compact(snapshot)
    this.#pendingSnapshot = snapshot
    return true
  }

  // ─── outputs ───────────────────────────────────────────────────────────────────────────────────

  hasReady (): boolean {
    const s = this.#reportedSoft
    return s.role !== this.#role || s.leader !== this.#leader || s.term !== this.#term ||
      !this.#hardEqual(this.#persistedHard) || this.#persistedTo < this.#log.lastIndex() ||
      this.#pendingSnapshot !== null || this.#snapshotToApply !== null || this.#msgs.length > 0 ||
      this.#readStates.length > 0 || this.#commit > this.#appliedCursor()
  }

  /**
   * Everything since the last `advance` (see `Ready` for the driver's order). `committed` holds only
   * entries already persisted or in this Ready's `entries`. Calling it does not change the core.
   */
  ready (): Ready {
    const hard: HardState = { term: this.#term, vote: this.#vote, commit: this.#commit }
    return {
      softState: this.#softState(),
      hardState: this.#hardEqual(this.#persistedHard) ? null : hard,
      entries: this.#log.slice(this.#persistedTo + 1, this.#log.lastIndex()),
      snapshot: this.#pendingSnapshot,
      messages: this.#msgs.slice(),
      snapshotToApply: this.#snapshotToApply,
      committed: this.#log.slice(this.#appliedCursor() + 1, this.#commit),
      readStates: this.#readStates.slice()
    }
  }

  /** The driver has persisted, sent and applied `rd` (the last `ready()`, with no input in between). */
  advance (rd: Ready): void {
    this.#reportedSoft = rd.softState
    if (rd.hardState !== null) this.#persistedHard = rd.hardState
    const last = rd.entries.at(-1)
    if (last !== undefined && this.#log.term(last.index) === last.term) this.#persistedTo = Math.max(this.#persistedTo, last.index)
    if (rd.snapshot !== null && rd.snapshot === this.#pendingSnapshot) this.#pendingSnapshot = null
    if (rd.snapshotToApply !== null) {
      if (rd.snapshotToApply === this.#snapshotToApply) this.#snapshotToApply = null
      this.#applied = Math.max(this.#applied, rd.snapshotToApply.index)
    }
    const applied = rd.committed.at(-1)
    if (applied !== undefined) this.#applied = Math.max(this.#applied, applied.index)
    this.#msgs.splice(0, rd.messages.length)
    this.#readStates.splice(0, rd.readStates.length)
  }

  status (): RaftStatus {
    const progress: Record<RaftId, ProgressStatus> = {}
    for (const [id, pr] of this.#progress) progress[id] = { match: pr.match, next: pr.next, state: pr.state }
    return {
      id: this.#id,
      role: this.#role,
      term: this.#term,
      leader: this.#leader,
      commit: this.#commit,
      applied: this.#applied,
      lastIndex: this.#log.lastIndex(),
      voters: [...this.#voters],
      lastConfIndex: this.#lastConfIndex,
      progress,
      leadTransferee: this.#leadTransferee
    }
  }

  // ─── roles and elections (Raft §5.2) ───────────────────────────────────────────────────────────

  #softState (): SoftState {
    return { role: this.#role, leader: this.#leader, term: this.#term }
  }

  #hardEqual (h: HardState): boolean {
    return h.term === this.#term && h.vote === this.#vote && h.commit === this.#commit
  }

  #appliedCursor (): number {
    return this.#snapshotToApply?.index ?? this.#applied
  }

  /** Only a member of its own voter set campaigns: a joining or removed node waits quietly. */
  #promotable (): boolean {
    return this.#voters.includes(this.#id)
  }

  #reset (term: number): void {
    if (term !== this.#term) {
      this.#term = term
      this.#vote = null
      this.#incoming = null
    }
    this.#leader = null
    this.#electionElapsed = 0
    this.#heartbeatElapsed = 0
    // Raft §5.2: randomized in [electionTicks, 2 * electionTicks) so that split votes are rare.
    const r = this.#c.random()
    this.#randomizedTimeout = this.#c.electionTicks + Math.min(this.#c.electionTicks - 1, Math.max(0, Math.floor(r * this.#c.electionTicks)))
    this.#votes.clear()
    this.#progress.clear()
    this.#leadTransferee = null
    this.#reads.clear()
    this.#readsAwaitingCommit = []
  }

  #becomeFollower (term: number, leader: RaftId | null): void {
    this.#reset(term)
    this.#role = 'follower'
    this.#leader = leader
  }

  #becomeLeader (): void {
    this.#reset(this.#term)
    this.#role = 'leader'
    this.#leader = this.#id
    for (const v of this.#voters) if (v !== this.#id) this.#progress.set(v, newProgress(this.#log.lastIndex() + 1))
    // Raft §8: a no-op entry of the new term lets the leader commit (and so learn the commit index).
    this.#appendAsLeader({ kind: 'normal', term: this.#term, index: this.#log.lastIndex() + 1, data: new Uint8Array(0) })
  }

  #campaign (kind: Campaign): void {
    let term: number
    if (kind === 'pre-vote') {
      this.#reset(this.#term)
      this.#role = 'pre-candidate'
      term = this.#term + 1
    } else {
      this.#reset(this.#term + 1)
      this.#role = 'candidate'
      this.#vote = this.#id
      term = this.#term
    }
    this.#votes.set(this.#id, true)
    if (voteResult(this.#voters, this.#votes) === 'won') {
      if (kind === 'pre-vote') this.#campaign('vote')
      else this.#becomeLeader()
      return
    }
    const lastIndex = this.#log.lastIndex()
    const lastTerm = this.#log.lastTerm()
    for (const v of this.#voters) {
      if (v === this.#id) continue
      if (kind === 'pre-vote') this.#send({ type: 'pre-vote', to: v, term, lastIndex, lastTerm })
      else this.#send({ type: 'vote', to: v, term, lastIndex, lastTerm, transfer: kind === 'transfer' })
    }
  }

  #tally (from: RaftId, granted: boolean): void {
    this.#votes.set(from, granted)
    const result = voteResult(this.#voters, this.#votes)
    if (result === 'won') {
      if (this.#role === 'pre-candidate') this.#campaign('vote')
      else this.#becomeLeader()
    } else if (result === 'lost') {
      this.#becomeFollower(this.#term, null)
    }
  }

  /** RequestVote (§5.2, §5.4.1) and PreVote (thesis §9.6); term and lease checks were done in `step`. */
  #handleVoteRequest (m: Extract<Message, { type: 'pre-vote' | 'vote' }>): void {
    const resp = m.type === 'pre-vote' ? 'pre-vote-resp' : 'vote-resp'
    const canVote = this.#vote === m.from ||
      (this.#vote === null && this.#leader === null) ||
      (m.type === 'pre-vote' && m.term > this.#term)
    // §5.4.1 election restriction: only for a candidate whose log is at least as up to date as ours.
    if (canVote && this.#log.isUpToDate(m.lastIndex, m.lastTerm)) {
      this.#send({ type: resp, to: m.from, term: m.term, granted: true })
      if (m.type === 'vote') {
        this.#vote = m.from
        this.#electionElapsed = 0
      }
    } else {
      this.#send({ type: resp, to: m.from, granted: false })
    }
  }

  #tickElection (): void {
    this.#electionElapsed++
    if (this.#promotable() && this.#electionElapsed >= this.#randomizedTimeout) this.#campaign('pre-vote')
  }

  #tickLeader (): void {
    this.#heartbeatElapsed++
    this.#electionElapsed++
    if (this.#electionElapsed >= this.#c.electionTicks) {
      this.#electionElapsed = 0
      // CheckQuorum (thesis §6.2): a leader that did not hear from a quorum in an election timeout steps down.
      let active = this.#voters.includes(this.#id) ? 1 : 0
      for (const [id, pr] of this.#progress) {
        if (pr.recentActive && this.#voters.includes(id)) active++
        pr.recentActive = false
      }
      if (active < quorumSize(this.#voters.length)) {
        this.#becomeFollower(this.#term, null)
        return
      }
    }
    if (this.#leadTransferee !== null && ++this.#transferElapsed >= this.#c.electionTicks) this.#leadTransferee = null
    for (const [id, pr] of this.#progress) {
      const waiting = (pr.state === 'replicate' && pr.inflight.length > 0) || (pr.state === 'snapshot' && pr.transfer?.awaiting === true)
      if (!waiting || ++pr.stallTicks < this.#c.electionTicks) continue
      // Nothing acknowledged for an election timeout: the pipeline or the snapshot chunk was lost.
      if (pr.state === 'replicate') becomeProbe(pr)
      else becomeSnapshot(pr, this.#log.snapshot)
      this.#sendAppend(id, false)
    }
    if (this.#heartbeatElapsed >= this.#c.heartbeatTicks) {
      this.#heartbeatElapsed = 0
      this.#broadcastHeartbeat(this.#reads.lastContext())
    }
  }

  // ─── follower side of replication (§5.3, §7) ───────────────────────────────────────────────────

  #handleAppend (m: Extract<Message, { type: 'append' }>): void {
    let prevIndex = m.prevIndex
    let entries = m.entries
    if (prevIndex < this.#commit) {
      // Entries up to our commit index are committed, hence in the leader's log (§5.4): skip them.
      const skip = Math.min(this.#commit - prevIndex, entries.length)
      entries = entries.slice(skip)
      prevIndex += skip
      if (prevIndex < this.#commit) {
        this.#send({ type: 'append-resp', to: m.from, success: true, matchIndex: this.#commit, hintIndex: 0, hintTerm: 0 })
        return
      }
    } else if (!this.#log.matchTerm(prevIndex, m.prevTerm)) {
      // §5.3 consistency check failed. Fast back-off: hint the last index whose term is ≤ prevTerm, so
      // the leader skips a whole conflicting term per round trip.
      let hintIndex = this.#log.lastIndex()
      if (prevIndex <= hintIndex) hintIndex = this.#log.findConflictByTerm(prevIndex, m.prevTerm)
      const hintTerm = this.#log.term(hintIndex) ?? 0
      this.#send({ type: 'append-resp', to: m.from, success: false, matchIndex: m.prevIndex, hintIndex, hintTerm })
      return
    }
    let conflict = -1
    let i = 0
    for (; i < entries.length; i++) {
      const e = entries[i] as Entry
      const t = this.#log.term(e.index)
      if (t === undefined) break
      if (t !== e.term) { conflict = e.index; break }
    }
    if (conflict !== -1) {
      if (conflict <= this.#commit) return // would erase a committed entry: not from a real leader, drop
      this.#truncate(conflict)
    }
    this.#appendEntries(entries.slice(i))
    const lastNew = prevIndex + entries.length
    const commit = Math.min(m.commit, lastNew)
    if (commit > this.#commit) this.#commit = commit
    this.#send({ type: 'append-resp', to: m.from, success: true, matchIndex: lastNew, hintIndex: 0, hintTerm: 0 })
  }

  #handleHeartbeat (m: Extract<Message, { type: 'heartbeat' }>): void {
    // The leader sends min(our match, its commit): entries up to there are ours and committed.
    const commit = Math.min(m.commit, this.#log.lastIndex())
    if (commit > this.#commit) this.#commit = commit
    this.#send({ type: 'heartbeat-resp', to: m.from, context: m.context })
  }

  /** InstallSnapshot chunk (Raft §7, Figure 13): accept offset 0 (restart) or exactly the next offset. */
  #handleSnapshot (m: Extract<Message, { type: 'snapshot' }>): void {
    let inc = this.#incoming
    if (m.offset === 0) {
      inc = { term: m.term, index: m.index, snapTerm: m.snapTerm, voters: [...m.voters], chunks: [], size: 0 }
      this.#incoming = inc
    } else if (inc === null || inc.term !== m.term || inc.index !== m.index || inc.snapTerm !== m.snapTerm || inc.size !== m.offset) {
      this.#send({ type: 'snapshot-resp', to: m.from, index: m.index, offset: m.offset, success: false })
      return
    }
    inc.chunks.push(m.chunk.slice())
    inc.size += m.chunk.length
    if (m.done) {
      this.#incoming = null
      this.#installSnapshot({ index: inc.index, term: inc.snapTerm, voters: inc.voters, data: concat(inc.chunks, inc.size) })
    }
    this.#send({ type: 'snapshot-resp', to: m.from, index: m.index, offset: inc.size, success: true })
  }

  #installSnapshot (s: Snapshot): void {
    if (s.index <= this.#commit) return // we already have (and committed) everything it holds
    if (this.#log.matchTerm(s.index, s.term)) {
      this.#commit = s.index // Figure 13 step 6: our log holds its last entry; keep the log, fast-forward commit
      return
    }
    this.#log.restore(s)
    this.#commit = s.index
    this.#persistedTo = s.index
    this.#pendingSnapshot = s
    this.#snapshotToApply = s
    this.#recomputeVoters()
  }

  // ─── log and voters ────────────────────────────────────────────────────────────────────────────

  #appendEntries (entries: readonly Entry[]): void {
    if (entries.length === 0) return
    this.#log.append(entries)
    for (const e of entries) {
      if (e.kind !== 'conf') continue
      this.#voters = applyConfChange(this.#voters, e.change) // thesis §4.1: effective once appended
      this.#lastConfIndex = e.index
    }
  }

  #truncate (index: number): void {
    this.#log.truncateFrom(index)
    this.#persistedTo = Math.min(this.#persistedTo, index - 1)
    this.#recomputeVoters()
  }

  #recomputeVoters (): void {
    const entries = this.#log.slice(this.#log.firstIndex(), this.#log.lastIndex())
    this.#voters = votersAfter(this.#log.snapshot.voters, entries)
    this.#lastConfIndex = 0
    for (const e of entries) if (e.kind === 'conf') this.#lastConfIndex = e.index
  }

  #send (m: Outgoing): void {
    this.#msgs.push({ ...m, from: this.#id, term: m.term ?? this.#term } as Message)
  }

  // ─── leader side of replication (§5.3, §5.4.2, §7) ─────────────────────────────────────────────

  #appendAsLeader (entry: Entry): Proposed {
    this.#appendEntries([entry])
    if (entry.kind === 'conf') this.#syncProgress()
    const committed = this.#maybeCommit()
    this.#broadcastAppend(committed)
    return { index: entry.index, term: entry.term }
  }

  /** Track exactly the voters other than ourselves (a new voter starts probing from our last index). */
  #syncProgress (): void {
    for (const id of [...this.#progress.keys()]) if (!this.#voters.includes(id)) this.#progress.delete(id)
    for (const v of this.#voters) {
      if (v !== this.#id && !this.#progress.has(v)) this.#progress.set(v, newProgress(this.#log.lastIndex() + 1))
    }
    if (this.#leadTransferee !== null && !this.#voters.includes(this.#leadTransferee)) this.#leadTransferee = null
  }

  /** §5.4.2: commit the highest index replicated on a quorum, but only if its entry is of the current term. */
  #maybeCommit (): boolean {
    const last = this.#log.lastIndex()
    const index = quorumIndex(this.#voters, v => v === this.#id ? last : this.#progress.get(v)?.match ?? 0)
    if (index <= this.#commit || this.#log.term(index) !== this.#term) return false
    const hadCommittedInTerm = this.#log.term(this.#commit) === this.#term
    this.#commit = index
    if (!hadCommittedInTerm) {
      const waiting = this.#readsAwaitingCommit
      this.#readsAwaitingCommit = []
      for (const requestId of waiting) this.#startRead(requestId)
    }
    if (!this.#voters.includes(this.#id) && this.#commit >= this.#lastConfIndex) {
      // Thesis §4.2.2: our own removal is committed. Tell the followers, hand over, step down.
      this.#broadcastAppend(true)
      const heir = [...this.#progress].find(([, pr]) => pr.match === last)
      if (heir !== undefined) this.#send({ type: 'timeout-now', to: heir[0] })
      this.#becomeFollower(this.#term, null)
    }
    return true
  }

  #startRead (requestId: number): void {
    const self = this.#voters.includes(this.#id) ? this.#id : null
    if (self !== null && quorumSize(this.#voters.length) === 1) {
      this.#readStates.push({ requestId, index: this.#commit })
      return
    }
    this.#broadcastHeartbeat(this.#reads.add(requestId, this.#commit, self))
  }

  /** `commitOnly`: the commit index moved, so followers with nothing new still get an (empty) append. */
  #broadcastAppend (commitOnly: boolean): void {
    for (const id of this.#progress.keys()) this.#sendAppend(id, commitOnly)
  }

  #broadcastHeartbeat (context: number): void {
    for (const [id, pr] of this.#progress) {
      this.#send({ type: 'heartbeat', to: id, commit: Math.min(pr.match, this.#commit), context })
    }
  }

  /**
   * Send what follower `to` needs: appends (one while probing; pipelined up to maxInflightAppends while
   * replicating) or, when the entries were compacted, the next snapshot chunk. `commitOnly`: with nothing
   * new, still send an empty append so that the follower learns the commit index.
   */
  #sendAppend (to: RaftId, commitOnly: boolean): void {
    const pr = this.#progress.get(to)
    if (pr === undefined) return
    if (pr.state === 'snapshot') { this.#sendChunk(to, pr); return }
    if (pr.state === 'probe' && pr.probeSent) return
    const last = this.#log.lastIndex()
    if (pr.state === 'probe') {
      // One append (possibly empty) to find where the logs match; paused until answered or a heartbeat answer.
      if (!this.#sendEntries(to, pr, last)) return
      pr.probeSent = true
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
    const prevTerm = this.#log.term(pr.match)
    if (prevTerm !== undefined) this.#send({ type: 'append', to, prevIndex: pr.match, prevTerm, entries: [], commit: this.#commit })
  }

  /**
   * One append of up to maxEntriesPerAppend entries from `pr.next` (recorded in `inflight` while
   * replicating); switches to InstallSnapshot (§7) and returns false when the entries it needs were compacted.
   */
  #sendEntries (to: RaftId, pr: Progress, last: number): boolean {
    const prevIndex = pr.next - 1
    const prevTerm = this.#log.term(prevIndex)
    if (prevTerm === undefined) {
      becomeSnapshot(pr, this.#log.snapshot)
      this.#sendChunk(to, pr)
      return false
    }
    const entries = this.#log.slice(pr.next, Math.min(last, pr.next + this.#c.maxEntriesPerAppend - 1))
    this.#send({ type: 'append', to, prevIndex, prevTerm, entries, commit: this.#commit })
    if (pr.state === 'replicate') pr.inflight.push(prevIndex + entries.length)
    return true
  }

  /** One InstallSnapshot chunk of at most snapshotChunkBytes, stop-and-wait. */
  #sendChunk (to: RaftId, pr: Progress): void {
    const t = pr.transfer
    if (t === null || t.awaiting) return
    const data = t.snapshot.data
    const end = Math.min(t.offset + this.#c.snapshotChunkBytes, data.length)
    this.#send({
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

  #handleAppendResp (m: Extract<Message, { type: 'append-resp' }>): void {
    const pr = this.#progress.get(m.from)
    if (pr === undefined) return
    pr.recentActive = true
    if (!m.success) {
      if (pr.state === 'snapshot') return
      // Fast back-off: the follower's hint (index, term) becomes our last index with term ≤ hintTerm.
      const hint = m.hintTerm > 0 ? this.#log.findConflictByTerm(m.hintIndex, m.hintTerm) : m.hintIndex
      if (maybeDecrTo(pr, m.matchIndex, hint)) this.#sendAppend(m.from, false)
      return
    }
    if (m.matchIndex > this.#log.lastIndex()) return
    const probing = pr.state === 'probe' && pr.match === m.matchIndex
    if (maybeUpdate(pr, m.matchIndex) || probing) {
      if (pr.state === 'probe') becomeReplicate(pr)
      else if (pr.state === 'snapshot' && pr.match >= (pr.transfer?.snapshot.index ?? 0)) becomeProbe(pr)
      if (this.#maybeCommit()) {
        if (this.#role !== 'leader') return
        this.#broadcastAppend(true)
      }
      if (this.#leadTransferee === m.from && pr.match === this.#log.lastIndex()) this.#send({ type: 'timeout-now', to: m.from })
    }
    this.#sendAppend(m.from, false)
  }

  #handleHeartbeatResp (m: Extract<Message, { type: 'heartbeat-resp' }>): void {
    const pr = this.#progress.get(m.from)
    if (pr === undefined) return
    pr.recentActive = true
    if (pr.state === 'probe') pr.probeSent = false // the lost probe is retried at heartbeat pace
    if (pr.match < this.#log.lastIndex()) this.#sendAppend(m.from, false)
    if (m.context > 0) this.#readStates.push(...this.#reads.ack(m.from, m.context, this.#voters))
  }

  #handleSnapshotResp (m: Extract<Message, { type: 'snapshot-resp' }>): void {
    const pr = this.#progress.get(m.from)
    if (pr === undefined) return
    pr.recentActive = true
    const t = pr.transfer
    if (pr.state !== 'snapshot' || t === null || !t.awaiting || m.index !== t.snapshot.index) return
    if (!m.success) {
      if (m.offset !== t.offset) return // refusal of an older chunk
      becomeSnapshot(pr, this.#log.snapshot) // restart from offset 0
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
    this.#sendAppend(m.from, false)
  }
}
