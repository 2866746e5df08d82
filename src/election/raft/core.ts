import { FlotillaError } from '../../membership/errors.js'
import { RaftLog } from './log.js'
import { applyConfChange, quorumIndex, quorumSize, voteResult, votersAfter } from './quorum.js'
import { ReadIndexQueue } from './read-index.js'
import { Replicator, type Outgoing } from './replication.js'
import { SnapshotAssembly } from './snapshot-assembly.js'
import { validateConfig, type ProgressStatus, type Proposed, type RaftStatus } from './status.js'
import type {
  ConfChange, Entry, HardState, Message, RaftConfig, RaftId, RaftInitialState, Ready, ReadState, Role, Snapshot, SoftState
} from './types.js'
import { isValidMessage } from './validate.js'
import { judgeAppend } from './follower-append.js'
import { grantsVote, judgeTerm } from './term-check.js'
import { bootstrapState, forceNewClusterState } from './initial-state.js'

type Campaign = 'pre-vote' | 'vote' | 'transfer'

/** Ticks after which a pre-candidate that has not won asks for pre-votes again. */
const PRE_VOTE_RETRY_TICKS = 2

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
  readonly #log: RaftLog
  #term: number
  #vote: RaftId | null
  #commit: number
  #applied: number
  #role: Role = 'follower'
  #leader: RaftId | null = null
  #voters: RaftId[] = []
  /** Index of the newest conf entry in the in-memory log (0 when none): pending while > commit. */
  #lastConfIndex = 0

  // Ready bookkeeping. Handed: given to the driver in an accepted Ready (its write may still be in
  // flight). Persisted: durable, as the driver reported through `persisted`/`advance`.
  #handedTo: number
  #handedHard: HardState
  #persistedTo: number
  #persistedHard: HardState
  #reportedSoft: SoftState
  readonly #accepted = new WeakSet<Ready>()
  /** Leader: entries were appended since the last Ready and the followers have not been sent them yet. */
  #appendsOwed = false
  #pendingSnapshot: Snapshot | null = null
  #snapshotToApply: Snapshot | null = null
  #msgs: Message[] = []
  #readStates: ReadState[] = []

  #electionElapsed = 0
  #heartbeatElapsed = 0
  #randomizedTimeout = 0
  #votes = new Map<RaftId, boolean>()

  // Leader only.
  readonly #repl: Replicator
  #leadTransferee: RaftId | null = null
  #transferElapsed = 0
  #reads = new ReadIndexQueue()
  #readsAwaitingCommit: number[] = []

  // Follower only.
  readonly #incoming = new SnapshotAssembly()

  /** Start from storage's durable state (which is treated as persisted). Throws on an invalid config or an inconsistent state. */
  constructor (config: RaftConfig, initial: RaftInitialState) {
    validateConfig(config)
    this.#c = config
    this.#id = config.id
    this.#log = new RaftLog(initial.snapshot, initial.entries)
    const log = this.#log
    this.#repl = new Replicator(config, { log, commit: () => this.#commit, send: m => this.#send(m) })
    const hs = initial.hardState
    if (hs.commit > this.#log.lastIndex()) {
      throw new FlotillaError('internal', `raft: commit ${hs.commit} beyond last index ${this.#log.lastIndex()}`)
    }
    this.#term = hs.term
    this.#vote = hs.vote
    this.#commit = Math.max(hs.commit, this.#log.snapshot.index)
    this.#applied = this.#log.snapshot.index
    this.#persistedTo = this.#log.lastIndex()
    this.#handedTo = this.#persistedTo
    this.#persistedHard = hs
    this.#handedHard = hs
    this.#recomputeVoters()
    this.#becomeFollower(this.#term, null)
    this.#reportedSoft = this.#softState()
  }

  /** `swarm init` (see initial-state.ts). */
  static readonly bootstrap = bootstrapState
  /** Disaster recovery, swarmkit's --force-new-cluster (see initial-state.ts). */
  static readonly forceNewCluster = forceNewClusterState

  // ─── inputs ────────────────────────────────────────────────────────────────────────────────────

  /** One unit of logical time: election timeout on followers/candidates, heartbeats and CheckQuorum on the leader. */
  tick (): void {
    if (this.#role === 'leader') this.#tickLeader()
    else this.#tickElection()
  }

  /** Deliver a message from the network. Malformed messages and messages for another node are dropped. */
  step (m: Message): void {
    if (!isValidMessage(m) || m.to !== this.#id || m.from === this.#id) return
    const verdict = judgeTerm(m, this.#term, this.#leader !== null && this.#electionElapsed < this.#c.electionTicks)
    switch (verdict.kind) {
      case 'drop': return
      case 'refuse-pre-vote':
        this.#send({ type: 'pre-vote-resp', to: m.from, granted: false })
        return
      case 'tell-stale-leader':
        this.#send({ type: 'append-resp', to: m.from, success: false, matchIndex: 0, hintIndex: 0, hintTerm: 0 })
        return
      case 'follow':
        this.#becomeFollower(m.term, verdict.leader)
        break
      case 'continue':
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
        if (this.#role === 'leader') this.#repl.handleSnapshotResp(m)
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
    const pr = this.#repl.get(to)
    if (pr !== undefined && pr.match === this.#log.lastIndex()) this.#send({ type: 'timeout-now', to })
    else this.#repl.sendAppend(to, false)
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
    return s.role !== this.#role || s.leader !== this.#leader || s.term !== this.#term || this.#appendsOwed ||
      !this.#hardEqual(this.#handedHard) || this.#handedTo < this.#log.lastIndex() ||
      this.#pendingSnapshot !== null || this.#snapshotToApply !== null || this.#msgs.length > 0 ||
      this.#readStates.length > 0 || this.#applyLimit() > this.#appliedCursor()
  }

  /**
   * Everything since the last accepted Ready (see `Ready` for the driver's order). It first sends the
   * followers the entries proposed since the last Ready, so that proposals made together travel in one
   * append per follower (Raft thesis §10.2.1); called again with no input in between, it returns the same.
   * `committed` holds only entries already persisted or in this Ready's `entries`; on a leader, only
   * entries already persisted here.
   */
  ready (): Ready {
    if (this.#appendsOwed) {
      this.#appendsOwed = false
      this.#repl.broadcastAppend(false)
    }
    const hard: HardState = { term: this.#term, vote: this.#vote, commit: this.#commit }
    return {
      softState: this.#softState(),
      hardState: this.#hardEqual(this.#handedHard) ? null : hard,
      entries: this.#log.slice(this.#handedTo + 1, this.#log.lastIndex()),
      snapshot: this.#pendingSnapshot,
      messages: this.#msgs.slice(),
      snapshotToApply: this.#snapshotToApply,
      committed: this.#log.slice(this.#appliedCursor() + 1, this.#applyLimit()),
      readStates: this.#readStates.slice(),
      // Thesis §10.2.1: a leader whose term and vote are durable sends no message that depends on its
      // own log being on disk (it acknowledges nothing), so it may write its log while its appends travel.
      persistAsync: this.#role === 'leader' && this.#snapshotToApply === null &&
        this.#persistedHard.term === this.#term && this.#persistedHard.vote === this.#vote
    }
  }

  /**
   * The driver took `rd` (the last `ready()`, with no input in between): it sent `messages`, applied
   * `snapshotToApply` and `committed`, and queued the write of the rest; the next Ready starts after it.
   * The driver calls it for a `persistAsync` Ready, then `persisted(rd)` once the write is durable;
   * `advance` does both for the others. Accepting a Ready twice is a no-op.
   */
  accept (rd: Ready): void {
    if (this.#accepted.has(rd)) return
    this.#accepted.add(rd)
    this.#reportedSoft = rd.softState
    if (rd.hardState !== null) this.#handedHard = rd.hardState
    const last = rd.entries.at(-1)
    if (last !== undefined && this.#log.term(last.index) === last.term) this.#handedTo = Math.max(this.#handedTo, last.index)
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

  /**
   * The snapshot, entries and hard state of the accepted Ready `rd` are durable (call in the order the
   * Readies were taken). A leader counts itself toward a quorum only for what it has persisted (thesis
   * §10.2.1), so this may commit entries: the next Ready then carries them.
   */
  persisted (rd: Ready): void {
    if (rd.hardState !== null) this.#persistedHard = rd.hardState
    const last = rd.entries.at(-1)
    if (last !== undefined && this.#log.term(last.index) === last.term) this.#persistedTo = Math.max(this.#persistedTo, last.index)
    if (this.#role === 'leader' && this.#maybeCommit() && this.#role === 'leader') this.#repl.broadcastAppend(true)
  }

  /** The driver has persisted, sent and applied `rd` (the last `ready()`, with no input in between): `accept` then `persisted`. */
  advance (rd: Ready): void {
    this.accept(rd)
    this.persisted(rd)
  }

  status (): RaftStatus {
    const progress: Record<RaftId, ProgressStatus> = {}
    for (const [id, pr] of this.#repl.entries()) progress[id] = { match: pr.match, next: pr.next, state: pr.state }
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

  /** The last index the next Ready may hand over for applying: a leader applies only what it has persisted itself. */
  #applyLimit (): number {
    return this.#role === 'leader' ? Math.min(this.#commit, this.#persistedTo) : this.#commit
  }

  /** Only a member of its own voter set campaigns: a joining or removed node waits quietly. */
  #promotable (): boolean {
    return this.#voters.includes(this.#id)
  }

  #reset (term: number): void {
    if (term !== this.#term) {
      this.#term = term
      this.#vote = null
      this.#incoming.clear()
    }
    this.#leader = null
    this.#electionElapsed = 0
    this.#heartbeatElapsed = 0
    // Raft §5.2: randomized in [electionTicks, 2 * electionTicks) so that split votes are rare.
    const r = this.#c.random()
    this.#randomizedTimeout = this.#c.electionTicks + Math.min(this.#c.electionTicks - 1, Math.max(0, Math.floor(r * this.#c.electionTicks)))
    this.#votes.clear()
    this.#repl.clear()
    this.#appendsOwed = false
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
    this.#repl.sync(this.#voters, this.#id)
    // Raft §8: a no-op entry of the new term lets the leader commit (and so learn the commit index).
    this.#appendAsLeader({ kind: 'normal', term: this.#term, index: this.#log.lastIndex() + 1, data: new Uint8Array(0) })
  }

  #campaign (kind: Campaign): void {
    let term: number
    if (kind === 'pre-vote') {
      this.#reset(this.#term)
      this.#role = 'pre-candidate'
      // A pre-vote changes no term, so a round that was not won is asked again soon rather than after a
      // whole election timeout: the usual refusal is a voter whose leader lease runs out a tick later
      // (its last heartbeat came a tick after ours), or a voter whose log is one entry behind ours.
      this.#randomizedTimeout = Math.min(this.#randomizedTimeout, PRE_VOTE_RETRY_TICKS)
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
    if (!grantsVote(m, { term: this.#term, vote: this.#vote, leader: this.#leader, log: this.#log })) {
      this.#send({ type: resp, to: m.from, granted: false })
      return
    }
    this.#send({ type: resp, to: m.from, term: m.term, granted: true })
    if (m.type === 'vote') {
      this.#vote = m.from
      this.#electionElapsed = 0
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
      const active = (this.#voters.includes(this.#id) ? 1 : 0) + this.#repl.takeRecentActive(this.#voters)
      if (active < quorumSize(this.#voters.length)) {
        this.#becomeFollower(this.#term, null)
        return
      }
    }
    if (this.#leadTransferee !== null && ++this.#transferElapsed >= this.#c.electionTicks) this.#leadTransferee = null
    this.#repl.tick()
    if (this.#heartbeatElapsed >= this.#c.heartbeatTicks) {
      this.#heartbeatElapsed = 0
      this.#repl.broadcastHeartbeat(this.#reads.lastContext())
    }
  }

  // ─── follower side of replication (§5.3, §7) ───────────────────────────────────────────────────

  #handleAppend (m: Extract<Message, { type: 'append' }>): void {
    const d = judgeAppend(this.#log, this.#commit, m)
    switch (d.kind) {
      case 'drop': return
      case 'reject':
        this.#send({ type: 'append-resp', to: m.from, success: false, matchIndex: m.prevIndex, hintIndex: d.hintIndex, hintTerm: d.hintTerm })
        return
      case 'accept':
        if (d.truncateFrom !== null) this.#truncate(d.truncateFrom)
        this.#appendEntries(d.entries)
        if (d.commit > this.#commit) this.#commit = d.commit
        this.#send({ type: 'append-resp', to: m.from, success: true, matchIndex: d.matchIndex, hintIndex: 0, hintTerm: 0 })
    }
  }

  #handleHeartbeat (m: Extract<Message, { type: 'heartbeat' }>): void {
    // The leader sends min(our match, its commit): entries up to there are ours and committed.
    const commit = Math.min(m.commit, this.#log.lastIndex())
    if (commit > this.#commit) this.#commit = commit
    this.#send({ type: 'heartbeat-resp', to: m.from, context: m.context })
  }

  /** InstallSnapshot chunk (Raft §7, Figure 13): accept offset 0 (restart) or exactly the next offset. */
  #handleSnapshot (m: Extract<Message, { type: 'snapshot' }>): void {
    const r = this.#incoming.accept(m)
    if (r.status === 'refused') {
      this.#send({ type: 'snapshot-resp', to: m.from, index: m.index, offset: m.offset, success: false })
      return
    }
    if (r.status === 'done') this.#installSnapshot(r.snapshot)
    this.#send({ type: 'snapshot-resp', to: m.from, index: m.index, offset: r.size, success: true })
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
    this.#handedTo = s.index
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
    this.#handedTo = Math.min(this.#handedTo, index - 1)
    this.#recomputeVoters()
  }

  #recomputeVoters (): void {
    const entries = this.#log.slice(this.#log.firstIndex(), this.#log.lastIndex())
    this.#voters = votersAfter(this.#log.snapshot.voters, entries)
    this.#lastConfIndex = 0
    for (const e of entries) if (e.kind === 'conf') this.#lastConfIndex = e.index
  }

  #send (m: Outgoing): void {
    this.#msgs.push({ ...m, from: this.#id, term: m.term ?? this.#term })
  }

  // ─── leader: commit (§5.4.2), ReadIndex, answers (replication itself is in replication.ts) ─────

  #appendAsLeader (entry: Entry): Proposed {
    this.#appendEntries([entry])
    if (entry.kind === 'conf') {
      this.#repl.sync(this.#voters, this.#id)
      if (this.#leadTransferee !== null && !this.#voters.includes(this.#leadTransferee)) this.#leadTransferee = null
      this.#readStates.push(...this.#reads.recheck(this.#voters))
    }
    // Sent at the next `ready()`, with whatever else is proposed before it. Appending commits nothing:
    // this leader counts itself only once the entry is persisted (`persisted`).
    this.#appendsOwed = true
    return { index: entry.index, term: entry.term }
  }

  /**
   * §5.4.2: commit the highest index replicated on a quorum, but only if its entry is of the current term.
   * The leader's own copy counts only once persisted (thesis §10.2.1: it writes while its appends travel).
   */
  #maybeCommit (): boolean {
    const last = this.#log.lastIndex()
    const index = quorumIndex(this.#voters, v => v === this.#id ? this.#persistedTo : this.#repl.get(v)?.match ?? 0)
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
      this.#repl.broadcastAppend(true)
      const heir = [...this.#repl.entries()].find(([, pr]) => pr.match === last)
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
    this.#repl.broadcastHeartbeat(this.#reads.add(requestId, this.#commit, self))
  }

  #handleAppendResp (m: Extract<Message, { type: 'append-resp' }>): void {
    const result = this.#repl.handleAppendResp(m)
    const pr = this.#repl.get(m.from)
    if (result === 'rejected' || pr === undefined) return
    if (result === 'advanced') {
      if (this.#maybeCommit()) {
        if (this.#role !== 'leader') return
        this.#repl.broadcastAppend(true)
      }
      // Thesis §3.10: the transfer target is caught up; tell it to campaign now.
      if (this.#leadTransferee === m.from && pr.match === this.#log.lastIndex()) this.#send({ type: 'timeout-now', to: m.from })
    }
    this.#repl.sendAppend(m.from, false)
  }

  #handleHeartbeatResp (m: Extract<Message, { type: 'heartbeat-resp' }>): void {
    this.#repl.handleHeartbeatResp(m)
    if (m.context > 0) this.#readStates.push(...this.#reads.ack(m.from, m.context, this.#voters))
  }
}
