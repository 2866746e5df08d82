import { applyCommand, type ApplyResult, type StoreEvent } from './apply.js'
import type { Command } from './commands.js'
import { EMPTY_STATE, type NodeObject, type StoreState } from '../objects/index.js'

/**
 * The replicated cluster store: the state machine Raft applies committed entries to. The Raft driver
 * is its only writer; everything else reads `state` or watches events. The leader's components write
 * by proposing commands, never by touching this object (SwarmKit's rule: the store is the only channel
 * between manager components).
 */
export class ClusterStore {
  private current: StoreState = EMPTY_STATE
  private readonly watchers = new Set<(events: readonly StoreEvent[], state: StoreState) => void>()

  get state (): StoreState {
    return this.current
  }

  /** Apply the command of the committed entry at `index`. */
  apply (index: number, cmd: Command): ApplyResult {
    const applied = applyCommand(this.current, index, cmd)
    this.current = applied.state
    if (applied.events.length > 0) this.notify(applied.events)
    return applied.result
  }

  /** Record that a committed entry without a command (a no-op, a conf change) was applied. */
  skip (index: number): void {
    this.current = { ...this.current, index }
  }

  /** Replace the whole state (a snapshot from the leader, or from disk at start). */
  restore (state: StoreState): void {
    this.current = state
    this.notify([{ kind: 'cluster', id: state.cluster?.id ?? '' }])
  }

  /** Call `fn` after every change, with what changed. Returns the unsubscribe function. */
  watch (fn: (events: readonly StoreEvent[], state: StoreState) => void): () => void {
    this.watchers.add(fn)
    return () => { this.watchers.delete(fn) }
  }

  node (id: string): NodeObject | undefined {
    return this.current.nodes.get(id)
  }

  isRevoked (nodeId: string): boolean {
    return this.current.revoked.has(nodeId)
  }

  private notify (events: readonly StoreEvent[]): void {
    for (const w of this.watchers) w(events, this.current)
  }
}
