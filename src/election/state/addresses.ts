/**
 * Which addresses of an overlay network are taken, as every manager computes it from the store: the
 * network's gateway, the services' VIPs, the nodes' own addresses and the addresses of tasks that have
 * not ended. The allocator (src/tasks/allocator) picks from what is left; the store checks its picks
 * again at apply, so two tasks never share an address even when proposals race. Pure.
 */
import { isTerminal, type StoreState } from '../objects/index.js'

/** `10.0.1.5` of `10.0.1.5/24` (or of a bare address). */
export function bareAddress (cidr: string): string {
  const slash = cidr.indexOf('/')
  return slash < 0 ? cidr : cidr.slice(0, slash)
}

/**
 * The bare addresses taken on network `networkId`. `except` leaves out what one service or one node
 * holds (its own addresses may be kept when it is updated).
 */
export function addressesInUse (state: StoreState, networkId: string, except: { readonly serviceId?: string, readonly nodeId?: string } = {}): Set<string> {
  const used = new Set<string>()
  const network = state.networks.get(networkId)
  if (network !== undefined) used.add(network.gateway)
  for (const s of state.services.values()) {
    if (s.id === except.serviceId) continue
    for (const v of s.endpoint.virtualIps) if (v.networkId === networkId) used.add(bareAddress(v.addr))
  }
  for (const n of state.nodes.values()) {
    if (n.id === except.nodeId) continue
    for (const a of n.networkAddresses) if (a.networkId === networkId) used.add(bareAddress(a.address))
  }
  for (const t of state.tasks.values()) {
    if (t.networks.length === 0 || isTerminal(t.status.state)) continue
    for (const a of t.networks) if (a.networkId === networkId) used.add(bareAddress(a.address))
  }
  return used
}

/**
 * Why the addresses `wanted` (networkId → bare address) cannot be taken in `state`, or null. `used`
 * caches `addressesInUse` per network across the checks of one entry.
 */
export function addressClash (
  state: StoreState, wanted: ReadonlyArray<{ readonly networkId: string, readonly address: string }>,
  used: Map<string, Set<string>>, except: { readonly serviceId?: string, readonly nodeId?: string } = {}
): string | null {
  for (const w of wanted) {
    const network = state.networks.get(w.networkId)
    if (network === undefined) return `network ${w.networkId} not found`
    let taken = used.get(w.networkId)
    if (taken === undefined) {
      taken = addressesInUse(state, w.networkId, except)
      used.set(w.networkId, taken)
    }
    const ip = bareAddress(w.address)
    if (taken.has(ip)) return `address ${ip} on network ${network.name} is in use`
  }
  return null
}
