import type { Entry } from '../../src/election/raft/index.js'
import { InvariantError } from './disk.js'
import { entryKey, type StateMachine } from './state-machine.js'

/**
 * The global record the safety invariants are checked against (Raft §5.4, Figure 3):
 * - Election Safety: at most one leader per term, ever;
 * - Log Matching / Leader Completeness over committed entries: once any node holds index i as committed,
 *   every node's committed entry at i is the same, forever;
 * - State Machine Safety: every node's state after applying index i is the same (a chain hash over
 *   the applied sequence), including a state loaded from a snapshot.
 * It also keeps the acknowledged writes, in acknowledgement order.
 */
export class History {
  readonly #committed = new Map<number, string>()
  readonly #chain = new Map<number, number>()
  readonly #leaders = new Map<number, string>()
  readonly #acked: string[] = []

  /** Entries committed before the run starts (the bootstrap log). */
  seed (entries: readonly Entry[]): void {
    for (const e of entries) this.#committed.set(e.index, entryKey(e))
  }

  /** `id` is leader in `term`: true the first time, throws if another node led that term. */
  leaderOf (term: number, id: string): boolean {
    const known = this.#leaders.get(term)
    if (known === undefined) { this.#leaders.set(term, id); return true }
    if (known !== id) throw new InvariantError(`Election Safety: two leaders in term ${term}: ${known} and ${id}`)
    return false
  }

  /** `node` holds `e` as committed. */
  commit (node: string, e: Entry): void {
    const key = entryKey(e)
    const known = this.#committed.get(e.index)
    if (known === undefined) this.#committed.set(e.index, key)
    else if (known !== key) throw new InvariantError(`committed entry changed at ${e.index}: ${known} before, ${key} at ${node}`)
  }

  /** After `node` applied up to `sm.applied`, its state must equal every other node's at that index. */
  checkApplied (node: string, sm: StateMachine): void {
    const known = this.#chain.get(sm.applied)
    if (known === undefined) this.#chain.set(sm.applied, sm.chain)
    else if (known !== sm.chain) throw new InvariantError(`State Machine Safety: ${node} diverged at applied index ${sm.applied}`)
  }

  checkSnapshotState (node: string, sm: StateMachine): void {
    this.checkApplied(node, sm)
  }

  acknowledge (write: string, _index: number): void {
    this.#acked.push(write)
  }

  acknowledgedCount (): number {
    return this.#acked.length
  }

  /** The first `count` acknowledged writes. */
  acknowledgedBefore (count: number): readonly string[] {
    return this.#acked.slice(0, count)
  }
}
