/** The allocator's pure core (SwarmKit's manager/allocator): published ports (host mode), and overlay networks' subnets and VXLAN IDs. */
export { allocatePorts, portKey, portsTaken, DYNAMIC_PORT_START, DYNAMIC_PORT_END, type AllocatedPort, type PortAllocation } from './ports.js'
export { allocateNetwork, checkAddressPool, ingressSpec } from './networks.js'
export {
  parseCidr, formatCidr, overlaps, contains, allocateSubnet, allocateVxlanId, defaultGateway, DEFAULT_SUBNET_SIZE, VXLAN_ID_START, type Cidr
} from './ipam.js'
