import { describe, expect, it } from 'vitest'
import { RaftCore } from '../../../../src/election/raft/index.js'
import { Cluster, ELECTION, config, drain, formed, messages, normal, tick } from './helpers.js'

const ABC = ['a', 'b', 'c']

describe('Raft elections (§5.2, §5.4.1) with PreVote and CheckQuorum', () => {
  it('bootstrap: a one-voter cluster elects itself after its election timeout and commits its no-op', () => {
    const core = new RaftCore(config('a'), RaftCore.bootstrap('a'))
    tick(core, ELECTION - 1)
    expect(core.status().role).toBe('follower')
    core.tick()
    const rd = drain(core)
    expect(rd.softState).toEqual({ role: 'leader', leader: 'a', term: 2 })
    expect(rd.entries).toEqual([{ kind: 'normal', term: 2, index: 2, data: new Uint8Array(0) }])
    expect(rd.persistAsync).toBe(false) // its new term and vote must be durable before anything is sent
    expect(rd.committed.map(e => e.index)).toEqual([1]) // the bootstrap conf entry; the no-op once persisted
    expect(drain(core).committed.map(e => e.index)).toEqual([2])
    expect(core.status()).toMatchObject({ voters: ['a'], commit: 2, applied: 2 })
  })

  it('§5.2 randomized timeout: the election timeout falls in [electionTicks, 2*electionTicks)', () => {
    for (const r of [0, 0.5, 0.999999]) {
      const core = new RaftCore(config('a', { random: () => r }), RaftCore.bootstrap('a'))
      const expected = ELECTION + Math.floor(r * ELECTION)
      tick(core, expected - 1)
      expect(core.status().role).toBe('follower')
      core.tick()
      expect(core.status().role).toBe('leader')
    }
  })

  it('§5.2 a node that wins a quorum of votes becomes leader of a new term; the others follow it', () => {
    const c = new Cluster(ABC)
    c.elect('a')
    expect(c.core('a').status()).toMatchObject({ role: 'leader', term: 2, commit: 4 })
    c.tickAll(1) // a heartbeat carries the commit index to everyone
    for (const id of ['b', 'c']) expect(c.core(id).status()).toMatchObject({ role: 'follower', leader: 'a', term: 2, commit: 4 })
  })

  it('PreVote (thesis §9.6): a pre-candidate asks for term+1 without changing its own term or vote', () => {
    const a = new RaftCore(config('a'), formed(ABC))
    tick(a, ELECTION)
    const rd = drain(a)
    expect(rd.softState.role).toBe('pre-candidate')
    expect(rd.hardState).toBeNull()
    expect(rd.messages.map(m => [m.type, m.to, m.term])).toEqual([['pre-vote', 'b', 2], ['pre-vote', 'c', 2]])
    expect(a.status().term).toBe(1)
  })

  it('PreVote: granting a pre-vote does not change the voter\'s term or vote', () => {
    const b = new RaftCore(config('b'), formed(ABC))
    b.step({ type: 'pre-vote', from: 'a', to: 'b', term: 2, lastIndex: 3, lastTerm: 1 })
    const rd = drain(b)
    expect(rd.messages).toEqual([{ type: 'pre-vote-resp', from: 'b', to: 'a', term: 2, granted: true }])
    expect(rd.hardState).toBeNull()
    expect(b.status().term).toBe(1)
  })

  it('PreVote: a partitioned node rejoining does not bump the term nor depose the leader', () => {
    const c = new Cluster(ABC)
    c.elect('a')
    const cut = (m: { from: string, to: string }): boolean => m.from !== 'c' && m.to !== 'c'
    c.tickAll(5 * ELECTION, cut)
    expect(c.core('c').status().term).toBe(2) // it kept campaigning, only with pre-votes
    c.tickAll(3 * ELECTION)
    expect(c.core('a').status()).toMatchObject({ role: 'leader', term: 2 })
    expect(c.core('c').status()).toMatchObject({ role: 'follower', leader: 'a', term: 2 })
  })

  it('§5.4.1 election restriction: a voter refuses a candidate whose log is behind', () => {
    const b = new RaftCore(config('b'), formed(ABC, [normal(4, 1)]))
    b.step({ type: 'vote', from: 'a', to: 'b', term: 2, lastIndex: 3, lastTerm: 1, transfer: false })
    expect(messages(b)).toEqual([{ type: 'vote-resp', from: 'b', to: 'a', term: 2, granted: false }])
    b.step({ type: 'vote', from: 'c', to: 'b', term: 2, lastIndex: 3, lastTerm: 2, transfer: false })
    expect(messages(b)).toEqual([{ type: 'vote-resp', from: 'b', to: 'c', term: 2, granted: true }])
  })

  it('§5.2 one vote per term: a voter that voted refuses another candidate in the same term, and persists the vote first', () => {
    const b = new RaftCore(config('b'), formed(ABC))
    b.step({ type: 'vote', from: 'a', to: 'b', term: 2, lastIndex: 3, lastTerm: 1, transfer: false })
    const rd = drain(b)
    expect(rd.hardState).toEqual({ term: 2, vote: 'a', commit: 3 }) // in the same Ready as the grant
    b.step({ type: 'vote', from: 'c', to: 'b', term: 2, lastIndex: 3, lastTerm: 1, transfer: false })
    expect(messages(b)[0]).toMatchObject({ type: 'vote-resp', granted: false })
  })

  it('§5.1 a higher term in any message turns a leader into a follower of that term', () => {
    const c = new Cluster(ABC)
    c.elect('a')
    const a = c.core('a')
    a.step({ type: 'append-resp', from: 'b', to: 'a', term: 7, success: false, matchIndex: 0, hintIndex: 0, hintTerm: 0 })
    expect(a.status()).toMatchObject({ role: 'follower', term: 7, leader: null })
  })

  it('§5.1 a stale leader is told the newer term (append answered with our term)', () => {
    const b = new RaftCore(config('b'), { ...formed(ABC), hardState: { term: 5, vote: null, commit: 3 } })
    b.step({ type: 'heartbeat', from: 'a', to: 'b', term: 3, commit: 3, context: 0 })
    expect(messages(b)).toEqual([{ type: 'append-resp', from: 'b', to: 'a', term: 5, success: false, matchIndex: 0, hintIndex: 0, hintTerm: 0 }])
  })

  it('leader lease: a follower that heard from its leader within the election timeout refuses (pre-)votes, unless transfer=true', () => {
    const c = new Cluster(ABC)
    c.elect('a')
    const b = c.core('b')
    b.step({ type: 'pre-vote', from: 'c', to: 'b', term: 3, lastIndex: 10, lastTerm: 2 })
    expect(messages(b)).toEqual([{ type: 'pre-vote-resp', from: 'b', to: 'c', term: 2, granted: false }])
    b.step({ type: 'vote', from: 'c', to: 'b', term: 3, lastIndex: 10, lastTerm: 2, transfer: false })
    expect(messages(b)).toEqual([])
    expect(b.status().term).toBe(2)
    b.step({ type: 'vote', from: 'c', to: 'b', term: 3, lastIndex: 10, lastTerm: 2, transfer: true })
    expect(messages(b)).toEqual([{ type: 'vote-resp', from: 'b', to: 'c', term: 3, granted: true }])
  })

  it('leader lease: once the leader has been silent for an election timeout, the pre-vote is granted', () => {
    const b = new RaftCore(config('b', { random: () => 0.99 }), formed(ABC))
    b.step({ type: 'heartbeat', from: 'a', to: 'b', term: 2, commit: 3, context: 0 })
    tick(b, ELECTION - 1)
    b.step({ type: 'pre-vote', from: 'c', to: 'b', term: 3, lastIndex: 10, lastTerm: 2 })
    expect(messages(b).at(-1)).toMatchObject({ type: 'pre-vote-resp', granted: false })
    b.tick()
    b.step({ type: 'pre-vote', from: 'c', to: 'b', term: 3, lastIndex: 10, lastTerm: 2 })
    expect(messages(b)).toEqual([{ type: 'pre-vote-resp', from: 'b', to: 'c', term: 3, granted: true }])
  })

  it('CheckQuorum (thesis §6.2): a leader that has not heard from a quorum within an election timeout steps down', () => {
    const c = new Cluster(ABC)
    c.elect('a')
    const a = c.core('a')
    tick(a, ELECTION) // the first check counts the answers to its first appends
    expect(a.status().role).toBe('leader')
    drain(a)
    tick(a, ELECTION) // nothing heard since
    expect(a.status()).toMatchObject({ role: 'follower', term: 2, leader: null })
  })

  it('CheckQuorum: a leader that hears from a quorum stays', () => {
    const c = new Cluster(ABC)
    c.elect('a')
    c.tickAll(4 * ELECTION, m => m.from !== 'c' && m.to !== 'c')
    expect(c.core('a').status().role).toBe('leader')
  })

  it('a node that is not in its own voter set never campaigns (a joining manager waits to be contacted)', () => {
    const joiner = new RaftCore(config('d'), { hardState: { term: 0, vote: null, commit: 0 }, snapshot: null, entries: [] })
    tick(joiner, 20 * ELECTION)
    expect(joiner.status()).toMatchObject({ role: 'follower', term: 0, voters: [] })
    expect(drain(joiner).messages).toEqual([])
  })

  it('§5.2 a candidate that loses the vote returns to follower and retries at the next timeout', () => {
    const c = new Cluster(ABC)
    const a = c.core('a')
    tick(a, ELECTION)
    drain(a)
    a.step({ type: 'pre-vote-resp', from: 'b', to: 'a', term: 1, granted: false })
    a.step({ type: 'pre-vote-resp', from: 'c', to: 'a', term: 1, granted: false })
    expect(a.status()).toMatchObject({ role: 'follower', term: 1 })
  })
})
