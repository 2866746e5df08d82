import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto'
import { peerIdFromString } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { decode, encode, isBytes, isRecord, isSafeUint } from './codec.js'
import { verifyCertificate, type CertificateClaims } from './certificate.js'
import { FlotillaError } from './errors.js'
import { isNodeView, type NodeView } from './node-view.js'

/**
 * What a member says of itself, signed with its node key (the libp2p Ed25519 key its certificate binds),
 * so that any member may pass it on and every receiver can tell it came from that member:
 *   - its view (SWIM's metadata): encode([body, signature]), body = encode({ t: 'view/1', cluster,
 *     node, mv, cert, view }); the certificate inside binds the key to the node ID and gives its role;
 *   - a proof of each alive claim about it: the signature of encode(['alive/1', cluster, node, inc, mv]).
 * Suspicions and deaths need no such proof: any certified member may make them (see swim-ingress.ts).
 */

/** What claims are checked against: the cluster, its root key, and the removed nodes. */
export interface ClaimTrust {
  readonly clusterId: string
  readonly rootPublicKeyDer: Uint8Array
  readonly isRevoked: (nodeId: string) => boolean
}

/** A view that verified: the member's certificate and claims, and what it says at metadata version `mv`. */
export interface SignedView {
  readonly certificate: Uint8Array
  readonly claims: CertificateClaims
  readonly view: NodeView
  readonly mv: number
}

const VIEW_TAG = 'view/1'
const ALIVE_TAG = 'alive/1'
/** An encoded view's cap: a certificate (≤ 1 KiB), a description and addresses; well under the wire's 16 KiB. */
const MAX_VIEW_BYTES = 8 * 1024

function aliveBody (clusterId: string, node: string, inc: number, mv: number): Uint8Array {
  return encode([ALIVE_TAG, clusterId, node, inc, mv])
}

/** This node's signatures: its view and its alive claims. The last alive proof is kept (refutations repeat it). */
export class ClaimSigner {
  private readonly key: KeyObject
  private last: { inc: number, mv: number, proof: Uint8Array } | null = null

  constructor (privateKey: PrivateKey, private readonly clusterId: string, private readonly nodeId: string) {
    const raw = privateKey.raw
    this.key = createPrivateKey({
      format: 'jwk',
      key: { kty: 'OKP', crv: 'Ed25519', d: Buffer.from(raw.subarray(0, 32)).toString('base64url'), x: Buffer.from(privateKey.publicKey.raw).toString('base64url') }
    })
  }

  /** This node's view at metadata version `mv`, with its certificate, signed. */
  sealView (mv: number, certificate: Uint8Array, view: NodeView): Uint8Array {
    const body = encode({ t: VIEW_TAG, cluster: this.clusterId, node: this.nodeId, mv, cert: certificate, view })
    return encode([body, new Uint8Array(sign(null, body, this.key))])
  }

  /** The proof of this node's alive at (inc, mv). */
  proveAlive (inc: number, mv: number): Uint8Array {
    if (this.last?.inc === inc && this.last.mv === mv) return this.last.proof
    const proof = new Uint8Array(sign(null, aliveBody(this.clusterId, this.nodeId, inc, mv), this.key))
    this.last = { inc, mv, proof }
    return proof
  }
}

/** Public keys by peer ID; bounded, since every peer that sends a claim could add one. */
const publicKeys = new Map<string, KeyObject>()
const MAX_KEYS = 4096

function peerKey (peerId: string): KeyObject {
  let key = publicKeys.get(peerId)
  if (key !== undefined) return key
  const pub = peerIdFromString(peerId).publicKey
  if (pub?.type !== 'Ed25519') throw new FlotillaError('unauthenticated', `peer ${peerId} has no Ed25519 key`)
  key = createPublicKey({ format: 'jwk', key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(pub.raw).toString('base64url') } })
  if (publicKeys.size >= MAX_KEYS) publicKeys.delete(publicKeys.keys().next().value!)
  publicKeys.set(peerId, key)
  return key
}

function verifies (peerId: string, body: Uint8Array, signature: Uint8Array): boolean {
  try {
    return verify(null, body, peerKey(peerId), signature)
  } catch {
    return false
  }
}

/** Views already opened, by their bytes: a view is relayed by many members and arrives many times. */
const opened = new Map<string, SignedView>()
const MAX_OPENED = 1024

/**
 * Open a view said to be node `node`'s at metadata version `mv`: its certificate verifies under the
 * cluster's root and names `node`, the node is not removed, and the node's key signed it. Throws
 * `unauthenticated` (or `invalid-argument` for a malformed one) otherwise.
 */
export function openView (meta: Uint8Array, trust: ClaimTrust, node: string, mv: number): SignedView {
  if (trust.isRevoked(node)) throw new FlotillaError('unauthenticated', `node ${node} was removed from the cluster`)
  const cacheKey = `${trust.clusterId}/${Buffer.from(meta).toString('base64')}`
  let v = opened.get(cacheKey)
  if (v === undefined) {
    v = openUncached(meta, trust)
    if (opened.size >= MAX_OPENED) opened.delete(opened.keys().next().value!)
    opened.set(cacheKey, v)
  }
  if (v.claims.nodeId !== node) throw new FlotillaError('unauthenticated', `view of node ${v.claims.nodeId} passed off as node ${node}'s`)
  if (v.mv !== mv) throw new FlotillaError('unauthenticated', `view of node ${node} is version ${v.mv}, not ${mv}`)
  return v
}

function openUncached (meta: Uint8Array, trust: ClaimTrust): SignedView {
  const outer = decode(meta, MAX_VIEW_BYTES)
  if (!Array.isArray(outer) || outer.length !== 2 || !isBytes(outer[0]) || !isBytes(outer[1])) {
    throw new FlotillaError('invalid-argument', 'view is malformed')
  }
  const [body, signature] = outer as [Uint8Array, Uint8Array]
  const b = decode(body, MAX_VIEW_BYTES)
  if (!isRecord(b) || b.t !== VIEW_TAG || typeof b.cluster !== 'string' || typeof b.node !== 'string' || !isSafeUint(b.mv) ||
    !isBytes(b.cert) || !isNodeView(b.view)) {
    throw new FlotillaError('invalid-argument', 'view is malformed')
  }
  if (b.cluster !== trust.clusterId) throw new FlotillaError('unauthenticated', `view is for cluster ${b.cluster}, not ${trust.clusterId}`)
  const claims = verifyCertificate(b.cert, trust.rootPublicKeyDer, trust.clusterId)
  if (claims.nodeId !== b.node) throw new FlotillaError('unauthenticated', `view of node ${b.node} carries node ${claims.nodeId}'s certificate`)
  if (!verifies(claims.peerId, body, signature)) throw new FlotillaError('unauthenticated', `view of node ${b.node} is not signed by its key`)
  return { certificate: b.cert, claims, view: b.view, mv: b.mv }
}

/** Whether `proof` is node `node`'s (peer `peerId`'s) signature of its alive at (inc, mv) in this cluster. */
export function checkAliveProof (proof: Uint8Array | undefined, peerId: string, clusterId: string, node: string, inc: number, mv: number): boolean {
  return proof !== undefined && verifies(peerId, aliveBody(clusterId, node, inc, mv), proof)
}
