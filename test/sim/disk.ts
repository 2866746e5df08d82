import type { Entry, HardState, RaftInitialState, Ready, Snapshot } from '../../src/election/raft/index.js'

/** A violation of the driver contract or of a Raft safety property found by the simulation. */
export class InvariantError extends Error {
  override name = 'InvariantError'
}

/**
 * A node's simulated stable storage: what survives a crash. `persist` applies a Ready's durable part
 * exactly as real storage must (Raft Figure 13 for snapshots; truncate-then-append for entries) and
 * checks the core's side of the contract (contiguity, commit within the log, no committed entry erased).
 */
export class SimDisk {
  hardState: HardState = { term: 0, vote: null, commit: 0 }
  snapshot: Snapshot | null = null
  entries: Entry[] = []

  constructor (initial?: RaftInitialState) {
    if (initial !== undefined) {
      this.hardState = initial.hardState
      this.snapshot = initial.snapshot
      this.entries = [...initial.entries]
    }
  }

  snapIndex (): number { return this.snapshot?.index ?? 0 }

  lastIndex (): number { return this.snapIndex() + this.entries.length }

  entry (index: number): Entry | undefined {
    return this.entries[index - this.snapIndex() - 1]
  }

  term (index: number): number | undefined {
    if (index === this.snapIndex()) return this.snapshot?.term ?? 0
    return this.entry(index)?.term
  }

  initialState (): RaftInitialState {
    return { hardState: this.hardState, snapshot: this.snapshot, entries: [...this.entries] }
  }

  persist (rd: Ready): void {
    const durableCommit = this.hardState.commit
    const s = rd.snapshot
    if (s !== null && s.index > this.snapIndex()) {
      if (this.term(s.index) === s.term) {
        this.entries = this.entries.slice(s.index - this.snapIndex())
      } else {
        if (s.index <= durableCommit) throw new InvariantError(`snapshot at ${s.index} (term ${s.term}) contradicts committed log at ${this.term(s.index) ?? '?'}`)
        this.entries = []
      }
      this.snapshot = s
    }
    const first = rd.entries[0]
    if (first !== undefined) {
      if (first.index <= this.snapIndex()) throw new InvariantError(`Ready entries start at ${first.index}, at or below snapshot ${this.snapIndex()}`)
      if (first.index > this.lastIndex() + 1) throw new InvariantError(`Ready entries start at ${first.index}, leaving a gap after ${this.lastIndex()}`)
      if (first.index <= this.lastIndex() && first.index <= durableCommit) {
        const old = this.entry(first.index)
        if (old?.term !== first.term) throw new InvariantError(`Ready overwrites committed index ${first.index} (durable commit ${durableCommit})`)
      }
      this.entries.length = first.index - this.snapIndex() - 1
      rd.entries.forEach((e, i) => {
        if (e.index !== first.index + i) throw new InvariantError(`Ready entries not contiguous at ${e.index}`)
        this.entries.push(e)
      })
    }
    if (rd.hardState !== null) {
      if (rd.hardState.commit > this.lastIndex()) throw new InvariantError(`hard state commit ${rd.hardState.commit} beyond persisted ${this.lastIndex()}`)
      if (rd.hardState.commit < this.hardState.commit) throw new InvariantError(`hard state commit went back ${this.hardState.commit} → ${rd.hardState.commit}`)
      if (rd.hardState.term < this.hardState.term) throw new InvariantError(`hard state term went back ${this.hardState.term} → ${rd.hardState.term}`)
      if (rd.hardState.term === this.hardState.term && this.hardState.vote !== null && rd.hardState.vote !== this.hardState.vote) {
        throw new InvariantError(`vote changed within term ${rd.hardState.term}: ${this.hardState.vote} → ${rd.hardState.vote ?? 'null'}`)
      }
      this.hardState = rd.hardState
    }
  }
}
