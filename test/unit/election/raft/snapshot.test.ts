import { describe, expect, it } from 'vitest'
import { RaftCore, type Message } from '../../../../src/election/raft/index.js'
import { Cluster, bytes, config, drain, formed, messages } from './helpers.js'

const ABC = ['a', 'b', 'c']
const EMPTY_STATE = { hardState: { term: 0, vote: null, commit: 0 }, snapshot: null, entries: [] }

function snapshots (ms: readonly Message[]): Extract<Message, { type: 'snapshot' }>[] {
  return ms.filter((m): m is Extract<Message, { type: 'snapshot' }> => m.type === 'snapshot')
}

describe('log compaction and InstallSnapshot (Raft §7)', () => {
  it('compact records {index, term, voters as of index, data}, drops older entries and hands the snapshot to storage', () => {
    const c = new Cluster(ABC)
    c.elect('a')
    const a = c.core('a')
    a.propose(bytes('x'))
    c.deliver()
    expect(a.compact(5, bytes('state@5'))).toBe(true)
    const rd = drain(a)
    expect(rd.snapshot).toEqual({ index: 5, term: 2, voters: ['a', 'b', 'c'], data: bytes('state@5') })
    expect(a.compact(5, bytes('again'))).toBe(false) // not above the current snapshot
    expect(a.compact(99, bytes('ahead'))).toBe(false) // not applied yet
  })

  it('a follower that needs compacted entries gets the snapshot in chunks of at most snapshotChunkBytes, then the rest of the log', () => {
    const c = new Cluster(ABC, () => formed(ABC), { snapshotChunkBytes: 16 })
    c.elect('a')
    const a = c.core('a')
    for (let i = 0; i < 5; i++) a.propose(bytes(`cmd${i}`))
    c.deliver()
    const data = bytes('0123456789'.repeat(5)) // 50 bytes: 4 chunks
    expect(a.compact(a.status().applied, data)).toBe(true)
    // a new empty member is added; the leader cannot send it entries from index 1
    const d = c.add('d', EMPTY_STATE)
    expect(a.proposeConfChange({ type: 'add-voter', id: 'd' })).not.toBeNull()
    let installed: { snapshot: unknown, toApply: unknown } | null = null
    const seen: Message[] = []
    for (let round = 0; round < 50 && installed === null; round++) {
      c.deliver(m => {
        seen.push(m)
        return true
      })
      const rd = d.ready()
      if (rd.snapshotToApply !== null) installed = { snapshot: rd.snapshot, toApply: rd.snapshotToApply }
      c.tickAll(1)
    }
    const chunks = snapshots(seen).filter(m => m.to === 'd')
    expect(chunks.map(m => [m.offset, m.chunk.length, m.done])).toEqual([[0, 16, false], [16, 16, false], [32, 16, false], [48, 2, true]])
    c.tickAll(2)
    expect(d.status()).toMatchObject({ voters: ['a', 'b', 'c', 'd'], commit: a.status().commit, lastIndex: a.status().lastIndex })
  })

  it('on the last chunk the follower\'s Ready carries the snapshot to persist and to apply, and its log is replaced', () => {
    const d = new RaftCore(config('d'), formed(['a', 'b', 'c']))
    const base = { type: 'snapshot', from: 'a', to: 'd', term: 2, index: 10, snapTerm: 2, voters: ['a', 'b', 'c', 'd'] } as const
    d.step({ ...base, offset: 0, chunk: bytes('hello '), done: false })
    expect(messages(d)).toEqual([{ type: 'snapshot-resp', from: 'd', to: 'a', term: 2, index: 10, offset: 6, success: true }])
    d.step({ ...base, offset: 6, chunk: bytes('world'), done: true })
    const rd = drain(d)
    const snap = { index: 10, term: 2, voters: ['a', 'b', 'c', 'd'], data: bytes('hello world') }
    expect(rd.snapshot).toEqual(snap)
    expect(rd.snapshotToApply).toEqual(snap)
    expect(rd.committed).toEqual([]) // entries 1..3 are covered by the snapshot, not replayed
    expect(d.status()).toMatchObject({ commit: 10, applied: 10, lastIndex: 10, voters: ['a', 'b', 'c', 'd'] })
  })

  it('out-of-order and stale chunks are refused; the leader restarts the transfer from offset 0', () => {
    const d = new RaftCore(config('d'), formed(['a', 'b', 'c']))
    const base = { type: 'snapshot', from: 'a', to: 'd', term: 2, index: 10, snapTerm: 2, voters: ['a', 'd'] } as const
    d.step({ ...base, offset: 6, chunk: bytes('world'), done: true })
    expect(messages(d)).toEqual([{ type: 'snapshot-resp', from: 'd', to: 'a', term: 2, index: 10, offset: 6, success: false }])
    d.step({ ...base, offset: 0, chunk: bytes('hello '), done: false })
    d.step({ ...base, offset: 3, chunk: bytes('lo world'), done: true }) // overlaps: not the next offset
    expect(messages(d).at(-1)).toMatchObject({ type: 'snapshot-resp', success: false, offset: 3 })
    expect(d.status().commit).toBe(3)

    // leader side: a refusal of the chunk in flight restarts from 0
    const c = new Cluster(ABC, () => formed(ABC), { snapshotChunkBytes: 4 })
    const withoutB = (m: Message): boolean => m.from !== 'b' && m.to !== 'b'
    c.elect('a', withoutB)
    const a = c.core('a')
    a.propose(bytes('x'))
    c.deliver(withoutB)
    expect(a.compact(5, bytes('abcdefghij'))).toBe(true)
    drain(a)
    a.step({ type: 'heartbeat-resp', from: 'b', to: 'a', term: 2, context: 0 }) // b is back, and needs index 4
    const first = snapshots(drain(a).messages)
    expect(first.map(m => m.offset)).toEqual([0])
    a.step({ type: 'snapshot-resp', from: 'b', to: 'a', term: 2, index: 5, offset: 4, success: true })
    expect(snapshots(drain(a).messages).map(m => m.offset)).toEqual([4])
    a.step({ type: 'snapshot-resp', from: 'b', to: 'a', term: 2, index: 5, offset: 4, success: false })
    expect(snapshots(drain(a).messages).map(m => m.offset)).toEqual([0])
  })

  it('a snapshot that is not ahead of the follower\'s commit does not replace its log', () => {
    const b = new RaftCore(config('b'), formed(ABC))
    b.step({ type: 'snapshot', from: 'a', to: 'b', term: 2, index: 2, snapTerm: 1, voters: ['x'], offset: 0, chunk: bytes('s'), done: true })
    const rd = drain(b)
    expect(rd.snapshotToApply).toBeNull()
    expect(rd.messages[0]).toMatchObject({ type: 'snapshot-resp', success: true })
    expect(b.status()).toMatchObject({ voters: ['a', 'b', 'c'], lastIndex: 3 })
  })
})
