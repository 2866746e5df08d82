/**
 * The address allocator's pure core (SwarmKit's manager/allocator/cnmallocator with libnetwork's default
 * IPAM): a subnet per overlay network carved from the cluster's address pools, and a VXLAN ID per
 * network. IPv4 only. No I/O, no clock, no randomness: the same inputs give the same answer, so a new
 * leader allocates as its predecessor would have.
 */
import { FlotillaError } from '../../membership/errors.js'
import { cidrSize as size, formatCidr, ipToNumber, numberToIp, overlaps, parseCidr, type Cidr } from '../../election/index.js'

export { formatCidr, ipToNumber, numberToIp, overlaps, parseCidr, type Cidr } from '../../election/index.js'

/** Docker's defaults: `DefaultAddrPool` 10.0.0.0/8 carved into /24 subnets (`SubnetSize`). */
export const DEFAULT_ADDR_POOL: readonly string[] = Object.freeze(['10.0.0.0/8'])
export const DEFAULT_SUBNET_SIZE = 24
/** The ingress network's subnet, as Docker's (`docker network inspect ingress`). */
export const INGRESS_SUBNET = '10.0.0.0/24'
/** VXLAN network identifiers: libnetwork's overlay driver starts at 4096 (below are left to others); 24 bits. */
export const VXLAN_ID_START = 4096
export const VXLAN_ID_END = 0xff_ffff

/** Whether `ip` (dotted) lies in `c`. */
export function contains (c: Cidr, ip: string): boolean {
  const n = ipToNumber(ip)
  return n !== null && n >= c.base && n < c.base + size(c)
}

/** A subnet's gateway as libnetwork's IPAM picks it: the first host address (`10.0.1.1` of `10.0.1.0/24`). */
export function defaultGateway (subnet: Cidr): string {
  return numberToIp(subnet.base + 1)
}

/** Check a gateway given with a subnet: a host address of it, not its network or broadcast address. */
export function checkGateway (subnet: Cidr, gateway: string, field: string): string {
  const n = ipToNumber(gateway)
  if (n === null || n <= subnet.base || n >= subnet.base + size(subnet) - 1) {
    throw new FlotillaError('invalid-argument', `${field}: "${gateway}" is not a host address of ${formatCidr(subnet)}`)
  }
  return gateway
}

/**
 * The lowest `subnetSize` subnet of `pools`, in pool order, that overlaps none of `taken` (SwarmKit's
 * default address pool allocation). Throws 'unavailable' with what to do when every one is taken.
 */
export function allocateSubnet (pools: readonly string[], subnetSize: number, taken: readonly Cidr[]): Cidr {
  if (!Number.isInteger(subnetSize) || subnetSize < 1 || subnetSize > 29) {
    throw new FlotillaError('invalid-argument', `SubnetSize ${subnetSize} is out of range: from 1 to 29`)
  }
  for (const [i, text] of pools.entries()) {
    const pool = parseCidr(text, `DefaultAddrPool[${i}]`)
    if (pool.bits > subnetSize) continue
    const step = 2 ** (32 - subnetSize)
    for (let base = pool.base; base < pool.base + size(pool); base += step) {
      const candidate = { base, bits: subnetSize }
      if (!taken.some(t => overlaps(t, candidate))) return candidate
    }
  }
  throw new FlotillaError('unavailable', `no /${subnetSize} subnet is left in the address pools ${pools.join(', ')}`, {
    hint: 'remove unused networks, or give the network a Subnet of its own (`--subnet`)'
  })
}

/** The lowest VXLAN ID at or above VXLAN_ID_START that no network holds. */
export function allocateVxlanId (taken: Iterable<number>): number {
  const used = new Set(taken)
  for (let id = VXLAN_ID_START; id <= VXLAN_ID_END; id++) if (!used.has(id)) return id
  throw new FlotillaError('unavailable', 'every VXLAN ID is taken')
}
