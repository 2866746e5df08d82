import type { RootKeyPair } from '../../membership/index.js'

/**
 * The cluster object (SwarmKit's api.Cluster): its spec, root key pair and join-token secrets.
 * `version` is the Raft index of the entry that last changed it (Docker's Version.Index); times are
 * wall-clock milliseconds chosen by the proposer, so that applying an entry is deterministic.
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
