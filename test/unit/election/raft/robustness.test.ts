import { describe, expect, it } from 'vitest'
import { RaftCore, type Entry, type Message } from '../../../../src/election/raft/index.js'
import { Cluster, bytes, config, drain, formed, normal } from './helpers.js'

const ABC = ['a', 'b', 'c']

describe('robustness and the Ready contract', () => {
  const malformed: [string, unknown][] = [
    ['not an object', 42],
    ['unknown type', { type: 'nope', from: 'a', to: 'b', term: 2 }],
    ['negative term', { type: 'heartbeat', from: 'a', to: 'b', term: -1, commit: 0, context: 0 }],
    ['fractional index', { type: 'append', from: 'a', to: 'b', term: 2, prevIndex: 1.5, prevTerm: 1, entries: [], commit: 0 }],
    ['string commit', { type: 'heartbeat', from: 'a', to: 'b', term: 2, commit: '9', context: 0 }],
    ['entries not contiguous', { type: 'append', from: 'a', to: 'b', term: 2, prevIndex: 3, prevTerm: 1, entries: [normal(5, 2)], commit: 3 }],
    ['entry term above the message term', { type: 'append', from: 'a', to: 'b', term: 2, prevIndex: 3, prevTerm: 1, entries: [normal(4, 9)], commit: 3 }],
    ['entry data not bytes', { type: 'append', from: 'a', to: 'b', term: 2, prevIndex: 3, prevTerm: 1, entries: [{ kind: 'normal', term: 2, index: 4, data: 'x' }], commit: 3 }],
    ['bad conf change', { type: 'append', from: 'a', to: 'b', term: 2, prevIndex: 3, prevTerm: 1, entries: [{ kind: 'conf', term: 2, index: 4, change: { type: 'add-voter' } }], commit: 3 }],
    ['missing from', { type: 'heartbeat', to: 'b', term: 2, commit: 0, context: 0 }],
    ['snapshot chunk not bytes', { type: 'snapshot', from: 'a', to: 'b', term: 2, index: 9, snapTerm: 2, voters: ['a'], offset: 0, chunk: [1, 2], done: true }],
    ['vote without transfer flag', { type: 'vote', from: 'a', to: 'b', term: 9, lastIndex: 9, lastTerm: 9 }],
    ['addressed to another node', { type: 'heartbeat', from: 'a', to: 'c', term: 2, commit: 3, context: 0 }]
  ]

  for (const [name, m] of malformed) {
    it(`a malformed message (${name}) is dropped without effect`, () => {
      const b = new RaftCore(config('b'), formed(ABC))
      const before = b.status()
      const rd = b.ready()
      b.step(m as Message)
      expect(b.status()).toEqual(before)
      expect(b.ready()).toEqual(rd)
    })
  }

  it('an append that would erase a committed entry is dropped', () => {
    const b = new RaftCore(config('b'), formed(ABC, [normal(4, 2)], 2))
    b.step({ type: 'heartbeat', from: 'a', to: 'b', term: 2, commit: 4, context: 0 })
    drain(b)
    b.step({ type: 'append', from: 'a', to: 'b', term: 2, prevIndex: 3, prevTerm: 1, entries: [normal(4, 1)], commit: 4 })
    expect(b.status().lastIndex).toBe(4)
    expect(drain(b).entries).toEqual([])
  })

  it('Ready: committed only holds entries persisted earlier or in the same Ready; messages come with what they depend on', () => {
    const c = new Cluster(ABC)
    c.elect('a')
    const a = c.core('a')
    const persisted = new Map<string, Set<number>>()
    for (const id of ABC) persisted.set(id, new Set([1, 2, 3, 4]))
    for (let i = 0; i < 20; i++) a.propose(bytes(`p${i}`))
    for (let round = 0; round < 20; round++) {
      const pending: Message[] = []
      for (const id of ABC) {
        const core = c.core(id)
        while (core.hasReady()) {
          const rd = core.ready()
          const mine = persisted.get(id) ?? new Set()
          for (const e of rd.entries) mine.add(e.index)
          for (const e of rd.committed) expect(mine.has(e.index)).toBe(true)
          for (const m of rd.messages) {
            if (m.type === 'append-resp' && m.success) for (let j = 1; j <= m.matchIndex; j++) expect(mine.has(j) || j <= 3).toBe(true)
          }
          pending.push(...rd.messages)
          core.advance(rd)
        }
      }
      for (const m of pending) c.core(m.to).step(m)
    }
    expect(a.status().commit).toBe(24)
  })

  it('ready() is pure and advance() acknowledges exactly what it returned', () => {
    const b = new RaftCore(config('b'), formed(ABC))
    const entries: Entry[] = [normal(4, 2)]
    b.step({ type: 'append', from: 'a', to: 'b', term: 2, prevIndex: 3, prevTerm: 1, entries, commit: 4 })
    const r1 = b.ready()
    expect(b.ready()).toEqual(r1)
    b.advance(r1)
    expect(b.hasReady()).toBe(false)
    expect(b.status()).toMatchObject({ applied: 4, commit: 4 })
  })

  it('a restarted node resumes from its persisted state: term, vote and log; it replays committed entries', () => {
    const init = { hardState: { term: 5, vote: 'c', commit: 4 }, snapshot: null, entries: formed(ABC, [normal(4, 2), normal(5, 5)]).entries }
    const b = new RaftCore(config('b'), init)
    expect(b.status()).toMatchObject({ term: 5, commit: 4, applied: 0, lastIndex: 5 })
    const rd = drain(b)
    expect(rd.entries).toEqual([]) // already on disk
    expect(rd.committed.map(e => e.index)).toEqual([1, 2, 3, 4])
    b.step({ type: 'vote', from: 'a', to: 'b', term: 5, lastIndex: 9, lastTerm: 5, transfer: false })
    expect(drain(b).messages[0]).toMatchObject({ type: 'vote-resp', granted: false }) // already voted for c in term 5
  })

  it('rejects an invalid config', () => {
    expect(() => new RaftCore(config('a', { heartbeatTicks: 10 }), formed(ABC))).toThrow(/heartbeatTicks/)
    expect(() => new RaftCore(config('a', { snapshotChunkBytes: 0 }), formed(ABC))).toThrow()
  })
})
