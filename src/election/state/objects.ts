import type { NodeRole, RootKeyPair } from '../../membership/index.js'

/**
 * The cluster objects the replicated store holds (SwarmKit's store, trimmed to what flotilla serves).
 * `version` is the Raft index of the entry that last changed the object: Docker's Version.Index.
 * Times are wall-clock milliseconds chosen by the proposer, so that applying an entry is deterministic.
 */
export interface ClusterObject {
  readonly id: string
  readonly version: number
  readonly createdAtMs: number
  readonly updatedAtMs: number
  /** Docker's SwarmSpec, normalized by the control socket. */
  readonly spec: Readonly<Record<string, unknown>>
  readonly root: RootKeyPair
  readonly secrets: { readonly worker: string, readonly manager: string }
}

export type Availability = 'active' | 'pause' | 'drain'

export interface NodeSpec {
  readonly role: NodeRole
  readonly availability: Availability
  readonly labels: Readonly<Record<string, string>>
}

export interface NodeObject {
  readonly id: string
  /** The libp2p peer the node's certificate binds. */
  readonly peerId: string
  readonly hostname: string
  readonly spec: NodeSpec
  /** The node's current certificate; reissued by the leader when its role changes. */
  readonly certificate: Uint8Array
  readonly version: number
  readonly createdAtMs: number
  readonly updatedAtMs: number
}

/** A node removed with `node rm`: its certificate is refused everywhere from then on. */
export interface RevokedNode {
  readonly id: string
  readonly peerId: string
  readonly revokedAtMs: number
}

/** The whole replicated state at `index` (the last applied Raft index). Immutable: apply returns a new one. */
export interface StoreState {
  readonly index: number
  readonly cluster: ClusterObject | null
  readonly nodes: ReadonlyMap<string, NodeObject>
  readonly revoked: ReadonlyMap<string, RevokedNode>
}

export const EMPTY_STATE: StoreState = { index: 0, cluster: null, nodes: new Map(), revoked: new Map() }
