/**
 * Heartbeat-timeout failure detection (the "suspect, then down" shape of SWIM/memberlist, without
 * indirect probes: every member hears every other directly over gossip). Pure: time comes in as `nowMs`.
 *
 *   unknown ──heard──▶ ready ──no heartbeat for suspectAfterMs──▶ suspect ──downAfterMs──▶ down
 *      │                 ▲                                          │                        │
 *      └──downAfterMs────┼──────────────────────────────────────────┼────────────────────────┤
 *                        └───────────────────heard──────────────────┴────────────────────────┘
 * `left` moves a member straight to down (a graceful `swarm leave`).
 */
export type Liveness = 'unknown' | 'ready' | 'suspect' | 'down'

export interface FailureDetectorConfig {
  /** Silence after which a ready member is suspect (not yet reported down). */
  readonly suspectAfterMs: number
  /** Silence after which a member is down. Must exceed suspectAfterMs. */
  readonly downAfterMs: number
}

export interface LivenessChange {
  readonly nodeId: string
  readonly from: Liveness
  readonly to: Liveness
}

interface Entry { liveness: Liveness, lastHeardMs: number }

export class FailureDetector {
  private readonly entries = new Map<string, Entry>()

  constructor (private readonly config: FailureDetectorConfig) {
    if (!(config.downAfterMs > config.suspectAfterMs && config.suspectAfterMs > 0)) {
      throw new RangeError('FailureDetector: need 0 < suspectAfterMs < downAfterMs')
    }
  }

  /** Track a member not yet heard from (e.g. loaded from disk after a restart): down if silent for downAfterMs. */
  track (nodeId: string, nowMs: number): void {
    if (!this.entries.has(nodeId)) this.entries.set(nodeId, { liveness: 'unknown', lastHeardMs: nowMs })
  }

  /** A valid heartbeat from `nodeId` arrived at `nowMs`. */
  heard (nodeId: string, nowMs: number): LivenessChange | null {
    const e = this.entries.get(nodeId)
    if (e === undefined) {
      this.entries.set(nodeId, { liveness: 'ready', lastHeardMs: nowMs })
      return { nodeId, from: 'unknown', to: 'ready' }
    }
    e.lastHeardMs = Math.max(e.lastHeardMs, nowMs)
    return this.move(nodeId, e, 'ready')
  }

  /** The member announced that it is leaving (or is known to have left): down at once. */
  left (nodeId: string, nowMs: number): LivenessChange | null {
    const e = this.entries.get(nodeId)
    if (e === undefined) {
      this.entries.set(nodeId, { liveness: 'down', lastHeardMs: nowMs })
      return { nodeId, from: 'unknown', to: 'down' }
    }
    return this.move(nodeId, e, 'down')
  }

  forget (nodeId: string): void {
    this.entries.delete(nodeId)
  }

  liveness (nodeId: string): Liveness {
    return this.entries.get(nodeId)?.liveness ?? 'unknown'
  }

  /** Advance time: returns the members whose liveness changed, in insertion order. */
  tick (nowMs: number): LivenessChange[] {
    const changes: LivenessChange[] = []
    for (const [nodeId, e] of this.entries) {
      const silentMs = nowMs - e.lastHeardMs
      let next: Liveness = e.liveness
      if (e.liveness !== 'down' && silentMs >= this.config.downAfterMs) next = 'down'
      else if (e.liveness === 'ready' && silentMs >= this.config.suspectAfterMs) next = 'suspect'
      const change = this.move(nodeId, e, next)
      if (change !== null) changes.push(change)
    }
    return changes
  }

  private move (nodeId: string, e: Entry, to: Liveness): LivenessChange | null {
    if (e.liveness === to) return null
    const from = e.liveness
    e.liveness = to
    return { nodeId, from, to }
  }
}
