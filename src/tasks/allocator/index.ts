/**
 * The allocator's pure core (SwarmKit's manager/allocator): published ports, overlay networks' subnets and
 * VXLAN IDs, and addresses on them (service VIPs, task and node addresses).
 */
export { allocatePorts, portKey, portsTaken, DYNAMIC_PORT_START, DYNAMIC_PORT_END, type AllocatedPort, type PortAllocation } from './ports.js'
export { allocateNetwork, checkAddressPool, ingressSpec } from './networks.js'
export { AddressBook, allocateVirtualIps, ingressNetwork, lowestFreeAddress, nodeAddressesNeeded, publishesIngress, serviceNetworkIds } from './addresses.js'
export {
  parseCidr, formatCidr, overlaps, contains, allocateSubnet, allocateVxlanId, defaultGateway, DEFAULT_SUBNET_SIZE, VXLAN_ID_START, type Cidr
} from './ipam.js'
