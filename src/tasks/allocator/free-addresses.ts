/**
 * Handing out one overlay network's free host addresses, lowest first (libnetwork's default IPAM order),
 * to many tasks or nodes in one pass. Pure.
 */
import type { NetworkObject } from '../../election/index.js'
import { ipToNumber, numberToIp, parseCidr, type Cidr } from './ipam.js'

/** The lowest host address of `subnet` at or above `from` that is not in `used` (bare addresses); null when none is. */
export function lowestFreeFrom (subnet: Cidr, used: ReadonlySet<string>, from: number): number | null {
  // Neither the network address nor the broadcast address.
  const end = subnet.base + 2 ** (32 - subnet.bits) - 1
  for (let n = Math.max(from, subnet.base + 1); n < end; n++) {
    if (!used.has(numberToIp(n))) return n
  }
  return null
}

/**
 * The free addresses of `network`, given the bare addresses `used` (which it then owns and adds to).
 * Each `take` is the lowest free address, as a scan from the bottom of the subnet would find; it
 * remembers below which address all are taken, so that n takes cost one scan of the subnet, not n.
 */
export class FreeAddresses {
  private readonly subnet: Cidr
  /** Every host address below this one is taken. */
  private floor: number

  constructor (readonly network: NetworkObject, private readonly used: Set<string>) {
    this.subnet = parseCidr(network.subnet, `network ${network.name}`)
    this.floor = this.subnet.base + 1
  }

  /** The lowest free address, `a.b.c.d/bits`, now taken; null when the network is full. */
  take (): string | null {
    const n = lowestFreeFrom(this.subnet, this.used, this.floor)
    if (n === null) return null
    this.floor = n + 1
    const ip = numberToIp(n)
    this.used.add(ip)
    return `${ip}/${this.subnet.bits}`
  }

  /** Give back a bare address `take` returned: it is free again, and the lowest free if it is below the others. */
  release (ip: string): void {
    this.used.delete(ip)
    const n = ipToNumber(ip)
    if (n !== null && n < this.floor) this.floor = n
  }
}
