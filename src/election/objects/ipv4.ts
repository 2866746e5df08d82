/**
 * IPv4 addresses and prefixes as numbers: shared by the store, which checks every subnet and address
 * again when it applies a command, and by the allocator on the leader, which chooses them.
 */
import { FlotillaError } from '../../membership/errors.js'

/** An IPv4 prefix as numbers: `base` is the network address (host bits zero), `bits` the prefix length. */
export interface Cidr {
  readonly base: number
  readonly bits: number
}

/** `a.b.c.d` as a number; null when it is not a dotted IPv4 address. */
export function ipToNumber (ip: string): number | null {
  const parts = ip.split('.')
  if (parts.length !== 4) return null
  let n = 0
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return null
    const v = Number(p)
    if (v > 255) return null
    n = n * 256 + v
  }
  return n
}

export function numberToIp (n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`
}

/** Parse `a.b.c.d/n`; throws a 400 naming `field` when it is not an IPv4 prefix with its host bits zero. */
export function parseCidr (text: string, field: string): Cidr {
  const m = /^([0-9.]+)\/(\d{1,2})$/.exec(text)
  const base = m === null ? null : ipToNumber(m[1]!)
  const bits = m === null ? NaN : Number(m[2])
  if (base === null || !(bits >= 0 && bits <= 32)) {
    throw new FlotillaError('invalid-argument', `${field}: "${text}" is not an IPv4 subnet such as 10.0.9.0/24`)
  }
  const mask = bits === 0 ? 0 : (0xffff_ffff << (32 - bits)) >>> 0
  if (((base & mask) >>> 0) !== base) {
    throw new FlotillaError('invalid-argument', `${field}: "${text}" has host bits set; the subnet is ${numberToIp((base & mask) >>> 0)}/${bits}`)
  }
  return { base, bits }
}

export function formatCidr (c: Cidr): string {
  return `${numberToIp(c.base)}/${c.bits}`
}

/** How many addresses `c` spans. */
export function cidrSize (c: Cidr): number {
  return 2 ** (32 - c.bits)
}

/** Whether two prefixes share any address. */
export function overlaps (a: Cidr, b: Cidr): boolean {
  return a.base < b.base + cidrSize(b) && b.base < a.base + cidrSize(a)
}
