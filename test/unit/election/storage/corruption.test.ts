import { copyFile, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { FlotillaError } from '../../../../src/membership/index.js'
import { RaftStorage } from '../../../../src/election/storage/index.js'
import type { RaftInitialState } from '../../../../src/election/raft/types.js'
import { Model, entries, hs, listDir, snap, tempDirs } from './helpers.js'

const dirs = tempDirs()
afterEach(dirs.cleanup)

const SEGMENT = 'wal-0000000000000000.log'

/** Five appends of one record each; `starts[i]` is where call i's record begins. */
async function fiveRecords (): Promise<{ dir: string, path: string, starts: number[], end: number, states: Array<RaftInitialState | null> }> {
  const dir = await dirs.make()
  const path = join(dir, SEGMENT)
  const { storage } = await RaftStorage.open(dir)
  const model = new Model()
  const starts: number[] = []
  const states: Array<RaftInitialState | null> = []
  for (let i = 0; i < 5; i++) {
    starts.push((await stat(path)).size)
    states.push(model.state())
    await storage.append(null, entries(2 * i + 1, 2 * i + 2, 1))
    model.append(null, entries(2 * i + 1, 2 * i + 2, 1))
  }
  await storage.close()
  return { dir, path, starts, end: (await stat(path)).size, states }
}

async function patch (path: string, edit: (buf: Buffer) => void): Promise<void> {
  const buf = await readFile(path)
  edit(buf)
  await writeFile(path, buf)
}

async function openError (dir: string): Promise<FlotillaError> {
  const err = await RaftStorage.open(dir).then(async o => {
    await o.storage.close()
    throw new Error('expected open to fail')
  }, (e: unknown) => e)
  expect(err).toBeInstanceOf(FlotillaError)
  const fe = err as FlotillaError
  expect(fe.code).toBe('internal')
  expect(fe.hint).toMatch(/backup.*rejoin/)
  return fe
}

describe('WAL corruption', () => {
  it('a flipped byte in a middle record stops recovery, naming the file and offset', async () => {
    const { dir, path, starts } = await fiveRecords()
    await patch(path, b => { b[starts[2]! + 12]! ^= 0x20 })
    const err = await openError(dir)
    expect(err.message).toContain(path)
    expect(err.message).toContain(`byte offset ${starts[2]}`)
    expect(err.message).toMatch(/checksum mismatch/)
    // nothing was cut: the evidence is left for the operator
    expect((await stat(path)).size).toBe((await readFile(path)).length)
  })

  it('a flipped CRC byte in a middle record is corruption too', async () => {
    const { dir, path, starts } = await fiveRecords()
    await patch(path, b => { b[starts[1]! + 5]! ^= 0x01 })
    expect((await openError(dir)).message).toContain(`byte offset ${starts[1]}`)
  })

  it('a middle length pointing past the next valid record, or past the end of the file, is corruption', async () => {
    for (const bump of ['past-next', 'past-eof'] as const) {
      const { dir, path, starts, end } = await fiveRecords()
      await patch(path, b => {
        const at = starts[2]!
        const length = b.readUInt32LE(at)
        b.writeUInt32LE(bump === 'past-next' ? length + (starts[3]! - at) + 5 : end, at)
      })
      const err = await openError(dir)
      expect(err.message).toContain(`${path} at byte offset ${starts[2]}`)
    }
  })

  it('a damaged segment header is corruption at offset 0', async () => {
    const { dir, path } = await fiveRecords()
    await patch(path, b => { b[10]! ^= 0xFF })
    expect((await openError(dir)).message).toContain(`${path} at byte offset 0`)
  })

  it('a flipped byte in the last record is a torn tail: cut, with a warning, and appends continue', async () => {
    const { dir, path, starts, states } = await fiveRecords()
    await patch(path, b => { b[starts[4]! + 15]! ^= 0x01 })
    const warnings: string[] = []
    const { storage, state } = await RaftStorage.open(dir, { log: m => warnings.push(m) })
    expect(state).toEqual(states[4])
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toContain(path)
    expect(warnings[0]).toContain(`byte offset ${starts[4]}`)
    expect((await stat(path)).size).toBe(starts[4])
    await storage.append(hs(2, 8), entries(9, 9, 2))
    await storage.close()
    const again = await RaftStorage.open(dir)
    expect(again.warnings).toEqual([])
    expect(again.state?.entries.map(e => `${e.index}/${e.term}`).slice(-2)).toEqual(['8/1', '9/2'])
    await again.storage.close()
  })

  it('a zero-filled tail (a file extended but not written before a power cut) is a torn tail', async () => {
    const { dir, path, end, states } = await fiveRecords()
    await writeFile(path, Buffer.concat([await readFile(path), Buffer.alloc(4096)]))
    const { storage, state, warnings } = await RaftStorage.open(dir)
    expect(state?.entries).toEqual(states[4]!.entries.concat(entries(9, 10, 1)))
    expect(warnings.join()).toMatch(/torn write/)
    expect((await stat(path)).size).toBe(end)
    await storage.close()
  })

  it('a last batch whose first record is damaged but whose later records survived is cut as a whole', async () => {
    // One append = one write of [truncate][entries][hard-state]; a power cut may persist its sectors in any order.
    const dir = await dirs.make()
    const path = join(dir, SEGMENT)
    const { storage } = await RaftStorage.open(dir)
    await storage.append(hs(1, 0), entries(1, 4, 1))
    const before = (await stat(path)).size
    await storage.append(hs(2, 1), entries(3, 5, 2))
    await storage.close()
    await patch(path, b => { b[before + 10]! ^= 0x40 })
    const { storage: s2, state, warnings } = await RaftStorage.open(dir)
    expect(state).toEqual({ hardState: hs(1, 0), snapshot: null, entries: entries(1, 4, 1) })
    expect(warnings.join()).toMatch(/torn write/)
    await s2.close()
  })
})

describe('snapshot crashes and damage', () => {
  /** A dir with snapshot 4 and entries to 10, and the model; `next` is snapshot 8 (not saved). */
  async function withSnapshot (): Promise<{ dir: string, model: Model }> {
    const dir = await dirs.make()
    const model = new Model()
    const { storage } = await RaftStorage.open(dir)
    await storage.append(hs(1, 4), entries(1, 6, 1))
    model.append(hs(1, 4), entries(1, 6, 1))
    await storage.saveSnapshot(snap(4, 1))
    model.saveSnapshot(snap(4, 1))
    await storage.append(hs(1, 8), entries(7, 10, 1))
    model.append(hs(1, 8), entries(7, 10, 1))
    await storage.close()
    return { dir, model }
  }

  /** Save snapshot 8 in a copy of `dir` and return that copy (the state after a complete saveSnapshot). */
  async function afterNextSnapshot (dir: string): Promise<string> {
    const copy = await dirs.make()
    for (const name of await readdir(dir)) await copyFile(join(dir, name), join(copy, name))
    const { storage } = await RaftStorage.open(copy)
    await storage.saveSnapshot(snap(8, 1))
    await storage.close()
    return copy
  }

  it('an interrupted snapshot write (temp file, no rename) leaves the old snapshot in use', async () => {
    const { dir, model } = await withSnapshot()
    const done = await afterNextSnapshot(dir)
    const full = await readFile(join(done, 'snap-0000000000000008.snap'))
    await writeFile(join(dir, 'snap-0000000000000008.snap.tmp'), full.subarray(0, full.length - 3))
    const { storage, state, warnings } = await RaftStorage.open(dir)
    expect(state).toEqual(model.state())
    expect(warnings.join()).toMatch(/snap-0000000000000008\.snap\.tmp/)
    expect(await listDir(dir)).toEqual(['snap-0000000000000004.snap', 'wal-0000000000000001.log'])
    await storage.close()
  })

  it('a crash after the snapshot rename but before the new segment: recovery finishes the compaction', async () => {
    const { dir, model } = await withSnapshot()
    const done = await afterNextSnapshot(dir)
    await copyFile(join(done, 'snap-0000000000000008.snap'), join(dir, 'snap-0000000000000008.snap'))
    const segment = await readFile(join(done, 'wal-0000000000000002.log'))
    await writeFile(join(dir, 'wal-0000000000000002.log.tmp'), segment.subarray(0, 7))
    model.saveSnapshot(snap(8, 1))
    const { storage, state, warnings } = await RaftStorage.open(dir)
    expect(state).toEqual(model.state())
    expect(warnings.join()).toMatch(/finished a compaction/)
    expect(await listDir(dir)).toEqual(['snap-0000000000000008.snap', 'wal-0000000000000002.log'])
    await storage.append(null, entries(11, 11, 1))
    await storage.close()
    const again = await RaftStorage.open(dir)
    expect(again.warnings).toEqual([])
    expect(again.state?.entries.map(e => e.index)).toEqual([9, 10, 11])
    await again.storage.close()
  })

  it('a crash after the new segment but before deletions: the newest segment wins, leftovers are deleted', async () => {
    const { dir, model } = await withSnapshot()
    const done = await afterNextSnapshot(dir)
    for (const name of ['snap-0000000000000008.snap', 'wal-0000000000000002.log']) await copyFile(join(done, name), join(dir, name))
    model.saveSnapshot(snap(8, 1))
    const { storage, state } = await RaftStorage.open(dir)
    expect(state).toEqual(model.state())
    expect(await listDir(dir)).toEqual(['snap-0000000000000008.snap', 'wal-0000000000000002.log'])
    await storage.close()
  })

  it('a damaged snapshot newer than the WAL (its save never completed) is set aside; the old one is used', async () => {
    const { dir, model } = await withSnapshot()
    const done = await afterNextSnapshot(dir)
    const bytes = await readFile(join(done, 'snap-0000000000000008.snap'))
    bytes[bytes.length - 1]! ^= 1
    await writeFile(join(dir, 'snap-0000000000000008.snap'), bytes)
    const { storage, state, warnings } = await RaftStorage.open(dir)
    expect(state).toEqual(model.state())
    expect(warnings.join()).toMatch(/set aside .*snap-0000000000000008\.snap as \.corrupt \(checksum mismatch\)/)
    expect(await listDir(dir)).toEqual(['snap-0000000000000004.snap', 'snap-0000000000000008.snap.corrupt', 'wal-0000000000000001.log'])
    await storage.close()
  })

  it('a damaged or missing snapshot that the WAL follows stops recovery with the file named', async () => {
    const { dir } = await withSnapshot()
    const snapPath = join(dir, 'snap-0000000000000004.snap')
    const bytes = await readFile(snapPath)
    await patch(snapPath, b => { b[b.length - 2]! ^= 0x10 })
    const damaged = await openError(dir)
    expect(damaged.message).toContain(snapPath)
    expect(damaged.message).toMatch(/checksum mismatch/)

    await writeFile(snapPath, bytes.subarray(0, 5))
    expect((await openError(dir)).message).toMatch(/bad magic or too short/)

    await rm(snapPath)
    expect((await openError(dir)).message).toMatch(/follows snapshot 4, but .*snap-0000000000000004\.snap is missing/)
  })
})
