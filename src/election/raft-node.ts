import { FlotillaError, type Logger } from '../membership/index.js'
import { RaftCore } from './raft/index.js'
import type { ConfChange, Entry, HardState, Message, RaftConfig, RaftId, RaftInitialState, Ready, SoftState } from './raft/types.js'
import type { RaftStorage } from './storage/index.js'
import type { RaftTransport } from './transport.js'
import type { StateMachine } from './state-machine.js'
import { NotLeaderError } from './errors.js'
import type { RaftObserver } from './observer.js'

/** Timing of the managers' Raft, in ticks of `tickMs`. */
export interface RaftTiming {
  readonly tickMs: number
  readonly electionTicks: number
  readonly heartbeatTicks: number
}

/**
 * 100 ms ticks, an election after 0.5–1.0 s without a leader, a heartbeat every tick: a dead leader
 * is replaced in about a second (Docker's swarm: 1 s ticks, election tick 10, so 10–20 s).
 */
export const DEFAULT_RAFT_TIMING: RaftTiming = Object.freeze({ tickMs: 100, electionTicks: 5, heartbeatTicks: 1 })

/**
 * What a proposal's client is told when this leader stepped down before the entry committed: the entry
 * may have reached a majority and be committed by the next leader, or be lost with this term.
 */
export const LOST_LEADERSHIP = 'this manager lost its leadership before the write committed (it could not hear from a quorum of managers); the write may still be applied by the next leader: inspect before retrying'

/** What an operator can do when writes time out for want of a quorum. */
export const QUORUM_HINT = 'a majority of managers must be up; if they are lost for good, run `flotilla swarm init --force-new-cluster` on a surviving manager'

/** Entries applied between two snapshots of the store. */
const SNAPSHOT_EVERY = 1000
/** How long a proposal or a read barrier may wait (for a leader, for commit) before it fails. */
export const PROPOSAL_TIMEOUT_MS = 10_000

interface Pending<R> {
  readonly term: number
  readonly resolve: (r: R | undefined) => void
  readonly reject: (e: Error) => void
  readonly timer: NodeJS.Timeout
}

type Input =
  | { readonly kind: 'tick' }
  | { readonly kind: 'message', readonly msg: Message }

export interface RaftNodeDeps<C, R> {
  readonly id: RaftId
  /** Runs its calls in the order they are made, each resolving once durable (RaftStorage). */
  readonly storage: Pick<RaftStorage, 'append' | 'saveSnapshot' | 'close'>
  readonly transport: Pick<RaftTransport, 'listen' | 'send' | 'stop'>
  /** What committed entries are applied to. */
  readonly machine: StateMachine<C, R>
  readonly logger: Logger
  readonly timing: RaftTiming
  readonly random: () => number
  /** Storage or apply failed: this manager can promise nothing more (the agent stops with it). */
  readonly onFailure: (err: unknown) => void
  readonly observer?: Pick<RaftObserver, 'proposal'>
}

/**
 * The async driver around the pure Raft core: owns the tick timer, feeds messages in, and applies each
 * Ready in the order the core requires — persist (fsync) the snapshot, entries and hard state, then send
 * the messages, then apply committed entries to the store and answer their proposers, then advance.
 * Inputs that arrive while a Ready is being persisted queue up and are fed in before the next one.
 *
 * A leader's Ready (`persistAsync`, Raft thesis §10.2.1) does not wait for its own write: its appends go
 * out at once and its write is queued behind the writes in flight. Readies taken while a write is in
 * flight are written together when it completes (one write, one fsync: group commit), and the core
 * learns of each through `persisted`, counting the leader toward a quorum only then. Proposals are fed
 * to the core on the next turn of the event loop, so that those arriving together share one Ready: one
 * write and one append per follower.
 */
export class RaftNode<C, R> {
  private readonly core: RaftCore
  private readonly inputs: Input[] = []
  private readonly pending = new Map<number, Pending<R>>()
  private readonly reads = new Map<number, { resolve: () => void, reject: (e: Error) => void, timer: NodeJS.Timeout, index: number | null }>()
  private readonly leaderListeners: Array<(s: SoftState) => void> = []
  private readonly log: Logger
  private soft: SoftState
  private applied = 0
  private snapshotIndex = 0
  private nextReadId = 1
  /** The loop applying Readies, while one runs: at most one at a time. */
  private processing: Promise<void> | null = null
  /**
   * True from a kick until the loop returns. Set and cleared synchronously, so that an input that
   * arrives just after a loop that ran to the end without waiting starts a new loop at once.
   */
  private looping = false
  /** persistAsync Readies accepted but not yet handed to storage (a write is in flight), oldest first. */
  private unwritten: Ready[] = []
  /** The write in flight and the core's `persisted` calls after it, null when none. Never rejects. */
  private writing: Promise<void> | null = null
  /** The hard state last handed to storage, to tell a commit-only change (no fsync needed) from a term or vote change. */
  private written: HardState
  /** A kick is scheduled for the next turn of the event loop (proposals batch until then). */
  private kickPending = false
  private stopped = false
  private timer: NodeJS.Timeout | null = null
  private failure: Error | null = null

  constructor (private readonly deps: RaftNodeDeps<C, R>, initial: RaftInitialState) {
    this.log = deps.logger.child('raft')
    const config: RaftConfig = {
      id: deps.id,
      electionTicks: deps.timing.electionTicks,
      heartbeatTicks: deps.timing.heartbeatTicks,
      random: deps.random,
      maxEntriesPerAppend: 16,
      maxInflightAppends: 64,
      snapshotChunkBytes: 1024 * 1024
    }
    if (initial.snapshot !== null && initial.snapshot.data.byteLength > 0) {
      deps.machine.restore(initial.snapshot.data)
      this.applied = initial.snapshot.index
      this.snapshotIndex = initial.snapshot.index
    }
    this.core = new RaftCore(config, initial)
    this.written = initial.hardState
    const st = this.core.status()
    this.soft = { role: st.role, leader: st.leader, term: st.term }
  }

  /** Start ticking and receiving. */
  async start (validate: (raw: unknown) => Message | null): Promise<void> {
    await this.deps.transport.listen(msg => { this.enqueue({ kind: 'message', msg }) }, validate)
    this.timer = setInterval(() => { this.enqueue({ kind: 'tick' }) }, this.deps.timing.tickMs)
    this.timer.unref()
    this.enqueue({ kind: 'tick' })
  }

  private enqueue (input: Input): void {
    if (this.stopped) return
    this.inputs.push(input)
    this.kick()
  }

  private kick (): void {
    if (this.looping || this.stopped) return
    this.looping = true
    const run = this.loop().catch((err: unknown) => { this.fail(err) })
    this.processing = run
    void run.finally(() => { if (this.processing === run) this.processing = null })
  }

  /** Kick on the next turn of the event loop: what is proposed until then goes into one Ready. */
  private kickSoon (): void {
    if (this.kickPending) return
    this.kickPending = true
    setImmediate(() => {
      this.kickPending = false
      this.kick()
    })
  }

  /** A failed fsync or apply leaves the node unable to promise anything: stop it loudly. */
  private fail (err: unknown): void {
    if (this.failure !== null) return
    this.failure = err as Error
    this.log.error('Raft stopped: storage or apply failed', { err: (err as Error).message })
    void this.stop()
    this.deps.onFailure(err)
  }

  private async loop (): Promise<void> {
    try {
      while (!this.stopped) {
        const batch = this.inputs.splice(0, this.inputs.length)
        for (const input of batch) {
          if (input.kind === 'tick') this.core.tick()
          else this.core.step(input.msg)
        }
        if (!this.core.hasReady()) {
          if (this.inputs.length === 0) return
          continue
        }
        const rd = this.core.ready()
        if (rd.persistAsync) {
          // Thesis §10.2.1: the write starts first (it runs on the thread pool), then the appends go out.
          this.writeBehind(rd)
          this.deps.transport.send(rd.messages)
          this.applyReady(rd)
          this.core.accept(rd)
          this.maybeCompact()
          continue
        }
        if (this.writing !== null) {
          // This Ready's messages depend on its write, which must follow those in flight: wait for them
          // (the core learns of them meanwhile) and take the Ready again.
          await this.writing
          continue
        }
        await this.persist([rd])
        this.deps.transport.send(rd.messages)
        this.applyReady(rd)
        this.core.advance(rd)
        this.maybeCompact()
      }
    } finally {
      // Synchronously on return: no await lies between the last look at `inputs` and this.
      this.looping = false
    }
  }

  /** Queue a persistAsync Ready's write behind the one in flight, or start it now. */
  private writeBehind (rd: Ready): void {
    this.unwritten.push(rd)
    if (this.writing === null) this.writing = this.writeUnwritten()
  }

  /** Write every queued Ready together, report each to the core in order, and go on while more queued meanwhile. */
  private async writeUnwritten (): Promise<void> {
    try {
      while (this.unwritten.length > 0 && !this.stopped) {
        const group = this.unwritten.splice(0, this.unwritten.length)
        await this.persist(group)
        if (this.stopped) break
        for (const rd of group) this.core.persisted(rd)
        this.kick()
      }
    } catch (err) {
      this.fail(err)
    } finally {
      this.writing = null
    }
  }

  /**
   * Write `readies` (taken in this order) as storage's calls require: each snapshot on its own, and the
   * entries and newest hard state between two snapshots as one append — one write and at most one fsync.
   * Storage runs the calls in the order they are made.
   */
  private async persist (readies: readonly Ready[]): Promise<void> {
    const calls: Array<Promise<void>> = []
    let entries: Entry[] = []
    let hs: HardState | null = null
    const flush = (): void => {
      if (entries.length === 0 && hs === null) return
      // etcd's MustSync: new entries, or a new term or vote, must be on disk before any message that
      // depends on them; a hard state that only moves the commit index need not wait for an fsync.
      const sync = entries.length > 0 || (hs !== null && (hs.term !== this.written.term || hs.vote !== this.written.vote))
      calls.push(this.deps.storage.append(hs, entries, { sync }))
      if (hs !== null) this.written = hs
      entries = []
      hs = null
    }
    for (const rd of readies) {
      if (rd.snapshot !== null) {
        flush()
        calls.push(this.deps.storage.saveSnapshot(rd.snapshot))
      }
      // A Ready's entries start at or after the previous one's end (a follower's may truncate: keep order).
      const first = rd.entries[0]
      if (first !== undefined) entries = [...entries.filter(e => e.index < first.index), ...rd.entries]
      if (rd.hardState !== null) hs = rd.hardState
    }
    flush()
    await Promise.all(calls)
  }

  private applyReady (rd: Ready): void {
    if (rd.snapshotToApply !== null) {
      this.deps.machine.restore(rd.snapshotToApply.data)
      this.applied = rd.snapshotToApply.index
      this.snapshotIndex = rd.snapshotToApply.index
      this.log.info('installed snapshot from leader', { index: rd.snapshotToApply.index })
    }
    for (const e of rd.committed) this.applyEntry(e)
    for (const rs of rd.readStates) {
      const r = this.reads.get(rs.requestId)
      if (r !== undefined) r.index = rs.index
    }
    this.resolveReads()
    const s = rd.softState
    if (s.leader !== this.soft.leader || s.role !== this.soft.role || s.term !== this.soft.term) {
      const leaderChanged = s.leader !== this.soft.leader
      if (this.soft.role === 'leader' && s.role !== 'leader') this.abandonLeadership()
      this.soft = s
      if (leaderChanged) this.log.info('leader changed', { leader: s.leader ?? 'none', term: s.term, role: s.role })
      for (const l of this.leaderListeners) l(s)
    }
  }

  private applyEntry (e: Entry): void {
    if (e.index <= this.applied) return
    let result: R | undefined
    if (e.kind === 'normal' && e.data.byteLength > 0) {
      result = this.deps.machine.apply(e.index, e.data)
    } else {
      this.deps.machine.skip(e.index)
      if (e.kind === 'conf') this.log.info('managers changed', { change: e.change.type, index: e.index })
    }
    this.applied = e.index
    const p = this.pending.get(e.index)
    if (p !== undefined) {
      this.pending.delete(e.index)
      clearTimeout(p.timer)
      if (p.term === e.term) p.resolve(result)
      else p.reject(new NotLeaderError('leadership changed before the write committed; it was not applied'))
    }
  }

  private resolveReads (): void {
    for (const [id, r] of this.reads) {
      if (r.index !== null && this.applied >= r.index) {
        this.reads.delete(id)
        clearTimeout(r.timer)
        r.resolve()
      }
    }
  }

  private maybeCompact (): void {
    if (this.applied - this.snapshotIndex < SNAPSHOT_EVERY) return
    this.core.compact(this.applied, this.deps.machine.snapshot())
    this.snapshotIndex = this.applied
  }

  private notLeader (): FlotillaError {
    return new NotLeaderError()
  }

  /**
   * This node stepped down (CheckQuorum, a higher term, its own removal): its read barriers can no
   * longer be confirmed (nothing read yet, so they may go to the next leader), and its proposals are
   * answered now rather than at their timeout, with an outcome that only the next leader can settle.
   */
  private abandonLeadership (): void {
    this.failWaiters(
      new FlotillaError('unavailable', LOST_LEADERSHIP, { retryable: false, hint: QUORUM_HINT }),
      new NotLeaderError('this manager lost its leadership before the read was confirmed'))
  }

  /** Answer every pending proposal with `proposalErr` and every pending read barrier with `readErr`. */
  private failWaiters (proposalErr: Error, readErr: Error): void {
    for (const p of this.pending.values()) { clearTimeout(p.timer); p.reject(proposalErr) }
    for (const r of this.reads.values()) { clearTimeout(r.timer); r.reject(readErr) }
    this.pending.clear()
    this.reads.clear()
  }

  /**
   * Propose `cmd` (leader only) and resolve with the state machine's result once it is committed and
   * applied here. Rejects `unavailable` (retryable) when not leader, when leadership changes first, or after 10 s.
   */
  async propose (cmd: C): Promise<R> {
    this.assertRunning()
    const placed = this.core.propose(this.deps.machine.encode(cmd))
    if (placed === null) throw this.notLeader()
    // Registered before the loop runs: a leader's Ready is applied without waiting for any write.
    const answered = new Promise<R>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(placed.index)
        reject(new FlotillaError('unavailable', 'the write was not committed within 10 s: a majority of managers may be unreachable; it may still be applied later', { retryable: true, hint: QUORUM_HINT }))
      }, PROPOSAL_TIMEOUT_MS)
      const answer = (r: R | undefined): void => {
        if (r === undefined) reject(new FlotillaError('internal', `entry ${placed.index} committed without the proposed data`))
        else resolve(r)
      }
      this.pending.set(placed.index, { term: placed.term, resolve: answer, reject, timer })
    })
    answered.then(() => { this.deps.observer?.proposal('committed') }, () => { this.deps.observer?.proposal('failed') })
    this.kickSoon()
    return await answered
  }

  /** Propose a voter change (leader only, one at a time); resolves once it commits. */
  async proposeConfChange (change: ConfChange): Promise<void> {
    this.assertRunning()
    const placed = this.core.proposeConfChange(change)
    if (placed === null) throw new FlotillaError('unavailable', 'not leader, or another manager change is in progress', { retryable: true })
    const committed = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(placed.index)
        reject(new FlotillaError('unavailable', 'the manager change did not commit within 10 s', { retryable: true }))
      }, PROPOSAL_TIMEOUT_MS)
      this.pending.set(placed.index, { term: placed.term, resolve: () => { resolve() }, reject, timer })
    })
    this.kickSoon()
    await committed
  }

  /** A linearizable read point (ReadIndex): resolves once this leader's store reflects every write acknowledged before the call. */
  async readBarrier (): Promise<void> {
    this.assertRunning()
    const id = this.nextReadId++
    if (!this.core.readIndex(id)) throw this.notLeader()
    // Registered before the loop runs: a leader's Ready (and its read state) is applied at once.
    const confirmed = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.reads.delete(id)
        reject(new FlotillaError('unavailable', 'could not confirm leadership within 10 s: a majority of managers may be unreachable', { retryable: true, hint: QUORUM_HINT }))
      }, PROPOSAL_TIMEOUT_MS)
      this.reads.set(id, { resolve, reject, timer, index: null })
    })
    this.kick()
    await confirmed
  }

  transferLeadership (to: RaftId): boolean {
    const ok = this.core.transferLeadership(to)
    this.kick()
    return ok
  }

  private assertRunning (): void {
    if (this.failure !== null) throw new FlotillaError('internal', `Raft stopped: ${this.failure.message}`)
    if (this.stopped) throw new FlotillaError('unavailable', 'this manager is stopping', { retryable: true })
  }

  onSoftState (fn: (s: SoftState) => void): void {
    this.leaderListeners.push(fn)
  }

  get softState (): SoftState {
    return this.soft
  }

  status (): ReturnType<RaftCore['status']> {
    return this.core.status()
  }

  get isLeader (): boolean {
    return this.soft.role === 'leader'
  }

  async stop (): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    if (this.timer !== null) clearInterval(this.timer)
    this.deps.transport.stop()
    const err = new FlotillaError('unavailable', 'this manager stopped', { retryable: true })
    this.failWaiters(err, err)
    // Wait for the Ready being applied and the writes in flight before storage closes.
    await this.processing
    await this.writing
    await this.deps.storage.close()
  }
}
