/**
 * What the scheduler reads and returns. The scheduler is a pure function of these values
 * (`scheduleBatch` in schedule.ts); the driver that watches the store builds them and writes the
 * assignments back. Every field is set by that driver; the scheduler never mutates its inputs.
 */
import type { PlacementPreference, PortProtocol } from '../../election/index.js'

export type { PlacementPreference, PortProtocol }

/** CPU in units of 1e-9 cores (Docker's NanoCPUs) and memory in bytes. */
export interface Resources {
  readonly nanoCpus: number
  readonly memoryBytes: number
}

export type NodeRole = 'manager' | 'worker'

/** Docker's node availability: only `active` nodes take new tasks; `pause` keeps, `drain` moves tasks off. */
export type NodeAvailability = 'active' | 'pause' | 'drain'

/**
 * `os` as Docker reports it (`linux`, `windows`); `arch` as the engine reports `uname -m` (`x86_64`,
 * `aarch64`). Constraints compare these strings as they are; the platform filter normalises arch.
 */
export interface Platform {
  readonly os: string
  readonly arch: string
}

/** A node as the scheduler sees it: its spec, its description and whether it is up. */
export interface SchedulerNode {
  readonly id: string
  readonly hostname: string
  readonly role: NodeRole
  readonly availability: NodeAvailability
  /** The node's status is `ready` (heartbeats arriving); a down or unknown node is false. */
  readonly ready: boolean
  /** Node labels (`docker node update --label-add`), matched by `node.labels.X`. */
  readonly labels: Readonly<Record<string, string>>
  /** Engine labels (the daemon's `--label`), matched by `engine.labels.X`. */
  readonly engineLabels: Readonly<Record<string, string>>
  readonly platform: Platform
  /** Capacity, before any task's reservations are taken out. */
  readonly resources: Resources
}


/** A port published in host mode (`mode=host`): it occupies `publishedPort` on the node it runs on. */
export interface ReservedHostPort {
  readonly protocol: PortProtocol
  /** 0 means "any free port", chosen by the engine: it occupies nothing the scheduler can see. */
  readonly publishedPort: number
}

/** A pending task the scheduler is asked to assign a node to. */
export interface TaskToPlace {
  readonly id: string
  readonly serviceId: string
  /** Replicated tasks carry their slot; global tasks have none (null). Informational to the scheduler. */
  readonly slot: number | null
  /** Resources taken out of the node's capacity while the task is assigned; zeros reserve nothing. */
  readonly reservations: Resources
  /** Docker's syntax, e.g. `node.labels.zone==eu-1`; see constraints.ts. */
  readonly constraints: readonly string[]
  /** Outermost level first. */
  readonly preferences: readonly PlacementPreference[]
  /** Tasks of this service one node may hold (Docker's `--replicas-max-per-node`); 0 = unlimited. */
  readonly maxReplicas: number
  readonly hostPorts: readonly ReservedHostPort[]
  /**
   * The platforms the image supports (SwarmKit's `Placement.Platforms`); empty = any. An empty `os`
   * or `arch` inside an entry matches any.
   */
  readonly platforms: readonly Platform[]
  /**
   * Global tasks: the one node the orchestrator made this task for. The task goes there or nowhere.
   * Null for replicated tasks.
   */
  readonly nodeId: string | null
}

/** A task already assigned to or running on a node: its reservations, ports and count are taken. */
export interface PlacedTask {
  readonly nodeId: string
  readonly serviceId: string
  readonly reservations: Resources
  readonly hostPorts: readonly ReservedHostPort[]
}

export interface Assignment {
  readonly taskId: string
  readonly nodeId: string
}

export interface Unschedulable {
  readonly taskId: string
  /** Becomes the pending task's status message, e.g. `no suitable node (insufficient resources on 3 nodes)`. */
  readonly message: string
}

/**
 * `assignments` in the order they were decided (global tasks first, then each service's group in
 * service ID order); every input task is in exactly one of the two lists.
 */
export interface ScheduleResult {
  readonly assignments: Assignment[]
  readonly unschedulable: Unschedulable[]
}
