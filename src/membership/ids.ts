import { randomBytes } from 'node:crypto'

const BASE36 = '0123456789abcdefghijklmnopqrstuvwxyz'

/** Base36 (0-9a-z) of a big-endian byte string, left-padded with '0' to `width` characters. */
export function base36 (bytes: Uint8Array, width: number): string {
  let n = 0n
  for (const b of bytes) n = (n << 8n) | BigInt(b)
  let out = ''
  while (n > 0n) {
    out = BASE36[Number(n % 36n)]! + out
    n /= 36n
  }
  return out.padStart(width, '0')
}

/**
 * A random object ID in Docker's form: 25 lowercase alphanumerics carrying 128 random bits
 * (36^25 > 2^128, so the encoding never exceeds 25 characters). Used for node, cluster and later
 * service and task IDs.
 */
export function newObjectId (): string {
  return base36(randomBytes(16), 25)
}

/** True when `s` has the shape of an object ID (not a proof it exists). */
export function isObjectId (s: string): boolean {
  return /^[0-9a-z]{25}$/.test(s)
}
