import { decode, encode, isRecord } from '../../membership/codec.js'
import { FlotillaError } from '../../membership/index.js'
import { DEFAULT_ADDRESS_POOL, UNKNOWN_NODE_STATUS, type ClusterObject, type ConfigObject, type NetworkObject, type SecretObject, type NodeObject, type RevokedNode, type ServiceObject, type StoreState, type TaskObject } from '../objects/index.js'

/** The store as Raft snapshot data: msgpack of plain arrays (Maps do not survive every codec). */
export function encodeStore (state: StoreState): Uint8Array {
  return encode({
    v: 1,
    index: state.index,
    cluster: state.cluster,
    nodes: [...state.nodes.values()],
    revoked: [...state.revoked.values()],
    services: [...state.services.values()],
    tasks: [...state.tasks.values()],
    networks: [...state.networks.values()],
    secrets: [...state.secrets.values()],
    configs: [...state.configs.values()]
  })
}

const MAX_SNAPSHOT_BYTES = 256 * 1024 * 1024

export function decodeStore (bytes: Uint8Array): StoreState {
  const v = decode(bytes, MAX_SNAPSHOT_BYTES)
  if (!isRecord(v) || v.v !== 1 || typeof v.index !== 'number' || !Array.isArray(v.nodes) || !Array.isArray(v.revoked)) {
    throw new FlotillaError('internal', 'store snapshot is malformed')
  }
  const cluster = v.cluster as ClusterObject | null
  return {
    index: v.index,
    cluster: cluster === null
      ? null
      : { ...cluster, root: { publicKeyDer: new Uint8Array(cluster.root.publicKeyDer), privateKeyDer: new Uint8Array(cluster.root.privateKeyDer) }, addressPool: cluster.addressPool ?? DEFAULT_ADDRESS_POOL },
    // Snapshots taken before services existed lack a node's status, description, services and tasks.
    nodes: new Map((v.nodes as NodeObject[]).map(n => [n.id, {
      ...n, certificate: new Uint8Array(n.certificate), status: { ...UNKNOWN_NODE_STATUS, ...n.status }, description: n.description ?? null, networkAddresses: n.networkAddresses ?? []
    }])),
    revoked: new Map((v.revoked as RevokedNode[]).map(r => [r.id, r])),
    // ... and, taken before updates were tracked, a service's UpdateStatus and rebalance, a task's runningAtMs;
    // before networks, VIPs, task addresses, a node's Addr and network addresses.
    services: new Map((Array.isArray(v.services) ? v.services as ServiceObject[] : []).map(s => [s.id, {
      ...s, previousSpec: s.previousSpec ?? null, updateStatus: s.updateStatus ?? null, rebalance: s.rebalance ?? null,
      endpoint: { ports: s.endpoint.ports, virtualIps: s.endpoint.virtualIps ?? [] }
    }])),
    tasks: new Map((Array.isArray(v.tasks) ? v.tasks as TaskObject[] : []).map(t => [t.id, { ...t, runningAtMs: t.runningAtMs ?? null, networks: t.networks ?? [] }])),
    // ... and, taken before networks existed, no networks.
    networks: new Map((Array.isArray(v.networks) ? v.networks as NetworkObject[] : []).map(n => [n.id, n])),
    // ... and, before secrets and configs, none.
    secrets: new Map((Array.isArray(v.secrets) ? v.secrets as SecretObject[] : []).map(s => [s.id, { ...s, sealed: new Uint8Array(s.sealed) }])),
    configs: new Map((Array.isArray(v.configs) ? v.configs as ConfigObject[] : []).map(c => [c.id, { ...c, data: new Uint8Array(c.data) }]))
  }
}
