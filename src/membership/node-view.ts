import { isRecord, isSafeUint, isStringArray } from './codec.js'

/**
 * What a node says of itself and its engine. The executor fills it from the node's Docker engine; when
 * the engine does not answer, `engine.state` is 'unavailable' and the platform and resources come from
 * the host.
 */
export interface NodeDescription {
  readonly os: string // e.g. 'linux'
  readonly arch: string // Docker's spelling, e.g. 'x86_64'
  readonly nanoCpus: number
  readonly memoryBytes: number
  readonly engine: EngineStatus
}

export type EngineStatus =
  | { readonly state: 'available', readonly version: string, readonly labels: Readonly<Record<string, string>> }
  | { readonly state: 'unavailable', readonly message: string }

/**
 * A member's view of itself, as every other member shows it: SWIM's metadata (see swim-claims.ts, which
 * signs it with the node's certificate). It travels only when it changes.
 */
export interface NodeView {
  readonly hostname: string
  /** libp2p multiaddrs without the /p2p suffix, e.g. /ip4/10.0.0.1/tcp/4242 */
  readonly addrs: readonly string[]
  readonly description: NodeDescription
  /** The Raft leader's node ID as the member knows it ('' when unknown): workers find the leader from it. */
  readonly leaderId: string
}

const MAX_ADDRS = 16
const MAX_STRING = 256

function isShortString (v: unknown): v is string {
  return typeof v === 'string' && v.length <= MAX_STRING
}

function isLabels (v: unknown): v is Record<string, string> {
  return isRecord(v) && Object.keys(v).length <= 64 && Object.values(v).every(isShortString)
}

export function isDescription (v: unknown): v is NodeDescription {
  if (!isRecord(v) || !isShortString(v.os) || !isShortString(v.arch) || !isSafeUint(v.nanoCpus) || !isSafeUint(v.memoryBytes)) return false
  const e = v.engine
  if (!isRecord(e)) return false
  if (e.state === 'available') return isShortString(e.version) && isLabels(e.labels)
  if (e.state === 'unavailable') return typeof e.message === 'string' && e.message.length <= 1024
  return false
}

/** A decoded view checked field by field. */
export function isNodeView (v: unknown): v is NodeView {
  return isRecord(v) && isShortString(v.hostname) && isStringArray(v.addrs, MAX_ADDRS) && v.addrs.every(isShortString) &&
    isDescription(v.description) && typeof v.leaderId === 'string' && v.leaderId.length <= 64
}

/** Whether two views differ in anything a member shows (compared as data, not by identity). */
export function sameView (a: NodeView, b: NodeView): boolean {
  return a.hostname === b.hostname && a.leaderId === b.leaderId && a.addrs.join() === b.addrs.join() &&
    JSON.stringify(a.description) === JSON.stringify(b.description)
}
