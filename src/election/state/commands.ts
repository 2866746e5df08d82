import { decode, encode, isRecord } from '../../membership/codec.js'
import { FlotillaError, type NodeRole } from '../../membership/index.js'
import type { ClusterObject, NodeObject, NodeSpec } from './objects.js'

/**
 * Commands carried in `normal` Raft entries. The proposer fills in everything random or
 * time-dependent (IDs, secrets, `nowMs`), so that every manager applies the same entry to the same
 * result. Version checks (`version`) make updates fail cleanly on a stale read, as Docker's `?version=`.
 */
export type Command =
  | { readonly op: 'cluster.init', readonly cluster: Omit<ClusterObject, 'version'>, readonly node: Omit<NodeObject, 'version'> }
  /** Admit a joiner whose secret matched `role`'s token: `secretDigest` is re-checked at apply, so a token rotated meanwhile refuses it. */
  | { readonly op: 'node.admit', readonly node: Omit<NodeObject, 'version'>, readonly secretDigest: string }
  | { readonly op: 'node.update', readonly id: string, readonly version: number, readonly spec: NodeSpec, readonly nowMs: number }
  | { readonly op: 'node.certificate', readonly id: string, readonly certificate: Uint8Array, readonly nowMs: number }
  | { readonly op: 'node.remove', readonly id: string, readonly nowMs: number }
  | { readonly op: 'cluster.update', readonly version: number, readonly spec: Readonly<Record<string, unknown>>, readonly secrets: { readonly worker: string, readonly manager: string }, readonly nowMs: number }

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
