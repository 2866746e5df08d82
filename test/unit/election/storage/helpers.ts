import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Entry, HardState, RaftInitialState, Snapshot } from '../../../../src/election/raft/types.js'

/** A fresh temp dir; `cleanup` removes every dir made through it. */
export function tempDirs (): { make: () => Promise<string>, cleanup: () => Promise<void> } {
  const made: string[] = []
  return {
    make: async () => {
      const dir = await mkdtemp(join(tmpdir(), 'flotilla-raft-storage-'))
      made.push(dir)
      return dir
    },
    cleanup: async () => {
      await Promise.all(made.splice(0).map(async d => { await rm(d, { recursive: true, force: true }) }))
    }
  }
}

export function normal (index: number, term: number, text = `cmd-${index}-${term}`): Entry {
  return { kind: 'normal', term, index, data: new TextEncoder().encode(text) }
}

export function entries (from: number, to: number, term: number): Entry[] {
  const out: Entry[] = []
  for (let i = from; i <= to; i++) out.push(normal(i, term))
  return out
}

export function hs (term: number, commit: number, vote: string | null = null): HardState {
  return { term, vote, commit }
}

export function snap (index: number, term: number, text = `state@${index}`): Snapshot {
  return { index, term, voters: ['a'.repeat(25), 'b'.repeat(25)], data: new TextEncoder().encode(text) }
}

/**
 * A reference model of what storage must recover, written as plainly as possible: the expected
 * RaftInitialState after each call, to compare against what `open` returns.
 */
export class Model {
  hardState: HardState | null = null
  snapshot: Snapshot | null = null
  log: Entry[] = []

  append (hardState: HardState | null, batch: readonly Entry[]): void {
    const first = batch[0]
    if (first !== undefined) this.log = [...this.log.filter(e => e.index < first.index), ...batch]
    if (hardState !== null) this.hardState = hardState
  }

  saveSnapshot (s: Snapshot): void {
    const at = s.index === this.snapshot?.index ? this.snapshot.term : this.log.find(e => e.index === s.index)?.term
    this.log = at === s.term ? this.log.filter(e => e.index > s.index) : []
    this.snapshot = s
  }

  state (): RaftInitialState | null {
    if (this.hardState === null && this.snapshot === null && this.log.length === 0) return null
    return { hardState: this.hardState ?? { term: 0, vote: null, commit: 0 }, snapshot: this.snapshot, entries: [...this.log] }
  }

  lastIndex (): number {
    return this.log.at(-1)?.index ?? this.snapshot?.index ?? 0
  }
}

export async function listDir (dir: string): Promise<string[]> {
  return (await readdir(dir)).sort()
}
