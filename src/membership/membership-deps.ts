import type { HostPort } from './addr.js'
import type { AdmitResult, JoinRequest } from './join-protocol.js'
import type { Logger } from './logger.js'
import type { KnownMember } from './member-table.js'
import type { NodeKey } from './membership-state.js'
import type { NodeDescription } from './node-view.js'
import type { MembershipTiming } from './swim-membership.js'

/** What the composition root gives a membership (see membership.ts). */
export interface MembershipDeps {
  readonly dataDir: string
  readonly privateKey: NodeKey
  readonly logger: Logger
  /** The node's current description (engine, resources); read every second, sent when it changed. */
  readonly describe: () => NodeDescription
  readonly timing: MembershipTiming
  readonly now: () => number
}

/** Where this node listens and what it tells peers to dial. */
export interface NodeAddresses {
  readonly listen: HostPort
  readonly advertise: HostPort
  readonly hostname: string
}

/** What the cluster already decided about this node: from `swarm init`, a join grant, or the data dir. */
export interface MembershipIdentity {
  readonly clusterId: string
  readonly rootPublicKeyDer: Uint8Array
  readonly certificate: Uint8Array
  readonly members: readonly KnownMember[]
}

/**
 * What managers plug in (the election layer, which holds the replicated store): admitting joiners,
 * and which removed nodes to refuse. Workers have none; they redirect joiners to managers.
 */
export interface ClusterAuthority {
  admit(req: JoinRequest): Promise<AdmitResult>
}

export interface MembershipStats {
  /** SWIM messages, or claims in them, refused: undecodable, unauthenticated, forged, foreign, removed, replayed. */
  rejectedMessages: number
}
