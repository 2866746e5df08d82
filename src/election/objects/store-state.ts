import type { ClusterObject } from './cluster.js'
import type { NodeObject, RevokedNode } from './node.js'
import type { ServiceObject } from './service.js'
import type { TaskObject } from './task.js'
import type { NetworkObject } from './network.js'
import type { ConfigObject, SecretObject } from './secret.js'

/**
 * The whole replicated state at `index` (the last applied Raft index). Immutable: applying a command
 * returns a new one. A new object kind (secrets, configs) is one more map here, its file in
 * this folder, its commands in state/commands.ts and its apply function in state/.
 */
export interface StoreState {
  readonly index: number
  readonly cluster: ClusterObject | null
  readonly nodes: ReadonlyMap<string, NodeObject>
  readonly revoked: ReadonlyMap<string, RevokedNode>
  readonly services: ReadonlyMap<string, ServiceObject>
  readonly tasks: ReadonlyMap<string, TaskObject>
  readonly networks: ReadonlyMap<string, NetworkObject>
  readonly secrets: ReadonlyMap<string, SecretObject>
  readonly configs: ReadonlyMap<string, ConfigObject>
}

export const EMPTY_STATE: StoreState = { index: 0, cluster: null, nodes: new Map(), revoked: new Map(), services: new Map(), tasks: new Map(), networks: new Map(), secrets: new Map(), configs: new Map() }
