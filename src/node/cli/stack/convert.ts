import {
  ComposeError, type ComposeConfig, type FileObjectConfig, type FileReference, type ReadFile, type ServiceConfig, type UpdatePolicy
} from './compose-types.js'

/**
 * A loaded Compose file to the Docker API objects of a stack named NAME, as docker/cli's
 * cli/compose/convert does: every object labelled `com.docker.stack.namespace=NAME` and named
 * `NAME_<key>` (unless the file gives it a `name:`); services attached to `NAME_default` when they name
 * no network; file secrets and configs read here. Pure but for `readFile`. Everything the file could be
 * refused for is checked here, before anything talks to the cluster.
 */

export const LABEL_NAMESPACE = 'com.docker.stack.namespace'
/** The image as the Compose file names it, on each service (docker's convert.LabelImage). */
export const LABEL_IMAGE = 'com.docker.stack.image'

/** A Docker API object as sent (ServiceSpec, NetworkCreateRequest...). */
export type Json = Record<string, unknown>

/** Scoping of names to a stack (docker's convert.Namespace). */
export function scope (namespace: string, name: string): string {
  return `${namespace}_${name}`
}

/** The name without the stack's prefix (docker's Namespace.Descope). */
export function descope (namespace: string, name: string): string {
  return name.startsWith(`${namespace}_`) ? name.slice(namespace.length + 1) : name
}

function withStackLabel (namespace: string, labels: Readonly<Record<string, string>> | undefined): Record<string, string> {
  return { ...labels, [LABEL_NAMESPACE]: namespace }
}

/** A network to create: the body of `POST /networks/create`. */
export interface NetworkCreate {
  readonly name: string
  readonly body: Json
}

/** A secret or config to create (or to leave, when one of that name exists). */
export interface BlobCreate {
  /** The key in the Compose file. */
  readonly key: string
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly data: Buffer
}

/** A service of the stack, converted. */
export interface ServiceDeploy {
  /** The key in the Compose file. */
  readonly key: string
  /** The service's name in the cluster, `NAME_<key>`. */
  readonly name: string
  /** Docker's ServiceSpec; secret and config references carry names, their IDs are filled in at deploy. */
  readonly spec: Json
}

/** Everything `stack deploy` makes or looks up, each list sorted by name. */
export interface StackObjects {
  readonly namespace: string
  /** The stack's networks that services attach to (docker creates no unused one). */
  readonly networks: readonly NetworkCreate[]
  /** Networks declared external that services attach to: they must exist. */
  readonly externalNetworks: readonly string[]
  /** Every secret the file declares from a file (docker creates unused ones too). */
  readonly secrets: readonly BlobCreate[]
  readonly configs: readonly BlobCreate[]
  /** External secrets and configs services reference: they must exist. */
  readonly externalSecrets: readonly string[]
  readonly externalConfigs: readonly string[]
  readonly services: readonly ServiceDeploy[]
}

/** docker's stack name check (validateStackName): not empty once quotes and spaces are trimmed. */
export function validateStackName (namespace: string): void {
  if (namespace.replace(/^[\s"']+|[\s"']+$/g, '') === '') throw new ComposeError('', `invalid stack name: ${JSON.stringify(namespace)}`)
}

/** SwarmKit's service name rule, a DNS label (the manager would refuse it after the networks were made). */
const SERVICE_NAME = /^[a-zA-Z0-9](?:[-_]*[A-Za-z0-9]+)*$/
/** Docker's network name rule. */
const NETWORK_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/
/** SwarmKit's secret and config name rule (validation.ValidateName ... 64 characters). */
const OBJECT_NAME = /^[a-zA-Z0-9]+(?:[a-zA-Z0-9-_.]*[a-zA-Z0-9])?$/

/** distribution/reference's grammar, `[domain[:port]/]path[:tag][@digest]`, as the manager checks it. */
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])'
const DOMAIN = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?`
const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*'
const IMAGE_REFERENCE = new RegExp(`^(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*(?::[\\w][\\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$`)

/** Networks a service attaches to: its `networks`, or the stack's `default`. */
function serviceNetworkKeys (s: ServiceConfig): string[] {
  return s.networks === undefined || Object.keys(s.networks).length === 0 ? ['default'] : Object.keys(s.networks)
}

function networks (namespace: string, config: ComposeConfig): { create: NetworkCreate[], external: string[] } {
  const used = new Set(Object.values(config.services).flatMap(serviceNetworkKeys))
  const create: NetworkCreate[] = []
  const external = new Set<string>()
  for (const key of [...used].sort()) {
    const n = config.networks[key] ?? {}
    if (n.external === true) {
      external.add(n.name ?? key)
      continue
    }
    const name = n.name ?? scope(namespace, key)
    if (!NETWORK_NAME.test(name)) throw new ComposeError(`networks.${key}`, `"${name}" is not a valid network name; only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`)
    create.push({
      name,
      body: {
        Name: name,
        Driver: 'overlay',
        Labels: withStackLabel(namespace, n.labels),
        Options: { ...n.driverOpts },
        Internal: n.internal ?? false,
        Attachable: n.attachable ?? false,
        ...(n.subnet === undefined ? {} : { IPAM: { Driver: 'default', Config: [{ Subnet: n.subnet }] } })
      }
    })
  }
  return { create: create.sort((a, b) => a.name < b.name ? -1 : 1), external: [...external].sort() }
}

function blobs (kind: 'secret' | 'config', namespace: string, objects: Readonly<Record<string, FileObjectConfig>>, readFile: ReadFile): BlobCreate[] {
  const out: BlobCreate[] = []
  for (const [key, o] of Object.entries(objects)) {
    if (o.external === true) continue
    const name = o.name ?? scope(namespace, key)
    if (!OBJECT_NAME.test(name) || name.length > 64) throw new ComposeError(`${kind}s.${key}`, `invalid ${kind} name ${JSON.stringify(name)}: use letters, digits, "-", "_" and ".", at most 64`)
    let data: Buffer
    try {
      data = readFile(o.file!)
    } catch (e) {
      throw new ComposeError(`${kind}s.${key}.file`, `cannot read ${o.file!}: ${(e as Error).message}`)
    }
    out.push({ key, name, labels: withStackLabel(namespace, o.labels), data })
  }
  return out.sort((a, b) => a.name < b.name ? -1 : 1)
}

/** docker's convertFileObject: the reference's name in the cluster and its file target. */
function fileReferences (kind: 'secret' | 'config', namespace: string, svcKey: string, refs: readonly FileReference[], objects: Readonly<Record<string, FileObjectConfig>>): Json[] {
  const targets = new Set<string>()
  const out = refs.map((r, i) => {
    const obj = objects[r.source]
    if (obj === undefined) throw new ComposeError(`services.${svcKey}.${kind}s[${i}]`, `undefined ${kind} ${JSON.stringify(r.source)}`, `declare it under the top-level ${kind}s:`)
    const name = obj.name ?? scope(namespace, r.source)
    const target = r.target ?? r.source
    if (targets.has(target)) throw new ComposeError(`services.${svcKey}.${kind}s[${i}]`, `duplicate ${kind} target for ${name} not allowed`)
    targets.add(target)
    const file = { Name: target, UID: r.uid ?? '0', GID: r.gid ?? '0', Mode: r.mode ?? 0o444 }
    return kind === 'secret' ? { File: file, SecretName: name } : { File: file, ConfigName: name }
  })
  const nameOf = (j: Json): string => String(j.SecretName ?? j.ConfigName)
  return out.sort((a, b) => nameOf(a) < nameOf(b) ? -1 : nameOf(a) > nameOf(b) ? 1 : 0)
}

/** docker's convertUpdateConfig: Parallelism 1 and zeros where the file says nothing. */
function updateConfig (u: UpdatePolicy | undefined): Json | undefined {
  if (u === undefined) return undefined
  return {
    Parallelism: u.parallelism ?? 1,
    Delay: u.delayNs ?? 0,
    ...(u.failureAction === undefined ? {} : { FailureAction: u.failureAction }),
    Monitor: u.monitorNs ?? 0,
    MaxFailureRatio: u.maxFailureRatio ?? 0,
    ...(u.order === undefined ? {} : { Order: u.order })
  }
}

/** deploy.restart_policy, else the legacy `restart` (docker's convertRestartPolicy). */
function restartPolicy (s: ServiceConfig): Json | undefined {
  const rp = s.deploy?.restartPolicy
  if (rp !== undefined) {
    return {
      ...(rp.condition === undefined ? {} : { Condition: rp.condition }),
      ...(rp.delayNs === undefined ? {} : { Delay: rp.delayNs }),
      ...(rp.maxAttempts === undefined ? {} : { MaxAttempts: rp.maxAttempts }),
      ...(rp.windowNs === undefined ? {} : { Window: rp.windowNs })
    }
  }
  if (s.restart === undefined || s.restart === 'no') return undefined
  const [name, count] = s.restart.split(':') as [string, string | undefined]
  const max = count === undefined ? 0 : Number(count)
  return { Condition: name === 'on-failure' ? 'on-failure' : 'any', ...(max > 0 ? { MaxAttempts: max } : {}) }
}

function resources (s: ServiceConfig): Json | undefined {
  const r = s.deploy?.resources
  if (r === undefined) return undefined
  const values = (v: { nanoCpus?: number, memoryBytes?: number }): Json => ({
    ...(v.nanoCpus === undefined ? {} : { NanoCPUs: v.nanoCpus }),
    ...(v.memoryBytes === undefined ? {} : { MemoryBytes: v.memoryBytes })
  })
  return { ...(r.limits === undefined ? {} : { Limits: values(r.limits) }), ...(r.reservations === undefined ? {} : { Reservations: values(r.reservations) }) }
}

function healthcheck (key: string, s: ServiceConfig): Json | undefined {
  const h = s.healthcheck
  if (h === undefined) return undefined
  if (h.disable === true) {
    if ((h.test ?? []).length > 0) throw new ComposeError(`services.${key}.healthcheck`, 'test and disable can\'t be set at the same time')
    return { Test: ['NONE'] }
  }
  return {
    ...(h.test === undefined ? {} : { Test: [...h.test] }),
    ...(h.intervalNs === undefined ? {} : { Interval: h.intervalNs }),
    ...(h.timeoutNs === undefined ? {} : { Timeout: h.timeoutNs }),
    ...(h.retries === undefined ? {} : { Retries: h.retries }),
    ...(h.startPeriodNs === undefined ? {} : { StartPeriod: h.startPeriodNs })
  }
}

const ENGINE_NETWORKS = ['host', 'bridge', 'none', 'default']

/** docker's convert.Service for one service of the file. */
export function convertService (namespace: string, key: string, s: ServiceConfig, config: ComposeConfig): ServiceDeploy {
  const path = `services.${key}`
  const name = scope(namespace, key)
  if (!SERVICE_NAME.test(name) || name.length > 63) {
    throw new ComposeError(path, `service name ${JSON.stringify(name)} must be valid as a DNS name component of at most 63 characters`, 'use letters, digits, "-" and "_" in the stack and service names')
  }
  const image = s.image ?? ''
  if (image === '') throw new ComposeError(`${path}.image`, `invalid image reference for service ${key}: no image specified`, 'flotilla runs images: build and push yours, then name it in image:')
  if (!IMAGE_REFERENCE.test(image)) throw new ComposeError(`${path}.image`, `invalid image reference for service ${key}: ${JSON.stringify(image)} is not a valid repository/tag`)
  const mode = s.deploy?.mode ?? 'replicated'
  if (mode === 'global' && s.deploy?.replicas !== undefined) throw new ComposeError(`${path}.deploy.replicas`, 'replicas can only be used with replicated mode')
  if (mode === 'global' && s.deploy?.placement?.maxReplicasPerNode !== undefined) {
    throw new ComposeError(`${path}.deploy.placement.max_replicas_per_node`, 'max_replicas_per_node can only be used with replicated mode')
  }

  const attachments = serviceNetworkKeys(s).map(netKey => {
    const n = config.networks[netKey]
    if (n === undefined && netKey !== 'default') throw new ComposeError(`${path}.networks.${netKey}`, `undefined network ${JSON.stringify(netKey)}`, 'declare it under the top-level networks:')
    const target = n?.name ?? scope(namespace, netKey)
    const aliases = [...(s.networks?.[netKey]?.aliases ?? [])]
    // docker adds the service's own name as an alias on user-defined networks.
    if (!ENGINE_NETWORKS.includes(target)) aliases.push(key)
    return { Target: target, Aliases: aliases }
  }).sort((a, b) => a.Target < b.Target ? -1 : a.Target > b.Target ? 1 : 0)

  const cs: Json = { Image: image, Labels: withStackLabel(namespace, s.labels) }
  if (s.entrypoint !== undefined) cs.Command = [...s.entrypoint]
  if (s.command !== undefined) cs.Args = [...s.command]
  if (s.hostname !== undefined) cs.Hostname = s.hostname
  if (s.environment !== undefined) cs.Env = Object.entries(s.environment).map(([k, v]) => v === null ? k : `${k}=${v}`).sort()
  if (s.workingDir !== undefined) cs.Dir = s.workingDir
  if (s.user !== undefined) cs.User = s.user
  if (s.stopGracePeriodNs !== undefined) cs.StopGracePeriod = s.stopGracePeriodNs
  if (s.stopSignal !== undefined) cs.StopSignal = s.stopSignal
  const hc = healthcheck(key, s)
  if (hc !== undefined) cs.Healthcheck = hc
  if (s.secrets !== undefined && s.secrets.length > 0) cs.Secrets = fileReferences('secret', namespace, key, s.secrets, config.secrets)
  if (s.configs !== undefined && s.configs.length > 0) cs.Configs = fileReferences('config', namespace, key, s.configs, config.configs)

  const p = s.deploy?.placement
  const placement: Json = {}
  if (p?.constraints !== undefined && p.constraints.length > 0) placement.Constraints = [...p.constraints]
  if (p?.preferences !== undefined && p.preferences.length > 0) placement.Preferences = p.preferences.map(d => ({ Spread: { SpreadDescriptor: d } }))
  if (p?.maxReplicasPerNode !== undefined) placement.MaxReplicas = p.maxReplicasPerNode

  const tt: Json = { ContainerSpec: cs, Placement: placement, Networks: attachments, ForceUpdate: 0 }
  const res = resources(s)
  if (res !== undefined) tt.Resources = res
  const rp = restartPolicy(s)
  if (rp !== undefined) tt.RestartPolicy = rp

  const ports = (s.ports ?? []).map(x => ({ Protocol: x.protocol, TargetPort: x.target, PublishedPort: x.published, PublishMode: x.mode ?? 'ingress' }))
    .sort((a, b) => a.PublishedPort - b.PublishedPort || a.TargetPort - b.TargetPort || a.Protocol.localeCompare(b.Protocol) || a.PublishMode.localeCompare(b.PublishMode))
  const endpoint: Json = { Mode: s.deploy?.endpointMode ?? 'vip' }
  if (ports.length > 0) endpoint.Ports = ports

  const spec: Json = {
    Name: name,
    Labels: { ...withStackLabel(namespace, s.deploy?.labels), [LABEL_IMAGE]: image },
    TaskTemplate: tt,
    Mode: mode === 'global' ? { Global: {} } : { Replicated: s.deploy?.replicas === undefined ? {} : { Replicas: s.deploy.replicas } },
    EndpointSpec: endpoint
  }
  const uc = updateConfig(s.deploy?.updateConfig)
  if (uc !== undefined) spec.UpdateConfig = uc
  const rc = updateConfig(s.deploy?.rollbackConfig)
  if (rc !== undefined) spec.RollbackConfig = rc
  return { key, name, spec }
}

/** References to external secrets or configs, by name, over all services. */
function externalReferences (config: ComposeConfig, kind: 'secrets' | 'configs'): string[] {
  const names = new Set<string>()
  for (const s of Object.values(config.services)) {
    for (const r of s[kind] ?? []) {
      const o = config[kind][r.source]
      if (o?.external === true) names.add(o.name ?? r.source)
    }
  }
  return [...names].sort()
}

/** The whole stack: every service converted (so that every refusal comes first), then its networks, secrets and configs. */
export function convertStack (namespace: string, config: ComposeConfig, readFile: ReadFile): StackObjects {
  validateStackName(namespace)
  const services = Object.entries(config.services).map(([key, s]) => convertService(namespace, key, s, config)).sort((a, b) => a.name < b.name ? -1 : 1)
  const nets = networks(namespace, config)
  return {
    namespace,
    networks: nets.create,
    externalNetworks: nets.external,
    secrets: blobs('secret', namespace, config.secrets, readFile),
    configs: blobs('config', namespace, config.configs, readFile),
    externalSecrets: externalReferences(config, 'secrets'),
    externalConfigs: externalReferences(config, 'configs'),
    services
  }
}
