/**
 * The event source of this node's manager role: one EventSource per Manager, started when the agent
 * takes the role up (init, join, promotion, restart) and stopped when it drops it (demotion, leave,
 * stop). Streams on this node's socket, and those other nodes open to it, are served from it once it
 * is live; until then (and on a worker) they go to another manager.
 */
import type { Manager } from '../../election/index.js'
import { EventSource, type EventSourceInit } from './source.js'

export interface ManagerEventsDeps {
  /** Wall-clock nanoseconds since the epoch (default: Date.now(), to the millisecond). */
  readonly nowNs?: () => bigint
  /** Deriving events failed (a bug): the source has stopped. */
  readonly onFailure: (err: unknown) => void
  readonly init?: EventSourceInit
}

/**
 * When the manager's batches become live (see EventSource): after the last entry of the log it started
 * with (a restart replays it), and, for a manager that started empty (a join or a promotion), after the
 * configuration entry that made it a voter: what came before is the cluster's history, not news.
 */
export function liveFromOf (mgr: Pick<Manager, 'raft'>): () => number | null {
  const startLast = mgr.raft.status().lastIndex
  let from: number | null = null
  return () => {
    if (from !== null) return from
    const st = mgr.raft.status()
    if (!st.voters.includes(st.id)) return null
    from = Math.max(startLast, st.lastConfIndex)
    return from
  }
}

export class ManagerEvents {
  private current: { readonly manager: Manager, readonly source: EventSource } | null = null

  constructor (private readonly deps: ManagerEventsDeps) {}

  /** Follow the agent's manager role: a new Manager gets a new source; null stops the old one. */
  follow (manager: Manager | null): void {
    if (this.current?.manager === manager) return
    this.current?.source.stop()
    this.current = null
    if (manager === null) return
    const source = new EventSource(manager.store, {
      nowNs: this.deps.nowNs ?? (() => BigInt(Date.now()) * 1_000_000n),
      liveFrom: liveFromOf(manager),
      onFailure: this.deps.onFailure
    }, this.deps.init)
    source.start()
    this.current = { manager, source }
  }

  /** This node's source when it may serve streams (a manager whose source is live), else null. */
  local (): EventSource | null {
    const s = this.current?.source
    return s !== undefined && s.live ? s : null
  }

  stop (): void {
    this.follow(null)
  }
}
