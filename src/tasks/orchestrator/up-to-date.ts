import type { ServiceObject, TaskObject } from './types.js'

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
