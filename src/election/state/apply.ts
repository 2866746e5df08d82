import type { Command } from './commands.js'
import type { StoreState } from '../objects/index.js'
import type { Applied } from './applied.js'
import { applyClusterCommand } from './apply-cluster.js'
import { applyBlobCreate, applyBlobRemove, applyBlobUpdate } from './apply-blobs.js'
import { applyNetworkCreate, applyNetworkRemove, applyNodeNetworks } from './apply-networks.js'
import {
  applyNodeStatus, applyServiceCreate, applyServiceRemove, applyServiceRollback, applyServiceRebalance, applyServiceUpdate, applyTasksReconcile, applyTasksReport, applyTasksSchedule
} from './apply-tasks.js'

export type { ApplyResult, StoreEvent, Applied } from './applied.js'
export { secretDigest } from './apply-cluster.js'

/**
 * Apply the command of the entry at `index` to `state`. Pure and deterministic: the same state, index
 * and command give the same result on every manager. A refused command changes nothing but `index`.
 */
export function applyCommand (state: StoreState, index: number, cmd: Command): Applied {
  switch (cmd.op) {
    case 'cluster.init':
    case 'node.admit':
    case 'node.update':
    case 'node.certificate':
    case 'node.remove':
    case 'cluster.update': return applyClusterCommand(state, index, cmd)
    case 'network.create': return applyNetworkCreate(state, index, cmd)
    case 'network.remove': return applyNetworkRemove(state, index, cmd)
    case 'secret.create':
    case 'config.create': return applyBlobCreate(state, index, cmd)
    case 'secret.update':
    case 'config.update': return applyBlobUpdate(state, index, cmd)
    case 'secret.remove':
    case 'config.remove': return applyBlobRemove(state, index, cmd)
    case 'node.status': return applyNodeStatus(state, index, cmd)
    case 'node.networks': return applyNodeNetworks(state, index, cmd)
    case 'service.create': return applyServiceCreate(state, index, cmd)
    case 'service.update': return applyServiceUpdate(state, index, cmd)
    case 'service.remove': return applyServiceRemove(state, index, cmd)
    case 'service.rollback': return applyServiceRollback(state, index, cmd)
    case 'service.rebalance': return applyServiceRebalance(state, index, cmd)
    case 'tasks.reconcile': return applyTasksReconcile(state, index, cmd)
    case 'tasks.schedule': return applyTasksSchedule(state, index, cmd)
    case 'tasks.report': return applyTasksReport(state, index, cmd)
  }
}
