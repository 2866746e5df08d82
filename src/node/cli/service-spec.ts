import { CliError } from './client.js'
import {
  envKey, parseDurationNs, parseEnvEntry, parseLabels, parseMemBytes, parseNanoCpus, parsePlacementPref, parsePublish, parseRatio, parseUint,
  type PortFlag
} from './service-flags.js'
import { REBALANCE_LABEL } from '../../tasks/index.js'

/**
 * The ServiceSpec `flotilla service create` sends and the changes `service update` makes to the one it
 * read, flag for flag as docker's ToService and updateService (docker/cli cli/command/service).
 */

/** Flags shared by create and update: resources, restart policy, container settings. */
export interface CommonServiceFlags {
  replicas?: string
  replicasMaxPerNode?: string
  reserveCpu?: string
  reserveMemory?: string
  limitCpu?: string
  limitMemory?: string
  restartCondition?: string
  restartDelay?: string
  restartMaxAttempts?: string
  restartWindow?: string
  workdir?: string
  user?: string
  hostname?: string
  stopSignal?: string
  stopGracePeriod?: string
  updateParallelism?: string
  updateDelay?: string
  updateMonitor?: string
  updateFailureAction?: string
  updateMaxFailureRatio?: string
  updateOrder?: string
  rollbackParallelism?: string
  rollbackDelay?: string
  rollbackMonitor?: string
  rollbackFailureAction?: string
  rollbackMaxFailureRatio?: string
  rollbackOrder?: string
  /** `--rebalance` (true) or, on update, `--no-rebalance` (false): the `flotilla.rebalance` label. */
  rebalance?: boolean
  detach?: boolean
  quiet?: boolean
}

export interface CreateFlags extends CommonServiceFlags {
  name?: string
  mode?: string
  constraint: string[]
  placementPref: string[]
  env: string[]
  label: string[]
  containerLabel: string[]
  publish: string[]
  network: string[]
  endpointMode?: string
}

export interface UpdateFlags extends CommonServiceFlags {
  image?: string
  force?: boolean
  envAdd: string[]
  envRm: string[]
  constraintAdd: string[]
  constraintRm: string[]
  placementPrefAdd: string[]
  placementPrefRm: string[]
  labelAdd: string[]
  labelRm: string[]
  containerLabelAdd: string[]
  containerLabelRm: string[]
  publishAdd: string[]
  publishRm: string[]
}

type Json = Record<string, unknown>

/** SwarmKit's default restart policy, which docker's CLI fills in when any --restart-* flag is given. */
const DEFAULT_RESTART_POLICY: Json = { Condition: 'any', Delay: 5_000_000_000, MaxAttempts: 0 }

function obj (parent: Json, key: string): Json {
  const v = parent[key]
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Json
  const fresh: Json = {}
  parent[key] = fresh
  return fresh
}

function applyResources (tt: Json, o: CommonServiceFlags): void {
  const resources = obj(tt, 'Resources')
  const limits = obj(resources, 'Limits')
  const reservations = obj(resources, 'Reservations')
  if (o.limitCpu !== undefined) limits.NanoCPUs = parseNanoCpus(o.limitCpu, '--limit-cpu')
  if (o.limitMemory !== undefined) limits.MemoryBytes = parseMemBytes(o.limitMemory, '--limit-memory')
  if (o.reserveCpu !== undefined) reservations.NanoCPUs = parseNanoCpus(o.reserveCpu, '--reserve-cpu')
  if (o.reserveMemory !== undefined) reservations.MemoryBytes = parseMemBytes(o.reserveMemory, '--reserve-memory')
}

function applyRestartPolicy (tt: Json, o: CommonServiceFlags): void {
  if (o.restartCondition === undefined && o.restartDelay === undefined && o.restartMaxAttempts === undefined && o.restartWindow === undefined) return
  const current = tt.RestartPolicy
  const rp: Json = typeof current === 'object' && current !== null ? { ...(current as Json) } : { ...DEFAULT_RESTART_POLICY }
  if (o.restartCondition !== undefined) rp.Condition = o.restartCondition
  if (o.restartDelay !== undefined) rp.Delay = parseDurationNs(o.restartDelay, '--restart-delay')
  if (o.restartMaxAttempts !== undefined) rp.MaxAttempts = parseUint(o.restartMaxAttempts, '--restart-max-attempts')
  if (o.restartWindow !== undefined) rp.Window = parseDurationNs(o.restartWindow, '--restart-window')
  tt.RestartPolicy = rp
}

/** SwarmKit's defaults for UpdateConfig and RollbackConfig, which docker's CLI starts from when a flag of either is given. */
const DEFAULT_UPDATE_CONFIG: Json = { Parallelism: 1, Delay: 0, FailureAction: 'pause', Monitor: 5_000_000_000, MaxFailureRatio: 0, Order: 'stop-first' }

/** `--update-*` into UpdateConfig, `--rollback-*` into RollbackConfig (docker's updateConfig/rollbackConfig). */
function applyUpdatePolicies (spec: Json, o: CommonServiceFlags): void {
  const policies = [
    ['UpdateConfig', 'update', o.updateParallelism, o.updateDelay, o.updateMonitor, o.updateFailureAction, o.updateMaxFailureRatio, o.updateOrder],
    ['RollbackConfig', 'rollback', o.rollbackParallelism, o.rollbackDelay, o.rollbackMonitor, o.rollbackFailureAction, o.rollbackMaxFailureRatio, o.rollbackOrder]
  ] as const
  for (const [key, prefix, parallelism, delay, monitor, action, ratio, order] of policies) {
    if ([parallelism, delay, monitor, action, ratio, order].every(v => v === undefined)) continue
    const current = spec[key]
    const c: Json = typeof current === 'object' && current !== null ? { ...(current as Json) } : { ...DEFAULT_UPDATE_CONFIG }
    if (parallelism !== undefined) c.Parallelism = parseUint(parallelism, `--${prefix}-parallelism`)
    if (delay !== undefined) c.Delay = parseDurationNs(delay, `--${prefix}-delay`)
    if (monitor !== undefined) c.Monitor = parseDurationNs(monitor, `--${prefix}-monitor`)
    if (action !== undefined) {
      const allowed = prefix === 'update' ? ['pause', 'continue', 'rollback'] : ['pause', 'continue']
      if (!allowed.includes(action)) throw new CliError(`invalid argument "${action}" for "--${prefix}-failure-action" flag: must be one of ${allowed.join(', ')}`)
      c.FailureAction = action
    }
    if (ratio !== undefined) c.MaxFailureRatio = parseRatio(ratio, `--${prefix}-max-failure-ratio`)
    if (order !== undefined) {
      if (order !== 'stop-first' && order !== 'start-first') throw new CliError(`invalid argument "${order}" for "--${prefix}-order" flag: must be stop-first or start-first`)
      c.Order = order
    }
    spec[key] = c
  }
}

function applyRebalance (spec: Json, o: CommonServiceFlags): void {
  if (o.rebalance === undefined) return
  const labels = { ...(obj(spec, 'Labels') as Record<string, string>) }
  if (o.rebalance) labels[REBALANCE_LABEL] = 'true'
  else delete labels[REBALANCE_LABEL]
  spec.Labels = labels
}

function applyContainer (cs: Json, o: CommonServiceFlags): void {
  if (o.workdir !== undefined) cs.Dir = o.workdir
  if (o.user !== undefined) cs.User = o.user
  if (o.hostname !== undefined) cs.Hostname = o.hostname
  if (o.stopSignal !== undefined) cs.StopSignal = o.stopSignal
  if (o.stopGracePeriod !== undefined) cs.StopGracePeriod = parseDurationNs(o.stopGracePeriod, '--stop-grace-period')
}

/** `docker service create`'s spec: IMAGE, then COMMAND and ARGs as ContainerSpec.Args (the image's entrypoint stays). */
export function buildCreateSpec (image: string, args: readonly string[], o: CreateFlags, env: Readonly<Record<string, string | undefined>> = {}): Json {
  const mode = o.mode ?? 'replicated'
  let serviceMode: Json
  if (mode === 'global') {
    if (o.replicas !== undefined) throw new CliError('replicas can only be used with replicated mode')
    if (o.replicasMaxPerNode !== undefined) throw new CliError('replicas-max-per-node can only be used with replicated mode')
    serviceMode = { Global: {} }
  } else if (mode === 'replicated') {
    serviceMode = { Replicated: o.replicas === undefined ? {} : { Replicas: parseUint(o.replicas, '--replicas') } }
  } else {
    throw new CliError(`Unknown mode: ${mode}, only replicated and global supported`)
  }
  const cs: Json = { Image: image }
  if (args.length > 0) cs.Args = [...args]
  if (o.env.length > 0) cs.Env = o.env.map(e => parseEnvEntry(e, env))
  if (o.containerLabel.length > 0) cs.Labels = parseLabels(o.containerLabel, '--container-label')
  applyContainer(cs, o)
  const placement: Json = {}
  if (o.constraint.length > 0) placement.Constraints = [...o.constraint]
  if (o.placementPref.length > 0) placement.Preferences = o.placementPref.map(parsePlacementPref)
  if (o.replicasMaxPerNode !== undefined) placement.MaxReplicas = parseUint(o.replicasMaxPerNode, '--replicas-max-per-node')
  const tt: Json = { ContainerSpec: cs, Placement: placement, ForceUpdate: 0 }
  applyResources(tt, o)
  applyRestartPolicy(tt, o)
  if (o.network.length > 0) tt.Networks = o.network.map(parseNetworkFlag)
  const endpointMode = o.endpointMode ?? 'vip'
  if (endpointMode !== 'vip' && endpointMode !== 'dnsrr') throw new CliError(`invalid endpoint mode ${endpointMode}: use vip or dnsrr`)
  const endpoint: Json = { Mode: endpointMode }
  const ports = o.publish.flatMap(p => parsePublish(p))
  if (ports.length > 0) endpoint.Ports = ports
  const spec: Json = { Name: o.name ?? '', Labels: parseLabels(o.label), TaskTemplate: tt, Mode: serviceMode, EndpointSpec: endpoint }
  applyUpdatePolicies(spec, o)
  applyRebalance(spec, o)
  return spec
}

/** docker's `--network`: a name or ID, or `name=NET[,alias=A]...` (aliases repeatable). */
export function parseNetworkFlag (value: string): Json {
  if (!value.includes('=')) return { Target: value }
  let target = ''
  const aliases: string[] = []
  for (const field of value.split(',')) {
    const i = field.indexOf('=')
    const key = i < 0 ? '' : field.slice(0, i).toLowerCase()
    const v = field.slice(i + 1)
    if (key === 'name') target = v
    else if (key === 'alias') aliases.push(v)
    else throw new CliError(`invalid --network value "${value}": unknown field "${field}"; use name=NET,alias=NAME`)
  }
  if (target === '') throw new CliError(`invalid --network value "${value}": name is missing`)
  return aliases.length > 0 ? { Target: target, Aliases: aliases } : { Target: target }
}

function sameText (a: readonly string[]): string[] {
  return [...new Set(a)].sort()
}

function portId (p: { Protocol?: string, TargetPort?: number, PublishedPort?: number, PublishMode?: string }): string {
  return `${String(p.Protocol ?? 'tcp')}/${String(p.TargetPort)}/${String(p.PublishedPort ?? 0)}/${String(p.PublishMode ?? 'ingress')}`
}

function updatePorts (endpoint: Json, o: UpdateFlags): void {
  if (o.publishAdd.length === 0 && o.publishRm.length === 0) return
  const current = (Array.isArray(endpoint.Ports) ? endpoint.Ports : []) as PortFlag[]
  // --publish-rm takes `<target>[/protocol]` (or the long form) and removes by target port and protocol.
  const remove = o.publishRm.flatMap(p => parsePublish(p, '--publish-rm'))
  const kept = current.filter(p => !remove.some(r => r.TargetPort === p.TargetPort && r.Protocol === (p.Protocol ?? 'tcp')))
  const ids = new Set(kept.map(portId))
  for (const p of o.publishAdd.flatMap(x => parsePublish(x, '--publish-add'))) {
    if (ids.has(portId(p))) continue
    ids.add(portId(p))
    kept.push(p)
  }
  kept.sort((a, b) => (a.PublishedPort - b.PublishedPort) || (a.TargetPort - b.TargetPort) || a.Protocol.localeCompare(b.Protocol))
  if (kept.length > 0) endpoint.Ports = kept
  else delete endpoint.Ports
}

function updateLabels (parent: Json, key: string, add: readonly string[], rm: readonly string[], flag: string): void {
  if (add.length === 0 && rm.length === 0) return
  const labels = { ...(obj(parent, key) as Record<string, string>), ...parseLabels(add, flag) }
  for (const k of rm) delete labels[k]
  parent[key] = labels
}

/**
 * `docker service update`'s changes to `spec` (the service's current Spec, not modified): env, labels,
 * constraints and ports are sets (`-add` replaces a same-keyed entry, `-rm` removes by key); `--force`
 * bumps ForceUpdate; `--replicas` is refused for a global service.
 */
export function applyUpdateFlags (spec: Json, o: UpdateFlags, env: Readonly<Record<string, string | undefined>> = {}): Json {
  const next = structuredClone(spec)
  const tt = obj(next, 'TaskTemplate')
  const cs = obj(tt, 'ContainerSpec')
  if (o.image !== undefined) cs.Image = o.image
  if (o.replicas !== undefined || o.replicasMaxPerNode !== undefined) {
    const mode = obj(next, 'Mode')
    if (mode.Replicated === undefined || mode.Replicated === null) throw new CliError('replicas can only be used with replicated mode')
    if (o.replicas !== undefined) obj(mode, 'Replicated').Replicas = parseUint(o.replicas, '--replicas')
    if (o.replicasMaxPerNode !== undefined) obj(tt, 'Placement').MaxReplicas = parseUint(o.replicasMaxPerNode, '--replicas-max-per-node')
  }
  if (o.envAdd.length > 0 || o.envRm.length > 0) {
    const byKey = new Map<string, string>()
    for (const e of (Array.isArray(cs.Env) ? cs.Env : []) as string[]) byKey.set(envKey(e), e)
    for (const e of o.envAdd) byKey.set(envKey(e), parseEnvEntry(e, env))
    for (const k of o.envRm) byKey.delete(envKey(k))
    cs.Env = [...byKey.values()].sort()
  }
  updateLabels(next, 'Labels', o.labelAdd, o.labelRm, '--label-add')
  updateLabels(cs, 'Labels', o.containerLabelAdd, o.containerLabelRm, '--container-label-add')
  if (o.constraintAdd.length > 0 || o.constraintRm.length > 0) {
    const placement = obj(tt, 'Placement')
    const current = (Array.isArray(placement.Constraints) ? placement.Constraints : []) as string[]
    placement.Constraints = sameText([...current, ...o.constraintAdd]).filter(c => !o.constraintRm.includes(c))
  }
  if (o.placementPrefAdd.length > 0 || o.placementPrefRm.length > 0) {
    const placement = obj(tt, 'Placement')
    const current = (Array.isArray(placement.Preferences) ? placement.Preferences : []) as Array<{ Spread: { SpreadDescriptor: string } }>
    const removed = o.placementPrefRm.map(p => parsePlacementPref(p).Spread.SpreadDescriptor)
    placement.Preferences = [...current, ...o.placementPrefAdd.map(parsePlacementPref)].filter(p => !removed.includes(p.Spread.SpreadDescriptor))
  }
  updatePorts(obj(next, 'EndpointSpec'), o)
  applyResources(tt, o)
  applyRestartPolicy(tt, o)
  applyContainer(cs, o)
  applyUpdatePolicies(next, o)
  applyRebalance(next, o)
  if (o.force === true) tt.ForceUpdate = (typeof tt.ForceUpdate === 'number' ? tt.ForceUpdate : 0) + 1
  return next
}
