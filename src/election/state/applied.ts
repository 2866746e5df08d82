import type { ErrorCode } from '../../membership/index.js'
import type { StoreState } from '../objects/index.js'

/** The outcome of one command, returned to whoever proposed it. */
export type ApplyResult =
  | { readonly ok: true }
  | { readonly ok: false, readonly code: ErrorCode, readonly message: string }

/** What changed, for the leader's components watching the store. */
export type StoreEvent =
  | { readonly kind: 'cluster', readonly id: string }
  | { readonly kind: 'node-added' | 'node-updated' | 'node-removed', readonly id: string }
  /** A network was created or removed. */
  | { readonly kind: 'network', readonly id: string }
  /** A secret or config was created, updated (labels) or removed. */
  | { readonly kind: 'secret' | 'config', readonly id: string }
  /** A service was created, updated or removed. */
  | { readonly kind: 'service', readonly id: string }
  /** A task was created, changed or (`removed`) deleted; `nodeId` is its node, if it has one. */
  | { readonly kind: 'task', readonly id: string, readonly serviceId: string, readonly nodeId: string | null, readonly removed: boolean }

export interface Applied {
  readonly state: StoreState
  readonly result: ApplyResult
  readonly events: readonly StoreEvent[]
}

/** A refused command: nothing changes but the applied index, and the proposer gets `code` and `message`. */
export function refuse (state: StoreState, index: number, code: ErrorCode, message: string): Applied {
  return { state: { ...state, index }, result: { ok: false, code, message }, events: [] }
}
