/**
 * Store objects as the pure cores see them: nodes for the orchestrator and the scheduler, tasks for
 * the scheduler. One place decides what "ready" means for each.
 */
import type { NodeObject } from '../../election/index.js'
import { taskStateRank } from '../executor/index.js'
import type { OrchestratorNode, TaskObject } from '../orchestrator/index.js'
import type { PlacedTask, ReservedHostPort, SchedulerNode, TaskToPlace } from '../scheduler/index.js'

/**
 * The orchestrator's node: ready while the dispatcher hears it (the engine's state does not matter
 * here: a node whose engine died reports its tasks failed, and they are restarted elsewhere).
 */
export function orchestratorNode (n: NodeObject): OrchestratorNode {
  return { ...schedulerFields(n), ready: n.status.state === 'ready', downSinceMs: n.status.state === 'down' ? n.status.sinceMs : null }
}

/** The scheduler's node: it takes new tasks only while ready and while its engine answers. */
export function schedulerNode (n: NodeObject): SchedulerNode {
  return { ...schedulerFields(n), ready: n.status.state === 'ready' && n.description?.engine.state === 'available' }
}

function schedulerFields (n: NodeObject): Omit<SchedulerNode, 'ready'> {
  const d = n.description
  return {
    id: n.id,
    hostname: n.hostname,
    role: n.spec.role,
    availability: n.spec.availability,
    labels: n.spec.labels,
    engineLabels: d?.engine.state === 'available' ? d.engine.labels : {},
    platform: { os: d?.os ?? '', arch: d?.arch ?? '' },
    resources: { nanoCpus: d?.nanoCpus ?? 0, memoryBytes: d?.memoryBytes ?? 0 }
  }
}

function reservations (t: TaskObject): { nanoCpus: number, memoryBytes: number } {
  const r = t.spec.Resources?.Reservations
  return { nanoCpus: r?.NanoCPUs ?? 0, memoryBytes: r?.MemoryBytes ?? 0 }
}

/** The ports the task's own node binds: host mode only (an ingress port is the routing mesh's, on every node). */
function hostPorts (t: TaskObject): ReservedHostPort[] {
  return t.ports.filter(p => p.PublishMode === 'host').map(p => ({ protocol: p.Protocol, publishedPort: p.PublishedPort }))
}

/** A task waiting for a node: meant to run, and not yet past 'pending'. */
export function needsPlacement (t: TaskObject): boolean {
  return t.desiredState === 'running' && (t.status.state === 'new' || t.status.state === 'pending')
}

/**
 * Whether a task holds its node's resources and ports (SwarmKit: assigned and not yet ended, whatever
 * its desired state, since a task asked to stop still runs until it has stopped).
 */
export function holdsNode (t: TaskObject): t is TaskObject & { readonly nodeId: string } {
  const rank = taskStateRank(t.status.state)
  return t.nodeId !== null && rank >= taskStateRank('assigned') && rank <= taskStateRank('running')
}

export function placedTask (t: TaskObject & { readonly nodeId: string }): PlacedTask {
  return { nodeId: t.nodeId, serviceId: t.serviceId, reservations: reservations(t), hostPorts: hostPorts(t) }
}

export function taskToPlace (t: TaskObject): TaskToPlace {
  const placement = t.spec.Placement
  return {
    id: t.id,
    serviceId: t.serviceId,
    slot: t.slot,
    reservations: reservations(t),
    constraints: placement?.Constraints ?? [],
    preferences: placement?.Preferences ?? [],
    maxReplicas: placement?.MaxReplicas ?? 0,
    hostPorts: hostPorts(t),
    platforms: (placement?.Platforms ?? []).map(p => ({ os: p.OS ?? '', arch: p.Architecture ?? '' })),
    nodeId: t.slot === null ? t.nodeId : null
  }
}
