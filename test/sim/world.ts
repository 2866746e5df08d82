import { RaftCore, quorumSize, type ConfChange, type Message, type RaftConfig, type Ready } from '../../src/election/raft/index.js'
import { InvariantError, SimDisk } from './disk.js'
import { formatEntries, formatMessage } from './format.js'
import { EventQueue } from './heap.js'
import { History } from './history.js'
import { Rng } from '../support/rng.js'
import { StateMachine, decodeCommand, encodeCommand } from './state-machine.js'

/** Virtual time units per Raft tick; message delays are in the same units. */
const TICK = 10
export const SIM_RAFT = { electionTicks: 10, heartbeatTicks: 2, maxEntriesPerAppend: 4, maxInflightAppends: 3, snapshotChunkBytes: 64 } as const

/** The number of managers a seed runs with when not given: odd seeds 5, even seeds 3. */
export function nodesFor (seed: number): number {
  return seed % 2 === 0 ? 3 : 5
}

export interface SimOptions {
  readonly seed: number
  /** Initial voters (3 or 5). */
  readonly nodes: number
  /** Ticks of faults and client load (default 400). */
  readonly faultTicks?: number
  /** Ticks allowed to reach quiescence after healing everything (default 600). */
  readonly settleTicks?: number
  /** Keep every trace line (default: the last 200). */
  readonly fullTrace?: boolean
}

export interface SimStats {
  ticks: number
  delivered: number
  proposed: number
  acked: number
  readsServed: number
  elections: number
  crashes: number
  lostReadies: number
  /** A leader's own writes (persistAsync Readies) still in flight when it crashed: lost with it. */
  lostWrites: number
  /** Crashes of a leader right after it sent its appends, before its own write of them completed. */
  crashesBeforeOwnWrite: number
  /** Proposals made back to back, driven as one batch. */
  batchedProposals: number
  wipes: number
  transfers: number
  snapshotsInstalled: number
  compactions: number
}

export interface SimResult {
  readonly seed: number
  readonly nodes: number
  readonly ok: boolean
  readonly error: string | null
  readonly trace: readonly string[]
  readonly stats: SimStats
}

type Event =
  | { k: 'tick', node: string, gen: number }
  | { k: 'deliver', m: Message }
  | { k: 'chaos' }
  | { k: 'client' }
  | { k: 'read' }
  | { k: 'admin' }
  | { k: 'restart', node: string }
  /** The oldest write in flight on `node` (a persistAsync Ready) reaches its disk. */
  | { k: 'written', node: string, gen: number }
  | { k: 'heal' }

interface SimNode {
  readonly id: string
  readonly rng: Rng
  disk: SimDisk
  core: RaftCore | null
  sm: StateMachine
  /** Highest disk commit whose entries were checked against the history. */
  checkedCommit: number
  /** Proposals made at this node, by index, waiting to be applied here (then acknowledged or failed). */
  proposals: Map<number, { write: string, term: number }>
  wiped: boolean
  /** Incremented at each start, so that a restarted node has one tick stream. */
  gen: number
  /** Accepted persistAsync Readies whose write has not reached the disk yet, oldest first (lost on a crash). */
  writes: Ready[]
  /** Virtual time at which the newest write in flight completes: writes complete in order. */
  writeDue: number
  /** Leader only: the term and commit index up to which commits were checked durable on a quorum. */
  quorumChecked: { term: number, commit: number }
}

interface PendingRead { readonly node: string, readonly ackedBefore: number, index: number | null }

/** One simulated cluster run from a seed; see `simulate`. */
class World {
  readonly #rng: Rng
  readonly #opts: Required<SimOptions>
  readonly #queue = new EventQueue<Event>()
  readonly #nodes = new Map<string, SimNode>()
  readonly #history = new History()
  readonly #trace: string[] = []
  #traceAt = 0
  #now = 0
  #nextId = 1
  #writeSeq = 0
  #readSeq = 0
  #faulty = true
  readonly #reads = new Map<number, PendingRead>()
  /** Partition: node → side; nodes on different sides cannot talk. Empty map: no partition. */
  #sides = new Map<string, number>()
  #net = { drop: 0, dup: 0, reorder: 0, maxDelay: 10 }
  /** A "without storage" replacement in progress: `old` is gone, `fresh` must be added. */
  #replacement: { old: string, fresh: string } | null = null
  readonly stats: SimStats = {
    ticks: 0, delivered: 0, proposed: 0, acked: 0, readsServed: 0, elections: 0, crashes: 0, lostReadies: 0, lostWrites: 0, crashesBeforeOwnWrite: 0, batchedProposals: 0, wipes: 0, transfers: 0, snapshotsInstalled: 0, compactions: 0
  }

  constructor (opts: SimOptions) {
    this.#opts = { faultTicks: 400, settleTicks: 600, fullTrace: false, ...opts }
    this.#rng = new Rng(opts.seed)
    const first = this.#newNode()
    // swarm init on the first node, then every other manager joins through add-voter, as swarmkit does:
    // here they are added directly to the initial state, so that the run starts from a formed cluster.
    const ids = [first.id]
    for (let i = 1; i < opts.nodes; i++) ids.push(this.#newNode().id)
    const boot = RaftCore.bootstrap(first.id)
    const entries = [...boot.entries]
    for (const id of ids.slice(1)) entries.push({ kind: 'conf', term: 1, index: entries.length + 1, change: { type: 'add-voter', id } })
    for (const id of ids) {
      const n = this.#node(id)
      n.disk = new SimDisk({ hardState: { term: 1, vote: null, commit: entries.length }, snapshot: null, entries })
      this.#start(n)
    }
    this.#history.seed(entries)
    this.#queue.push(this.#rng.int(5, 15) * TICK, { k: 'chaos' })
    this.#queue.push(TICK, { k: 'client' })
    this.#queue.push(5 * TICK, { k: 'read' })
  }

  run (): void {
    const faultEnd = this.#opts.faultTicks * TICK
    const deadline = faultEnd + this.#opts.settleTicks * TICK
    let healed = false
    for (;;) {
      const ev = this.#queue.pop()
      if (ev === undefined) throw new InvariantError('event queue ran dry')
      this.#now = ev.time
      if (!healed && this.#now >= faultEnd) {
        healed = true
        this.#healAll()
      }
      if (this.#now > deadline) throw new InvariantError(`no quiescence within ${this.#opts.settleTicks} ticks after healing: ${this.#describe()}`)
      this.#handle(ev.value)
      if (healed && ev.value.k === 'tick' && this.#quiescent()) {
        this.#finalChecks()
        return
      }
    }
  }

  trace (): string[] {
    if (this.#opts.fullTrace || this.#trace.length < 200) return [...this.#trace]
    return [...this.#trace.slice(this.#traceAt), ...this.#trace.slice(0, this.#traceAt)]
  }

  #log (line: string): void {
    const text = `${String(this.#now).padStart(6)} ${line}`
    if (this.#opts.fullTrace || this.#trace.length < 200) { this.#trace.push(text); return }
    this.#trace[this.#traceAt] = text
    this.#traceAt = (this.#traceAt + 1) % 200
  }

  // ─── nodes ─────────────────────────────────────────────────────────────────────────────────────

  #newNode (): SimNode {
    const id = `n${this.#nextId++}`
    const n: SimNode = {
      id, rng: this.#rng.fork(), disk: new SimDisk(), core: null, sm: new StateMachine(), checkedCommit: 0, proposals: new Map(), wiped: false, gen: 0,
      writes: [], writeDue: 0, quorumChecked: { term: 0, commit: 0 }
    }
    this.#nodes.set(id, n)
    return n
  }

  #node (id: string): SimNode {
    const n = this.#nodes.get(id)
    if (n === undefined) throw new Error(`no node ${id}`)
    return n
  }

  #config (n: SimNode): RaftConfig {
    return { id: n.id, random: () => n.rng.next(), ...SIM_RAFT }
  }

  /** Start (or restart) a node from its disk: the state machine reloads the disk's snapshot. */
  #start (n: SimNode): void {
    n.core = new RaftCore(this.#config(n), n.disk.initialState())
    n.sm = n.disk.snapshot === null ? new StateMachine() : StateMachine.load(n.disk.snapshot)
    if (n.disk.snapshot !== null) this.#history.checkSnapshotState(n.id, n.sm)
    this.#log(`${n.id} start term=${n.disk.hardState.term} commit=${n.disk.hardState.commit} snap=${n.disk.snapIndex()} last=${n.disk.lastIndex()}`)
    this.#queue.push(this.#now + n.rng.int(1, TICK), { k: 'tick', node: n.id, gen: ++n.gen })
  }

  #crash (n: SimNode, why: string): void {
    n.core = null
    n.proposals.clear()
    this.stats.lostWrites += n.writes.length
    n.writes = []
    for (const [id, r] of this.#reads) if (r.node === n.id) this.#reads.delete(id)
    this.stats.crashes++
    this.#log(`${n.id} CRASH (${why})`)
  }

  #up (): SimNode[] {
    return [...this.#nodes.values()].filter(n => n.core !== null)
  }

  #leader (): SimNode | null {
    let best: SimNode | null = null
    for (const n of this.#up()) {
      const st = n.core?.status()
      if (st?.role === 'leader' && (best === null || st.term > (best.core?.status().term ?? 0))) best = n
    }
    return best
  }

  /**
   * The driver loop (STYLE.md order): persist, send, apply, advance; compact now and then. A
   * persistAsync Ready (a leader's, Raft thesis §10.2.1) is sent and applied at once and its write
   * completes later ('written' event), in order behind the node's other writes; any other Ready waits
   * until no write is in flight, as RaftNode does.
   */
  #drive (n: SimNode): void {
    for (let rounds = 0; n.core?.hasReady() === true; rounds++) {
      const core: RaftCore = n.core
      if (rounds > 1000) throw new InvariantError(`${n.id}: Ready loop does not settle`)
      this.#checkQuorumDurable(n)
      const rd = core.ready()
      if (!rd.persistAsync && n.writes.length > 0) return // taken again once the writes in flight are durable
      if (this.#faulty && n.rng.chance(0.002)) {
        this.stats.lostReadies++
        this.#crash(n, 'before persisting a Ready')
        this.#queue.push(this.#now + n.rng.int(3, 30) * TICK, { k: 'restart', node: n.id })
        return
      }
      this.#checkSoftState(n, rd)
      if (rd.persistAsync) {
        for (const m of rd.messages) this.#send(m)
        this.#applyReady(n, rd)
        core.accept(rd)
        n.writes.push(rd)
        n.writeDue = Math.max(n.writeDue, this.#now + n.rng.int(0, 3 * TICK))
        this.#queue.push(n.writeDue, { k: 'written', node: n.id, gen: n.gen })
        if (this.#faulty && rd.entries.length > 0 && n.rng.chance(0.01)) {
          // The case thesis §10.2.1 must survive: the followers may hold (and acknowledge) entries that
          // the leader itself never wrote. Nothing it acknowledged may be lost.
          this.stats.crashesBeforeOwnWrite++
          this.#crash(n, 'after sending its appends, before its own write completed')
          this.#queue.push(this.#now + n.rng.int(1, 30) * TICK, { k: 'restart', node: n.id })
          return
        }
      } else {
        n.disk.persist(rd)
        this.#checkDurableCommit(n)
        for (const m of rd.messages) this.#send(m)
        this.#applyReady(n, rd)
        core.advance(rd)
      }
      if (n.sm.applied - n.disk.snapIndex() >= 15 && n.rng.chance(0.3)) {
        if (core.compact(n.sm.applied, n.sm.snapshotData())) this.stats.compactions++
      }
    }
    if (n.core !== null) this.#checkQuorumDurable(n)
  }

  /** A write in flight reaches the disk: the oldest, since storage keeps writes in order. */
  #written (n: SimNode): void {
    const rd = n.writes.shift()
    if (rd === undefined || n.core === null) return
    n.disk.persist(rd)
    this.#checkDurableCommit(n)
    n.core.persisted(rd)
    this.#drive(n)
  }

  /** Apply a Ready's snapshot, committed entries and read states (its messages were sent). */
  #applyReady (n: SimNode, rd: Ready): void {
    if (rd.snapshotToApply !== null) {
      n.sm = StateMachine.load(rd.snapshotToApply)
      this.#history.checkSnapshotState(n.id, n.sm)
      this.stats.snapshotsInstalled++
      this.#log(`${n.id} installed snapshot ${rd.snapshotToApply.index}/${rd.snapshotToApply.term} voters=${rd.snapshotToApply.voters.join(',')}`)
      // Proposals at or below the snapshot were applied elsewhere: their outcome is unknown here.
      for (const i of n.proposals.keys()) if (i <= rd.snapshotToApply.index) n.proposals.delete(i)
    }
    this.#apply(n, rd)
    for (const rs of rd.readStates) {
      const r = this.#reads.get(rs.requestId)
      if (r !== undefined && r.node === n.id) r.index = rs.index
    }
    this.#serveReads(n)
  }

  /**
   * Raft §5.4, thesis §10.2.1: whatever a leader commits is durable on a quorum of its voters at that
   * moment — its own copy counts only once written (a write in flight does not), and a follower's
   * only once it wrote it before answering. The entry at a leader's commit index is of its term (§5.4.2),
   * so a disk that holds (commit, term) holds every entry up to it (Log Matching). A lost disk counts as
   * it was when lost: its node never comes back.
   */
  #checkQuorumDurable (n: SimNode): void {
    const st = n.core?.status()
    if (st?.role !== 'leader') return
    if (n.quorumChecked.term !== st.term) n.quorumChecked = { term: st.term, commit: st.commit }
    if (st.commit <= n.quorumChecked.commit) return
    const holders = st.voters.filter(v => {
      const d = this.#nodes.get(v)?.disk
      return d !== undefined && (d.snapIndex() >= st.commit || d.term(st.commit) === st.term)
    })
    if (holders.length < quorumSize(st.voters.length)) {
      throw new InvariantError(`${n.id} (leader, term ${st.term}) committed ${st.commit}, durable only on ${holders.join(',') || 'no disk'} of voters ${st.voters.join(',')}`)
    }
    n.quorumChecked.commit = st.commit
  }

  #checkSoftState (n: SimNode, rd: Ready): void {
    const s = rd.softState
    if (s.role === 'leader') {
      if (this.#history.leaderOf(s.term, n.id)) {
        this.stats.elections++
        this.#log(`${n.id} LEADER term=${s.term}`)
      }
    }
  }

  /** Log Matching over committed entries: what a node's disk holds up to its durable commit is the history. */
  #checkDurableCommit (n: SimNode): void {
    const commit = n.disk.hardState.commit
    for (let i = Math.max(n.checkedCommit, n.disk.snapIndex()) + 1; i <= commit; i++) {
      const e = n.disk.entry(i)
      if (e === undefined) throw new InvariantError(`${n.id}: committed index ${i} missing from disk (snap ${n.disk.snapIndex()}, last ${n.disk.lastIndex()})`)
      this.#history.commit(n.id, e)
    }
    n.checkedCommit = Math.max(n.checkedCommit, commit)
  }

  #apply (n: SimNode, rd: Ready): void {
    for (const e of rd.committed) {
      // Never apply what is not durable: the entry must be on this node's disk (or under its snapshot).
      if (e.index > n.disk.snapIndex() && n.disk.term(e.index) !== e.term) throw new InvariantError(`${n.id}: applying ${e.index}/${e.term}, not on disk`)
      this.#history.commit(n.id, e)
      n.sm.apply(e)
      this.#history.checkApplied(n.id, n.sm)
      const p = n.proposals.get(e.index)
      if (p === undefined) continue
      n.proposals.delete(e.index)
      if (e.kind === 'normal' && e.term === p.term && decodeCommand(e.data) === p.write) {
        this.#history.acknowledge(p.write, e.index)
        this.stats.acked++
      }
    }
  }

  #serveReads (n: SimNode): void {
    for (const [id, r] of this.#reads) {
      if (r.node !== n.id || r.index === null || r.index > n.sm.applied) continue
      this.#reads.delete(id)
      const missing = this.#history.acknowledgedBefore(r.ackedBefore).find(w => !n.sm.has(w))
      if (missing !== undefined) throw new InvariantError(`read ${id} at ${n.id} (index ${r.index}, applied ${n.sm.applied}) misses acknowledged write ${missing}`)
      this.stats.readsServed++
      this.#log(`${n.id} read ${id} served at ${r.index}`)
    }
  }

  // ─── network ───────────────────────────────────────────────────────────────────────────────────

  #cut (a: string, b: string): boolean {
    return (this.#sides.get(a) ?? 0) !== (this.#sides.get(b) ?? 0)
  }

  #send (m: Message): void {
    const rng = this.#rng
    if (this.#cut(m.from, m.to) || rng.chance(this.#net.drop)) return
    const copies = rng.chance(this.#net.dup) ? 2 : 1
    for (let i = 0; i < copies; i++) {
      let delay = rng.int(1, this.#net.maxDelay)
      if (rng.chance(this.#net.reorder)) delay += rng.int(10, 8 * TICK)
      this.#queue.push(this.#now + delay, { k: 'deliver', m })
    }
  }

  // ─── events ────────────────────────────────────────────────────────────────────────────────────

  #handle (ev: Event): void {
    switch (ev.k) {
      case 'tick': {
        const n = this.#node(ev.node)
        if (n.core === null || n.gen !== ev.gen) return // a crashed node's ticks stop; a restart starts new ones
        this.stats.ticks++
        n.core.tick()
        this.#drive(n)
        this.#queue.push(this.#now + TICK, ev)
        return
      }
      case 'deliver': {
        const n = this.#nodes.get(ev.m.to)
        if (n?.core == null || this.#cut(ev.m.from, ev.m.to)) return
        this.stats.delivered++
        this.#log(formatMessage(ev.m))
        n.core.step(ev.m)
        this.#drive(n)
        return
      }
      case 'restart': {
        const n = this.#node(ev.node)
        if (n.core === null && !n.wiped) this.#start(n)
        return
      }
      case 'written': {
        const n = this.#node(ev.node)
        if (n.core !== null && n.gen === ev.gen) this.#written(n)
        return
      }
      case 'heal':
        if (this.#sides.size > 0) this.#log('partition healed')
        this.#sides = new Map()
        return
      case 'client':
        if (this.#faulty) {
          this.#write()
          this.#queue.push(this.#now + this.#rng.int(1, 4) * TICK, ev)
        }
        return
      case 'read':
        this.#read()
        this.#queue.push(this.#now + this.#rng.int(3, 12) * TICK, ev)
        return
      case 'admin':
        this.#admin()
        return
      case 'chaos':
        if (!this.#faulty) return
        this.#chaos()
        this.#queue.push(this.#now + this.#rng.int(3, 20) * TICK, ev)
    }
  }

  /**
   * A client write: propose to whichever node accepts (the leader), retrying elsewhere on null. Now and
   * then a few writes arrive together and are proposed before the node is driven: one Ready, one write,
   * one append per follower.
   */
  #write (): void {
    const burst = this.#rng.chance(0.2) ? this.#rng.int(2, 5) : 1
    for (const n of this.#rng.shuffle(this.#up())) {
      let accepted = 0
      for (let i = 0; i < burst; i++) {
        const write = `w${this.#writeSeq + 1}`
        const p = n.core?.propose(encodeCommand(write)) ?? null
        if (p === null) break
        this.#writeSeq++
        accepted++
        this.stats.proposed++
        n.proposals.set(p.index, { write, term: p.term })
        this.#log(`${n.id} propose ${write} at ${p.index}/${p.term}`)
      }
      if (accepted === 0) continue
      if (accepted > 1) this.stats.batchedProposals += accepted
      this.#drive(n)
      return
    }
  }

  #read (): void {
    for (const n of this.#rng.shuffle(this.#up())) {
      const id = ++this.#readSeq
      if (n.core?.readIndex(id) !== true) continue
      this.#reads.set(id, { node: n.id, ackedBefore: this.#history.acknowledgedCount(), index: null })
      this.#log(`${n.id} readIndex ${id}`)
      this.#drive(n)
      return
    }
  }

  /** The operator's side of a "without storage" replacement: remove the lost voter, then add the fresh node. */
  #admin (): void {
    const rep = this.#replacement
    if (rep === null) return
    this.#queue.push(this.#now + 3 * TICK, { k: 'admin' })
    const leader = this.#leader()
    const core = leader?.core
    if (leader === null || core == null) return
    const st = core.status()
    let change: ConfChange
    if (st.voters.includes(rep.old)) change = { type: 'remove-voter', id: rep.old }
    else if (!st.voters.includes(rep.fresh)) change = { type: 'add-voter', id: rep.fresh }
    else {
      if (st.lastConfIndex <= st.commit) {
        this.#log(`replacement ${rep.old} → ${rep.fresh} done`)
        this.#replacement = null
      }
      return
    }
    const p = core.proposeConfChange(change)
    if (p === null) return
    this.#log(`${leader.id} propose ${change.type} ${rep.old === (change as { id: string }).id ? rep.old : rep.fresh} at ${p.index}/${p.term}`)
    this.#drive(leader)
  }

  #chaos (): void {
    const rng = this.#rng
    const up = this.#up()
    const roll = rng.next()
    if (roll < 0.2) {
      this.#net = {
        drop: rng.pick([0, 0, 0.02, 0.05, 0.1, 0.2]),
        dup: rng.pick([0, 0, 0.02, 0.05]),
        reorder: rng.pick([0, 0.02, 0.1]),
        maxDelay: rng.pick([5, 10, 20])
      }
      this.#log(`network drop=${this.#net.drop} dup=${this.#net.dup} reorder=${this.#net.reorder} maxDelay=${this.#net.maxDelay}`)
    } else if (roll < 0.4) {
      if (this.#sides.size > 0) return
      const leader = this.#leader()
      const sides = new Map<string, number>()
      if (leader !== null && rng.chance(0.5)) {
        for (const n of this.#nodes.values()) sides.set(n.id, n === leader ? 1 : 0)
        this.#log(`partition: leader ${leader.id} isolated`)
      } else {
        for (const n of this.#nodes.values()) sides.set(n.id, rng.int(0, 1))
        this.#log(`partition: ${[...sides].filter(([, s]) => s === 1).map(([id]) => id).join(',')} | rest`)
      }
      this.#sides = sides
      this.#queue.push(this.#now + rng.int(5, 60) * TICK, { k: 'heal' })
    } else if (roll < 0.6) {
      const down = [...this.#nodes.values()].filter(n => n.core === null && !n.wiped).length
      if (up.length === 0 || down >= Math.floor(this.#opts.nodes / 2)) return
      const n = rng.chance(0.3) ? (this.#leader() ?? rng.pick(up)) : rng.pick(up)
      this.#crash(n, 'crash')
      this.#queue.push(this.#now + rng.int(2, 50) * TICK, { k: 'restart', node: n.id })
    } else if (roll < 0.68) {
      if (this.#replacement !== null || this.stats.wipes >= (this.#opts.nodes === 3 ? 1 : 2) || up.length === 0) return
      const old = rng.pick(up)
      this.#crash(old, 'disk lost')
      old.wiped = true
      this.stats.wipes++
      const fresh = this.#newNode()
      this.#sides.set(fresh.id, 0)
      this.#start(fresh)
      this.#replacement = { old: old.id, fresh: fresh.id }
      this.#log(`${old.id} lost its disk; will be replaced by ${fresh.id}`)
      this.#queue.push(this.#now + TICK, { k: 'admin' })
    } else if (roll < 0.8) {
      const leader = this.#leader()
      const voters = leader?.core?.status().voters.filter(v => v !== leader.id) ?? []
      if (leader === null || voters.length === 0) return
      const to = rng.pick(voters)
      if (leader.core?.transferLeadership(to) === true) {
        this.stats.transfers++
        this.#log(`${leader.id} transfer leadership to ${to}`)
        this.#drive(leader)
      }
    }
  }

  #healAll (): void {
    this.#faulty = false
    this.#sides = new Map()
    this.#net = { drop: 0, dup: 0, reorder: 0, maxDelay: 10 }
    this.#log('HEAL: faults off, network healed, crashed nodes restart')
    for (const n of this.#nodes.values()) if (n.core === null && !n.wiped) this.#start(n)
  }

  /** Quiescent: one leader, every live node a voter, everyone applied the leader's whole (committed) log. */
  #quiescent (): boolean {
    if (this.#replacement !== null) return false
    const leader = this.#leader()
    const st = leader?.core?.status()
    if (st === undefined || st.commit !== st.lastIndex || st.lastConfIndex > st.commit) return false
    const live = [...this.#nodes.values()].filter(n => !n.wiped)
    if (live.length !== st.voters.length || live.some(n => !st.voters.includes(n.id))) return false
    return live.every(n => n.core !== null && n.sm.applied === st.commit && n.core.status().term === st.term)
  }

  #finalChecks (): void {
    const live = [...this.#nodes.values()].filter(n => !n.wiped)
    for (const n of live) {
      const missing = this.#history.acknowledgedBefore(this.#history.acknowledgedCount()).find(w => !n.sm.has(w))
      if (missing !== undefined) throw new InvariantError(`acknowledged write ${missing} missing from ${n.id}'s state machine`)
    }
    this.#log(`QUIESCENT leader=${this.#leader()?.id ?? '?'} applied=${live[0]?.sm.applied ?? 0} acked=${this.stats.acked}`)
  }

  #describe (): string {
    return [...this.#nodes.values()].map(n => {
      if (n.wiped) return `${n.id}:wiped`
      const st = n.core?.status()
      if (st === undefined) return `${n.id}:down`
      return `${n.id}:${st.role}/t${st.term}/c${st.commit}/a${st.applied}/l${st.lastIndex}/v[${st.voters.join(',')}]`
    }).join(' ') + (this.#replacement === null ? '' : ` replacing ${this.#replacement.old}→${this.#replacement.fresh}`)
  }

  describeEntries (): string {
    return [...this.#nodes.values()].map(n => `${n.id}: ${formatEntries(n.disk.entries)}`).join('\n')
  }
}

/**
 * Run one seeded simulation: `nodes` managers over a faulty network (drop, duplicate, reorder, delay,
 * partitions), crashes with and without storage, leadership transfers, client writes and ReadIndex reads;
 * invariants checked after every step; then heal and require quiescence with every acknowledged write
 * applied everywhere. Never throws: a violation comes back as `ok: false` with the trace.
 */
export function simulate (opts: SimOptions): SimResult {
  const world = new World(opts)
  let error: string | null = null
  try {
    world.run()
  } catch (err) {
    error = err instanceof Error ? `${err.name}: ${err.message}${err instanceof InvariantError ? '' : `\n${err.stack ?? ''}`}` : String(err)
  }
  return { seed: opts.seed, nodes: opts.nodes, ok: error === null, error, trace: world.trace(), stats: world.stats }
}
