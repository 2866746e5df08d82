/**
 * Applying the cluster and node commands (the membership half of the store). Pure and deterministic:
 * every manager applies the same entry to the same result.
 */
import { createHash } from 'node:crypto'
import type { Command } from './commands.js'
import { DEFAULT_ADDRESS_POOL, UNKNOWN_NODE_STATUS, type NodeObject, type StoreState } from '../objects/index.js'
import { refuse, type Applied } from './applied.js'

type ClusterCommand = Extract<Command, { op: 'cluster.init' | 'node.admit' | 'node.update' | 'node.certificate' | 'node.remove' | 'cluster.update' }>

/** SHA-256 of a token secret, hex: what an admission proposal carries instead of the secret itself. */
export function secretDigest (secret: string): string {
  return createHash('sha256').update(secret).digest('hex')
}

function managers (nodes: ReadonlyMap<string, NodeObject>): number {
  let n = 0
  for (const node of nodes.values()) if (node.spec.role === 'manager') n++
  return n
}

/** Apply one cluster or node command of the entry at `index`. */
export function applyClusterCommand (state: StoreState, index: number, cmd: ClusterCommand): Applied {
  switch (cmd.op) {
    case 'cluster.init': {
      if (state.cluster !== null) return refuse(state, index, 'conflict', 'the cluster is already initialized')
      const nodes = new Map(state.nodes)
      nodes.set(cmd.node.id, { ...cmd.node, status: { ...UNKNOWN_NODE_STATUS, ...cmd.node.status }, networkAddresses: cmd.node.networkAddresses ?? [], version: index })
      const networks = new Map(state.networks)
      for (const n of cmd.networks ?? []) networks.set(n.id, { ...n, version: index })
      return {
        // Entries written before address pools existed carry none: Docker's defaults.
        state: { ...state, index, cluster: { ...cmd.cluster, addressPool: cmd.cluster.addressPool ?? DEFAULT_ADDRESS_POOL, version: index }, nodes, networks },
        result: { ok: true },
        events: [{ kind: 'cluster', id: cmd.cluster.id }, { kind: 'node-added', id: cmd.node.id }, ...(cmd.networks ?? []).map(n => ({ kind: 'network' as const, id: n.id }))]
      }
    }
    case 'node.admit': {
      const c = state.cluster
      if (c === null) return refuse(state, index, 'unavailable', 'the cluster is not initialized')
      if (secretDigest(c.secrets[cmd.node.spec.role]) !== cmd.secretDigest) {
        return refuse(state, index, 'unauthenticated', 'invalid join token')
      }
      if (state.nodes.has(cmd.node.id)) return refuse(state, index, 'conflict', `node ${cmd.node.id} exists already`)
      for (const r of state.revoked.values()) {
        if (r.peerId === cmd.node.peerId) return refuse(state, index, 'unauthenticated', 'this host was removed from the cluster')
      }
      const nodes = new Map(state.nodes)
      nodes.set(cmd.node.id, { ...cmd.node, status: { ...UNKNOWN_NODE_STATUS, ...cmd.node.status }, networkAddresses: cmd.node.networkAddresses ?? [], version: index })
      return { state: { ...state, index, nodes }, result: { ok: true }, events: [{ kind: 'node-added', id: cmd.node.id }] }
    }
    case 'node.update': {
      const node = state.nodes.get(cmd.id)
      if (node === undefined) return refuse(state, index, 'not-found', `node ${cmd.id} not found`)
      if (node.version !== cmd.version) {
        return refuse(state, index, 'conflict', `update out of sequence: node ${cmd.id} is at version ${node.version}, not ${cmd.version}`)
      }
      if (node.spec.role === 'manager' && cmd.spec.role === 'worker' && managers(state.nodes) <= 1) {
        return refuse(state, index, 'conflict', 'attempting to demote the last manager of the swarm')
      }
      const nodes = new Map(state.nodes)
      nodes.set(cmd.id, { ...node, spec: cmd.spec, version: index, updatedAtMs: cmd.nowMs })
      return { state: { ...state, index, nodes }, result: { ok: true }, events: [{ kind: 'node-updated', id: cmd.id }] }
    }
    case 'node.certificate': {
      const node = state.nodes.get(cmd.id)
      if (node === undefined) return refuse(state, index, 'not-found', `node ${cmd.id} not found`)
      const nodes = new Map(state.nodes)
      nodes.set(cmd.id, { ...node, certificate: cmd.certificate, version: index, updatedAtMs: cmd.nowMs })
      return { state: { ...state, index, nodes }, result: { ok: true }, events: [{ kind: 'node-updated', id: cmd.id }] }
    }
    case 'node.remove': {
      const node = state.nodes.get(cmd.id)
      if (node === undefined) return refuse(state, index, 'not-found', `node ${cmd.id} not found`)
      if (node.spec.role === 'manager' && managers(state.nodes) <= 1) {
        return refuse(state, index, 'conflict', 'attempting to remove the last manager of the swarm')
      }
      const nodes = new Map(state.nodes)
      nodes.delete(cmd.id)
      const revoked = new Map(state.revoked)
      revoked.set(cmd.id, { id: cmd.id, peerId: node.peerId, revokedAtMs: cmd.nowMs })
      return { state: { ...state, index, nodes, revoked }, result: { ok: true }, events: [{ kind: 'node-removed', id: cmd.id }] }
    }
    case 'cluster.update': {
      const c = state.cluster
      if (c === null) return refuse(state, index, 'unavailable', 'the cluster is not initialized')
      if (c.version !== cmd.version) {
        return refuse(state, index, 'conflict', `update out of sequence: the swarm is at version ${c.version}, not ${cmd.version}`)
      }
      return {
        state: { ...state, index, cluster: { ...c, spec: cmd.spec, secrets: cmd.secrets, version: index, updatedAtMs: cmd.nowMs } },
        result: { ok: true },
        events: [{ kind: 'cluster', id: c.id }]
      }
    }
  }
}
