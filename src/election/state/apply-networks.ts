/**
 * Applying the network commands. Pure and deterministic, like apply.ts. The proposer allocated the
 * subnet and VXLAN ID from the state it read; they are checked again here, since another network may
 * have taken them in between.
 */
import { overlaps, parseCidr, type Cidr, type NetworkObject, type ServiceObject, type StoreState } from '../objects/index.js'
import { addressClash } from './addresses.js'
import { refuse, type Applied } from './applied.js'
import type { Command } from './commands.js'

type Op<K extends Command['op']> = Extract<Command, { op: K }>

/** A stored subnet as a prefix; null for text that is not one (the socket refused such text before). */
function prefix (cidr: string): Cidr | null {
  try {
    return parseCidr(cidr, 'Subnet')
  } catch {
    return null
  }
}

/** Why `n` cannot join the networks of `state`, or null. */
export function networkClash (state: StoreState, n: Omit<NetworkObject, 'version'>): string | null {
  const mine = prefix(n.subnet)
  for (const other of state.networks.values()) {
    if (other.id === n.id) continue
    if (other.name === n.name) return `network with name ${n.name} already exists`
    if (other.vxlanId === n.vxlanId) return `VXLAN ID ${n.vxlanId} is taken by network ${other.name}`
    const theirs = prefix(other.subnet)
    if (mine !== null && theirs !== null && overlaps(mine, theirs)) {
      return `subnet ${n.subnet} overlaps network ${other.name}'s ${other.subnet}`
    }
  }
  return null
}

/**
 * The services whose tasks attach to network `id`, by name: those that name it, and, for the ingress
 * network, those that publish a port in ingress mode.
 */
export function servicesOnNetwork (services: Iterable<ServiceObject>, id: string, ingress = false): string[] {
  const names: string[] = []
  for (const s of services) {
    const named = (s.spec.TaskTemplate.Networks ?? []).some(a => a.Target === id)
    const meshed = ingress && s.endpoint.ports.some(p => p.PublishMode === 'ingress')
    if (named || meshed) names.push(s.name)
  }
  return names.sort()
}

export function applyNetworkCreate (state: StoreState, index: number, cmd: Op<'network.create'>): Applied {
  if (state.cluster === null) return refuse(state, index, 'unavailable', 'the cluster is not initialized')
  if (state.networks.has(cmd.network.id)) return refuse(state, index, 'conflict', `network ${cmd.network.id} exists already`)
  const clash = networkClash(state, cmd.network)
  if (clash !== null) return refuse(state, index, 'conflict', clash)
  const networks = new Map(state.networks)
  networks.set(cmd.network.id, { ...cmd.network, version: index })
  return { state: { ...state, index, networks }, result: { ok: true }, events: [{ kind: 'network', id: cmd.network.id }] }
}

export function applyNetworkRemove (state: StoreState, index: number, cmd: Op<'network.remove'>): Applied {
  const n = state.networks.get(cmd.id)
  if (n === undefined) return refuse(state, index, 'not-found', `network ${cmd.id} not found`)
  const users = servicesOnNetwork(state.services.values(), n.id, n.spec.Ingress)
  if (users.length > 0) {
    return refuse(state, index, 'conflict', `network ${n.name} is in use by service${users.length === 1 ? '' : 's'} ${users.join(', ')}`)
  }
  // As SwarmKit: tasks of a removed service that are still stopping do not hold the network (so that
  // `docker stack rm` can remove services, then their networks); each node's data plane removes its
  // part of the network once its last container on it is gone.
  const networks = new Map(state.networks)
  networks.delete(n.id)
  return { state: { ...state, index, networks }, result: { ok: true }, events: [{ kind: 'network', id: n.id }] }
}

export function applyNodeNetworks (state: StoreState, index: number, cmd: Op<'node.networks'>): Applied {
  const node = state.nodes.get(cmd.id)
  if (node === undefined) return refuse(state, index, 'not-found', `node ${cmd.id} not found`)
  const clash = addressClash(state, cmd.addresses, new Map(), { nodeId: node.id })
  if (clash !== null) return refuse(state, index, 'conflict', clash)
  const nodes = new Map(state.nodes)
  nodes.set(node.id, { ...node, networkAddresses: cmd.addresses, version: index, updatedAtMs: cmd.nowMs })
  return { state: { ...state, index, nodes }, result: { ok: true }, events: [{ kind: 'node-updated', id: node.id }] }
}
