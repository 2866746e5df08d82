/**
 * Docker's ContainerSpec, HealthConfig and ResourceRequirements as the cluster stores them in a task
 * template: field names and units as in Docker's API.
 */

/** Swarm's ContainerSpec, the part this executor runs. Field names and units as in Docker's API. */
export interface ContainerSpec {
  readonly Image: string
  /** Replaces the image's entrypoint when non-empty (SwarmKit maps Command → Entrypoint). */
  readonly Command?: readonly string[]
  /** The container's Cmd (SwarmKit maps Args → Cmd). */
  readonly Args?: readonly string[]
  /** `KEY=value` entries. */
  readonly Env?: readonly string[]
  /** User labels; the swarm labels (com.docker.swarm.*) win over same-named ones. */
  readonly Labels?: Readonly<Record<string, string>>
  readonly Dir?: string
  readonly User?: string
  readonly Hostname?: string
  /** Signal that `shutdown` sends first, e.g. 'SIGTERM' (the image's or the engine's default when unset). */
  readonly StopSignal?: string
  /** Nanoseconds between the stop signal and SIGKILL; the engine rounds up to whole seconds (default 10 s). */
  readonly StopGracePeriod?: number
  /** The container's health check; a task that has one is running only once the engine reports it healthy. */
  readonly Healthcheck?: HealthConfig
  /** Secrets handed to the container as files (default /run/secrets/NAME). */
  readonly Secrets?: readonly SecretReference[]
  /** Configs handed to the container as files (default /NAME). */
  readonly Configs?: readonly ConfigReference[]
}

/** Where and how a secret or config appears in the container (Docker's SecretReferenceFileTarget). */
export interface FileTarget {
  /** A path relative to /run/secrets (secrets) or an absolute path (configs); default the object's name. */
  readonly Name: string
  readonly UID: string
  readonly GID: string
  /** File mode, e.g. 0o444 (292). */
  readonly Mode: number
}

/** Docker's SecretReference; `SecretID` is resolved by the control socket from the name. */
export interface SecretReference {
  readonly File: FileTarget
  readonly SecretID: string
  readonly SecretName: string
}

/** Docker's ConfigReference (file configs only). */
export interface ConfigReference {
  readonly File: FileTarget
  readonly ConfigID: string
  readonly ConfigName: string
}

/**
 * Docker's HealthConfig, durations in nanoseconds (0 or unset: the engine's default). `Test` is
 * `['CMD', exe, ...args]`, `['CMD-SHELL', command]`, or `['NONE']` to disable the image's check.
 */
export interface HealthConfig {
  readonly Test?: readonly string[]
  readonly Interval?: number
  readonly Timeout?: number
  /** Consecutive failures after which the container is unhealthy. */
  readonly Retries?: number
  /** Time after start during which failures do not count towards Retries. */
  readonly StartPeriod?: number
}

/** Swarm's ResourceRequirements: NanoCPUs (1e9 = one CPU) and bytes. */
export interface TaskResources {
  readonly Limits?: { readonly NanoCPUs?: number, readonly MemoryBytes?: number }
  readonly Reservations?: { readonly NanoCPUs?: number, readonly MemoryBytes?: number }
}
