/**
 * The address allocator's pure core (SwarmKit's allocator, network part, with libnetwork's default
 * IPAM): a VIP per service per network in 'vip' endpoint mode, an address per task per network when the
 * scheduler places it, and each node's own address on the ingress network. Lowest free address first,
 * no clock, no randomness: a new leader allocates as its predecessor would have. What is taken comes
 * from the store (`addressesInUse`), which checks every pick again at apply.
 */
import { addressesInUse, bareAddress, type AllocatedPort, type NetworkObject, type ServiceObject, type ServiceSpec, type StoreState, type TaskNetworkAddress, type VirtualIp } from '../../election/index.js'
import { FlotillaError } from '../../membership/errors.js'
import { FreeAddresses, lowestFreeFrom } from './free-addresses.js'
import { numberToIp, parseCidr } from './ipam.js'

/** The store's ingress network (made by `swarm init`), or undefined. */
export function ingressNetwork (state: Pick<StoreState, 'networks'>): NetworkObject | undefined {
  for (const n of state.networks.values()) if (n.spec.Ingress) return n
  return undefined
}

/** Whether any of `ports` is published by the routing mesh. */
export function publishesIngress (ports: readonly AllocatedPort[]): boolean {
  return ports.some(p => p.PublishMode === 'ingress')
}

/**
 * The networks a service's tasks attach to, as network IDs in order: those its spec names, then the
 * ingress network when it publishes a port in ingress mode (as Swarm attaches it implicitly).
 */
export function serviceNetworkIds (spec: ServiceSpec, ports: readonly AllocatedPort[], ingressId: string | null): string[] {
  const ids = (spec.TaskTemplate.Networks ?? []).map(a => a.Target)
  if (ingressId !== null && publishesIngress(ports) && !ids.includes(ingressId)) ids.push(ingressId)
  return ids
}

/** The lowest free host address of `network` (neither its network nor its broadcast address), `a.b.c.d/bits`; null when it is full. */
export function lowestFreeAddress (network: NetworkObject, used: ReadonlySet<string>): string | null {
  const subnet = parseCidr(network.subnet, `network ${network.name}`)
  const n = lowestFreeFrom(subnet, used, 0)
  return n === null ? null : `${numberToIp(n)}/${subnet.bits}`
}

function networkFull (network: NetworkObject): FlotillaError {
  return new FlotillaError('unavailable', `network ${network.name} has no free address left in ${network.subnet}`, {
    hint: 'scale services on it down, or create a network with a larger --subnet and move services to it'
  })
}

/**
 * The VIPs of a service with `spec` and allocated `ports` (`service`: its current object on an update,
 * whose VIPs on networks it keeps). 'dnsrr' gets none. Throws `unavailable` when a network is full,
 * `not-found` when a network is gone.
 */
export function allocateVirtualIps (state: StoreState, spec: ServiceSpec, ports: readonly AllocatedPort[], service: ServiceObject | null): VirtualIp[] {
  const ingress = ingressNetwork(state)
  if (publishesIngress(ports)) {
    if (spec.EndpointSpec?.Mode === 'dnsrr') {
      throw new FlotillaError('invalid-argument', 'EndpointSpec: port published with ingress mode can\'t be used with dnsrr mode', {
        hint: 'publish the port in host mode (--publish mode=host,...), or use the vip endpoint mode'
      })
    }
    if (ingress === undefined) {
      throw new FlotillaError('invalid-argument', 'EndpointSpec.Ports: this cluster has no ingress network, so no port can be published in ingress mode', {
        hint: 'publish the port in host mode (--publish mode=host,...)'
      })
    }
  }
  if (spec.EndpointSpec?.Mode === 'dnsrr') return []
  const out: VirtualIp[] = []
  for (const networkId of serviceNetworkIds(spec, ports, ingress?.id ?? null)) {
    const network = state.networks.get(networkId)
    if (network === undefined) throw new FlotillaError('not-found', `network ${networkId} not found`)
    const kept = service?.endpoint.virtualIps.find(v => v.networkId === networkId)
    if (kept !== undefined) { out.push(kept); continue }
    const addr = lowestFreeAddress(network, addressesInUse(state, networkId, service === null ? {} : { serviceId: service.id }))
    if (addr === null) throw networkFull(network)
    out.push({ networkId, addr })
  }
  return out
}

/**
 * What the scheduler's pass allocates from: the addresses taken per network, read from the store once
 * and kept current as the pass hands addresses out.
 */
export class AddressBook {
  private readonly free = new Map<string, FreeAddresses>()

  constructor (private readonly state: StoreState) {}

  private freeOn (network: NetworkObject): FreeAddresses {
    let free = this.free.get(network.id)
    if (free === undefined) {
      free = new FreeAddresses(network, addressesInUse(this.state, network.id))
      this.free.set(network.id, free)
    }
    return free
  }

  /**
   * An address on each network a task of `serviceSpec`'s template attaches to (`networkIds`, with the
   * aliases its spec gives each), or why not: the name of the network that is full or gone. All or
   * nothing: a task that cannot have every address takes none.
   */
  allocate (networkIds: readonly string[], aliases: (networkId: string) => readonly string[]): { readonly networks: TaskNetworkAddress[] } | { readonly reason: string } {
    const picked: TaskNetworkAddress[] = []
    for (const networkId of networkIds) {
      const network = this.state.networks.get(networkId)
      if (network === undefined) return this.undo(picked, `network ${networkId} not found`)
      const address = this.freeOn(network).take()
      if (address === null) return this.undo(picked, networkFull(network).message)
      picked.push({ networkId, address, aliases: [...aliases(networkId)] })
    }
    return { networks: picked }
  }

  private undo (picked: readonly TaskNetworkAddress[], reason: string): { readonly reason: string } {
    for (const a of picked) this.free.get(a.networkId)?.release(bareAddress(a.address))
    return { reason }
  }
}

/** The node-address changes the ingress network needs: one address for each node that has none on it yet. */
export function nodeAddressesNeeded (state: StoreState): Array<{ readonly nodeId: string, readonly address: string }> {
  const ingress = ingressNetwork(state)
  if (ingress === undefined) return []
  const free = new FreeAddresses(ingress, addressesInUse(state, ingress.id))
  const out: Array<{ nodeId: string, address: string }> = []
  for (const node of [...state.nodes.values()].sort((a, b) => a.id < b.id ? -1 : 1)) {
    if (node.networkAddresses.some(a => a.networkId === ingress.id)) continue
    const address = free.take()
    if (address === null) break
    out.push({ nodeId: node.id, address })
  }
  return out
}
