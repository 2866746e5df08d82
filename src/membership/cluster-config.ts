import { generateRootKeyPair, type RootKeyPair } from './certificate.js'
import { decode, encode, isBytes, isRecord, isSafeUint } from './codec.js'
import { FlotillaError } from './errors.js'
import { newObjectId } from './ids.js'
import { formatToken, newTokenSecret, type TokenSecrets } from './token.js'
import type { NodeRole } from './certificate.js'

/**
 * What managers hold and workers never see: the cluster's root key pair, the join-token secrets and
 * the swarm spec. Managers exchange it directly (never over gossip) and keep the newest by
 * (version, updatedBy). The replicated store of the election layer takes this over.
 */
export interface ClusterConfig {
  readonly clusterId: string
  readonly root: RootKeyPair
  readonly secrets: TokenSecrets
  /** Docker's SwarmSpec as last set through `swarm update`; validated by the control socket. */
  readonly spec: Readonly<Record<string, unknown>>
  /** Grows with each change (token rotation, spec update); the cluster's Version.Index. */
  readonly version: number
  readonly createdAtMs: number
  readonly updatedAtMs: number
  /** Node ID of the manager that made the last change: breaks ties between concurrent changes. */
  readonly updatedBy: string
}

export function newClusterConfig (nodeId: string, spec: Readonly<Record<string, unknown>>, nowMs: number): ClusterConfig {
  return {
    clusterId: newObjectId(),
    root: generateRootKeyPair(),
    secrets: { worker: newTokenSecret(), manager: newTokenSecret() },
    spec,
    version: 1,
    createdAtMs: nowMs,
    updatedAtMs: nowMs,
    updatedBy: nodeId
  }
}

/** A rotated token: a fresh secret for `role`; the old one admits no one from then on. */
export function rotateToken (config: ClusterConfig, role: NodeRole, nodeId: string, nowMs: number): ClusterConfig {
  return {
    ...config,
    secrets: { ...config.secrets, [role]: newTokenSecret() },
    version: config.version + 1,
    updatedAtMs: nowMs,
    updatedBy: nodeId
  }
}

export function withSpec (config: ClusterConfig, spec: Readonly<Record<string, unknown>>, nodeId: string, nowMs: number): ClusterConfig {
  return { ...config, spec, version: config.version + 1, updatedAtMs: nowMs, updatedBy: nodeId }
}

/** True when `a` supersedes `b`: a higher version, or the same version from a higher node ID. */
export function isNewer (a: ClusterConfig, b: ClusterConfig): boolean {
  return a.version > b.version || (a.version === b.version && a.updatedBy > b.updatedBy)
}

export function joinToken (config: ClusterConfig, role: NodeRole): string {
  return formatToken(config.root.publicKeyDer, config.secrets[role])
}

const MAX_CONFIG_BYTES = 256 * 1024

export function encodeClusterConfig (config: ClusterConfig): Uint8Array {
  return encode(config)
}

export function decodeClusterConfig (bytes: Uint8Array): ClusterConfig {
  const v = decode(bytes, MAX_CONFIG_BYTES)
  if (!isRecord(v) || typeof v.clusterId !== 'string' || !isRecord(v.root) || !isBytes(v.root.publicKeyDer) ||
    !isBytes(v.root.privateKeyDer) || !isRecord(v.secrets) || typeof v.secrets.worker !== 'string' ||
    typeof v.secrets.manager !== 'string' || !isRecord(v.spec) || !isSafeUint(v.version) || !isSafeUint(v.createdAtMs) ||
    !isSafeUint(v.updatedAtMs) || typeof v.updatedBy !== 'string') {
    throw new FlotillaError('invalid-argument', 'cluster configuration is malformed')
  }
  return {
    clusterId: v.clusterId,
    root: { publicKeyDer: new Uint8Array(v.root.publicKeyDer), privateKeyDer: new Uint8Array(v.root.privateKeyDer) },
    secrets: { worker: v.secrets.worker, manager: v.secrets.manager },
    spec: v.spec,
    version: v.version,
    createdAtMs: v.createdAtMs,
    updatedAtMs: v.updatedAtMs,
    updatedBy: v.updatedBy
  }
}
