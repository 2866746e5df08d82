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
  /** Where overlay networks' subnets come from (Docker's DefaultAddrPool and SubnetSize), set at `swarm init`. */
  readonly addressPool: AddressPool
}

/** Docker's DefaultAddrPool (IPv4 prefixes) and SubnetSize (the prefix length of each network's subnet). */
export interface AddressPool {
  readonly defaultAddrPool: readonly string[]
  readonly subnetSize: number
}

/** Docker's defaults, also what a cluster made before address pools existed has. */
export const DEFAULT_ADDRESS_POOL: AddressPool = Object.freeze({ defaultAddrPool: Object.freeze(['10.0.0.0/8']), subnetSize: 24 })
