import { open, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { RaftStorage } from '../../../../src/election/storage/index.js'
import { entries, hs, snap, tempDirs } from './helpers.js'

const dirs = tempDirs()
afterEach(async () => {
  vi.restoreAllMocks()
  await dirs.cleanup()
})

/** FileHandle is not exported by node:fs/promises; its prototype is reachable from any handle. */
async function fileHandlePrototype (dir: string): Promise<FileHandle> {
  const fh = await open(join(dir, 'probe'), 'w')
  await fh.close()
  return Object.getPrototypeOf(fh) as FileHandle
}

describe('durability', () => {
  it('append does not resolve until its fsync has completed', async () => {
    const dir = await dirs.make()
    const { storage } = await RaftStorage.open(dir)
    const proto = await fileHandlePrototype(dir)
    const realSync = proto.sync  
    const events: string[] = []
    let release!: () => void
    const gate = new Promise<void>(resolve => { release = resolve })
    let syncEntered!: () => void
    const entered = new Promise<void>(resolve => { syncEntered = resolve })
    vi.spyOn(proto, 'write').mockName('write')
    vi.spyOn(proto, 'sync').mockImplementation(async function (this: FileHandle) {
      events.push('sync-start')
      syncEntered()
      await gate
      await realSync.call(this)
      events.push('sync-done')
    })

    const p = storage.append(hs(1, 0), entries(1, 3, 1)).then(() => { events.push('resolved') })
    await entered
    expect(events).toEqual(['sync-start'])
    release()
    await p
    expect(events).toEqual(['sync-start', 'sync-done', 'resolved'])
    expect(vi.mocked(proto.write)).toHaveBeenCalledTimes(1) // one write per batch
    await storage.close()
  })

  it('one write and one fsync per append call, however many records the batch holds', async () => {
    const dir = await dirs.make()
    const { storage } = await RaftStorage.open(dir)
    await storage.append(hs(1, 0), entries(1, 5, 1))
    const proto = await fileHandlePrototype(dir)
    const write = vi.spyOn(proto, 'write')
    const sync = vi.spyOn(proto, 'sync')
    await storage.append(hs(2, 1), entries(3, 8, 2)) // truncate + entries + hard state
    expect(write).toHaveBeenCalledTimes(1)
    expect(sync).toHaveBeenCalledTimes(1)
    await storage.append(null, []) // nothing to persist: no I/O
    expect(sync).toHaveBeenCalledTimes(1)
    await storage.close()
  })

  it('saveSnapshot fsyncs the snapshot, the new segment and the directory after each rename', async () => {
    const dir = await dirs.make()
    const { storage } = await RaftStorage.open(dir)
    await storage.append(hs(1, 3), entries(1, 5, 1))
    const proto = await fileHandlePrototype(dir)
    const sync = vi.spyOn(proto, 'sync')
    await storage.saveSnapshot(snap(3, 1))
    expect(sync).toHaveBeenCalledTimes(4) // snapshot temp, dir, segment temp, dir
    await storage.close()
  })

  it('a failed fsync fails the storage: the call rejects and later calls are refused', async () => {
    const dir = await dirs.make()
    const { storage } = await RaftStorage.open(dir)
    const proto = await fileHandlePrototype(dir)
    vi.spyOn(proto, 'sync').mockRejectedValueOnce(Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' }))
    await expect(storage.append(hs(1, 0), entries(1, 1, 1))).rejects.toMatchObject({ code: 'internal', message: /fsync|EIO/ })
    await expect(storage.append(hs(1, 0), entries(1, 1, 1))).rejects.toMatchObject({ code: 'internal', message: /failed earlier/ })
    await storage.close()
  })
})
