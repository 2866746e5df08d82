import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, randomBytes, type KeyObject } from 'node:crypto'
import { decode, encode, isBytes, isRecord, isSafeUint } from './codec.js'
import { FlotillaError } from './errors.js'
import { isObjectId } from './ids.js'

/** A node's role in the cluster. It comes from the token a node joined with, never from what it claims. */
export type NodeRole = 'manager' | 'worker'

export function isNodeRole (v: unknown): v is NodeRole {
  return v === 'manager' || v === 'worker'
}

/**
 * What a node certificate asserts, signed by the cluster's root key (SwarmKit's node TLS certificate,
 * without X.509): this libp2p peer ID (authenticated by noise on every connection) is node `nodeId` of
 * cluster `clusterId` with role `role`.
 */
export interface CertificateClaims {
  readonly v: 1
  readonly clusterId: string
  readonly nodeId: string
  readonly peerId: string
  readonly role: NodeRole
  /** Wall-clock milliseconds at issue; becomes the node's CreatedAt. */
  readonly issuedAtMs: number
  /** Random, so that two certificates for the same node and role are still distinct. */
  readonly serial: string
}

/** The cluster root key pair (Ed25519). Managers hold the private half; every member holds the public one. */
export interface RootKeyPair {
  readonly publicKeyDer: Uint8Array // SPKI DER
  readonly privateKeyDer: Uint8Array // PKCS#8 DER
}

export function generateRootKeyPair (): RootKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519')
  return {
    publicKeyDer: new Uint8Array(publicKey.export({ type: 'spki', format: 'der' })),
    privateKeyDer: new Uint8Array(privateKey.export({ type: 'pkcs8', format: 'der' }))
  }
}

/** Parsed root keys by their DER (base64): a cluster has one, so this stays tiny. */
const publicKeys = new Map<string, KeyObject>()

export function rootPublicKey (der: Uint8Array): KeyObject {
  const k = Buffer.from(der).toString('base64')
  let key = publicKeys.get(k)
  if (key === undefined) {
    key = createPublicKey({ key: Buffer.from(der), format: 'der', type: 'spki' })
    if (publicKeys.size > 16) publicKeys.clear()
    publicKeys.set(k, key)
  }
  return key
}

function rootPrivateKey (der: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' })
}

/** Maximum size of an encoded certificate; anything larger is not one of ours. */
export const MAX_CERTIFICATE_BYTES = 1024

/** Sign `claims` with the root private key. Returns the encoded certificate: msgpack [claims bytes, signature]. */
export function issueCertificate (root: RootKeyPair, claims: Omit<CertificateClaims, 'v' | 'serial'>): Uint8Array {
  const full: CertificateClaims = { v: 1, ...claims, serial: randomBytes(8).toString('hex') }
  const body = encode(full)
  const signature = sign(null, body, rootPrivateKey(root.privateKeyDer))
  return encode([body, new Uint8Array(signature)])
}

/**
 * Verify an encoded certificate against the cluster's root public key and return its claims.
 * Throws `unauthenticated` when the signature, the cluster or the shape is wrong.
 */
export function verifyCertificate (encoded: Uint8Array, rootPublicKeyDer: Uint8Array, clusterId: string): CertificateClaims {
  // Every heartbeat carries its sender's certificate: verify each distinct one once. The cache key
  // covers the certificate, the root and the cluster, so a hit is the same verification's result.
  const cacheKey = `${clusterId}/${Buffer.from(rootPublicKeyDer).toString('base64')}/${Buffer.from(encoded).toString('base64')}`
  const cached = verified.get(cacheKey)
  if (cached !== undefined) return cached
  const claims = verifyUncached(encoded, rootPublicKeyDer, clusterId)
  if (verified.size >= MAX_VERIFIED) verified.delete(verified.keys().next().value!)
  verified.set(cacheKey, claims)
  return claims
}

/** Certificates already verified, oldest first; bounded so a flood of distinct forgeries cannot grow it. */
const verified = new Map<string, CertificateClaims>()
const MAX_VERIFIED = 4096

function verifyUncached (encoded: Uint8Array, rootPublicKeyDer: Uint8Array, clusterId: string): CertificateClaims {
  let outer: unknown
  try {
    outer = decode(encoded, MAX_CERTIFICATE_BYTES)
  } catch (err) {
    throw new FlotillaError('unauthenticated', 'certificate does not decode', { cause: err })
  }
  if (!Array.isArray(outer) || outer.length !== 2 || !isBytes(outer[0]) || !isBytes(outer[1])) {
    throw new FlotillaError('unauthenticated', 'certificate is malformed')
  }
  const [body, signature] = outer as [Uint8Array, Uint8Array]
  let ok = false
  try {
    ok = verify(null, body, rootPublicKey(rootPublicKeyDer), signature)
  } catch {
    ok = false
  }
  if (!ok) throw new FlotillaError('unauthenticated', 'certificate is not signed by this cluster\'s root key')
  const claims = decode(body, MAX_CERTIFICATE_BYTES)
  if (!isRecord(claims) || claims.v !== 1 || typeof claims.clusterId !== 'string' || typeof claims.nodeId !== 'string' ||
    !isObjectId(claims.nodeId) || typeof claims.peerId !== 'string' || !isNodeRole(claims.role) ||
    !isSafeUint(claims.issuedAtMs) || typeof claims.serial !== 'string') {
    throw new FlotillaError('unauthenticated', 'certificate claims are malformed')
  }
  if (claims.clusterId !== clusterId) {
    throw new FlotillaError('unauthenticated', `certificate is for cluster ${claims.clusterId}, not ${clusterId}`)
  }
  return claims as unknown as CertificateClaims
}

/** Read the claims of a certificate without verifying it (for a node's own, already verified, certificate). */
export function certificateClaims (encoded: Uint8Array): CertificateClaims {
  const outer = decode(encoded, MAX_CERTIFICATE_BYTES) as [Uint8Array, Uint8Array]
  return decode(outer[0], MAX_CERTIFICATE_BYTES) as CertificateClaims
}
