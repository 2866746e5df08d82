import { describe, expect, it } from 'vitest'
import { RaftCore, type Entry, type Message } from '../../../../src/election/raft/index.js'
import { Cluster, ELECTION, bytes, config, drain, formed, messages, normal, tick } from './helpers.js'

const ABC = ['a', 'b', 'c']

/** Make `core` leader by answering its pre-votes and votes by hand (the others are voters b and c). */
function leadByHand (core: RaftCore): void {
  tick(core, ELECTION)
  const term = core.status().term
  drain(core)
  core.step({ type: 'pre-vote-resp', from: 'b', to: core.status().id, term: term + 1, granted: true })
  drain(core)
  core.step({ type: 'vote-resp', from: 'b', to: core.status().id, term: term + 1, granted: true })
  expect(core.status().role).toBe('leader')
}

function appends (ms: readonly Message[], to: string): Extract<Message, { type: 'append' }>[] {
  return ms.filter((m): m is Extract<Message, { type: 'append' }> => m.type === 'append' && m.to === to)
}

describe('Raft log replication (§5.3, §5.4.2)', () => {
  it('a new leader appends an empty no-op entry of its term (§8)', () => {
    const c = new Cluster(ABC)
    c.elect('a')
    expect(c.committed.get('a')?.at(-1)).toEqual({ kind: 'normal', term: 2, index: 4, data: new Uint8Array(0) })
  })

  it('§5.3 proposals are replicated, committed by a quorum and applied in order on every node', () => {
    const c = new Cluster(ABC)
    c.elect('a')
    const p = c.core('a').propose(bytes('hello'))
    expect(p).toEqual({ index: 5, term: 2 })
    c.deliver()
    c.tickAll(1)
    for (const id of ABC) {
      const applied = c.committed.get(id) ?? []
      expect(applied.map(e => e.index)).toEqual([1, 2, 3, 4, 5]) // replayed from the start (no snapshot), then new
      expect(applied[4]).toEqual({ kind: 'normal', index: 5, term: 2, data: bytes('hello') })
    }
  })

  it('propose returns null on a follower', () => {
    const c = new Cluster(ABC)
    c.elect('a')
    expect(c.core('b').propose(bytes('x'))).toBeNull()
  })

  it('§5.4.2 a leader does not count replicas to commit an entry of a previous term', () => {
    // a holds index 4 from term 2 (never committed); it becomes leader of term 3.
    const a = new RaftCore(config('a'), formed(ABC, [normal(4, 2)], 2))
    leadByHand(a)
    expect(a.status()).toMatchObject({ term: 3, lastIndex: 5, commit: 3 })
    drain(a)
    a.step({ type: 'append-resp', from: 'b', to: 'a', term: 3, success: true, matchIndex: 4, hintIndex: 0, hintTerm: 0 })
    expect(a.status().commit).toBe(3) // a quorum holds index 4, but it is of term 2
    a.step({ type: 'append-resp', from: 'b', to: 'a', term: 3, success: true, matchIndex: 5, hintIndex: 0, hintTerm: 0 })
    expect(a.status().commit).toBe(5) // committing the term-3 no-op commits index 4 with it (§5.4.2)
  })

  it('§5.3 a follower refuses an append whose previous entry does not match, and truncates a conflicting suffix', () => {
    const b = new RaftCore(config('b'), formed(ABC, [normal(4, 1), normal(5, 2, 'stale')], 2))
    b.step({ type: 'append', from: 'a', to: 'b', term: 3, prevIndex: 5, prevTerm: 3, entries: [], commit: 3 })
    expect(messages(b)[0]).toMatchObject({ type: 'append-resp', success: false, matchIndex: 5 })
    b.step({ type: 'append', from: 'a', to: 'b', term: 3, prevIndex: 4, prevTerm: 1, entries: [normal(5, 3, 'new')], commit: 5 })
    const rd = drain(b)
    expect(rd.entries).toEqual([normal(5, 3, 'new')]) // storage truncates at 5 and appends
    expect(rd.committed.map(e => e.index)).toEqual([4, 5])
    expect(rd.messages[0]).toMatchObject({ type: 'append-resp', success: true, matchIndex: 5 })
  })

  it('§5.3 a follower commits no further than the last entry the append verified (stale entries after it stay uncommitted)', () => {
    const b = new RaftCore(config('b'), formed(ABC, [normal(4, 1), normal(5, 2, 'stale'), normal(6, 2, 'stale')], 2))
    b.step({ type: 'append', from: 'a', to: 'b', term: 3, prevIndex: 4, prevTerm: 1, entries: [], commit: 6 })
    expect(b.status().commit).toBe(4)
  })

  it('fast back-off: the follower hints its last index of a term ≤ prevTerm, and the leader skips a whole term per round trip', () => {
    // b has a long tail of term 2 that a (leader of term 4, with a term-3 tail) never had.
    const bTail: Entry[] = []
    for (let i = 4; i <= 20; i++) bTail.push(normal(i, 2, `b${i}`))
    const aTail: Entry[] = []
    for (let i = 4; i <= 12; i++) aTail.push(normal(i, 3, `a${i}`))
    const c = new Cluster(ABC, id => id === 'b' ? formed(ABC, bTail, 2) : id === 'a' ? formed(ABC, aTail, 3) : formed(ABC, aTail, 3))
    c.elect('a', m => m.to !== 'b' && m.from !== 'b')
    expect(c.core('a').status().role).toBe('leader')
    c.tickAll(1)
    const rejects = c.log.filter(m => m.type === 'append-resp' && m.from === 'b' && !m.success)
    // The first probe (prev 12/3) is refused with hint 12/2; the leader's last index of term ≤ 2 is 3, so
    // its second probe (prev 3/1) matches: one refusal for a conflict spanning 9 entries.
    expect(rejects).toHaveLength(1)
    expect(rejects[0]).toMatchObject({ matchIndex: 12, hintIndex: 12, hintTerm: 2 })
    expect(c.core('b').status()).toMatchObject({ lastIndex: 13, commit: 13 })
  })

  it('pipelining: in replicate state the leader keeps up to maxInflightAppends appends in flight, each ≤ maxEntriesPerAppend', () => {
    const c = new Cluster(ABC, () => formed(ABC), { maxEntriesPerAppend: 2, maxInflightAppends: 3 })
    c.elect('a')
    c.tickAll(1)
    const a = c.core('a')
    for (let i = 0; i < 10; i++) a.propose(bytes(`p${i}`)) // indices 5..14
    const toB = appends(drain(a).messages, 'b')
    expect(toB.map(m => [m.prevIndex, m.entries.length])).toEqual([[4, 2], [6, 2], [8, 2]]) // then the pipeline is full
    // an acknowledgement through 6 frees one slot, filled with a batch of maxEntriesPerAppend
    a.step({ type: 'append-resp', from: 'b', to: 'a', term: 2, success: true, matchIndex: 6, hintIndex: 0, hintTerm: 0 })
    const next = appends(drain(a).messages, 'b')
    expect(next.map(m => [m.prevIndex, m.entries.length])).toEqual([[10, 2]])
  })

  it('batching (thesis §10.2.1): proposals made before a Ready travel in one append per follower and one write', () => {
    const c = new Cluster(ABC)
    c.elect('a')
    c.tickAll(1)
    const a = c.core('a')
    for (let i = 0; i < 5; i++) a.propose(bytes(`p${i}`)) // indices 5..9
    const rd = drain(a)
    expect(rd.entries.map(e => e.index)).toEqual([5, 6, 7, 8, 9])
    for (const to of ['b', 'c']) {
      expect(appends(rd.messages, to).map(m => [m.prevIndex, m.entries.map(e => e.index)])).toEqual([[4, [5, 6, 7, 8, 9]]])
    }
    a.propose(bytes('later'))
    expect(appends(drain(a).messages, 'b').map(m => m.prevIndex)).toEqual([9]) // pipelined behind the first
  })

  it('thesis §10.2.1: the leader sends its appends before its own write and counts itself only once it is persisted', () => {
    const c = new Cluster(ABC)
    c.elect('a')
    c.tickAll(1)
    const a = c.core('a')
    a.propose(bytes('x')) // index 5
    const rd = a.ready()
    expect(rd.persistAsync).toBe(true)
    expect(rd.entries.map(e => e.index)).toEqual([5])
    expect(appends(rd.messages, 'b').map(m => m.prevIndex)).toEqual([4])
    a.accept(rd) // sent; the write is in flight
    expect(a.hasReady()).toBe(false)
    a.step({ type: 'append-resp', from: 'b', to: 'a', term: 2, success: true, matchIndex: 5, hintIndex: 0, hintTerm: 0 })
    expect(a.status().commit).toBe(4) // b and a's unwritten copy are not a quorum
    const meanwhile = a.ready()
    expect(meanwhile.entries).toEqual([]) // the in-flight write is not handed out again
    expect(meanwhile.committed).toEqual([])
    a.accept(meanwhile)
    a.persisted(rd)
    a.persisted(meanwhile)
    expect(a.status().commit).toBe(5) // b and a's persisted copy
    const after = drain(a)
    expect(after.committed.map(e => e.index)).toEqual([5])
    expect(after.hardState?.commit).toBe(5)
    expect(appends(after.messages, 'b').at(-1)?.commit).toBe(5)
  })

  it('thesis §10.2.1: with two followers persisted, a leader commits before its own write completes, but applies only after it', () => {
    const c = new Cluster(ABC)
    c.elect('a')
    c.tickAll(1)
    const a = c.core('a')
    a.propose(bytes('x')) // index 5
    const rd = a.ready()
    a.accept(rd)
    for (const from of ['b', 'c']) a.step({ type: 'append-resp', from, to: 'a', term: 2, success: true, matchIndex: 5, hintIndex: 0, hintTerm: 0 })
    expect(a.status().commit).toBe(5)
    const meanwhile = a.ready()
    expect(meanwhile.hardState?.commit).toBe(5)
    expect(meanwhile.committed).toEqual([]) // not yet durable here
    a.accept(meanwhile)
    a.persisted(rd)
    a.persisted(meanwhile)
    expect(drain(a).committed.map(e => e.index)).toEqual([5])
  })

  it('probe state: after a rejection the leader sends one append at a time until one succeeds', () => {
    const c = new Cluster(ABC)
    c.elect('a')
    c.tickAll(1)
    const a = c.core('a')
    for (let i = 0; i < 3; i++) {
      a.propose(bytes(`p${i}`))
      drain(a) // appends with prev 4, 5, 6 are in flight
    }
    a.step({ type: 'append-resp', from: 'b', to: 'a', term: 2, success: false, matchIndex: 6, hintIndex: 5, hintTerm: 2 })
    expect(a.status().progress['b']).toEqual({ state: 'probe', match: 4, next: 6 })
    expect(appends(drain(a).messages, 'b').map(m => m.prevIndex)).toEqual([5]) // the probe
    a.propose(bytes('more'))
    expect(appends(drain(a).messages, 'b')).toEqual([]) // paused: the probe is unanswered
    a.step({ type: 'heartbeat-resp', from: 'b', to: 'a', term: 2, context: 0 })
    expect(appends(drain(a).messages, 'b').map(m => m.prevIndex)).toEqual([5]) // a heartbeat answer retries it
    a.step({ type: 'append-resp', from: 'b', to: 'a', term: 2, success: true, matchIndex: 8, hintIndex: 0, hintTerm: 0 })
    expect(a.status().progress['b']).toMatchObject({ state: 'replicate', match: 8 })
  })

  it('a stale rejection (of an append already superseded) does not move the leader back', () => {
    const c = new Cluster(ABC)
    c.elect('a')
    c.tickAll(1)
    const a = c.core('a')
    const before = a.status().progress['b']
    a.step({ type: 'append-resp', from: 'b', to: 'a', term: 2, success: false, matchIndex: 2, hintIndex: 1, hintTerm: 1 })
    expect(a.status().progress['b']).toEqual(before)
  })
})
