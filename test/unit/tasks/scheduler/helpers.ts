import type { PlacedTask, SchedulerNode, TaskToPlace } from '../../../../src/tasks/scheduler/index.js'
export { rng } from '../../../support/rng.js'

export const GIB = 1024 ** 3
export const CPU = 1_000_000_000

export function node (id: string, over: Partial<SchedulerNode> = {}): SchedulerNode {
  return {
    id,
    hostname: `host-${id}`,
    role: 'worker',
    availability: 'active',
    ready: true,
    labels: {},
    engineLabels: {},
    platform: { os: 'linux', arch: 'x86_64' },
    resources: { nanoCpus: 4 * CPU, memoryBytes: 8 * GIB },
    ...over
  }
}

export function task (id: string, over: Partial<TaskToPlace> = {}): TaskToPlace {
  return {
    id,
    serviceId: 'svc',
    slot: 1,
    reservations: { nanoCpus: 0, memoryBytes: 0 },
    constraints: [],
    preferences: [],
    maxReplicas: 0,
    hostPorts: [],
    platforms: [],
    nodeId: null,
    ...over
  }
}

/** `n` tasks of one service, IDs `<prefix>1` … `<prefix>n`, slots 1…n. */
export function tasks (n: number, prefix: string, over: Partial<TaskToPlace> = {}): TaskToPlace[] {
  return Array.from({ length: n }, (_, i) => task(`${prefix}${i + 1}`, { slot: i + 1, ...over }))
}

export function placedOn (nodeId: string, serviceId: string, over: Partial<PlacedTask> = {}): PlacedTask {
  return { nodeId, serviceId, reservations: { nanoCpus: 0, memoryBytes: 0 }, hostPorts: [], ...over }
}

/** How many assignments went to each node, nodes without any left out. */
export function countByNode (assignments: ReadonlyArray<{ nodeId: string }>): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const a of assignments) counts[a.nodeId] = (counts[a.nodeId] ?? 0) + 1
  return counts
}

