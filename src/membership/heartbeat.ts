import { decode, encode, isBytes, isRecord, isSafeUint, isStringArray } from './codec.js'
import { FlotillaError } from './errors.js'
import { verifyCertificate, type CertificateClaims } from './certificate.js'

/**
 * What a node says of itself and its engine, carried in every heartbeat. The executor fills it from the
 * node's Docker engine; when the engine does not answer, `engine.state` is 'unavailable' and the
 * platform and resources come from the host.
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

/** A member's own status. 'leaving' is sent once by `swarm leave` so that peers need not wait for timeouts. */
export type HeartbeatStatus = 'ready' | 'leaving'

/**
 * The signed heartbeat each member publishes on the cluster's gossip topic every `heartbeatMs`.
 * Gossipsub's StrictSign signs the whole message with the sender's libp2p key; the certificate inside
 * binds that key to a node of this cluster. (incarnation, seq) orders a node's heartbeats: incarnation
 * grows on every agent start (persisted), seq within one run, so stale and replayed ones are refused.
 */
export interface Heartbeat {
  readonly v: 1
  readonly cert: Uint8Array
  readonly incarnation: number
  readonly seq: number
  readonly sentAtMs: number
  readonly hostname: string
  /** libp2p multiaddrs without the /p2p suffix, e.g. /ip4/10.0.0.1/tcp/4242 */
  readonly addrs: readonly string[]
  readonly status: HeartbeatStatus
  readonly description: NodeDescription
  /** The Raft leader's node ID as the sender knows it ('' when unknown): every node finds the leader fast. */
  readonly leaderId: string
}

export const MAX_HEARTBEAT_BYTES = 16 * 1024
const MAX_ADDRS = 16
const MAX_STRING = 256

export function encodeHeartbeat (hb: Heartbeat): Uint8Array {
  return encode(hb)
}

function isShortString (v: unknown): v is string {
  return typeof v === 'string' && v.length <= MAX_STRING
}

function isLabels (v: unknown): v is Record<string, string> {
  return isRecord(v) && Object.keys(v).length <= 64 && Object.values(v).every(isShortString)
}

function isDescription (v: unknown): v is NodeDescription {
  if (!isRecord(v) || !isShortString(v.os) || !isShortString(v.arch) || !isSafeUint(v.nanoCpus) || !isSafeUint(v.memoryBytes)) return false
  const e = v.engine
  if (!isRecord(e)) return false
  if (e.state === 'available') return isShortString(e.version) && isLabels(e.labels)
  if (e.state === 'unavailable') return typeof e.message === 'string' && e.message.length <= 1024
  return false
}

/** Decode a heartbeat frame field by field; throws `invalid-argument` when any field is missing or wrong. */
export function decodeHeartbeat (bytes: Uint8Array): Heartbeat {
  const v = decode(bytes, MAX_HEARTBEAT_BYTES)
  if (!isRecord(v) || v.v !== 1 || !isBytes(v.cert) || !isSafeUint(v.incarnation) || !isSafeUint(v.seq) ||
    !isSafeUint(v.sentAtMs) || !isShortString(v.hostname) || !isStringArray(v.addrs, MAX_ADDRS) ||
    !v.addrs.every(isShortString) || (v.status !== 'ready' && v.status !== 'leaving') || !isDescription(v.description) ||
    typeof v.leaderId !== 'string' || v.leaderId.length > 64) {
    throw new FlotillaError('invalid-argument', 'heartbeat is malformed')
  }
  return v as unknown as Heartbeat
}

/** The trust anchor a heartbeat is checked against. */
export interface ClusterTrust {
  readonly clusterId: string
  readonly rootPublicKeyDer: Uint8Array
  /** Certificate serials that were revoked (a removed node); empty until node removal exists. */
  isRevoked?(claims: CertificateClaims): boolean
}

/**
 * Check that a decoded heartbeat was sent by the node its certificate names: the certificate verifies
 * under the cluster root and binds the libp2p peer that signed the gossip message (`fromPeerId`).
 * Returns the certificate's claims; throws `unauthenticated` otherwise.
 */
export function authenticateHeartbeat (hb: Heartbeat, fromPeerId: string, trust: ClusterTrust): CertificateClaims {
  const claims = verifyCertificate(hb.cert, trust.rootPublicKeyDer, trust.clusterId)
  if (claims.peerId !== fromPeerId) {
    throw new FlotillaError('unauthenticated', `certificate of node ${claims.nodeId} is bound to another peer`)
  }
  if (trust.isRevoked?.(claims) === true) {
    throw new FlotillaError('unauthenticated', `certificate of node ${claims.nodeId} was revoked`)
  }
  return claims
}
