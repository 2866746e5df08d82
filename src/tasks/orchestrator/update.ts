/**
 * The updater's core (SwarmKit manager/orchestrator/update, its essentials): a task made from another
 * TaskTemplate or other ports than the service has now is out of date, and is replaced in its slot (or
 * on its node), at most UpdateConfig.Parallelism replacements in flight at a time, stop-first.
 */
import { isTerminal, taskStateRank, type DesiredState } from '../executor/index.js'
import type { ServiceObject, TaskObject } from './types.js'

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
 * (`desired`, the pass's view) that have not reached running, and the `creating` tasks the pass adds.
 * Counted after the pass, so that applying it and reconciling again finds no budget it did not use.
 */
export function updateBudget (service: ServiceObject, tasks: readonly TaskObject[], desired: (t: TaskObject) => DesiredState, creating: number): number {
  const p = service.spec.UpdateConfig?.Parallelism
  const parallelism = typeof p === 'number' && Number.isSafeInteger(p) && p >= 0 ? p : DEFAULT_UPDATE_PARALLELISM
  if (parallelism === 0) return Number.POSITIVE_INFINITY
  let inFlight = creating
  for (const t of tasks) {
    if (desired(t) !== 'running' || isTerminal(t.status.state)) continue
    if (taskStateRank(t.status.state) < taskStateRank('running') && isTaskUpToDate(t, service)) inFlight++
  }
  return Math.max(0, parallelism - inFlight)
}
