import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { FlotillaError } from './errors.js'
import { base36 } from './ids.js'
import type { NodeRole } from './certificate.js'

/**
 * Join tokens as Swarm's (`SWMTKN-1-<CA digest>-<secret>`): `FLTKN-1-<digest>-<secret>` where digest is
 * the base36 SHA-256 of the cluster root public key (50 characters), letting a joiner check that the node
 * it dialled belongs to the cluster the token names before revealing the secret, and secret is 128 random
 * bits in base36 (25 characters). The worker and the manager token share the digest and differ in secret.
 */
export const TOKEN_PREFIX = 'FLTKN-1-'

export interface ParsedToken {
  readonly rootDigest: string
  readonly secret: string
}

export function rootKeyDigest (rootPublicKeyDer: Uint8Array): string {
  return base36(createHash('sha256').update(rootPublicKeyDer).digest(), 50)
}

export function newTokenSecret (): string {
  return base36(randomBytes(16), 25)
}

export function formatToken (rootPublicKeyDer: Uint8Array, secret: string): string {
  return `${TOKEN_PREFIX}${rootKeyDigest(rootPublicKeyDer)}-${secret}`
}

const TOKEN_RE = /^FLTKN-1-([0-9a-z]{50})-([0-9a-z]{25})$/

/** Parse a token's shape; throws `invalid-argument` with a hint when it is not a flotilla join token. */
export function parseToken (token: string): ParsedToken {
  const m = TOKEN_RE.exec(token.trim())
  if (m === null) {
    throw new FlotillaError('invalid-argument', 'invalid join token: not of the form FLTKN-1-<digest>-<secret>', {
      hint: 'copy the token printed by `flotilla swarm join-token worker` (or manager) on a manager'
    })
  }
  return { rootDigest: m[1]!, secret: m[2]! }
}

/** The two live secrets; which one a presented secret matches decides the joiner's role. */
export interface TokenSecrets {
  readonly worker: string
  readonly manager: string
}

function same (a: string, b: string): boolean {
  // Hash both sides so that lengths are equal and the comparison time says nothing about the secret.
  const ha = createHash('sha256').update(a).digest()
  const hb = createHash('sha256').update(b).digest()
  return timingSafeEqual(ha, hb)
}

/** The role a presented secret grants, or null. Both comparisons always run (constant time). */
export function roleForSecret (secrets: TokenSecrets, presented: string): NodeRole | null {
  const isWorker = same(secrets.worker, presented)
  const isManager = same(secrets.manager, presented)
  if (isManager) return 'manager'
  if (isWorker) return 'worker'
  return null
}
