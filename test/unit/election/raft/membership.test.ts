import { describe, expect, it } from 'vitest'
import { RaftCore } from '../../../../src/election/raft/index.js'
import { Cluster, ELECTION, bytes, config, drain, formed, messages, normal, tick } from './helpers.js'

const ABC = ['a', 'b', 'c']

describe('membership changes (thesis §4.1–4.2), leadership transfer (§3.10), force-new-cluster', () => {
  it('thesis §4.1: a conf entry takes effect when appended, before it commits', () => {
    const b = new RaftCore(config('b'), formed(ABC))
    b.step({ type: 'append', from: 'a', to: 'b', term: 2, prevIndex: 3, prevTerm: 1, entries: [{ kind: 'conf', term: 2, index: 4, change: { type: 'add-voter', id: 'd' } }], commit: 3 })
    expect(b.status()).toMatchObject({ voters: ['a', 'b', 'c', 'd'], commit: 3 })
  })

  it('thesis §4.1: when a conflicting leader truncates an uncommitted conf entry, the voter set is recomputed', () => {
    const b = new RaftCore(config('b'), formed(ABC, [{ kind: 'conf', term: 2, index: 4, change: { type: 'remove-voter', id: 'c' } }], 2))
    expect(b.status().voters).toEqual(['a', 'b'])
    b.step({ type: 'append', from: 'c', to: 'b', term: 3, prevIndex: 3, prevTerm: 1, entries: [normal(4, 3)], commit: 3 })
    expect(b.status().voters).toEqual(['a', 'b', 'c'])
  })

  it('one conf change at a time: a second is refused while the first is uncommitted', () => {
    const c = new Cluster(ABC)
    c.elect('a')
    const a = c.core('a')
    expect(a.proposeConfChange({ type: 'add-voter', id: 'd' })).toEqual({ index: 5, term: 2 })
    expect(a.proposeConfChange({ type: 'add-voter', id: 'e' })).toBeNull()
    expect(c.core('b').proposeConfChange({ type: 'add-voter', id: 'e' })).toBeNull() // not leader
    c.deliver() // d does not exist, but a, b, c are a quorum of four
    expect(a.status().commit).toBe(5)
    expect(a.proposeConfChange({ type: 'add-voter', id: 'e' })).toEqual({ index: 6, term: 2 })
  })

  it('a joining member with empty state catches up once added, and then counts in the quorum', () => {
    const c = new Cluster(ABC)
    c.elect('a')
    const d = c.add('d', { hardState: { term: 0, vote: null, commit: 0 }, snapshot: null, entries: [] })
    c.core('a').proposeConfChange({ type: 'add-voter', id: 'd' })
    c.deliver()
    c.tickAll(1)
    expect(d.status()).toMatchObject({ role: 'follower', leader: 'a', term: 2, voters: ['a', 'b', 'c', 'd'], commit: 5, lastIndex: 5 })
  })

  it('thesis §4.2.2: a leader that removes itself keeps leading until the change commits, then hands over and steps down', () => {
    const c = new Cluster(ABC)
    c.elect('a')
    c.tickAll(1)
    const a = c.core('a')
    a.proposeConfChange({ type: 'remove-voter', id: 'a' })
    expect(a.status()).toMatchObject({ role: 'leader', voters: ['b', 'c'] })
    c.deliver()
    expect(a.status()).toMatchObject({ role: 'follower', voters: ['b', 'c'] })
    expect(c.log.some(m => m.type === 'timeout-now' && m.from === 'a')).toBe(true)
    const leaders = ['b', 'c'].filter(id => c.core(id).status().role === 'leader')
    expect(leaders).toHaveLength(1)
    tick(a, 10 * ELECTION)
    expect(a.status().role).toBe('follower') // a removed node stays quiet
  })

  it('thesis §3.10 leadership transfer: proposals stop, the target is caught up, timeout-now makes it leader at once', () => {
    const c = new Cluster(ABC)
    c.elect('a')
    c.tickAll(1)
    const a = c.core('a')
    a.propose(bytes('before'))
    expect(a.transferLeadership('a')).toBe(false)
    expect(a.transferLeadership('z')).toBe(false)
    expect(a.transferLeadership('b')).toBe(true)
    expect(a.propose(bytes('during'))).toBeNull()
    expect(a.proposeConfChange({ type: 'add-voter', id: 'd' })).toBeNull()
    c.deliver()
    expect(c.log.some(m => m.type === 'vote' && m.from === 'b' && m.transfer)).toBe(true)
    expect(c.core('b').status()).toMatchObject({ role: 'leader', term: 3 })
    expect(a.status()).toMatchObject({ role: 'follower', leader: 'b', term: 3 })
  })

  it('thesis §3.10: a transfer that does not complete within an election timeout is aborted', () => {
    const c = new Cluster(ABC)
    c.elect('a')
    const a = c.core('a')
    const cut = (m: { from: string, to: string }): boolean => m.to !== 'b' && m.from !== 'b'
    a.propose(bytes('x'))
    c.deliver(cut)
    expect(a.transferLeadership('b')).toBe(true)
    expect(a.propose(bytes('y'))).toBeNull()
    c.tickAll(ELECTION, cut)
    expect(a.status()).toMatchObject({ role: 'leader', leadTransferee: null })
    expect(a.propose(bytes('z'))).not.toBeNull()
  })

  it('force-new-cluster: the node keeps its log, resets the voters to itself and elects itself', () => {
    const old = formed(ABC, [normal(4, 2), normal(5, 3)], 3)
    const init = RaftCore.forceNewCluster({ ...old, hardState: { term: 4, vote: 'b', commit: 4 } }, 'a')
    expect(init.hardState).toEqual({ term: 5, vote: null, commit: 6 })
    expect(init.entries.at(-1)).toEqual({ kind: 'conf', term: 5, index: 6, change: { type: 'reset-voters', voters: ['a'] } })
    const a = new RaftCore(config('a'), init)
    expect(a.status().voters).toEqual(['a'])
    tick(a, ELECTION)
    const rd = drain(a)
    expect(rd.softState).toEqual({ role: 'leader', leader: 'a', term: 6 })
    expect(rd.committed.map(e => e.index)).toEqual([1, 2, 3, 4, 5, 6])
    expect(drain(a).committed.map(e => e.index)).toEqual([7]) // its no-op, once persisted
  })

  it('a removed node that never learned of its removal cannot win: the others hold the lease and a newer log', () => {
    const c = new Cluster(ABC)
    const cutC = (m: { from: string, to: string }): boolean => m.to !== 'c' && m.from !== 'c'
    c.elect('a', cutC)
    c.core('a').proposeConfChange({ type: 'remove-voter', id: 'c' })
    c.deliver(cutC)
    c.tickAll(6 * ELECTION) // c is back: it campaigns but never disrupts the cluster
    expect(c.core('a').status()).toMatchObject({ role: 'leader', term: 2 })
    expect(c.core('b').status().term).toBe(2)
    expect(messages(c.core('c')).every(m => m.type !== 'vote')).toBe(true)
  })
})
