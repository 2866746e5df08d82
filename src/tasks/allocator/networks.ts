/**
 * Allocating a new overlay network (SwarmKit's allocator, network part): its subnet — the one asked for,
 * checked against the others, or the lowest free one of the cluster's address pools — its gateway and
 * its VXLAN ID. Pure: the control socket calls it on the leader with the store's networks, and the store
 * checks the result again at apply.
 */
import type { AddressPool, NetworkObject, NetworkSpec } from '../../election/index.js'
import { FlotillaError } from '../../membership/errors.js'
import { allocateSubnet, allocateVxlanId, checkGateway, defaultGateway, formatCidr, overlaps, parseCidr, type Cidr } from './ipam.js'

/** The routing mesh's network, made by `swarm init` (Docker's `ingress`). */
export function ingressSpec (): NetworkSpec {
  return {
    Name: 'ingress',
    Labels: {},
    Driver: 'overlay',
    Options: {},
    Attachable: false,
    Internal: false,
    Ingress: true,
    IPAM: { Driver: 'default', Config: [], Options: {} }
  }
}

/** Check a DefaultAddrPool and SubnetSize given at `swarm init`; throws a 400 naming the field. */
export function checkAddressPool (pool: AddressPool): AddressPool {
  if (pool.defaultAddrPool.length === 0) throw new FlotillaError('invalid-argument', 'DefaultAddrPool: at least one IPv4 prefix is needed')
  const cidrs = pool.defaultAddrPool.map((p, i) => parseCidr(p, `DefaultAddrPool[${i}]`))
  if (!Number.isInteger(pool.subnetSize) || pool.subnetSize < 1 || pool.subnetSize > 29) {
    throw new FlotillaError('invalid-argument', `SubnetSize: ${pool.subnetSize} is out of range: from 1 to 29`)
  }
  for (const [i, c] of cidrs.entries()) {
    if (c.bits > pool.subnetSize) throw new FlotillaError('invalid-argument', `DefaultAddrPool[${i}]: ${formatCidr(c)} is smaller than a /${pool.subnetSize} subnet (SubnetSize)`)
  }
  return pool
}

/**
 * The network object for `spec`, with ID `id`, made at `nowMs`, among the `existing` networks.
 * Refuses (409) a name that is taken or a Subnet that overlaps another network's; a Gateway outside the
 * Subnet is a 400; a full pool is a 503 saying what to do.
 */
export function allocateNetwork (
  spec: NetworkSpec, id: string, existing: Iterable<NetworkObject>, pool: AddressPool, nowMs: number
): Omit<NetworkObject, 'version'> {
  const others = [...existing]
  if (others.some(n => n.name === spec.Name)) throw new FlotillaError('conflict', `network with name ${spec.Name} already exists`)
  const taken: Cidr[] = others.map(n => parseCidr(n.subnet, `network ${n.name}`))
  const asked = spec.IPAM.Config[0]
  let subnet: Cidr
  let gateway: string
  if (asked?.Subnet !== undefined && asked.Subnet !== '') {
    subnet = parseCidr(asked.Subnet, 'IPAM.Config[0].Subnet')
    if (subnet.bits > 29) throw new FlotillaError('invalid-argument', `IPAM.Config[0].Subnet: ${asked.Subnet} is too small; a /29 or larger is needed`)
    const clash = others.find(n => overlaps(parseCidr(n.subnet, n.name), subnet))
    if (clash !== undefined) throw new FlotillaError('conflict', `subnet ${asked.Subnet} overlaps network ${clash.name}'s ${clash.subnet}`)
    gateway = asked.Gateway !== undefined && asked.Gateway !== '' ? checkGateway(subnet, asked.Gateway, 'IPAM.Config[0].Gateway') : defaultGateway(subnet)
  } else {
    if (asked?.Gateway !== undefined && asked.Gateway !== '') throw new FlotillaError('invalid-argument', 'IPAM.Config[0].Gateway needs a Subnet')
    subnet = allocateSubnet(pool.defaultAddrPool, pool.subnetSize, taken)
    gateway = defaultGateway(subnet)
  }
  return {
    id,
    name: spec.Name,
    createdAtMs: nowMs,
    updatedAtMs: nowMs,
    spec,
    subnet: formatCidr(subnet),
    gateway,
    vxlanId: allocateVxlanId(others.map(n => n.vxlanId))
  }
}
