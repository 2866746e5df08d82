import { RaftCore, type Entry, type Message, type RaftConfig, type RaftInitialState, type Ready } from '../../../../src/election/raft/index.js'

export const ELECTION = 10

/** A test config: timeouts are exactly `electionTicks` (random() = 0) unless overridden. */
export function config (id: string, over: Partial<RaftConfig> = {}): RaftConfig {
  return { id, electionTicks: ELECTION, heartbeatTicks: 1, random: () => 0, maxEntriesPerAppend: 10, maxInflightAppends: 4, snapshotChunkBytes: 16, ...over }
}

export function bytes (s: string): Uint8Array {
  return new TextEncoder().encode(s)
}

/** Initial state of a formed cluster: conf entries adding `ids` (term 1, committed), then `extra` entries. */
export function formed (ids: readonly string[], extra: readonly Entry[] = [], term = 1): RaftInitialState {
  const entries: Entry[] = ids.map((id, i) => ({ kind: 'conf', term: 1, index: i + 1, change: { type: 'add-voter', id } }))
  for (const e of extra) entries.push(e)
  return { hardState: { term, vote: null, commit: ids.length }, snapshot: null, entries }
}

export function normal (index: number, term: number, data = `x${index}`): Entry {
  return { kind: 'normal', index, term, data: bytes(data) }
}

/** Take the core's Ready and acknowledge it as a driver would (storage elided). */
export function drain (core: RaftCore): Ready {
  const rd = core.ready()
  core.advance(rd)
  return rd
}

export function messages (core: RaftCore): Message[] {
  return [...drain(core).messages]
}

export function tick (core: RaftCore, n: number): void {
  for (let i = 0; i < n; i++) core.tick()
}

/**
 * A few cores wired by hand: `deliver` moves messages between them until none are left, through an
 * optional filter (return false to drop). Every Ready is drained, and its parts recorded per node.
 */
export class Cluster {
  readonly cores = new Map<string, RaftCore>()
  readonly committed = new Map<string, Entry[]>()
  readonly log: Message[] = []

  constructor (ids: readonly string[], init: (id: string) => RaftInitialState = () => formed(ids), over: Partial<RaftConfig> = {}) {
    for (const id of ids) {
      this.cores.set(id, new RaftCore(config(id, over), init(id)))
      this.committed.set(id, [])
    }
  }

  core (id: string): RaftCore {
    const c = this.cores.get(id)
    if (c === undefined) throw new Error(`no core ${id}`)
    return c
  }

  add (id: string, init: RaftInitialState, over: Partial<RaftConfig> = {}): RaftCore {
    const c = new RaftCore(config(id, over), init)
    this.cores.set(id, c)
    this.committed.set(id, [])
    return c
  }

  /** Drain every core's Ready and deliver messages until quiet; returns the number delivered. */
  deliver (filter: (m: Message) => boolean = () => true, limit = 10_000): number {
    let delivered = 0
    for (;;) {
      const pending: Message[] = []
      for (const [id, c] of this.cores) {
        while (c.hasReady()) {
          const rd = drain(c)
          this.committed.get(id)?.push(...rd.committed)
          pending.push(...rd.messages)
        }
      }
      if (pending.length === 0) return delivered
      for (const m of pending) {
        this.log.push(m)
        if (!filter(m)) continue
        delivered++
        if (delivered > limit) throw new Error('deliver: no quiescence')
        this.cores.get(m.to)?.step(m)
      }
    }
  }

  /** Tick `id` until it campaigns, then deliver: the usual way a test elects a leader. */
  elect (id: string, filter?: (m: Message) => boolean): void {
    const c = this.core(id)
    for (let i = 0; i < 2 * ELECTION && c.status().role === 'follower'; i++) c.tick()
    this.deliver(filter)
  }

  tickAll (n: number, filter?: (m: Message) => boolean): void {
    for (let i = 0; i < n; i++) {
      for (const c of this.cores.values()) c.tick()
      this.deliver(filter)
    }
  }
}
