/**
 * The network view the dispatcher sends each node (what Docker's overlay driver learns from its gossiped
 * network DB): computed from the store, once per batch of changes for the whole cluster
 * (`NetworkIndex`), then cut per node (`viewFor`). Pure.
 *
 * At a thousand nodes the views are recomputed for every session after every batch of changes, so each
 * step is made cheap when little changed: `viewsMayChange` tells which batches can move a view at all;
 * an index built with the previous one (`networkIndex(state, previous)`) keeps the previous per-network
 * lists where they are equal, and `viewFor(index, nodeId, previous)` reuses the parts of the node's last
 * view that are equal, returning that view itself when nothing in it differs — so that comparing views
 * costs a few reference checks rather than a JSON encoding of every task address per node.
 */
import { bareAddress, isTerminal, type NetworkObject, type ServiceObject, type StoreEvent, type StoreState, type TaskObject } from '../../election/index.js'
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
  /**
   * Per network in `nodesOn` and the mesh, the data-path addresses of the nodes that take part in it
   * (every node for the mesh), sorted, each once, none empty: a node's peers are these but its own.
   */
  readonly endpoints: ReadonlyMap<string, readonly string[]>
  /** Per network, whether an older `services` list (a node's last view holds it) equals this index's: worked out once per list, not per node. */
  readonly servicesSame: Map<string, Map<readonly ServiceOnNetwork[], boolean>>
  /** Which `endpoints` list, less which own address, each peers list handed out was: handed down from index to index. */
  readonly peersFrom: WeakMap<readonly string[], { readonly endpoints: readonly string[], readonly own: string }>
}

const NO_SERVICES: readonly ServiceOnNetwork[] = Object.freeze([])
const NO_ENDPOINTS: readonly string[] = Object.freeze([])

function byString (a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/**
 * The index of `state`. With `previous` (the index of an earlier state), each per-network list equal to
 * the previous one's is that very list, so that views built from either share it.
 */
export function networkIndex (state: StoreState, previous: NetworkIndex | null = null): NetworkIndex {
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
  const endpoints = new Map<string, readonly string[]>()
  for (const [networkId, members] of nodesOn) endpoints.set(networkId, endpointsOf(state, members))
  if (mesh !== null) endpoints.set(mesh.id, endpointsOf(state, null))
  if (previous !== null) {
    for (const [id, list] of services) {
      const before = previous.services.get(id)
      if (before !== undefined && sameServices(before, list)) services.set(id, before as ServiceOnNetwork[])
    }
    for (const [id, list] of endpoints) {
      const before = previous.endpoints.get(id)
      if (before !== undefined && sameStrings(before, list)) endpoints.set(id, before)
    }
  }
  return { state, nodesOn, services, mesh, endpoints, servicesSame: new Map(), peersFrom: previous?.peersFrom ?? new WeakMap() }
}

/** The sorted, distinct, non-empty data-path addresses of the nodes in `members` (null: every node). */
function endpointsOf (state: StoreState, members: ReadonlySet<string> | null): readonly string[] {
  const addrs = new Set<string>()
  for (const node of state.nodes.values()) {
    if (node.status.addr !== '' && (members === null || members.has(node.id))) addrs.add(node.status.addr)
  }
  return [...addrs].sort(byString)
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
 * `previous`, the node's last view, lends the new one every part equal to its own; when the two views
 * are equal in every field, `previous` itself is returned.
 */
export function viewFor (index: NetworkIndex, nodeId: string, previous: NodeNetworkView | null = null): NodeNetworkView | null {
  const { state } = index
  const node = state.nodes.get(nodeId)
  if (node === undefined || node.status.addr === '') return null
  const own = node.status.addr
  const ids = new Set<string>()
  for (const [networkId, nodes] of index.nodesOn) if (nodes.has(nodeId)) ids.add(networkId)
  if (index.mesh !== null) ids.add(index.mesh.id)
  const networks: NetworkView[] = []
  for (const id of [...ids].sort(byString)) {
    const n = state.networks.get(id)
    if (n === undefined) continue
    const before = previous?.networks[networks.length]
    const old = before?.id === id ? before : undefined
    // The other nodes on the network, by address: its endpoints but this node's own (its tasks put it among them).
    const endpoints = index.endpoints.get(id) ?? NO_ENDPOINTS
    const from = old === undefined ? undefined : index.peersFrom.get(old.peers)
    const peers = old !== undefined && ((from?.endpoints === endpoints && from.own === own) || samePeers(old.peers, endpoints, own)) ? old.peers : endpoints.filter(a => a !== own)
    if (from?.endpoints !== endpoints || from.own !== own) index.peersFrom.set(peers, { endpoints, own })
    let services = index.services.get(id) ?? NO_SERVICES
    if (old !== undefined && old.services !== services && servicesEqual(index, id, old.services, services)) services = old.services
    const address = node.networkAddresses.find(a => a.networkId === id)
    const nodeAddress = address === undefined ? null : bareAddress(address.address)
    if (old !== undefined && old.peers === peers && old.services === services && old.nodeAddress === nodeAddress && old.name === n.name &&
      old.subnet === n.subnet && old.gateway === n.gateway && old.vxlanId === n.vxlanId && old.ingress === n.spec.Ingress && old.internal === n.spec.Internal) {
      networks.push(old)
      continue
    }
    networks.push({
      id,
      name: n.name,
      subnet: n.subnet,
      gateway: n.gateway,
      vxlanId: n.vxlanId,
      ingress: n.spec.Ingress,
      internal: n.spec.Internal,
      nodeAddress,
      peers,
      services
    })
  }
  if (previous !== null && previous.vtep === own && previous.networks.length === networks.length && networks.every((v, i) => v === previous.networks[i])) return previous
  return { vtep: own, networks }
}

/**
 * Whether the changes of one applied batch (`events`, taking the store from `prev` to `next`) may move
 * some node's view: false only when none touches what a view is made of — a task's part (its node, its
 * addresses, whether it runs; nothing for a task without networks or that ended), a node's data-path
 * address or network addresses, a node joining or leaving, services, networks and the cluster.
 */
export function viewsMayChange (prev: StoreState, next: StoreState, events: readonly StoreEvent[]): boolean {
  for (const e of events) {
    switch (e.kind) {
      case 'secret':
      case 'config':
        continue
      case 'node-updated': {
        const a = prev.nodes.get(e.id)
        const b = next.nodes.get(e.id)
        if (a === undefined || b === undefined || a.status.addr !== b.status.addr || a.networkAddresses !== b.networkAddresses) return true
        continue
      }
      case 'task':
        if (!sameViewPart(prev.tasks.get(e.id), e.removed ? undefined : next.tasks.get(e.id))) return true
        continue
      default:
        return true
    }
  }
  return false
}

/** Whether a task counts in the views: it is on a network and has not ended. */
function inViews (t: TaskObject | undefined): t is TaskObject {
  return t !== undefined && t.networks.length > 0 && !isTerminal(t.status.state)
}

/** Whether two versions of a task (either absent) put the same into every view (`networkIndex` reads no more of a task). */
function sameViewPart (a: TaskObject | undefined, b: TaskObject | undefined): boolean {
  if (!inViews(a) || !inViews(b)) return inViews(a) === inViews(b)
  const running = (t: TaskObject): boolean => t.status.state === 'running' && t.desiredState === 'running'
  return a.id === b.id && a.serviceId === b.serviceId && a.nodeId === b.nodeId && a.networks === b.networks && running(a) === running(b)
}

/** Whether `peers` is `endpoints` without `own`. */
function samePeers (peers: readonly string[], endpoints: readonly string[], own: string): boolean {
  let i = 0
  for (const a of endpoints) {
    if (a === own) continue
    if (peers[i] !== a) return false
    i++
  }
  return i === peers.length
}

function sameStrings (a: readonly string[], b: readonly string[]): boolean {
  return a === b || (a.length === b.length && a.every((x, i) => x === b[i]))
}

/** `sameServices(older, index.services[networkId])`, once per older list and index. */
function servicesEqual (index: NetworkIndex, networkId: string, older: readonly ServiceOnNetwork[], current: readonly ServiceOnNetwork[]): boolean {
  let seen = index.servicesSame.get(networkId)
  if (seen === undefined) index.servicesSame.set(networkId, seen = new Map<readonly ServiceOnNetwork[], boolean>())
  let same = seen.get(older)
  if (same === undefined) seen.set(older, same = sameServices(older, current))
  return same
}

/** Field by field: what their JSON encodings would say. */
function sameServices (a: readonly ServiceOnNetwork[], b: readonly ServiceOnNetwork[]): boolean {
  if (a === b) return true
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!
    const y = b[i]!
    if (x === y) continue
    if (x.serviceId !== y.serviceId || x.name !== y.name || x.endpointMode !== y.endpointMode || x.vip !== y.vip || !sameStrings(x.aliases, y.aliases)) return false
    if (x.tasks.length !== y.tasks.length || x.ingressPorts.length !== y.ingressPorts.length) return false
    for (let j = 0; j < x.tasks.length; j++) {
      if (x.tasks[j]!.taskId !== y.tasks[j]!.taskId || x.tasks[j]!.address !== y.tasks[j]!.address) return false
    }
    for (let j = 0; j < x.ingressPorts.length; j++) {
      const p = x.ingressPorts[j]!
      const q = y.ingressPorts[j]!
      if (p.protocol !== q.protocol || p.publishedPort !== q.publishedPort || p.targetPort !== q.targetPort) return false
    }
  }
  return true
}
