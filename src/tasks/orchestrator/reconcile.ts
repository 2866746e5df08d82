/**
 * The orchestrator core: one pure pass over one service (SwarmKit's replicated and global orchestrators,
 * restart supervisor and task reaper). The driver that watches the store calls it whenever the service,
 * its tasks or the nodes change, and when `nextWakeMs` comes; it writes the result in one transaction.
 */
import { FlotillaError } from '../../membership/errors.js'
import { parseConstraints } from '../scheduler/index.js'
import { reconcileGlobal } from './global.js'
import { DEFAULT_TASK_HISTORY_RETENTION_LIMIT, historyToDelete, olderFirst, type HistoryTask } from './history.js'
import { orphanTasks } from './nodes.js'
import { Plan } from './plan.js'
import { reconcileReplicated } from './replicated.js'
import { restartPolicy } from './restart.js'
import { beginUpdate, finishUpdate } from './update.js'
import type { OrchestratorConfig, OrchestratorInit, ReconcileInput, ReconcileResult, TaskDeletion } from './types.js'

/** SwarmKit's dispatcher orphans a down node's tasks after 24 hours. */
export const DEFAULT_ORPHANED_TASK_AFTER_MS = 24 * 60 * 60 * 1000

export const DEFAULT_ORCHESTRATOR_CONFIG: OrchestratorConfig = Object.freeze({
  taskHistoryRetentionLimit: DEFAULT_TASK_HISTORY_RETENTION_LIMIT,
  orphanedTaskAfterMs: DEFAULT_ORPHANED_TASK_AFTER_MS
})

/** Resolve, validate and freeze; throws FlotillaError('invalid-argument') naming the bad field. */
export function orchestratorConfig (init: OrchestratorInit = {}): OrchestratorConfig {
  const limit = init.taskHistoryRetentionLimit ?? DEFAULT_TASK_HISTORY_RETENTION_LIMIT
  if (!Number.isSafeInteger(limit)) {
    throw new FlotillaError('invalid-argument', `invalid taskHistoryRetentionLimit ${limit}`, { hint: 'give an integer; a negative one keeps all history' })
  }
  const orphanedTaskAfterMs = init.orphanedTaskAfterMs ?? DEFAULT_ORPHANED_TASK_AFTER_MS
  if (!Number.isFinite(orphanedTaskAfterMs) || orphanedTaskAfterMs < 0) {
    throw new FlotillaError('invalid-argument', `invalid orphanedTaskAfterMs ${orphanedTaskAfterMs}`, { hint: 'give a non-negative number of milliseconds' })
  }
  return Object.freeze({ taskHistoryRetentionLimit: limit, orphanedTaskAfterMs })
}

/**
 * Reconcile one service at `nowMs`: restart or replace its tasks, scale it, update it (and carry its
 * UpdateStatus on), rebalance it, orphan what down or removed nodes ran, and trim its history. Pure and deterministic: the same input and the same `newId` sequence
 * give the same result; calling it again on the applied result changes nothing until a task, a node,
 * the service or the time (`nextWakeMs`) moves on. Throws FlotillaError('invalid-argument') when the
 * spec is malformed (Replicas, RestartPolicy, Constraints of a global service).
 */
export function reconcile (input: ReconcileInput): ReconcileResult {
  const { service, nowMs } = input
  const config = input.config ?? DEFAULT_ORCHESTRATOR_CONFIG
  const tasks = input.tasks.filter(t => t.serviceId === service.id)
  const nodes = new Map(input.nodes.map(n => [n.id, n]))
  const policy = restartPolicy(service.spec)
  const plan = new Plan(service, nowMs, input.newId)
  const mode = service.spec.Mode
  let groupOf: (t: { slot: number | null, nodeId: string | null }) => { key: string, removed: boolean }
  if ('Replicated' in mode) {
    const replicas = mode.Replicated.Replicas
    if (!Number.isSafeInteger(replicas) || replicas < 0) {
      throw new FlotillaError('invalid-argument', `invalid Replicas ${replicas} for service ${service.name}`, { hint: 'give a non-negative integer' })
    }
    const verdict = beginUpdate(plan, tasks, Math.max(1, replicas))
    const existing = reconcileReplicated(plan, replicas, tasks, nodes, policy, verdict)
    finishUpdate(plan, tasks, verdict, nodes)
    groupOf = t => ({ key: String(t.slot), removed: t.slot === null || !existing.has(t.slot) })
  } else {
    const constraints = parseConstraints(service.spec.TaskTemplate.Placement?.Constraints ?? [])
    const slots = new Set(tasks.filter(t => t.desiredState === 'running').map(t => t.nodeId)).size
    const verdict = beginUpdate(plan, tasks, Math.max(1, slots))
    reconcileGlobal(plan, tasks, nodes, constraints, policy, verdict)
    finishUpdate(plan, tasks, verdict, nodes)
    groupOf = t => ({ key: String(t.nodeId), removed: t.nodeId === null || !nodes.has(t.nodeId) })
  }
  orphanTasks(plan, tasks, nodes, config)

  const groups = new Map<string, { removed: boolean, tasks: HistoryTask[] }>()
  for (const t of plan.view(tasks)) {
    const { key, removed } = groupOf(t)
    const group = groups.get(key) ?? { removed, tasks: [] }
    group.tasks.push(t)
    groups.set(key, group)
  }
  const doomed: HistoryTask[] = []
  for (const g of groups.values()) doomed.push(...historyToDelete(g.tasks, config.taskHistoryRetentionLimit, g.removed))
  const deletions: TaskDeletion[] = doomed.sort(olderFirst).flatMap(t => (t.version === null ? [] : [{ id: t.id, version: t.version }]))
  return plan.result(deletions)
}
