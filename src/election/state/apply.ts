import { createHash } from 'node:crypto'
import type { ErrorCode } from '../../membership/index.js'
import type { Command } from './commands.js'
import type { NodeObject, StoreState } from './objects.js'
import {
  applyNodeStatus, applyServiceCreate, applyServiceRemove, applyServiceRollback, applyServiceRebalance, applyServiceUpdate, applyTasksReconcile, applyTasksReport, applyTasksSchedule
} from './apply-tasks.js'

/** The outcome of one command, returned to whoever proposed it. */
export type ApplyResult =
  | { readonly ok: true }
  | { readonly ok: false, readonly code: ErrorCode, readonly message: string }

/** What changed, for the leader's components watching the store. */
export type StoreEvent =
  | { readonly kind: 'cluster', readonly id: string }
  | { readonly kind: 'node-added' | 'node-updated' | 'node-removed', readonly id: string }
  /** A service was created, updated or removed. */
  | { readonly kind: 'service', readonly id: string }
  /** A task was created, changed or (`removed`) deleted; `nodeId` is its node, if it has one. */
  | { readonly kind: 'task', readonly id: string, readonly serviceId: string, readonly nodeId: string | null, readonly removed: boolean }

export interface Applied {
  readonly state: StoreState
  readonly result: ApplyResult
  readonly events: readonly StoreEvent[]
}

/** SHA-256 of a token secret, hex: what an admission proposal carries instead of the secret itself. */
export function secretDigest (secret: string): string {
  return createHash('sha256').update(secret).digest('hex')
}

function refuse (state: StoreState, index: number, code: ErrorCode, message: string): Applied {
  return { state: { ...state, index }, result: { ok: false, code, message }, events: [] }
}

function managers (nodes: ReadonlyMap<string, NodeObject>): number {
  let n = 0
  for (const node of nodes.values()) if (node.spec.role === 'manager') n++
  return n
}

/**
 * Apply the command of the entry at `index` to `state`. Pure and deterministic: the same state, index
 * and command give the same result on every manager. A refused command changes nothing but `index`.
 */
export function applyCommand (state: StoreState, index: number, cmd: Command): Applied {
  switch (cmd.op) {
    case 'cluster.init': {
      if (state.cluster !== null) return refuse(state, index, 'conflict', 'the cluster is already initialized')
      const nodes = new Map(state.nodes)
      nodes.set(cmd.node.id, { ...cmd.node, version: index })
      return {
        state: { ...state, index, cluster: { ...cmd.cluster, version: index }, nodes },
        result: { ok: true },
        events: [{ kind: 'cluster', id: cmd.cluster.id }, { kind: 'node-added', id: cmd.node.id }]
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
      nodes.set(cmd.node.id, { ...cmd.node, version: index })
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
    case 'node.status': return applyNodeStatus(state, index, cmd)
    case 'service.create': return applyServiceCreate(state, index, cmd)
    case 'service.update': return applyServiceUpdate(state, index, cmd)
    case 'service.remove': return applyServiceRemove(state, index, cmd)
    case 'service.rollback': return applyServiceRollback(state, index, cmd)
    case 'service.rebalance': return applyServiceRebalance(state, index, cmd)
    case 'tasks.reconcile': return applyTasksReconcile(state, index, cmd)
    case 'tasks.schedule': return applyTasksSchedule(state, index, cmd)
    case 'tasks.report': return applyTasksReport(state, index, cmd)
  }
}
