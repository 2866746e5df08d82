/** The allocator's pure core (SwarmKit's manager/allocator): published ports, host mode only. */
export { allocatePorts, portKey, portsTaken, DYNAMIC_PORT_START, DYNAMIC_PORT_END, type AllocatedPort, type PortAllocation } from './ports.js'
