import { CliError } from '../client.js'

/**
 * The Compose file (format 3.x) as `flotilla stack deploy` reads it, after interpolation, validation and
 * normalization: every short form turned into its long form (docker/cli cli/compose/types), paths made
 * absolute, `env_file` folded into `environment`. Written by compose-service.ts and compose-objects.ts,
 * merged across `-c` files by merge.ts, read by convert.ts. Durations are nanoseconds, sizes bytes.
 */

/** A refusal of the file, naming the key path that caused it (`services.web.build: not supported by flotilla`). */
export class ComposeError extends CliError {
  readonly code = 'compose-invalid'
  readonly retryable = false
  /**
   * @param path the key path (`services.web.build`), '' for the file as a whole
   * @param why what is wrong, in docker's words where docker has them
   * @param file the Compose file, named when several were given
   */
  constructor (readonly path: string, readonly why: string, hint?: string, readonly file?: string) {
    super([file ?? '', path, why].filter(s => s !== '').join(': '), hint)
    this.name = 'ComposeError'
  }
}

/** The process environment as interpolation and `environment: [KEY]` read it. */
export type Environment = Readonly<Record<string, string | undefined>>

/** Reads a file the Compose file names (env_file, secret and config `file:`); throws as fs does. */
export type ReadFile = (absolutePath: string) => Buffer

/** A published port in its long form (docker's ServicePortConfig). */
export interface PortConfig {
  readonly target: number
  /** 0: the manager picks one (ingress) or the engine does (host). */
  readonly published: number
  readonly protocol: 'tcp' | 'udp' | 'sctp'
  /** Unset: Docker's default, ingress. */
  readonly mode?: 'ingress' | 'host'
}

/** A service's use of a secret or config (docker's ServiceSecretConfig / ServiceConfigObjConfig). */
export interface FileReference {
  readonly source: string
  readonly target?: string
  readonly uid?: string
  readonly gid?: string
  /** File mode bits, e.g. 0o440 (288). */
  readonly mode?: number
}

/** `deploy.update_config` / `rollback_config`; unset fields are left to convert.ts's defaults (docker's). */
export interface UpdatePolicy {
  readonly parallelism?: number
  readonly delayNs?: number
  readonly failureAction?: string
  readonly monitorNs?: number
  readonly maxFailureRatio?: number
  readonly order?: 'start-first' | 'stop-first'
}

/** `deploy.restart_policy`. */
export interface RestartPolicy {
  readonly condition?: 'none' | 'on-failure' | 'any'
  readonly delayNs?: number
  readonly maxAttempts?: number
  readonly windowNs?: number
}

/** `deploy.resources.limits` / `reservations`: NanoCPUs and bytes. */
export interface ResourceValues {
  readonly nanoCpus?: number
  readonly memoryBytes?: number
}

/** `deploy`. */
export interface DeployConfig {
  readonly mode?: 'replicated' | 'global'
  readonly replicas?: number
  readonly labels?: Readonly<Record<string, string>>
  readonly endpointMode?: 'vip' | 'dnsrr'
  readonly placement?: {
    readonly constraints?: readonly string[]
    /** Spread descriptors (`node.labels.zone`), in order. */
    readonly preferences?: readonly string[]
    readonly maxReplicasPerNode?: number
  }
  readonly resources?: { readonly limits?: ResourceValues, readonly reservations?: ResourceValues }
  readonly restartPolicy?: RestartPolicy
  readonly updateConfig?: UpdatePolicy
  readonly rollbackConfig?: UpdatePolicy
}

/** `healthcheck`. */
export interface HealthcheckConfig {
  /** `["CMD", ...]`, `["CMD-SHELL", cmd]` or `["NONE"]`; a string in the file is CMD-SHELL. */
  readonly test?: readonly string[]
  readonly intervalNs?: number
  readonly timeoutNs?: number
  readonly retries?: number
  readonly startPeriodNs?: number
  readonly disable?: boolean
}

/** One entry of `services`. */
export interface ServiceConfig {
  readonly image?: string
  /** The container's Args (compose `command`), split as a shell would when given as a string. */
  readonly command?: readonly string[]
  /** The container's Command (compose `entrypoint`). */
  readonly entrypoint?: readonly string[]
  /** `null`: a variable named without a value and not found in the environment (passed as `KEY`). */
  readonly environment?: Readonly<Record<string, string | null>>
  /** Container labels. */
  readonly labels?: Readonly<Record<string, string>>
  readonly deploy?: DeployConfig
  readonly ports?: readonly PortConfig[]
  /** Network key → aliases; an absent `networks` is the stack's `default` network. */
  readonly networks?: Readonly<Record<string, { readonly aliases?: readonly string[] }>>
  readonly secrets?: readonly FileReference[]
  readonly configs?: readonly FileReference[]
  readonly healthcheck?: HealthcheckConfig
  readonly stopGracePeriodNs?: number
  readonly stopSignal?: string
  readonly user?: string
  readonly workingDir?: string
  readonly hostname?: string
  /** The legacy `restart` (no, always, on-failure[:N], unless-stopped), used when deploy.restart_policy is unset. */
  readonly restart?: string
}

/** One entry of the top-level `networks` (overlay only). */
export interface NetworkConfig {
  /** The network's name in the cluster; for a stack network, unset means `<stack>_<key>`. */
  readonly name?: string
  readonly external?: boolean
  readonly driverOpts?: Readonly<Record<string, string>>
  readonly attachable?: boolean
  readonly internal?: boolean
  readonly subnet?: string
  readonly labels?: Readonly<Record<string, string>>
}

/** A top-level secret or config: from a file, or external (created outside the stack). */
export interface FileObjectConfig {
  readonly name?: string
  readonly external?: boolean
  /** Absolute path (relative paths are resolved against the first Compose file's directory, as docker). */
  readonly file?: string
  readonly labels?: Readonly<Record<string, string>>
}

/** One Compose file, or several merged. Keys are the file's own (unscoped) names. */
export interface ComposeConfig {
  /** Normalized format version, e.g. `3.8` (docker's default for none or `3`: 3.13). */
  readonly version: string
  readonly services: Readonly<Record<string, ServiceConfig>>
  readonly networks: Readonly<Record<string, NetworkConfig>>
  readonly secrets: Readonly<Record<string, FileObjectConfig>>
  readonly configs: Readonly<Record<string, FileObjectConfig>>
}
