import { decode, encode, isRecord } from '../../membership/codec.js'
import { FlotillaError, type NodeDescription, type NodeRole } from '../../membership/index.js'
import type {
  AllocatedPort, BlobSpec, ClusterObject, ConfigObject, NetworkObject, SecretObject, NodeNetworkAddress, TaskNetworkAddress, VirtualIp, NewTask, NodeObject, NodeSpec, ServiceObject, ServiceSpec, TaskDeletion, TaskState, TaskUpdate, UpdateStatus
} from '../objects/index.js'

/** The scheduler's decision for one task: a node, or why none (the pending task's message). */
export type TaskPlacement =
  /** `networks`: the task's addresses, checked again at apply (absent in entries written before networks). */
  | { readonly id: string, readonly version: number, readonly nodeId: string, readonly networks?: readonly TaskNetworkAddress[] }
  | { readonly id: string, readonly version: number, readonly pending: string }

/** A state change a node's executor reported for one of its tasks. */
export interface TaskReport {
  readonly id: string
  readonly state: TaskState
  /** When the node saw the change (ms, its own clock). */
  readonly timestampMs: number
  readonly message: string
  readonly err: string | null
  readonly exitCode: number | null
}

/**
 * Commands carried in `normal` Raft entries. The proposer fills in everything random or
 * time-dependent (IDs, secrets, `nowMs`), so that every manager applies the same entry to the same
 * result. Version checks (`version`) make updates fail cleanly on a stale read, as Docker's `?version=`.
 */
export type Command =
  /** `networks`: those a new cluster starts with (the ingress network). */
  | { readonly op: 'cluster.init', readonly cluster: Omit<ClusterObject, 'version'>, readonly node: Omit<NodeObject, 'version'>, readonly networks?: ReadonlyArray<Omit<NetworkObject, 'version'>> }
  /** Admit a joiner whose secret matched `role`'s token: `secretDigest` is re-checked at apply, so a token rotated meanwhile refuses it. */
  | { readonly op: 'node.admit', readonly node: Omit<NodeObject, 'version'>, readonly secretDigest: string }
  | { readonly op: 'node.update', readonly id: string, readonly version: number, readonly spec: NodeSpec, readonly nowMs: number }
  | { readonly op: 'node.certificate', readonly id: string, readonly certificate: Uint8Array, readonly nowMs: number }
  | { readonly op: 'node.remove', readonly id: string, readonly nowMs: number }
  | { readonly op: 'cluster.update', readonly version: number, readonly spec: Readonly<Record<string, unknown>>, readonly secrets: { readonly worker: string, readonly manager: string }, readonly nowMs: number }
  /** The dispatcher's view of a node: ready (with what its executor describes) or down. */
  | {
    readonly op: 'node.status', readonly id: string, readonly state: 'ready' | 'down', readonly message: string, readonly description: NodeDescription | null,
    readonly nowMs: number,
    /** The node's data-path address, when its session told it. */
    readonly addr?: string
  }
  /** The allocator's addresses for a node on the networks that give nodes one (ingress); re-checked at apply. */
  | { readonly op: 'node.networks', readonly id: string, readonly addresses: readonly NodeNetworkAddress[], readonly nowMs: number }
  /** A network with its allocated subnet and VXLAN ID; name, subnet and VXLAN ID are re-checked at apply. */
  | { readonly op: 'network.create', readonly network: Omit<NetworkObject, 'version'> }
  /** Refused while a service attaches to the network. */
  | { readonly op: 'network.remove', readonly id: string, readonly nowMs: number }
  /** A secret (its data sealed by the proposer) or a config; the name is re-checked at apply. */
  | { readonly op: 'secret.create', readonly secret: Omit<SecretObject, 'version'> }
  | { readonly op: 'config.create', readonly config: Omit<ConfigObject, 'version'> }
  /** Only the labels change (Docker's rule: data and name are fixed). */
  | { readonly op: 'secret.update' | 'config.update', readonly id: string, readonly version: number, readonly spec: BlobSpec, readonly nowMs: number }
  /** Refused while a service references it. */
  | { readonly op: 'secret.remove' | 'config.remove', readonly id: string }
  /** Names and published ports are re-checked at apply: of two racing creates, the second is refused. */
  | { readonly op: 'service.create', readonly service: Omit<ServiceObject, 'version'> }
  /**
   * A spec update: the replaced spec becomes PreviousSpec and UpdateStatus is reset (the updater starts
   * anew), or, with `rollback` (`?rollback=previous`, `spec` being PreviousSpec), set to rollback_started.
   */
  | { readonly op: 'service.update', readonly id: string, readonly version: number, readonly spec: ServiceSpec, readonly ports: readonly AllocatedPort[], readonly virtualIps?: readonly VirtualIp[], readonly nowMs: number, readonly rollback?: boolean }
  /**
   * The updater's FailureAction rollback: the service goes back to its PreviousSpec (with `ports`
   * allocated for it), which is then cleared, and UpdateStatus becomes rollback_started with `message`.
   */
  | { readonly op: 'service.rollback', readonly id: string, readonly version: number, readonly ports: readonly AllocatedPort[], readonly virtualIps?: readonly VirtualIp[], readonly message: string, readonly nowMs: number }
  /** Ask for a one-shot rebalance of a replicated service (`flotilla service rebalance`). */
  | { readonly op: 'service.rebalance', readonly id: string, readonly nowMs: number }
  /** Removes the service and asks every task of it to be removed (desired state 'remove'). */
  | { readonly op: 'service.remove', readonly id: string, readonly nowMs: number }
  /**
   * The orchestrator's pass over one service, all or nothing: refused when the service moved past
   * `serviceVersion` or any updated or deleted task moved past its version (it then reconciles again).
   * `updateStatus` and `rebalanced` (a one-shot rebalance is done) change the service without a new version.
   */
  | {
    readonly op: 'tasks.reconcile', readonly serviceId: string, readonly serviceVersion: number | null, readonly create: readonly NewTask[],
    readonly update: readonly TaskUpdate[], readonly delete: readonly TaskDeletion[], readonly updateStatus?: UpdateStatus, readonly rebalanced?: boolean
  }
  /** The scheduler's pass: each placement applies on its own, skipped when its task moved on. */
  | { readonly op: 'tasks.schedule', readonly placements: readonly TaskPlacement[], readonly nowMs: number }
  /** A node's batched task reports: applied only to its own tasks, and only moving forward. */
  | { readonly op: 'tasks.report', readonly nodeId: string, readonly reports: readonly TaskReport[] }

export type CommandOp = Command['op']

/** The largest command accepted into the log. */
export const MAX_COMMAND_BYTES = 1024 * 1024

export function encodeCommand (cmd: Command): Uint8Array {
  return encode(cmd)
}

export function decodeCommand (bytes: Uint8Array): Command {
  const v = decode(bytes, MAX_COMMAND_BYTES)
  if (!isRecord(v) || typeof v.op !== 'string') throw new FlotillaError('invalid-argument', 'command is malformed')
  return v as unknown as Command
}

export function isRole (v: unknown): v is NodeRole {
  return v === 'manager' || v === 'worker'
}
