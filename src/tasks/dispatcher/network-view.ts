/**
 * The network view the dispatcher sends each node (what Docker's overlay driver learns from its gossiped
 * network DB): computed from the store, once per batch of changes for the whole cluster
 * (`NetworkIndex`), then cut per node (`viewFor`). Pure.
 */
import { bareAddress, isTerminal, type NetworkObject, type ServiceObject, type StoreState } from '../../election/index.js'
import { ingressNetwork, serviceNetworkIds } from '../allocator/addresses.js'
import type { IngressPort, NetworkView, NodeNetworkView, ServiceOnNetwork } from '../executor/network-view.js'

/** The cluster-wide part of every node's view. */
export interface NetworkIndex {
  readonly state: StoreState
  /** Per network, the nodes that hold a task on it that has not ended. */
  readonly nodesOn: ReadonlyMap<string, ReadonlySet<string>>
  /** Per network, the services on it as every node sees them. */
  readonly services: ReadonlyMap<string, readonly ServiceOnNetwork[]>
  /** The ingress network when some service publishes a port in ingress mode: every node takes part in it then. */
  readonly mesh: NetworkObject | null
}

function byString (a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

export function networkIndex (state: StoreState): NetworkIndex {
  const nodesOn = new Map<string, Set<string>>()
  /** Per service and network, its running tasks' addresses. */
  const running = new Map<string, Array<{ taskId: string, address: string }>>()
  for (const t of state.tasks.values()) {
    if (t.networks.length === 0 || isTerminal(t.status.state)) continue
    for (const a of t.networks) {
      if (t.nodeId !== null) {
        let set = nodesOn.get(a.networkId)
        if (set === undefined) nodesOn.set(a.networkId, set = new Set())
        set.add(t.nodeId)
      }
      // Only a task that runs and is meant to: one being stopped gets no new connections.
      if (t.status.state !== 'running' || t.desiredState !== 'running') continue
      const key = `${t.serviceId}/${a.networkId}`
      let list = running.get(key)
      if (list === undefined) running.set(key, list = [])
      list.push({ taskId: t.id, address: bareAddress(a.address) })
    }
  }
  const ingress = ingressNetwork(state) ?? null
  let mesh: NetworkObject | null = null
  const services = new Map<string, ServiceOnNetwork[]>()
  for (const s of state.services.values()) {
    for (const networkId of serviceNetworkIds(s.spec, s.endpoint.ports, ingress?.id ?? null)) {
      if (!state.networks.has(networkId)) continue
      if (networkId === ingress?.id) mesh = ingress
      let list = services.get(networkId)
      if (list === undefined) services.set(networkId, list = [])
      list.push(serviceOn(s, networkId, networkId === ingress?.id, running.get(`${s.id}/${networkId}`) ?? []))
    }
  }
  for (const list of services.values()) list.sort((a, b) => byString(a.name, b.name))
  return { state, nodesOn, services, mesh }
}

function serviceOn (s: ServiceObject, networkId: string, ingress: boolean, tasks: Array<{ taskId: string, address: string }>): ServiceOnNetwork {
  const vip = s.endpoint.virtualIps.find(v => v.networkId === networkId)
  const ingressPorts: IngressPort[] = ingress
    ? s.endpoint.ports.filter(p => p.PublishMode === 'ingress').map(p => ({ protocol: p.Protocol, publishedPort: p.PublishedPort, targetPort: p.TargetPort }))
    : []
  return {
    serviceId: s.id,
    name: s.name,
    aliases: [...(s.spec.TaskTemplate.Networks?.find(n => n.Target === networkId)?.Aliases ?? [])],
    endpointMode: s.spec.EndpointSpec?.Mode === 'dnsrr' ? 'dnsrr' : 'vip',
    vip: vip === undefined ? null : bareAddress(vip.addr),
    tasks: tasks.sort((a, b) => byString(a.address, b.address)),
    ingressPorts
  }
}

/**
 * Node `nodeId`'s view: the networks its tasks attach to, and ingress while the routing mesh publishes
 * anything; null while the node has told no data-path address (it cannot be a tunnel endpoint yet).
 */
export function viewFor (index: NetworkIndex, nodeId: string): NodeNetworkView | null {
  const { state } = index
  const node = state.nodes.get(nodeId)
  if (node === undefined || node.status.addr === '') return null
  const ids = new Set<string>()
  for (const [networkId, nodes] of index.nodesOn) if (nodes.has(nodeId)) ids.add(networkId)
  if (index.mesh !== null) ids.add(index.mesh.id)
  const networks: NetworkView[] = []
  for (const id of [...ids].sort(byString)) {
    const n = state.networks.get(id)
    if (n === undefined) continue
    const everyone = index.mesh?.id === id
    const members = index.nodesOn.get(id) ?? new Set<string>()
    const peers = new Set<string>()
    for (const other of state.nodes.values()) {
      if (other.id === nodeId || other.status.addr === '' || other.status.addr === node.status.addr) continue
      if (everyone || members.has(other.id)) peers.add(other.status.addr)
    }
    const own = node.networkAddresses.find(a => a.networkId === id)
    networks.push({
      id,
      name: n.name,
      subnet: n.subnet,
      gateway: n.gateway,
      vxlanId: n.vxlanId,
      ingress: n.spec.Ingress,
      internal: n.spec.Internal,
      nodeAddress: own === undefined ? null : bareAddress(own.address),
      peers: [...peers].sort(byString),
      services: index.services.get(id) ?? []
    })
  }
  return { vtep: node.status.addr, networks }
}
