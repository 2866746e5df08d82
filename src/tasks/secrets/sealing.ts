/**
 * Sealing secrets for the replicated store: AES-256-GCM under a key derived (HKDF-SHA256) from the
 * cluster's root CA key, so that no Raft entry, snapshot or data dir holds a secret's plaintext, and
 * every manager (each holds the cluster object) can open what any other sealed. The secret's ID is the
 * additional data: a sealed blob moved to another secret does not open.
 *
 * What it is not: protection against someone who reads a manager's whole data dir, which holds the root
 * key too (Docker's unlocked swarm keeps its Raft data key beside the data likewise; its `autolock`,
 * a key kept off the disk, has no counterpart here yet).
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto'
import { FlotillaError } from '../../membership/errors.js'

const NONCE_BYTES = 12
const TAG_BYTES = 16
const INFO = 'flotilla secrets v1'

/** The secrets key of a cluster whose root CA private key (DER) is `rootKey`. */
export function secretsKey (rootKey: Uint8Array): Buffer {
  return Buffer.from(hkdfSync('sha256', rootKey, Buffer.alloc(0), INFO, 32))
}

/** `plain` sealed for secret `id`: nonce | ciphertext | tag. `nonce` is for tests; random otherwise. */
export function seal (key: Uint8Array, id: string, plain: Uint8Array, nonce: Uint8Array = randomBytes(NONCE_BYTES)): Uint8Array {
  const cipher = createCipheriv('aes-256-gcm', key, nonce)
  cipher.setAAD(Buffer.from(id))
  const body = Buffer.concat([cipher.update(plain), cipher.final()])
  return Buffer.concat([nonce, body, cipher.getAuthTag()])
}

/** The plaintext of secret `id`; throws (internal) when the blob does not open under `key`. */
export function unseal (key: Uint8Array, id: string, sealed: Uint8Array): Uint8Array {
  if (sealed.length < NONCE_BYTES + TAG_BYTES) throw new FlotillaError('internal', `secret ${id} is not a sealed blob`)
  const buf = Buffer.from(sealed)
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, buf.subarray(0, NONCE_BYTES))
    decipher.setAAD(Buffer.from(id))
    decipher.setAuthTag(buf.subarray(buf.length - TAG_BYTES))
    return Buffer.concat([decipher.update(buf.subarray(NONCE_BYTES, buf.length - TAG_BYTES)), decipher.final()])
  } catch (err) {
    throw new FlotillaError('internal', `secret ${id} does not open under this cluster's key`, { cause: err })
  }
}
