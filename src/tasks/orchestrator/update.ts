/**
 * The updater's core (SwarmKit manager/orchestrator/update, its essentials): a task made from another
 * TaskTemplate or other ports than the service has now is out of date, and is replaced in its slot (or
 * on its node), at most UpdateConfig.Parallelism replacements in flight at a time, each batch
 * UpdateConfig.Delay after the last one started; stop-first, or start-first (the old task stops once its
 * replacement runs).
 */
import { isTerminal, taskStateRank } from '../executor/index.js'
import type { Plan } from './plan.js'
import type { ServiceObject, TaskObject } from './types.js'

/**
 * Whether replacements start before the task they replace stops (UpdateConfig.Order start-first): the
 * service never drops below its count. Default stop-first. A global service publishing host ports
 * stays stop-first: its replacement goes to the same node, where the old task holds the ports.
 */
export function startFirst (service: ServiceObject): boolean {
  if (service.spec.UpdateConfig?.Order !== 'start-first') return false
  return 'Replicated' in service.spec.Mode || service.endpoint.ports.length === 0
}

/** Docker's default UpdateConfig.Parallelism. */
export const DEFAULT_UPDATE_PARALLELISM = 1

/** Structural equality of two JSON-like values; an absent key equals an undefined one. */
function deepEqual (a: unknown, b: unknown): boolean {
  if (a === b) return true
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false
  if (Array.isArray(a) !== Array.isArray(b)) return false
  if (Array.isArray(a)) {
    const bb = b as unknown[]
    return a.length === bb.length && a.every((x, i) => deepEqual(x, bb[i]))
  }
  const ao = a as Record<string, unknown>
  const bo = b as Record<string, unknown>
  const ak = Object.keys(ao).filter(k => ao[k] !== undefined)
  const bk = Object.keys(bo).filter(k => bo[k] !== undefined)
  return ak.length === bk.length && ak.every(k => deepEqual(ao[k], bo[k]))
}

/**
 * Whether the task runs what the service specifies now (SwarmKit's !IsTaskDirty): its TaskTemplate and
 * ports equal the service's. A scale changes neither, so it replaces nothing; `--force` bumps
 * ForceUpdate, so it replaces everything.
 */
export function isTaskUpToDate (t: TaskObject, service: ServiceObject): boolean {
  return deepEqual(t.spec, service.spec.TaskTemplate) && deepEqual(t.ports, service.endpoint.ports)
}

/**
 * How many out-of-date tasks a pass may still replace once its other decisions are made: Parallelism
 * (0: all) minus the replacements in flight after the pass — the up-to-date tasks still meant to run
 * (the plan's view) that have not reached running, and the `creating` tasks the pass adds — and none
 * until UpdateConfig.Delay has passed since the last task made by this update reached running (the
 * plan is asked to wake then). Counted after the pass, so that applying it and reconciling again finds
 * no budget it did not use.
 */
export function updateBudget (plan: Plan, tasks: readonly TaskObject[], creating: number): number {
  const service = plan.service
  const config = service.spec.UpdateConfig
  const p = config?.Parallelism
  const parallelism = typeof p === 'number' && Number.isSafeInteger(p) && p >= 0 ? p : DEFAULT_UPDATE_PARALLELISM
  const d = config?.Delay
  const delayMs = typeof d === 'number' && Number.isFinite(d) && d > 0 ? d / 1e6 : 0
  let inFlight = creating
  let lastStartedMs: number | null = null
  for (const t of tasks) {
    if (plan.desiredState(t) !== 'running' || isTerminal(t.status.state) || !isTaskUpToDate(t, service)) continue
    if (taskStateRank(t.status.state) < taskStateRank('running')) inFlight++
    else if (t.createdAtMs >= service.updatedAtMs && (lastStartedMs === null || t.status.timestampMs > lastStartedMs)) lastStartedMs = t.status.timestampMs
  }
  if (delayMs > 0 && lastStartedMs !== null && plan.nowMs < lastStartedMs + delayMs) {
    plan.wakeAt(lastStartedMs + delayMs)
    return 0
  }
  if (parallelism === 0) return Number.POSITIVE_INFINITY
  return Math.max(0, parallelism - inFlight)
}
