import { ComposeError, type ComposeConfig, type DeployConfig, type FileReference, type HealthcheckConfig, type PortConfig, type ServiceConfig } from './compose-types.js'

/**
 * Several `-c` files as one, the later over the earlier, by docker/cli's rules (cli/compose/loader
 * merge.go, mergo with override and appended slices):
 * - a service in both: set scalars, `command`, `entrypoint` and healthcheck fields of the later win;
 *   `environment`, `labels`, `deploy.labels` and `networks` merge by key; `ports` merge by published
 *   port (by target when unpublished) and protocol, `secrets` and `configs` by source; placement
 *   constraints and preferences are appended (each kept once); deploy's other fields merge field by field;
 * - a top-level network, secret or config in both: the later replaces the earlier.
 * Versions must be equal, as docker requires.
 */

type Writable<T> = { -readonly [K in keyof T]: T[K] }

function defined<T extends object> (o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T
}

function mergeMaps<V> (a: Readonly<Record<string, V>> | undefined, b: Readonly<Record<string, V>> | undefined): Record<string, V> | undefined {
  if (a === undefined) return b === undefined ? undefined : { ...b }
  return b === undefined ? { ...a } : { ...a, ...b }
}

function mergeByKey<T> (a: readonly T[] | undefined, b: readonly T[] | undefined, key: (x: T) => string, order: (x: T, y: T) => number): T[] | undefined {
  if (a === undefined && b === undefined) return undefined
  const m = new Map<string, T>()
  for (const x of [...(a ?? []), ...(b ?? [])]) m.set(key(x), x)
  return [...m.values()].sort(order)
}

function appendUnique<T> (a: readonly T[] | undefined, b: readonly T[] | undefined): T[] | undefined {
  if (a === undefined && b === undefined) return undefined
  return [...new Set([...(a ?? []), ...(b ?? [])])]
}

const portKey = (p: PortConfig): string => p.published !== 0 ? `p${p.published}/${p.protocol}` : `t${p.target}/${p.protocol}`
const portOrder = (x: PortConfig, y: PortConfig): number => x.published - y.published || x.target - y.target || x.protocol.localeCompare(y.protocol)
const refOrder = (x: FileReference, y: FileReference): number => x.source < y.source ? -1 : x.source > y.source ? 1 : 0

function mergeDeploy (a: DeployConfig | undefined, b: DeployConfig | undefined): DeployConfig | undefined {
  if (a === undefined || b === undefined) return a ?? b
  const out: Writable<DeployConfig> = { ...a, ...defined({ mode: b.mode, replicas: b.replicas, endpointMode: b.endpointMode }) }
  const labels = mergeMaps(a.labels, b.labels)
  if (labels !== undefined) out.labels = labels
  if (a.placement !== undefined || b.placement !== undefined) {
    out.placement = defined({
      constraints: appendUnique(a.placement?.constraints, b.placement?.constraints),
      preferences: appendUnique(a.placement?.preferences, b.placement?.preferences),
      maxReplicasPerNode: b.placement?.maxReplicasPerNode ?? a.placement?.maxReplicasPerNode
    })
  }
  if (a.resources !== undefined || b.resources !== undefined) {
    out.resources = defined({
      limits: a.resources?.limits === undefined || b.resources?.limits === undefined ? a.resources?.limits ?? b.resources?.limits : { ...a.resources.limits, ...b.resources.limits },
      reservations: a.resources?.reservations === undefined || b.resources?.reservations === undefined
        ? a.resources?.reservations ?? b.resources?.reservations
        : { ...a.resources.reservations, ...b.resources.reservations }
    })
  }
  for (const k of ['restartPolicy', 'updateConfig', 'rollbackConfig'] as const) {
    const x = a[k]
    const y = b[k]
    if (x !== undefined && y !== undefined) out[k] = { ...x, ...y }
    else if (y !== undefined) out[k] = y
  }
  return out
}

function mergeHealthcheck (a: HealthcheckConfig | undefined, b: HealthcheckConfig | undefined): HealthcheckConfig | undefined {
  return a === undefined || b === undefined ? a ?? b : { ...a, ...b }
}

/** `b`'s service over `a`'s (the same service in two files). */
export function mergeService (a: ServiceConfig, b: ServiceConfig): ServiceConfig {
  const out: Writable<ServiceConfig> = { ...a }
  for (const k of ['image', 'stopGracePeriodNs', 'stopSignal', 'user', 'workingDir', 'hostname', 'restart'] as const) {
    if (b[k] !== undefined) (out as Record<string, unknown>)[k] = b[k]
  }
  if (b.command !== undefined && b.command.length > 0) out.command = b.command
  if (b.entrypoint !== undefined && b.entrypoint.length > 0) out.entrypoint = b.entrypoint
  return defined({
    ...out,
    environment: mergeMaps(a.environment, b.environment),
    labels: mergeMaps(a.labels, b.labels),
    networks: mergeMaps(a.networks, b.networks),
    ports: mergeByKey(a.ports, b.ports, portKey, portOrder),
    secrets: mergeByKey(a.secrets, b.secrets, r => r.source, refOrder),
    configs: mergeByKey(a.configs, b.configs, r => r.source, refOrder),
    deploy: mergeDeploy(a.deploy, b.deploy),
    healthcheck: mergeHealthcheck(a.healthcheck, b.healthcheck)
  })
}

/** The files in order, merged; throws a ComposeError when two files name different format versions. */
export function mergeConfigs (configs: readonly ComposeConfig[]): ComposeConfig {
  const [first, ...rest] = configs
  if (first === undefined) throw new Error('no Compose file to merge')
  let merged = first
  for (const next of rest) {
    if (next.version !== merged.version) throw new ComposeError('', `version mismatched between two composefiles : ${merged.version} and ${next.version}`)
    const services: Record<string, ServiceConfig> = { ...merged.services }
    for (const [name, s] of Object.entries(next.services)) {
      const base = services[name]
      services[name] = base === undefined ? s : mergeService(base, s)
    }
    merged = {
      version: merged.version,
      services,
      networks: { ...merged.networks, ...next.networks },
      secrets: { ...merged.secrets, ...next.secrets },
      configs: { ...merged.configs, ...next.configs }
    }
  }
  return merged
}
