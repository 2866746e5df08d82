/** One IPAM pool of a network, as Docker's IPAMConfig writes it. */
export interface NetworkIpamConfig {
  readonly Subnet?: string
  readonly Gateway?: string
}

/**
 * Docker's network create request as the store keeps it (SwarmKit's api.NetworkSpec), normalized by the
 * control socket: the overlay driver only, IPv4 only. `Ingress` marks the routing mesh's network.
 */
export interface NetworkSpec {
  readonly Name: string
  readonly Labels: Readonly<Record<string, string>>
  readonly Driver: 'overlay'
  /** Driver options (`-o`), kept as given. */
  readonly Options: Readonly<Record<string, string>>
  readonly Attachable: boolean
  readonly Internal: boolean
  readonly Ingress: boolean
  /** The pools asked for (`--subnet`, `--gateway`); empty: the allocator picks from the cluster's address pools. */
  readonly IPAM: { readonly Driver: 'default', readonly Config: readonly NetworkIpamConfig[], readonly Options: Readonly<Record<string, string>> }
}

/**
 * An overlay network in the replicated store. Its subnet, gateway and VXLAN ID are allocated by the
 * proposer (the leader's control socket, through src/tasks/allocator) and checked again at apply, so two
 * networks never share a name, an address or a VXLAN ID.
 */
export interface NetworkObject {
  readonly id: string
  /** Equal to `spec.Name`. */
  readonly name: string
  readonly version: number
  readonly createdAtMs: number
  readonly updatedAtMs: number
  readonly spec: NetworkSpec
  /** The allocated subnet (`10.0.1.0/24`) and its gateway address. */
  readonly subnet: string
  readonly gateway: string
  /** The VXLAN network identifier the data plane encapsulates this network's traffic with. */
  readonly vxlanId: number
}
