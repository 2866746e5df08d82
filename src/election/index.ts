/** The election layer: Raft among managers, its storage and transport, and the replicated cluster store. */
export { Manager, check, type ManagerDeps, type ManagerStart, type ClusterMaterial, type SessionAnswer, type LeaderRole } from './manager.js'
export { ClusterStore } from './state/store.js'
export * from './objects/index.js'
export type { Command, TaskPlacement, TaskReport } from './state/commands.js'
export type { StoreEvent } from './state/apply.js'
export { DEFAULT_RAFT_TIMING, PROPOSAL_TIMEOUT_MS, QUORUM_HINT, LOST_LEADERSHIP } from './raft-node.js'
export { NotLeaderError } from './errors.js'
export { addressesInUse, addressClash, bareAddress } from './state/addresses.js'
