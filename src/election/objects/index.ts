/**
 * The cluster's object model (SwarmKit's api): what the replicated store holds. Imports nothing but
 * membership's identity types; the store (state/) applies commands to it, and the tasks layer reads it.
 */
export { DEFAULT_ADDRESS_POOL, type ClusterObject, type AddressPool } from './cluster.js'
export { UNKNOWN_NODE_STATUS, type Availability, type NodeSpec, type NodeStatus, type NodeObject, type NodeNetworkAddress, type RevokedNode } from './node.js'
export type { ContainerSpec, HealthConfig, TaskResources, FileTarget, SecretReference, ConfigReference } from './container.js'
export { TASK_STATES, taskStateRank, isTerminal, type TaskState, type DesiredState } from './task-state.js'
export { portKey, type PortProtocol, type AllocatedPort } from './ports.js'
export type {
  RestartCondition, RestartPolicy, PlacementPreference, Placement, TaskTemplate, ServiceMode, PortConfig, EndpointSpec,
  UpdateFailureAction, UpdateConfig, UpdateState, UpdateStatus, ServiceSpec, ServiceObject, NetworkAttachmentConfig, ServiceEndpoint, VirtualIp
} from './service.js'
export type { TaskStatus, TaskObject, NewTask, TaskUpdate, TaskDeletion, TaskNetworkAddress } from './task.js'
export type { NetworkSpec, NetworkIpamConfig, NetworkObject } from './network.js'
export type { BlobObject, BlobSpec, SecretObject, ConfigObject } from './secret.js'
export { EMPTY_STATE, type StoreState } from './store-state.js'
export { cidrSize, formatCidr, ipToNumber, numberToIp, overlaps, parseCidr, type Cidr } from './ipv4.js'
