import { afterEach, describe, expect, it } from 'vitest'
import { RaftNode } from '../../../src/election/raft-node.js'
import { RaftCore, type Entry, type HardState, type Message, type Snapshot } from '../../../src/election/raft/index.js'
import { silentLogger } from '../../../src/membership/index.js'
import { config, formed, normal } from './raft/helpers.js'

const ABC = ['a', 'b', 'c']
const DEADLINE_MS = 5_000

interface AppendCall { readonly hardState: HardState | null, readonly entries: readonly Entry[], readonly sync: boolean }

/** Storage that keeps call order, as RaftStorage does, and whose writes can be held (a slow fsync). */
class GatedStorage {
  readonly appends: AppendCall[] = []
  #queue: Promise<unknown> = Promise.resolve()
  #gate: { readonly promise: Promise<void>, readonly open: () => void } | null = null

  /** Writes that start from now on complete only at `release`. */
  hold (): void {
    let open!: () => void
    const promise = new Promise<void>(resolve => { open = resolve })
    this.#gate = { promise, open }
  }

  release (): void {
    this.#gate?.open()
    this.#gate = null
  }

  async append (hardState: HardState | null, entries: readonly Entry[], options: { readonly sync?: boolean } = {}): Promise<void> {
    this.appends.push({ hardState, entries, sync: options.sync ?? true })
    await this.#enqueue()
  }

  async saveSnapshot (_snapshot: Snapshot): Promise<void> {
    await this.#enqueue()
  }

  async close (): Promise<void> {
    this.release()
    await this.#queue
  }

  async #enqueue (): Promise<void> {
    const gate = this.#gate?.promise
    const done = this.#queue.then(async () => { await gate })
    this.#queue = done
    await done
  }
}

/** The transport: records what the node sends; `deliver` feeds it messages. */
class Wire {
  readonly sent: Message[] = []
  deliver: (m: Message) => void = () => {}
  async listen (deliver: (m: Message) => void): Promise<void> { this.deliver = deliver }
  send (messages: readonly Message[]): void { this.sent.push(...messages) }
  stop (): void {}
}

const text = (e: Entry): string => e.kind === 'normal' ? new TextDecoder().decode(e.data) : ''

/**
 * Node `a` under test (a RaftNode on GatedStorage and Wire; 1 ms ticks, so a heartbeat each, and a
 * 1 s election timeout, so that it campaigns only when told), and cores `b` and `c` driven by the
 * test: `route` hands them what `a` sent and hands `a` their answers, each Ready taken and
 * acknowledged at once (their storage is elided).
 */
class Harness {
  readonly storage = new GatedStorage()
  readonly wire = new Wire()
  readonly node: RaftNode<string, string>
  readonly peers = new Map<string, RaftCore>()
  #routed = 0

  constructor () {
    this.node = new RaftNode<string, string>({
      id: 'a',
      storage: this.storage,
      transport: this.wire,
      machine: {
        encode: cmd => new TextEncoder().encode(cmd),
        apply: (_index, data) => new TextDecoder().decode(data),
        skip: () => {},
        snapshot: () => new Uint8Array(0),
        restore: () => {}
      },
      logger: silentLogger,
      timing: { tickMs: 1, electionTicks: 1000, heartbeatTicks: 1 },
      random: () => 0,
      onFailure: (err) => { throw err }
    }, formed(ABC))
    for (const id of ['b', 'c']) this.peers.set(id, new RaftCore(config(id, { electionTicks: 1000 }), formed(ABC)))
  }

  async start (): Promise<void> {
    await this.node.start(raw => raw as Message)
  }

  /** Route what `a` sent since the last call to the peers in `to` (the rest is lost); their answers go back to `a`. Returns how many went. */
  route (to: readonly string[] = ['b', 'c']): number {
    const batch = this.wire.sent.slice(this.#routed)
    this.#routed = this.wire.sent.length
    let n = 0
    for (const m of batch) {
      const peer = this.peers.get(m.to)
      if (peer === undefined || !to.includes(m.to)) continue
      peer.step(m)
      n++
      while (peer.hasReady()) {
        const rd = peer.ready()
        peer.advance(rd)
        for (const answer of rd.messages) if (answer.to === 'a') this.wire.deliver(answer)
      }
    }
    return n
  }

  /** Wait until `done` holds (or fail after a deadline), one event-loop turn between checks; routing to b and c unless `route` is false. */
  async until (what: string, done: () => boolean, route = true): Promise<void> {
    const deadline = Date.now() + DEADLINE_MS
    while (!done()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
      if (route) this.route()
      await turns(1)
    }
  }

  appendsTo (to: string, data: string): Array<Extract<Message, { type: 'append' }>> {
    return this.wire.sent.filter((m): m is Extract<Message, { type: 'append' }> => m.type === 'append' && m.to === to && m.entries.some(e => text(e) === data))
  }

  /** `a` leads (b hands leadership over, thesis §3.10), and b and c hold its whole committed log. */
  static async leading (): Promise<Harness> {
    const h = new Harness()
    await h.start()
    h.wire.deliver({ type: 'timeout-now', from: 'b', to: 'a', term: 1 })
    await h.until('a to lead and commit its no-op', () => {
      const st = h.node.status()
      return st.role === 'leader' && st.commit === st.lastIndex && st.applied === st.commit
    })
    return h
  }
}

const harnesses: Harness[] = []
afterEach(async () => {
  await Promise.all(harnesses.splice(0).map(async h => {
    h.storage.release() // a failed test may leave a write held: stop waits for it
    await h.node.stop()
  }))
})

async function leading (): Promise<Harness> {
  const h = await Harness.leading()
  harnesses.push(h)
  return h
}

async function turns (n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise(resolve => setImmediate(resolve))
}

/** Resolves to true once `p` settles, false if it has not within a few turns of the event loop. */
async function settles (p: Promise<unknown>): Promise<boolean> {
  let settled = false
  p.then(() => { settled = true }, () => { settled = true })
  for (let i = 0; i < 20 && !settled; i++) await turns(1)
  return settled
}

describe('RaftNode: the write path (Raft thesis §10.2.1)', () => {
  it('a leader sends its appends while its own write is in flight, and counts itself only once it is durable', async () => {
    const h = await leading()
    h.storage.hold()
    const answered = h.node.propose('x')
    await h.until('the append to b', () => h.appendsTo('b', 'x').length > 0, false)
    const index = h.appendsTo('b', 'x')[0]!.entries.find(e => text(e) === 'x')!.index
    expect(h.storage.appends.at(-1)?.entries.map(text)).toEqual(['x']) // the leader's write, still held
    expect(h.route(['b'])).toBeGreaterThan(0) // b writes and answers; c hears nothing
    expect(h.node.status().commit).toBeLessThan(index) // b and a's unwritten copy are not a quorum
    expect(await settles(answered)).toBe(false)
    h.storage.release()
    expect(await answered).toBe('x')
    expect(h.node.status().commit).toBeGreaterThanOrEqual(index)
  })

  it('a leader may commit on its followers\' writes alone, but applies and answers only once its own write is durable', async () => {
    const h = await leading()
    h.storage.hold()
    const answered = h.node.propose('y')
    await h.until('the appends to b and c', () => h.appendsTo('b', 'y').length > 0 && h.appendsTo('c', 'y').length > 0, false)
    const index = h.appendsTo('b', 'y')[0]!.entries.find(e => text(e) === 'y')!.index
    h.route()
    expect(h.node.status().commit).toBe(index) // b and c: a quorum
    expect(h.node.status().applied).toBeLessThan(index)
    expect(await settles(answered)).toBe(false)
    h.storage.release()
    expect(await answered).toBe('y')
  })

  it('proposals made in one turn of the event loop share one write and one append per follower', async () => {
    const h = await leading()
    const writes = h.storage.appends.length
    const names = ['p0', 'p1', 'p2', 'p3', 'p4']
    const answers = names.map(async n => await h.node.propose(n))
    await h.until('the five proposals to commit', () => h.node.status().applied === h.node.status().lastIndex && h.appendsTo('b', 'p4').length > 0)
    expect(await Promise.all(answers)).toEqual(names)
    const withEntries = h.storage.appends.slice(writes).filter(c => c.entries.length > 0)
    expect(withEntries.map(c => c.entries.map(text))).toEqual([names])
    for (const to of ['b', 'c']) expect(h.appendsTo(to, 'p0').map(m => m.entries.map(text))).toEqual([names])
  })

  it('Readies taken while a write is in flight are written together: one append, one fsync (group commit)', async () => {
    const h = await leading()
    h.storage.hold()
    const first = h.node.propose('g0')
    await h.until('the write of g0', () => h.storage.appends.some(c => c.entries.some(e => text(e) === 'g0')), false)
    const writes = h.storage.appends.length
    const second = h.node.propose('g1')
    await h.until('the append of g1', () => h.appendsTo('b', 'g1').length > 0, false)
    const third = [h.node.propose('g2'), h.node.propose('g3')]
    await h.until('the append of g3', () => h.appendsTo('b', 'g3').length > 0, false) // sent at once, before any write completed
    expect(h.storage.appends.length).toBe(writes) // nothing more written while g0's write is held
    h.storage.release()
    await h.until('g0 to g3 to commit', () => h.node.status().applied === h.node.status().lastIndex)
    expect(await Promise.all([first, second, ...third])).toEqual(['g0', 'g1', 'g2', 'g3'])
    const next = h.storage.appends.slice(writes).filter(c => c.entries.length > 0)
    expect(next.map(c => [c.entries.map(text), c.sync])).toEqual([[['g1', 'g2', 'g3'], true]])
  })

  it('messages delivered back to back are all stepped at once: none waits for the next tick', async () => {
    const h = await leading()
    const answered = h.node.propose('m')
    await h.until('the append to b', () => h.appendsTo('b', 'm').length > 0, false)
    const index = h.appendsTo('b', 'm')[0]!.entries.find(e => text(e) === 'm')!.index
    const term = h.node.status().term
    h.wire.deliver({ type: 'heartbeat-resp', from: 'b', to: 'a', term, context: 0 }) // its loop runs to the end at once
    h.wire.deliver({ type: 'append-resp', from: 'b', to: 'a', term, success: true, matchIndex: index, hintIndex: 0, hintTerm: 0 })
    expect(h.node.status().progress['b']?.match).toBe(index)
    expect(await answered).toBe('m')
  })

  it('a follower writes its log before it answers the leader', async () => {
    const h = new Harness()
    harnesses.push(h)
    await h.start()
    h.storage.hold()
    h.wire.deliver({ type: 'append', from: 'b', to: 'a', term: 2, prevIndex: 3, prevTerm: 1, entries: [normal(4, 2, 'f')], commit: 3 })
    await h.until('the write of entry 4', () => h.storage.appends.some(c => c.entries.some(e => e.index === 4)), false)
    await turns(20)
    expect(h.wire.sent.filter(m => m.type === 'append-resp')).toEqual([])
    h.storage.release()
    await h.until('the answer', () => h.wire.sent.some(m => m.type === 'append-resp'), false)
    expect(h.wire.sent.find(m => m.type === 'append-resp')).toMatchObject({ to: 'b', success: true, matchIndex: 4 })
  })
})
