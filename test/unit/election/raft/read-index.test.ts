import { describe, expect, it } from 'vitest'
import { RaftCore, type Message } from '../../../../src/election/raft/index.js'
import { Cluster, ELECTION, bytes, config, drain, formed, normal, tick } from './helpers.js'

const ABC = ['a', 'b', 'c']

describe('ReadIndex (thesis §6.4)', () => {
  it('a single-voter leader answers at once with its commit index', () => {
    const a = new RaftCore(config('a'), RaftCore.bootstrap('a'))
    tick(a, ELECTION)
    drain(a)
    expect(a.readIndex(7)).toBe(true)
    expect(drain(a).readStates).toEqual([{ requestId: 7, index: 2 }])
  })

  it('a follower refuses', () => {
    const c = new Cluster(ABC)
    c.elect('a')
    expect(c.core('b').readIndex(1)).toBe(false)
  })

  it('the leader answers only after a quorum confirms its leadership with a heartbeat round carrying the context', () => {
    const c = new Cluster(ABC)
    c.elect('a')
    const a = c.core('a')
    a.propose(bytes('w'))
    c.deliver()
    expect(a.readIndex(1)).toBe(true)
    const rd = drain(a)
    expect(rd.readStates).toEqual([])
    const beats = rd.messages.filter((m): m is Extract<Message, { type: 'heartbeat' }> => m.type === 'heartbeat')
    expect(beats.map(m => m.to)).toEqual(['b', 'c'])
    const context = beats[0]?.context ?? 0
    expect(context).toBeGreaterThan(0)
    a.step({ type: 'heartbeat-resp', from: 'b', to: 'a', term: 2, context })
    expect(drain(a).readStates).toEqual([{ requestId: 1, index: 5 }])
  })

  it('waits until the new leader has committed an entry of its own term', () => {
    // a becomes leader of term 3 with an uncommitted entry of term 2: its commit index (3) may be stale.
    const a = new RaftCore(config('a'), formed(ABC, [normal(4, 2)], 2))
    tick(a, ELECTION)
    drain(a)
    a.step({ type: 'pre-vote-resp', from: 'b', to: 'a', term: 3, granted: true })
    drain(a)
    a.step({ type: 'vote-resp', from: 'b', to: 'a', term: 3, granted: true })
    drain(a)
    expect(a.readIndex(9)).toBe(true)
    expect(drain(a).messages.filter(m => m.type === 'heartbeat')).toEqual([])
    a.step({ type: 'append-resp', from: 'b', to: 'a', term: 3, success: true, matchIndex: 5, hintIndex: 0, hintTerm: 0 })
    const hb = drain(a).messages.find((m): m is Extract<Message, { type: 'heartbeat' }> => m.type === 'heartbeat' && m.to === 'b')
    expect(hb).toBeDefined()
    a.step({ type: 'heartbeat-resp', from: 'b', to: 'a', term: 3, context: hb?.context ?? 0 })
    expect(drain(a).readStates).toEqual([{ requestId: 9, index: 5 }])
  })

  it('a read waiting on a voter that is then removed is confirmed by the quorum of the voters left', () => {
    const c = new Cluster(['a', 'b'])
    c.elect('a')
    const a = c.core('a')
    const commit = a.status().commit
    expect(a.readIndex(4)).toBe(true)
    expect(drain(a).readStates).toEqual([]) // b never answers: it has left
    expect(a.proposeConfChange({ type: 'remove-voter', id: 'b' })).not.toBeNull()
    expect(drain(a).readStates).toEqual([{ requestId: 4, index: commit }]) // a alone is a quorum of {a}
  })

  it('a partitioned leader never answers (it cannot confirm leadership)', () => {
    const c = new Cluster(ABC)
    c.elect('a')
    const a = c.core('a')
    const isolated = (m: { from: string, to: string }): boolean => m.from !== 'a' && m.to !== 'a'
    expect(a.readIndex(3)).toBe(true)
    const answered: number[] = []
    for (let i = 0; i < 3 * ELECTION; i++) {
      a.tick()
      answered.push(...drain(a).readStates.map(r => r.requestId))
      c.deliver(isolated)
    }
    expect(answered).toEqual([])
    expect(a.status().role).not.toBe('leader') // CheckQuorum
  })
})
