/**
 * The placement-relevant part of a task, checked and parsed once per distinct spec: the filters and the
 * ranking read this, never the raw TaskToPlace. Tasks of one service normally share one spec (two
 * during a rolling update), so a batch of 100,000 tasks parses a handful of these (see task-groups.ts).
 */
import { parseConstraints, type Constraint } from './constraints.js'
import type { ReservedHostPort, Platform, Resources, SchedulerNode, TaskToPlace } from './types.js'

/** One level of a placement preference: spread over the values of a node or engine label. */
export interface SpreadLevel {
  readonly source: 'node' | 'engine'
  readonly label: string
}

export interface PreparedTask {
  readonly serviceId: string
  readonly reservations: Resources
  readonly constraints: readonly Constraint[]
  /** Outermost first; descriptors SwarmKit does not support are left out, as it skips them. */
  readonly spread: readonly SpreadLevel[]
  readonly maxReplicas: number
  /** Host-mode ports with a fixed published port, as `protocol/port` keys (see hostPortKey). */
  readonly hostPortKeys: readonly string[]
  readonly platforms: readonly Platform[]
}

/** The key under which a node records a host-mode port as taken. */
export function hostPortKey (port: ReservedHostPort): string {
  return `${port.protocol}/${port.publishedPort}`
}

/** The `protocol/port` keys of the ports that occupy something on the node (publishedPort ≠ 0). */
export function occupiedPortKeys (ports: readonly ReservedHostPort[]): string[] {
  const keys: string[] = []
  for (const p of ports) {
    if (p.publishedPort !== 0) keys.push(hostPortKey(p))
  }
  return keys
}

const NODE_LABEL_PREFIX = 'node.labels.'
const ENGINE_LABEL_PREFIX = 'engine.labels.'

function spreadLevel (descriptor: string): SpreadLevel | null {
  const lower = descriptor.toLowerCase()
  if (lower.startsWith(NODE_LABEL_PREFIX) && descriptor.length > NODE_LABEL_PREFIX.length) {
    return { source: 'node', label: descriptor.slice(NODE_LABEL_PREFIX.length) }
  }
  if (lower.startsWith(ENGINE_LABEL_PREFIX) && descriptor.length > ENGINE_LABEL_PREFIX.length) {
    return { source: 'engine', label: descriptor.slice(ENGINE_LABEL_PREFIX.length) }
  }
  return null
}

/** The node's branch at one spread level: the label's value, "" when the node lacks it (as SwarmKit). */
export function spreadValue (level: SpreadLevel, node: SchedulerNode): string {
  return (level.source === 'node' ? node.labels[level.label] : node.engineLabels[level.label]) ?? ''
}

/** Throws FlotillaError('invalid-argument') when a constraint is malformed. */
export function prepareTask (task: TaskToPlace): PreparedTask {
  const spread: SpreadLevel[] = []
  for (const pref of task.preferences) {
    const level = spreadLevel(pref.Spread.SpreadDescriptor)
    if (level !== null) spread.push(level)
  }
  return {
    serviceId: task.serviceId,
    reservations: task.reservations,
    constraints: parseConstraints(task.constraints),
    spread,
    maxReplicas: task.maxReplicas,
    hostPortKeys: occupiedPortKeys(task.hostPorts),
    platforms: task.platforms
  }
}
