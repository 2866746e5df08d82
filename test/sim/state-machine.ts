import type { Entry, Snapshot } from '../../src/election/raft/index.js'

const encoder = new TextEncoder()
const decoder = new TextDecoder()

export function encodeCommand (write: string): Uint8Array {
  return encoder.encode(write)
}

export function decodeCommand (data: Uint8Array): string {
  return decoder.decode(data)
}

/** A stable key for an entry's content (kind, term and payload): what "the same entry" means to the invariants. */
export function entryKey (e: Entry): string {
  if (e.kind === 'normal') return `n${e.term}:${decodeCommand(e.data)}`
  const c = e.change
  return `c${e.term}:${c.type}:${c.type === 'reset-voters' ? c.voters.join(',') : c.id}`
}

/** FNV-1a over a string, folded into a running chain hash. */
function mix (chain: number, s: string): number {
  let h = (chain ^ 0x811c9dc5) >>> 0
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h
}

/**
 * The replicated state machine of the simulation: the list of client writes applied, in order, plus a
 * chain hash over every applied entry (index and content), so that two replicas at the same index
 * agree iff they applied the same sequence. Its snapshot is the JSON of all three fields.
 */
export class StateMachine {
  applied = 0
  chain = 0
  writes: string[] = []
  #set = new Set<string>()

  apply (e: Entry): void {
    if (e.index !== this.applied + 1) throw new Error(`state machine: applying ${e.index} after ${this.applied}`)
    this.applied = e.index
    this.chain = mix(this.chain, `${e.index}/${entryKey(e)}`)
    if (e.kind === 'normal' && e.data.length > 0) {
      const w = decodeCommand(e.data)
      this.writes.push(w)
      this.#set.add(w)
    }
  }

  has (write: string): boolean {
    return this.#set.has(write)
  }

  snapshotData (): Uint8Array {
    return encoder.encode(JSON.stringify({ applied: this.applied, chain: this.chain, writes: this.writes }))
  }

  /** Replace the state with a snapshot's (from storage at restart, or InstallSnapshot). */
  static load (s: Snapshot): StateMachine {
    const sm = new StateMachine()
    if (s.data.length === 0) {
      if (s.index !== 0) throw new Error(`state machine: empty snapshot data at index ${s.index}`)
      return sm
    }
    const parsed = JSON.parse(decoder.decode(s.data)) as { applied: number, chain: number, writes: string[] }
    if (parsed.applied !== s.index) throw new Error(`state machine: snapshot data at ${parsed.applied} labelled ${s.index}`)
    sm.applied = parsed.applied
    sm.chain = parsed.chain
    sm.writes = parsed.writes
    sm.#set = new Set(parsed.writes)
    return sm
  }
}
