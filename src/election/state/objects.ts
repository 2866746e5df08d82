import type { NodeDescription, NodeRole, RootKeyPair } from '../../membership/index.js'
import type { ServiceObject, TaskObject } from '../../tasks/orchestrator/index.js'

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

/**
 * A node's status as the leader's dispatcher last wrote it (Docker's NodeStatus.State): 'unknown' until
 * its first session, 'ready' while its session heartbeats arrive, 'down' once they stopped.
 */
export interface NodeStatus {
  readonly state: 'unknown' | 'ready' | 'down'
  readonly message: string
  /** When the state was reached (ms, the leader's clock). */
  readonly sinceMs: number
}

export interface NodeObject {
  readonly id: string
  /** The libp2p peer the node's certificate binds. */
  readonly peerId: string
  readonly hostname: string
  readonly spec: NodeSpec
  /** The node's current certificate; reissued by the leader when its role changes. */
  readonly certificate: Uint8Array
  readonly status: NodeStatus
  /** The node's platform, resources and engine, as its executor described it on its session; null until then. */
  readonly description: NodeDescription | null
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
  readonly services: ReadonlyMap<string, ServiceObject>
  readonly tasks: ReadonlyMap<string, TaskObject>
}

export const EMPTY_STATE: StoreState = { index: 0, cluster: null, nodes: new Map(), revoked: new Map(), services: new Map(), tasks: new Map() }

export const UNKNOWN_NODE_STATUS: NodeStatus = { state: 'unknown', message: '', sinceMs: 0 }
