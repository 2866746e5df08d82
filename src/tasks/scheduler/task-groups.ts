/**
 * Splitting a batch into global tasks and groups of replicated tasks that place alike (SwarmKit's task
 * groups: one service, one spec version). The filters run once per group, so this must be cheap per
 * task: a task is compared field by field with the first task of each group of its service (usually
 * one or two), and a service with many distinct specs falls back to a string key per task.
 */
import { FlotillaError } from '../../membership/errors.js'
import type { TaskToPlace } from './types.js'

export interface TaskGroup {
  readonly serviceId: string
  /** Input order; the first is the group's representative. */
  readonly tasks: TaskToPlace[]
}

export interface SplitBatch {
  /** Tasks with a nodeId, in input order. */
  readonly globals: TaskToPlace[]
  /** Groups in service ID order, groups of one service in order of first appearance. */
  readonly groups: TaskGroup[]
}

/** Past this many groups in one service, lookups go through specKey instead of a scan. */
const SCAN_LIMIT = 8

function sameArray<T> (a: readonly T[], b: readonly T[], same: (x: T, y: T) => boolean): boolean {
  if (a === b) return true
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) {
    if (!same(a[i]!, b[i]!)) return false
  }
  return true
}

/** Whether two tasks of one service place alike: every field the scheduler reads, except id and slot. */
export function samePlacement (a: TaskToPlace, b: TaskToPlace): boolean {
  return a.serviceId === b.serviceId &&
    a.reservations.nanoCpus === b.reservations.nanoCpus &&
    a.reservations.memoryBytes === b.reservations.memoryBytes &&
    a.maxReplicas === b.maxReplicas &&
    sameArray(a.constraints, b.constraints, (x, y) => x === y) &&
    sameArray(a.preferences, b.preferences, (x, y) => x.Spread.SpreadDescriptor === y.Spread.SpreadDescriptor) &&
    sameArray(a.hostPorts, b.hostPorts, (x, y) => x.protocol === y.protocol && x.publishedPort === y.publishedPort) &&
    sameArray(a.platforms, b.platforms, (x, y) => x.os === y.os && x.arch === y.arch)
}

/**
 * A string equal for two tasks exactly when samePlacement holds. Every string is length-prefixed, so
 * no content can forge a separator.
 */
export function specKey (task: TaskToPlace): string {
  const r = task.reservations
  let key = `${task.serviceId.length}:${task.serviceId}|${r.nanoCpus}|${r.memoryBytes}|${task.maxReplicas}|c`
  for (const c of task.constraints) key += `${c.length}:${c}`
  key += '|s'
  for (const p of task.preferences) key += `${p.Spread.SpreadDescriptor.length}:${p.Spread.SpreadDescriptor}`
  key += '|p'
  for (const p of task.hostPorts) key += `${p.protocol}/${p.publishedPort},`
  key += '|o'
  for (const p of task.platforms) key += `${p.os.length}:${p.os}${p.arch.length}:${p.arch}`
  return key
}

interface ServiceGroups {
  readonly list: TaskGroup[]
  byKey: Map<string, TaskGroup> | null
}

function findGroup (service: ServiceGroups, task: TaskToPlace): TaskGroup {
  if (service.byKey === null) {
    for (const group of service.list) {
      if (samePlacement(group.tasks[0]!, task)) return group
    }
    if (service.list.length >= SCAN_LIMIT) {
      service.byKey = new Map(service.list.map(g => [specKey(g.tasks[0]!), g]))
    }
  }
  const key = service.byKey === null ? '' : specKey(task)
  const found = service.byKey?.get(key)
  if (found !== undefined) return found
  const group: TaskGroup = { serviceId: task.serviceId, tasks: [] }
  service.list.push(group)
  service.byKey?.set(key, group)
  return group
}

/** Throws FlotillaError('invalid-argument') when two tasks share an ID. */
export function splitBatch (tasks: readonly TaskToPlace[]): SplitBatch {
  const seen = new Set<string>()
  const globals: TaskToPlace[] = []
  const services = new Map<string, ServiceGroups>()
  let last: TaskGroup | null = null
  for (const task of tasks) {
    if (seen.has(task.id)) throw new FlotillaError('invalid-argument', `task ${task.id} is listed twice`)
    seen.add(task.id)
    if (task.nodeId !== null) {
      globals.push(task)
      continue
    }
    // Tasks of one group usually come together: try the previous task's group first.
    if (last === null || !samePlacement(last.tasks[0]!, task)) {
      let service = services.get(task.serviceId)
      if (service === undefined) {
        service = { list: [], byKey: null }
        services.set(task.serviceId, service)
      }
      last = findGroup(service, task)
    }
    last.tasks.push(task)
  }
  const serviceIds = [...services.keys()].sort()
  return { globals, groups: serviceIds.flatMap(id => services.get(id)!.list) }
}
