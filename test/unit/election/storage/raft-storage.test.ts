import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { FlotillaError } from '../../../../src/membership/index.js'
import { MAX_RECORD_BYTES, RaftStorage } from '../../../../src/election/storage/index.js'
import type { Entry } from '../../../../src/election/raft/types.js'
import { Model, entries, hs, listDir, normal, snap, tempDirs } from './helpers.js'

const dirs = tempDirs()
afterEach(dirs.cleanup)

async function reopen (dir: string): Promise<ReturnType<typeof RaftStorage.open>> {
  const opened = await RaftStorage.open(dir)
  expect(opened.warnings).toEqual([])
  return opened
}

async function rejection (p: Promise<unknown>): Promise<FlotillaError> {
  const err = await p.then(() => { throw new Error('expected a rejection') }, (e: unknown) => e)
  expect(err).toBeInstanceOf(FlotillaError)
  return err as FlotillaError
}

describe('RaftStorage round trip', () => {
  it('creates a missing dir with mode 0700 and reports a brand-new node as null', async () => {
    const dir = join(await dirs.make(), 'nested', 'raft')
    const { storage, state } = await RaftStorage.open(dir)
    expect(state).toBeNull()
    expect((await stat(dir)).mode & 0o777).toBe(0o700)
    await storage.close()
    const again = await reopen(dir)
    expect(again.state).toBeNull()
    await again.storage.close()
  })

  it('recovers appended batches, hard states and conf entries exactly', async () => {
    const dir = await dirs.make()
    const model = new Model()
    const { storage } = await RaftStorage.open(dir)
    const conf: Entry = { kind: 'conf', term: 1, index: 4, change: { type: 'add-voter', id: 'c'.repeat(25) } }
    const reset: Entry = { kind: 'conf', term: 2, index: 6, change: { type: 'reset-voters', voters: ['d'.repeat(25)] } }
    const steps: Array<[ReturnType<typeof hs> | null, Entry[]]> = [
      [hs(1, 0, 'a'.repeat(25)), []],
      [null, entries(1, 3, 1)],
      [hs(1, 3, 'a'.repeat(25)), [conf, normal(5, 1, '')]],
      [hs(2, 5), [reset]]
    ]
    for (const [h, batch] of steps) {
      await storage.append(h, batch)
      model.append(h, batch)
    }
    await storage.close()
    const { storage: s2, state } = await reopen(dir)
    expect(state).toEqual(model.state())
    await s2.close()
  })

  it('replaces the log from a lower index (Raft §5.3) with a truncate record, not a rewrite', async () => {
    const dir = await dirs.make()
    const model = new Model()
    const { storage } = await RaftStorage.open(dir)
    const ops: Array<[ReturnType<typeof hs> | null, Entry[]]> = [
      [hs(1, 0), entries(1, 6, 1)],
      [hs(2, 2), entries(4, 5, 2)], // replaces 4..6
      [null, entries(6, 8, 2)],
      [hs(3, 3), entries(3, 3, 3)], // replaces 3..8, leaving 1..3
      [null, entries(4, 4, 3)]
    ]
    const sizes: number[] = []
    for (const [h, batch] of ops) {
      await storage.append(h, batch)
      model.append(h, batch)
      sizes.push((await stat(join(dir, 'wal-0000000000000000.log'))).size)
    }
    await storage.close()
    for (let i = 1; i < sizes.length; i++) expect(sizes[i]!).toBeGreaterThan(sizes[i - 1]!) // only ever appended
    const { storage: s2, state } = await reopen(dir)
    expect(state).toEqual(model.state())
    expect(state?.entries.map(e => `${e.index}/${e.term}`)).toEqual(['1/1', '2/1', '3/3', '4/3'])
    await s2.close()
  })

  it('compacts on saveSnapshot: one segment and one snapshot remain, entries after it retained', async () => {
    const dir = await dirs.make()
    const model = new Model()
    const { storage } = await RaftStorage.open(dir)
    const apply = async (h: ReturnType<typeof hs> | null, batch: Entry[]): Promise<void> => {
      await storage.append(h, batch)
      model.append(h, batch)
    }
    await apply(hs(1, 8), entries(1, 10, 1))
    await storage.saveSnapshot(snap(8, 1))
    model.saveSnapshot(snap(8, 1))
    expect(await listDir(dir)).toEqual(['snap-0000000000000008.snap', 'wal-0000000000000001.log'])
    await apply(hs(2, 12), entries(10, 14, 2)) // truncates 10 after compaction
    await storage.saveSnapshot(snap(12, 2))
    model.saveSnapshot(snap(12, 2))
    await apply(null, entries(15, 16, 2))
    expect(await listDir(dir)).toEqual(['snap-000000000000000c.snap', 'wal-0000000000000002.log'])
    await storage.close()
    const { storage: s2, state } = await reopen(dir)
    expect(state).toEqual(model.state())
    expect(state?.snapshot?.index).toBe(12)
    expect(state?.entries.map(e => e.index)).toEqual([13, 14, 15, 16])
    await s2.append(hs(3, 14), entries(17, 17, 3))
    model.append(hs(3, 14), entries(17, 17, 3))
    await s2.close()
    const third = await reopen(dir)
    expect(third.state).toEqual(model.state())
    await third.storage.close()
  })

  it('drops the whole log for a snapshot it does not contain or that conflicts with it (Raft §7)', async () => {
    const dir = await dirs.make()
    const model = new Model()
    const { storage } = await RaftStorage.open(dir)
    await storage.append(hs(1, 2), entries(1, 5, 1))
    model.append(hs(1, 2), entries(1, 5, 1))
    await storage.saveSnapshot(snap(4, 2)) // entry 4 has term 1: conflict
    model.saveSnapshot(snap(4, 2))
    await storage.append(hs(3, 4), entries(5, 6, 3)) // follows the snapshot directly
    model.append(hs(3, 4), entries(5, 6, 3))
    await storage.saveSnapshot(snap(20, 3)) // beyond the log: InstallSnapshot from a leader
    model.saveSnapshot(snap(20, 3))
    await storage.close()
    const { storage: s2, state } = await reopen(dir)
    expect(state).toEqual(model.state())
    expect(state?.entries).toEqual([])
    await s2.append(null, entries(21, 21, 3))
    await s2.close()
  })

  it('refuses bad appends and snapshots without writing anything', async () => {
    const dir = await dirs.make()
    const { storage } = await RaftStorage.open(dir)
    await storage.append(hs(1, 0), entries(1, 3, 1))
    expect((await rejection(storage.append(null, entries(5, 5, 1)))).code).toBe('invalid-argument') // gap
    expect((await rejection(storage.append(null, [normal(4, 1), normal(6, 1)]))).code).toBe('invalid-argument')
    await storage.saveSnapshot(snap(2, 1))
    expect((await rejection(storage.append(null, entries(2, 2, 1)))).code).toBe('invalid-argument') // compacted
    expect((await rejection(storage.saveSnapshot(snap(1, 1)))).code).toBe('invalid-argument')
    await storage.append(null, entries(4, 4, 1)) // still usable
    await storage.close()
    const { storage: s2, state } = await reopen(dir)
    expect(state?.entries.map(e => e.index)).toEqual([3, 4])
    await s2.close()
  })

  it('refuses a record over the 64 MiB cap with too-large, and splits a large batch into records', async () => {
    const dir = await dirs.make()
    const { storage } = await RaftStorage.open(dir)
    const huge: Entry = { kind: 'normal', term: 1, index: 1, data: new Uint8Array(MAX_RECORD_BYTES) }
    const err = await rejection(storage.append(null, [huge]))
    expect(err.code).toBe('too-large')
    expect(err.message).toMatch(/64|67108864/)
    const half = (index: number): Entry => ({ kind: 'normal', term: 1, index, data: new Uint8Array(MAX_RECORD_BYTES / 2 - 100).fill(index) })
    await storage.append(hs(1, 0), [half(1), half(2), half(3)]) // ~96 MiB in one call
    await storage.close()
    const { storage: s2, state } = await reopen(dir)
    expect(state?.entries.map(e => [e.index, e.kind === 'normal' ? e.data.length : 0, e.kind === 'normal' ? e.data[0] : 0]))
      .toEqual([[1, MAX_RECORD_BYTES / 2 - 100, 1], [2, MAX_RECORD_BYTES / 2 - 100, 2], [3, MAX_RECORD_BYTES / 2 - 100, 3]])
    await s2.close()
  })

  it('serializes concurrent calls in call order and refuses calls after close', async () => {
    const dir = await dirs.make()
    const { storage } = await RaftStorage.open(dir)
    await Promise.all([
      storage.append(null, entries(1, 2, 1)),
      storage.append(null, entries(3, 4, 1)),
      storage.saveSnapshot(snap(3, 1)),
      storage.append(hs(1, 3), entries(5, 5, 1))
    ])
    await storage.close()
    await storage.close()
    expect((await rejection(storage.append(null, entries(6, 6, 1)))).code).toBe('conflict')
    const { storage: s2, state } = await reopen(dir)
    expect(state?.snapshot?.index).toBe(3)
    expect(state?.entries.map(e => e.index)).toEqual([4, 5])
    await s2.close()
  })
})
