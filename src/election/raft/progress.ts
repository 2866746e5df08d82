import type { Snapshot } from './types.js'

/**
 * How the leader replicates to one follower (etcd's Progress):
 * - `probe`: one append at a time until a success shows where the logs match (after a rejection or on election);
 * - `replicate`: appends are pipelined optimistically, up to `maxInflightAppends` unacknowledged;
 * - `snapshot`: entries the follower needs were compacted; InstallSnapshot chunks are in flight.
 *
 *        success                     rejection / stall
 *  probe ────────▶ replicate ─────────────────────────▶ probe
 *    │ next ≤ compacted                       snapshot done ▲
 *    └────────────▶ snapshot ──────────────────────────────┘
 */
export type ProgressState = 'probe' | 'replicate' | 'snapshot'

/** An InstallSnapshot transfer to one follower: the snapshot, the next offset to send, whether a chunk awaits its answer. */
export interface SnapshotTransfer {
  readonly snapshot: Snapshot
  /** Bytes the follower has acknowledged; the chunk in flight (if `awaiting`) is [offset, sentEnd). */
  offset: number
  sentEnd: number
  awaiting: boolean
}

export interface Progress {
  /** Highest index known replicated on the follower (Raft Figure 2 matchIndex). */
  match: number
  /** Next index to send (Figure 2 nextIndex). */
  next: number
  state: ProgressState
  /** probe: an append was sent and no answer came yet (a heartbeat answer unpauses). */
  probeSent: boolean
  /** replicate: last index of each unacknowledged append, oldest first. */
  inflight: number[]
  /** Ticks without progress while something is in flight; at the election timeout the leader falls back. */
  stallTicks: number
  /** CheckQuorum: heard from the follower during this election timeout. */
  recentActive: boolean
  transfer: SnapshotTransfer | null
}

export function newProgress (next: number): Progress {
  return { match: 0, next, state: 'probe', probeSent: false, inflight: [], stallTicks: 0, recentActive: false, transfer: null }
}

export function becomeProbe (pr: Progress): void {
  pr.state = 'probe'
  pr.next = pr.match + 1
  pr.probeSent = false
  pr.inflight = []
  pr.stallTicks = 0
  pr.transfer = null
}

export function becomeReplicate (pr: Progress): void {
  pr.state = 'replicate'
  pr.next = pr.match + 1
  pr.probeSent = false
  pr.inflight = []
  pr.stallTicks = 0
  pr.transfer = null
}

export function becomeSnapshot (pr: Progress, snapshot: Snapshot): void {
  pr.state = 'snapshot'
  pr.probeSent = false
  pr.inflight = []
  pr.stallTicks = 0
  pr.transfer = { snapshot, offset: 0, sentEnd: 0, awaiting: false }
}

/** A success up to `index`: returns whether match advanced. Frees acknowledged inflight slots. */
export function maybeUpdate (pr: Progress, index: number): boolean {
  let updated = false
  if (index > pr.match) {
    pr.match = index
    pr.stallTicks = 0
    updated = true
  }
  if (pr.next < index + 1) pr.next = index + 1
  pr.probeSent = false
  while (pr.inflight.length > 0 && (pr.inflight[0] ?? 0) <= index) pr.inflight.shift()
  return updated
}

/**
 * A rejection of the append at `rejected` (its prevIndex), with the leader's next probe `hint`:
 * returns false for a stale rejection (etcd's MaybeDecrTo).
 */
export function maybeDecrTo (pr: Progress, rejected: number, hint: number): boolean {
  if (pr.state === 'replicate') {
    if (rejected <= pr.match) return false
    becomeProbe(pr)
    pr.next = Math.max(pr.match + 1, Math.min(rejected, hint + 1))
    return true
  }
  if (pr.next - 1 !== rejected) return false
  pr.next = Math.max(Math.min(rejected, hint + 1), pr.match + 1)
  pr.probeSent = false
  return true
}
