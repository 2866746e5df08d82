import type { NodeDescription, NodeRole } from '../../membership/index.js'

/** Docker's node availability: only `active` nodes take new tasks; `pause` keeps, `drain` moves tasks off. */
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
  /**
   * The node's data-path address (Docker's Status.Addr): the IP it advertises, where the other nodes
   * send its overlay traffic (VXLAN). Told by the node when its session opens; '' before.
   */
  readonly addr: string
}

/** A node's own address on an overlay network (the ingress network gives every node one). */
export interface NodeNetworkAddress {
  readonly networkId: string
  /** With its prefix length: `10.0.0.3/24`. */
  readonly address: string
}

/** A node in the replicated store (SwarmKit's api.Node). */
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
  /** Allocated by the leader's allocator: the source address of the routing mesh's traffic from this node. */
  readonly networkAddresses: readonly NodeNetworkAddress[]
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

export const UNKNOWN_NODE_STATUS: NodeStatus = { state: 'unknown', message: '', sinceMs: 0, addr: '' }
