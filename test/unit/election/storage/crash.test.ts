import { copyFile, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { RaftStorage } from '../../../../src/election/storage/index.js'
import type { Entry, HardState, RaftInitialState } from '../../../../src/election/raft/types.js'
import { Model, entries, hs, normal, snap, tempDirs } from './helpers.js'

const dirs = tempDirs()
afterEach(dirs.cleanup)

interface History {
  readonly dir: string
  readonly segment: string
  /** The live segment's size after each call since it was created, with the state then expected. */
  readonly checkpoints: ReadonlyArray<{ readonly size: number, readonly state: RaftInitialState | null }>
}

type Op = { readonly hardState: HardState | null, readonly batch: readonly Entry[] }

const OPS: readonly Op[] = [
  { hardState: hs(2, 6, 'a'.repeat(25)), batch: [] },
  { hardState: null, batch: entries(7, 9, 2) },
  { hardState: hs(2, 8, 'a'.repeat(25)), batch: entries(10, 10, 2) },
  { hardState: hs(3, 8), batch: entries(9, 11, 3) }, // rewrites 9..10
  { hardState: null, batch: [{ kind: 'conf', term: 3, index: 12, change: { type: 'remove-voter', id: 'b'.repeat(25) } }] },
  { hardState: hs(3, 12), batch: [] },
  { hardState: hs(4, 12, 'c'.repeat(25)), batch: [normal(13, 4, 'x'.repeat(40)), normal(14, 4, '')] }
]

/** Write a history through the API (after a snapshot, if asked) and note each checkpoint of the live segment. */
async function writeHistory (withSnapshot: boolean): Promise<History> {
  const dir = await dirs.make()
  const model = new Model()
  const { storage } = await RaftStorage.open(dir)
  const prologue: Op = { hardState: hs(1, 0), batch: entries(1, 6, 1) }
  if (withSnapshot) {
    await storage.append(prologue.hardState, prologue.batch)
    model.append(prologue.hardState, prologue.batch)
    await storage.saveSnapshot(snap(4, 1))
    model.saveSnapshot(snap(4, 1))
  }
  // Without a snapshot the live segment holds only its header here: cuts start from a brand-new node.
  const segment = (await readdir(dir)).find(n => n.startsWith('wal-'))!
  const checkpoints = [{ size: (await stat(join(dir, segment))).size, state: model.state() }]
  for (const op of withSnapshot ? OPS : [prologue, ...OPS]) {
    await storage.append(op.hardState, op.batch)
    model.append(op.hardState, op.batch)
    checkpoints.push({ size: (await stat(join(dir, segment))).size, state: model.state() })
  }
  await storage.close()
  return { dir, segment, checkpoints }
}

/** A copy of the history's dir with the live segment cut to `length` bytes: a crash during a write. */
async function crashCopy (h: History, full: Buffer, length: number): Promise<string> {
  const dir = await dirs.make()
  for (const name of await readdir(h.dir)) {
    if (name !== h.segment) await copyFile(join(h.dir, name), join(dir, name))
  }
  await writeFile(join(dir, h.segment), full.subarray(0, length))
  return dir
}

describe('crash at any moment', () => {
  it.each([false, true])('every cut of the live segment recovers a prefix of the calls, then takes appends (after a snapshot: %s)', async (withSnapshot) => {
    const h = await writeHistory(withSnapshot)
    const full = await readFile(join(h.dir, h.segment))
    const first = h.checkpoints[0]!.size
    expect(full.length).toBe(h.checkpoints.at(-1)!.size)
    expect(full.length - first).toBeGreaterThan(300) // enough cuts to land in every part of every record
    for (let length = first; length <= full.length; length++) {
      const dir = await crashCopy(h, full, length)
      const expected = h.checkpoints.filter(c => c.size <= length).at(-1)!
      const warnings: string[] = []
      const { storage, state } = await RaftStorage.open(dir, { log: m => warnings.push(m) })
      expect(state, `cut at ${length}`).toEqual(expected.state)
      if (length === expected.size) expect(warnings, `cut at ${length}`).toEqual([])
      else expect(warnings.join('\n'), `cut at ${length}`).toMatch(/torn write/)
      expect((await stat(join(dir, h.segment))).size).toBe(expected.size)

      const last = state?.entries.at(-1)?.index ?? state?.snapshot?.index ?? 0
      const next = normal(last + 1, 9, `after-crash-${length}`)
      await storage.append(hs(9, last), [next])
      await storage.close()
      const again = await RaftStorage.open(dir)
      expect(again.warnings).toEqual([])
      expect(again.state).toEqual({ snapshot: state?.snapshot ?? null, hardState: hs(9, last), entries: [...state?.entries ?? [], next] })
      await again.storage.close()
      await rm(dir, { recursive: true, force: true }) // one copy at a time
    }
  })
})
