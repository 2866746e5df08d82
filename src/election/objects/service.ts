import type { ContainerSpec, TaskResources } from './container.js'
import type { AllocatedPort, PortProtocol } from './ports.js'

/*
 * Docker's ServiceSpec and what it holds, as the store keeps it (SwarmKit's api.Service). Field names and
 * units as in Docker's API (durations in nanoseconds); normalized by the control socket before storing.
 */

/** Docker's placement preference as the API writes it; only `Spread` exists. */
export interface PlacementPreference {
  /** `SpreadDescriptor` is `node.labels.X` or `engine.labels.X`; SwarmKit ignores any other descriptor. */
  readonly Spread: { readonly SpreadDescriptor: string }
}

/** Docker's RestartPolicy.Condition. */
export type RestartCondition = 'none' | 'on-failure' | 'any'

/** Docker's RestartPolicy; durations in nanoseconds, as Docker's API writes them. */
export interface RestartPolicy {
  /** Default 'any'. */
  readonly Condition?: RestartCondition
  /** Between a task's end and its replacement's start; default 5 s (5e9). 0: no delay. */
  readonly Delay?: number
  /** Restarts allowed within `Window` (or ever, when the window is 0); 0 (default) = unlimited. */
  readonly MaxAttempts?: number
  /** The look-back window for MaxAttempts; 0 (default) = since the service's last update. */
  readonly Window?: number
}

/** Docker's Placement, as far as orchestration and scheduling read it. */
export interface Placement {
  /** Docker's syntax, e.g. `node.labels.zone==eu-1` (scheduler/constraints.ts). */
  readonly Constraints?: readonly string[]
  readonly Preferences?: readonly PlacementPreference[]
  /** Tasks of this service one node may hold; 0 (default) = unlimited. Read by the scheduler only. */
  readonly MaxReplicas?: number
  /** Platforms the image supports; empty = any. Read by the scheduler only. */
  readonly Platforms?: ReadonlyArray<{ readonly Architecture?: string, readonly OS?: string }>
}

/** Docker's TaskTemplate (TaskSpec), container runtime only. */
export interface TaskTemplate {
  readonly ContainerSpec: ContainerSpec
  readonly Resources?: TaskResources
  readonly RestartPolicy?: RestartPolicy
  readonly Placement?: Placement
  /** A counter bumped to force a rolling update without other changes; read by the updater (not here). */
  readonly ForceUpdate?: number
  /** The overlay networks the service's tasks attach to (Docker's NetworkAttachmentConfig); `Target` is a network ID. */
  readonly Networks?: readonly NetworkAttachmentConfig[]
}

/** One network a service's tasks attach to, with the extra names the service answers to there. */
export interface NetworkAttachmentConfig {
  readonly Target: string
  readonly Aliases?: readonly string[]
}

/** Docker's ServiceMode: `{ Replicated: { Replicas } }` or `{ Global: {} }`. */
export type ServiceMode =
  | { readonly Replicated: { readonly Replicas: number } }
  | { readonly Global: Readonly<Record<string, never>> }

/** A service's virtual IP on one network (Docker's Endpoint.VirtualIPs entry). */
export interface VirtualIp {
  readonly networkId: string
  /** With its prefix length, as Docker shows it: `10.0.1.2/24`. */
  readonly addr: string
}

/**
 * Docker's Service.Endpoint: the published ports, each with its PublishedPort, and one VIP per network the
 * service's tasks attach to, in 'vip' endpoint mode (none in 'dnsrr').
 */
export interface ServiceEndpoint {
  readonly ports: readonly AllocatedPort[]
  readonly virtualIps: readonly VirtualIp[]
}

/** Docker's PortConfig. */
export interface PortConfig {
  readonly Name?: string
  readonly Protocol?: PortProtocol
  readonly TargetPort: number
  /** 0 or absent: the allocator assigns one from 30000–32767 (src/tasks/allocator). */
  readonly PublishedPort?: number
  /** 'ingress' (Docker's default): the routing mesh publishes it on every node; 'host': the task's node only. */
  readonly PublishMode?: 'ingress' | 'host'
}

/** Docker's EndpointSpec. */
export interface EndpointSpec {
  readonly Mode?: 'vip' | 'dnsrr'
  readonly Ports?: readonly PortConfig[]
}

/** What the updater does when too many new tasks fail (UpdateConfig.FailureAction). */
export type UpdateFailureAction = 'pause' | 'continue' | 'rollback'

/**
 * Docker's UpdateConfig (and RollbackConfig, the same shape), as the updater reads it (update.ts): how
 * many tasks are replaced at a time, how often, and what a failing new task does to the update.
 */
export interface UpdateConfig {
  /** Replacements in flight at once; 0 = all at once. Default 1. */
  readonly Parallelism?: number
  /** Nanoseconds between a batch's tasks reaching running and the next batch; default 0. */
  readonly Delay?: number
  /** Default 'pause'. A rollback's own failure never rolls back again: it pauses. */
  readonly FailureAction?: UpdateFailureAction
  /** Nanoseconds after a new task reaches running during which its end counts as a failure; default 5 s. */
  readonly Monitor?: number
  /** The fraction of the service's tasks whose replacements may fail before FailureAction applies; default 0. */
  readonly MaxFailureRatio?: number
  /** 'stop-first' (default): the old task stops, then its replacement starts; 'start-first': the reverse. */
  readonly Order?: 'stop-first' | 'start-first'
}

/** Docker's UpdateStatus.State. */
export type UpdateState = 'updating' | 'paused' | 'completed' | 'rollback_started' | 'rollback_paused' | 'rollback_completed'

/**
 * Docker's UpdateStatus: where the service's last update (or rollback) stands. Set to null by every
 * spec update (the control socket), to 'rollback_started' by a requested rollback; the leader's updater
 * writes the rest.
 */
export interface UpdateStatus {
  readonly state: UpdateState
  /** When the update or rollback started (ms since the epoch, the proposer's clock); null when unknown. */
  readonly startedAtMs: number | null
  /** When it completed; null before. */
  readonly completedAtMs: number | null
  readonly message: string
}

/** Docker's ServiceSpec, trimmed to what orchestration needs; normalized by the control socket. */
export interface ServiceSpec {
  readonly Name: string
  readonly Labels?: Readonly<Record<string, string>>
  readonly TaskTemplate: TaskTemplate
  readonly Mode: ServiceMode
  readonly UpdateConfig?: UpdateConfig
  /** How a rollback replaces tasks; Docker's defaults when absent (those of UpdateConfig). */
  readonly RollbackConfig?: UpdateConfig
  readonly EndpointSpec?: EndpointSpec
}

/**
 * A service in the replicated store. `version` changes with the spec only (its PreviousSpec, ports,
 * rollbacks): tasks compare their `specVersion` with it. The updater's bookkeeping (`updateStatus`,
 * `rebalance`) changes without a new version, as SwarmKit's SpecVersion does not move with UpdateStatus.
 */
export interface ServiceObject {
  readonly id: string
  /** Equal to `spec.Name`. */
  readonly name: string
  readonly version: number
  readonly createdAtMs: number
  readonly updatedAtMs: number
  readonly spec: ServiceSpec
  /** Docker's PreviousSpec: the spec before the last update, what `service rollback` returns to; null before any update. */
  readonly previousSpec: ServiceSpec | null
  /** Docker's Service.Endpoint: the spec's ports with every PublishedPort assigned, and its VIPs (src/tasks/allocator). */
  readonly endpoint: ServiceEndpoint
  /** Docker's UpdateStatus; null before any update, and again after each spec update until the updater starts. */
  readonly updateStatus: UpdateStatus | null
  /**
   * A pending one-shot rebalance (`flotilla service rebalance`): the orchestrator moves tasks off the
   * most loaded nodes until the spread is even, then clears it. A service labelled
   * `flotilla.rebalance=true` is rebalanced continuously, with or without a request.
   */
  readonly rebalance: { readonly requestedAtMs: number } | null
}
