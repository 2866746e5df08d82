import { randomInt } from 'node:crypto'
import { z } from 'zod'
import { FlotillaError } from '../../membership/index.js'
import { parseConstraints, type ServiceSpec } from '../../tasks/index.js'

/**
 * The ServiceSpec that `POST /services/create` and `/services/{id}/update` take, in Docker's field names
 * (Engine API 1.41). Every error is a 400 whose message starts with the field's path, e.g.
 * `TaskTemplate.ContainerSpec.Image: image reference must be provided`.
 *
 * Fields flotilla does not run but the docker CLI sends (ContainerSpec.Init, DNSConfig, Isolation,
 * LogDriver, empty Mounts, ...) are kept as sent, so
 * that `docker service update` sends them back unchanged. Those that would change what runs and are set
 * (non-empty Mounts, Secrets or Configs, job modes, plugin runtimes) are refused rather than ignored.
 * Networks are kept with their Targets as given; the leader resolves them to network IDs.
 */

/** Docker's SecretReferenceFileTarget (also a config's): a file name (no `..`), owner and mode. */
const FileTargetSchema = z.object({
  Name: z.string().refine(n => !n.split('/').includes('..'), 'must not contain ".."').nullable().optional(),
  UID: z.string().regex(/^\d*$/, 'must be a numeric user ID').nullable().optional(),
  GID: z.string().regex(/^\d*$/, 'must be a numeric group ID').nullable().optional(),
  Mode: z.number().int('must be a file mode').min(0, 'must be a file mode').max(0o7777, 'must be a file mode').nullable().optional()
}).passthrough().nullable().optional()

const UINT = 'must be a non-negative integer'
const uint = z.number({ invalid_type_error: UINT }).int(UINT).nonnegative(UINT).max(Number.MAX_SAFE_INTEGER, UINT)
const NANOS = 'must be an integer number of nanoseconds'
const nanos = z.number({ invalid_type_error: NANOS }).int(NANOS).min(Number.MIN_SAFE_INTEGER, NANOS).max(Number.MAX_SAFE_INTEGER, NANOS)
const strings = z.array(z.string()).nullable().optional()
const labels = z.record(z.string()).nullable().optional()
const text = z.string().nullable().optional()
const list = z.array(z.unknown()).nullable().optional()

const ResourcesSchema = z.object({ NanoCPUs: uint.optional(), MemoryBytes: uint.optional() }).passthrough().nullable().optional()

const ContainerSpecSchema = z.object({
  Image: text,
  Command: strings,
  Args: strings,
  Env: strings,
  Labels: labels,
  Dir: text,
  User: text,
  Hostname: text,
  StopSignal: text,
  StopGracePeriod: uint.nullable().optional(),
  Healthcheck: z.object({
    Test: strings,
    Interval: uint.nullable().optional(),
    Timeout: uint.nullable().optional(),
    Retries: uint.nullable().optional(),
    StartPeriod: uint.nullable().optional()
  }).passthrough().nullable().optional(),
  Mounts: list,
  Secrets: z.array(z.object({
    File: FileTargetSchema,
    SecretID: text,
    SecretName: text
  }).passthrough()).nullable().optional(),
  Configs: z.array(z.object({
    File: FileTargetSchema,
    Runtime: z.object({}).passthrough().nullable().optional(),
    ConfigID: text,
    ConfigName: text
  }).passthrough()).nullable().optional()
}).passthrough()

/** Docker's NetworkAttachmentConfig list; Target is a network name or ID, resolved on the leader. */
const NetworksSchema = z.array(z.object({
  Target: z.string().min(1, 'must name a network'),
  Aliases: z.array(z.string()).nullable().optional(),
  DriverOpts: z.record(z.string()).nullable().optional()
}).passthrough()).nullable().optional()

const TaskTemplateSchema = z.object({
  ContainerSpec: ContainerSpecSchema.nullable().optional(),
  Resources: z.object({ Limits: ResourcesSchema, Reservations: ResourcesSchema }).passthrough().nullable().optional(),
  RestartPolicy: z.object({
    Condition: text,
    Delay: nanos.nullable().optional(),
    MaxAttempts: uint.nullable().optional(),
    Window: nanos.nullable().optional()
  }).passthrough().nullable().optional(),
  Placement: z.object({
    Constraints: strings,
    Preferences: z.array(z.object({
      Spread: z.object({ SpreadDescriptor: z.string() }).passthrough()
    }).passthrough()).nullable().optional(),
    MaxReplicas: uint.nullable().optional(),
    Platforms: z.array(z.object({ Architecture: text, OS: text }).passthrough()).nullable().optional()
  }).passthrough().nullable().optional(),
  ForceUpdate: uint.nullable().optional(),
  Runtime: text,
  Networks: NetworksSchema
}).passthrough()

const PortSchema = z.object({
  Name: text,
  Protocol: text,
  TargetPort: z.number().optional(),
  PublishedPort: z.number().nullable().optional(),
  PublishMode: text
}).passthrough()

function unsetEnum (v: unknown): unknown {
  return v === '' ? undefined : v
}

/** Docker's UpdateConfig and RollbackConfig, with SwarmKit's bounds (controlapi validateUpdate). */
const UpdateConfigSchema = z.object({
  Parallelism: uint.nullable().optional(),
  Delay: uint.nullable().optional(),
  // The docker CLI (stack deploy) sends "" for an enum it leaves unset: read as absent.
  FailureAction: z.preprocess(unsetEnum, z.enum(['pause', 'continue', 'rollback']).nullable().optional()),
  Monitor: uint.nullable().optional(),
  MaxFailureRatio: z.number({ invalid_type_error: 'must be a number between 0 and 1' }).min(0, 'must be between 0 and 1').max(1, 'must be between 0 and 1').nullable().optional(),
  Order: z.preprocess(unsetEnum, z.enum(['stop-first', 'start-first']).nullable().optional())
}).passthrough().nullable().optional()

/** Docker's ServiceSpec; see the module comment for what is kept, refused and normalized. */
export const ServiceSpecSchema = z.object({
  Name: text,
  Labels: labels,
  TaskTemplate: TaskTemplateSchema.nullable().optional(),
  Mode: z.object({
    Replicated: z.object({ Replicas: uint.nullable().optional() }).passthrough().nullable().optional(),
    Global: z.object({}).passthrough().nullable().optional()
  }).passthrough().nullable().optional(),
  EndpointSpec: z.object({
    Mode: text,
    Ports: z.array(PortSchema).nullable().optional()
  }).passthrough().nullable().optional(),
  UpdateConfig: UpdateConfigSchema,
  RollbackConfig: UpdateConfigSchema,
  /** Deprecated in Docker's API for TaskTemplate.Networks, where it is moved. */
  Networks: NetworksSchema
}).passthrough()

type SpecInput = z.infer<typeof ServiceSpecSchema>

/** SwarmKit's service name rule (controlapi validateAnnotations): a DNS label, `-`/`_` allowed inside. */
const SERVICE_NAME = /^[a-zA-Z0-9](?:[-_]*[A-Za-z0-9]+)*$/
const MAX_NAME_LENGTH = 63

/**
 * An image reference as distribution/reference's grammar reads it: `[domain[:port]/]path[:tag][@digest]`,
 * the path lowercase.
 */
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])'
const DOMAIN = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?`
const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*'
const TAG = '[\\w][\\w.-]{0,127}'
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}'
const IMAGE_REFERENCE = new RegExp(`^(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*(?::${TAG})?(?:@${DIGEST})?$`)

/** Fields stored as sent that flotilla's executor does not apply: create and update warn about them when set. */
const NOT_APPLIED: ReadonlyArray<readonly [string, (v: unknown) => boolean]> = [
  ['TaskTemplate.ContainerSpec.TTY', v => v === true],
  ['TaskTemplate.ContainerSpec.OpenStdin', v => v === true],
  ['TaskTemplate.ContainerSpec.ReadOnly', v => v === true],
  ['TaskTemplate.ContainerSpec.Init', v => v === true],
  ['TaskTemplate.ContainerSpec.Privileges', v => isObject(v) && Object.keys(v).length > 0],
  ['TaskTemplate.ContainerSpec.Groups', nonEmptyArray],
  ['TaskTemplate.ContainerSpec.Hosts', nonEmptyArray],
  ['TaskTemplate.ContainerSpec.CapabilityAdd', nonEmptyArray],
  ['TaskTemplate.ContainerSpec.CapabilityDrop', nonEmptyArray],
  ['TaskTemplate.ContainerSpec.Ulimits', nonEmptyArray],
  ['TaskTemplate.ContainerSpec.Sysctls', v => isObject(v) && Object.keys(v).length > 0],
  ['TaskTemplate.ContainerSpec.DNSConfig', v => isObject(v) && Object.values(v).some(x => Array.isArray(x) && x.length > 0)],
  ['TaskTemplate.LogDriver', v => isObject(v) && typeof v.Name === 'string' && v.Name !== '']
]

/** Fields refused when set: flotilla cannot run them, and ignoring them would run something else. */
const REFUSED: ReadonlyArray<readonly [string, string]> = [
  ['TaskTemplate.ContainerSpec.Mounts', 'mounts are not supported by flotilla'],
  ['TaskTemplate.PluginSpec', 'plugin services are not supported by flotilla'],
  ['TaskTemplate.NetworkAttachmentSpec', 'network attachment tasks are not supported by flotilla']
]

function isObject (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function nonEmptyArray (v: unknown): boolean {
  return Array.isArray(v) && v.length > 0
}

function at (root: unknown, path: string): unknown {
  let v = root
  for (const k of path.split('.')) v = isObject(v) ? v[k] : undefined
  return v
}

function invalid (field: string, message: string, hint?: string): FlotillaError {
  return new FlotillaError('invalid-argument', `${field}: ${message}`, hint === undefined ? {} : { hint })
}

/** `a.b[0].c` from zod's path. */
function fieldPath (path: ReadonlyArray<string | number>): string {
  return path.reduce<string>((acc, k) => typeof k === 'number' ? `${acc}[${k}]` : acc === '' ? k : `${acc}.${k}`, '')
}

/** Go's `nil` is JSON's null: drop nulls (and undefineds) everywhere, so that stored specs hold only what is set. */
function compact (v: unknown): unknown {
  if (Array.isArray(v)) return v.map(compact)
  if (!isObject(v)) return v
  const out: Record<string, unknown> = {}
  for (const [k, x] of Object.entries(v)) {
    if (x === null || x === undefined) continue
    out[k] = compact(x)
  }
  return out
}

const ADJECTIVES = ['admiring', 'brave', 'clever', 'dazzling', 'eager', 'focused', 'gallant', 'happy', 'jolly', 'keen', 'lucid', 'modest', 'nifty', 'optimistic', 'peaceful', 'quirky', 'relaxed', 'serene', 'trusting', 'upbeat', 'vibrant', 'wizardly', 'youthful', 'zealous']
const SURNAMES = ['albattani', 'babbage', 'curie', 'darwin', 'euclid', 'feynman', 'goldwasser', 'hopper', 'johnson', 'kepler', 'lamport', 'lovelace', 'meitner', 'noether', 'ostrom', 'pasteur', 'ritchie', 'shannon', 'thompson', 'turing', 'wozniak', 'yalow']

/** A name for a service created without one, as dockerd's namesgenerator: `adjective_surname`. */
export function randomServiceName (pick: (n: number) => number = randomInt): string {
  return `${ADJECTIVES[pick(ADJECTIVES.length)]!}_${SURNAMES[pick(SURNAMES.length)]!}`
}

/** SwarmKit's name checks, in its order and words. */
export function validateServiceName (name: string): void {
  if (!SERVICE_NAME.test(name)) throw invalid('Name', 'name must be valid as a DNS name component', 'use letters, digits, "-" and "_", starting and ending with a letter or digit')
  if (name.length > MAX_NAME_LENGTH) throw invalid('Name', `name must be ${MAX_NAME_LENGTH} characters or fewer`)
}

function checkResources (r: { NanoCPUs?: number, MemoryBytes?: number } | null | undefined, field: string): void {
  if (r === null || r === undefined) return
  // SwarmKit's validateResources: 0 means unset.
  if (r.NanoCPUs !== undefined && r.NanoCPUs !== 0 && r.NanoCPUs < 1e6) {
    throw invalid(`${field}.NanoCPUs`, `invalid cpu value ${r.NanoCPUs / 1e9}: Must be at least 0.001`)
  }
  if (r.MemoryBytes !== undefined && r.MemoryBytes !== 0 && r.MemoryBytes < 4 * 1024 * 1024) {
    throw invalid(`${field}.MemoryBytes`, `invalid memory value ${r.MemoryBytes}: Must be at least 4MiB`)
  }
}

/** Docker's smallest non-zero health check duration (container.MinimumDuration), in nanoseconds. */
const MIN_HEALTH_DURATION_NS = 1_000_000

/**
 * Docker's HealthConfig checks (daemon validateHealthCheck): durations 0 (the engine's default) or at
 * least 1 ms; Test empty (the image's check), ["NONE"], ["CMD", exe, ...] or ["CMD-SHELL", command].
 */
function checkHealthcheck (hc: { Test?: string[] | null, Interval?: number | null, Timeout?: number | null, StartPeriod?: number | null } | null | undefined): void {
  if (hc === null || hc === undefined) return
  const field = 'TaskTemplate.ContainerSpec.Healthcheck'
  for (const k of ['Interval', 'Timeout', 'StartPeriod'] as const) {
    const v = hc[k] ?? 0
    if (v !== 0 && v < MIN_HEALTH_DURATION_NS) throw invalid(`${field}.${k}`, `${k} in Healthcheck cannot be less than 1ms`)
  }
  const test = hc.Test ?? []
  if (test.length === 0) return
  const kind = test[0]
  if (kind === 'NONE') {
    if (test.length > 1) throw invalid(`${field}.Test`, '"NONE" takes no arguments', 'use ["NONE"] to disable the image\'s health check')
  } else if (kind === 'CMD' || kind === 'CMD-SHELL') {
    if (test.length < 2 || test.slice(1).every(a => a === '')) throw invalid(`${field}.Test`, `${kind} needs a command`, `e.g. ["CMD-SHELL", "curl -f http://localhost/ || exit 1"]`)
  } else {
    throw invalid(`${field}.Test`, `unknown health check type ${JSON.stringify(kind)}`, 'start Test with "CMD", "CMD-SHELL" or "NONE"')
  }
}

function normalizeMode (mode: SpecInput['Mode']): ServiceSpec['Mode'] {
  if (mode === null || mode === undefined) return { Replicated: { Replicas: 1 } }
  const set = Object.entries(mode).filter(([, v]) => v !== null && v !== undefined).map(([k]) => k)
  for (const k of set) {
    if (k === 'ReplicatedJob' || k === 'GlobalJob') throw invalid(`Mode.${k}`, 'job services are not supported by flotilla', 'use Replicated or Global')
    if (k !== 'Replicated' && k !== 'Global') throw invalid('Mode', `unknown service mode ${JSON.stringify(k)}`, 'use Replicated or Global')
  }
  if (set.length > 1) throw invalid('Mode', 'must specify only one service mode', 'set either Replicated or Global')
  if (mode.Global !== null && mode.Global !== undefined) return { Global: {} }
  // Docker: no mode, or Replicated without Replicas, is one replica.
  return { Replicated: { Replicas: mode.Replicated?.Replicas ?? 1 } }
}

function checkTaskTemplate (tt: z.infer<typeof TaskTemplateSchema>): void {
  const cs = tt.ContainerSpec
  const image = cs?.Image ?? ''
  if (image === '') throw invalid('TaskTemplate.ContainerSpec.Image', 'image reference must be provided')
  if (!IMAGE_REFERENCE.test(image)) {
    throw invalid('TaskTemplate.ContainerSpec.Image', `${JSON.stringify(image)} is not a valid repository/tag`, 'e.g. nginx, nginx:1.27 or registry.example.com:5000/team/app@sha256:…')
  }
  cs?.Env?.forEach((e, i) => {
    if (e === '' || e.startsWith('=')) throw invalid(`TaskTemplate.ContainerSpec.Env[${i}]`, `invalid environment variable ${JSON.stringify(e)}`, 'write KEY=value')
  })
  checkHealthcheck(cs?.Healthcheck)
  const runtime = tt.Runtime ?? ''
  if (runtime !== '' && runtime !== 'container') throw invalid('TaskTemplate.Runtime', `runtime ${JSON.stringify(runtime)} is not supported by flotilla`, 'use "container"')
  checkResources(tt.Resources?.Limits, 'TaskTemplate.Resources.Limits')
  checkResources(tt.Resources?.Reservations, 'TaskTemplate.Resources.Reservations')
  const rp = tt.RestartPolicy
  if (rp !== null && rp !== undefined) {
    const c = rp.Condition ?? ''
    if (c !== '' && c !== 'none' && c !== 'on-failure' && c !== 'any') {
      throw invalid('TaskTemplate.RestartPolicy.Condition', `invalid RestartCondition: ${JSON.stringify(c)}`, 'use none, on-failure or any')
    }
    if ((rp.Delay ?? 0) < 0) throw invalid('TaskTemplate.RestartPolicy.Delay', 'restart-delay cannot be negative')
    if ((rp.Window ?? 0) < 0) throw invalid('TaskTemplate.RestartPolicy.Window', 'restart-window cannot be negative')
  }
  const p = tt.Placement
  try {
    parseConstraints(p?.Constraints ?? [])
  } catch (err) {
    const e = err as FlotillaError
    throw invalid('TaskTemplate.Placement.Constraints', e.message, e.hint)
  }
  p?.Preferences?.forEach((pref, i) => {
    const d = pref.Spread.SpreadDescriptor
    if (!/^(node|engine)\.labels\.\S+$/i.test(d)) {
      throw invalid(`TaskTemplate.Placement.Preferences[${i}].Spread.SpreadDescriptor`, `unsupported spread descriptor ${JSON.stringify(d)}`, 'spread over node.labels.<name> or engine.labels.<name>')
    }
  })
}

/** Each network once, each alias a DNS name (SwarmKit's validateNetworks). */
function checkNetworks (networks: ReadonlyArray<{ readonly Target: string, readonly Aliases?: readonly string[] | null }>): void {
  const seen = new Set<string>()
  for (const [i, n] of networks.entries()) {
    if (seen.has(n.Target)) throw invalid(`TaskTemplate.Networks[${i}]`, `network ${n.Target} is attached more than once`)
    seen.add(n.Target)
    for (const a of n.Aliases ?? []) {
      if (!/^[a-zA-Z0-9](?:[a-zA-Z0-9_.-]*[a-zA-Z0-9])?$/.test(a) || a.length > 253) {
        throw invalid(`TaskTemplate.Networks[${i}].Aliases`, `"${a}" is not a valid DNS name`, 'use letters, digits, ".", "-" and "_"')
      }
    }
  }
}

function normalizeTaskTemplate (tt: z.infer<typeof TaskTemplateSchema>): ServiceSpec['TaskTemplate'] {
  const out = compact(tt) as Record<string, unknown> & { RestartPolicy?: Record<string, unknown>, Runtime?: string }
  if (out.RestartPolicy?.Condition === '') delete out.RestartPolicy.Condition
  if (out.Runtime === '') delete out.Runtime
  out.ForceUpdate ??= 0
  return out as unknown as ServiceSpec['TaskTemplate']
}

function normalizeEndpointSpec (e: SpecInput['EndpointSpec']): NonNullable<ServiceSpec['EndpointSpec']> {
  const mode = e?.Mode ?? ''
  if (mode !== '' && mode !== 'vip' && mode !== 'dnsrr') throw invalid('EndpointSpec.Mode', `invalid resolution mode ${JSON.stringify(mode)}`, 'use vip or dnsrr')
  const ports = (e?.Ports ?? []).map(p => {
    const q = compact(p) as Record<string, unknown>
    // The docker CLI sends "" for unset enum fields; the allocator reads absent as its default.
    if (q.Protocol === '') delete q.Protocol
    if (q.PublishMode === '') delete q.PublishMode
    return q
  })
  const out = compact({ ...e, Mode: mode === '' ? 'vip' : mode }) as Record<string, unknown>
  if (ports.length > 0) out.Ports = ports
  else delete out.Ports
  return out
}

/** What `parseServiceSpec` returns: the spec to store, and what create/update answer in `Warnings`. */
export interface ParsedServiceSpec {
  readonly spec: ServiceSpec
  readonly warnings: readonly string[]
}

/**
 * Parse, validate and normalize a request's ServiceSpec, once: a missing Mode becomes
 * `{Replicated: {Replicas: 1}}` (as dockerd), a missing EndpointSpec.Mode `vip`, Labels `{}`,
 * ForceUpdate 0, nulls are dropped. An empty Name is replaced by `name()` (dockerd gives a random one).
 * Published ports are checked later, by the allocator on the leader. Throws FlotillaError('invalid-argument').
 */
export function parseServiceSpec (body: unknown, name: () => string = randomServiceName): ParsedServiceSpec {
  if (body === undefined) throw new FlotillaError('invalid-argument', 'service spec: request body is empty; a JSON object is expected')
  const r = ServiceSpecSchema.safeParse(body)
  if (!r.success) {
    const issue = r.error.issues[0]!
    const field = fieldPath(issue.path)
    throw new FlotillaError('invalid-argument', field === '' ? `service spec: ${issue.message}` : `${field}: ${issue.message}`)
  }
  const s = r.data
  for (const [path, why] of REFUSED) {
    const v = at(s, path)
    if (v === undefined || v === null || (Array.isArray(v) && v.length === 0)) continue
    throw invalid(path, why)
  }
  const serviceName = s.Name === undefined || s.Name === null || s.Name === '' ? name() : s.Name
  validateServiceName(serviceName)
  const tt = { ...(s.TaskTemplate ?? {}) }
  checkTaskTemplate(tt)
  // As dockerd: the deprecated top-level Networks moves into the task template.
  if ((tt.Networks ?? []).length === 0 && (s.Networks ?? []).length > 0) tt.Networks = s.Networks
  checkNetworks(tt.Networks ?? [])
  const { Networks: _deprecated, ...rest } = compact(s) as Record<string, unknown>
  const spec = {
    ...rest,
    Name: serviceName,
    Labels: s.Labels ?? {},
    TaskTemplate: normalizeTaskTemplate(tt),
    Mode: normalizeMode(s.Mode),
    EndpointSpec: normalizeEndpointSpec(s.EndpointSpec)
  }
  const warnings = NOT_APPLIED.filter(([path, isSet]) => isSet(at(spec, path))).map(([path]) => `${path} is stored but not applied by flotilla`)
  return { spec, warnings }
}
