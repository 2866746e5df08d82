import { resolve } from 'node:path'
import {
  ComposeError, type DeployConfig, type Environment, type FileReference, type HealthcheckConfig, type PortConfig, type ReadFile,
  type ResourceValues, type RestartPolicy, type ServiceConfig, type UpdatePolicy
} from './compose-types.js'
import {
  bool, bytes, checkKeys, durationNs, labelMap, listOrDict, mapping, nanoCpus, num, ports, shellCommand, str, stringList,
  stringOrList, uint, type Mapping
} from './compose-values.js'

/**
 * One entry of a Compose file's `services`, validated against the subset flotilla runs and normalized
 * (docker/cli cli/compose/loader LoadService). A key flotilla cannot honour is refused, naming its path,
 * rather than ignored: a stack that deploys runs what its file says.
 */

/** Where the file's relative paths start (docker: the first Compose file's directory) and what the loader reads. */
export interface LoadContext {
  readonly workingDir: string
  readonly env: Environment
  readonly readFile: ReadFile
}

const SERVICE_KEYS = [
  'image', 'command', 'entrypoint', 'environment', 'env_file', 'labels', 'deploy', 'ports', 'networks', 'secrets', 'configs',
  'healthcheck', 'stop_grace_period', 'stop_signal', 'user', 'working_dir', 'hostname', 'restart'
]

/** Service keys of the Compose format that flotilla does not run, with what to do instead ('' for no hint). */
const REFUSED_SERVICE_KEYS: Readonly<Record<string, string>> = {
  build: 'build and push the image first, then name it in image:',
  cap_add: 'flotilla runs tasks with the engine\'s default capabilities',
  cap_drop: 'flotilla runs tasks with the engine\'s default capabilities',
  cgroup_parent: '',
  cgroupns_mode: '',
  container_name: 'swarm names each container after its task',
  cpu_quota: 'set deploy.resources.limits.cpus',
  cpu_shares: 'set deploy.resources.reservations.cpus',
  cpuset: 'set deploy.resources.limits.cpus',
  credential_spec: '',
  depends_on: 'swarm starts a stack\'s services in no particular order: let each service wait for what it needs',
  devices: '',
  dns: 'services resolve each other by name on their networks',
  dns_search: '',
  domainname: '',
  expose: 'services on the same network reach each other on any port',
  extends: '',
  external_links: 'services reach each other by name on their networks',
  extra_hosts: '',
  init: '',
  ipc: '',
  isolation: '',
  links: 'services reach each other by name on their networks',
  logging: 'flotilla keeps the engine\'s log driver; read logs with `flotilla service logs`',
  mac_address: '',
  mem_limit: 'set deploy.resources.limits.memory',
  memswap_limit: '',
  network_mode: 'attach the service to overlay networks with networks:',
  oom_score_adj: '',
  pid: '',
  privileged: '',
  read_only: '',
  security_opt: '',
  shm_size: '',
  stdin_open: '',
  sysctls: '',
  tmpfs: '',
  tty: '',
  ulimits: '',
  userns_mode: '',
  volume_driver: '',
  volumes: 'flotilla mounts no volumes into tasks: hand files to a service with configs: or secrets:',
  volumes_from: ''
}

const UPDATE_ACTIONS = { update_config: ['pause', 'continue', 'rollback'], rollback_config: ['pause', 'continue'] } as const

function updatePolicy (v: unknown, path: string, key: keyof typeof UPDATE_ACTIONS): UpdatePolicy {
  const m = mapping(v, path)
  checkKeys(m, path, ['parallelism', 'delay', 'failure_action', 'monitor', 'max_failure_ratio', 'order'])
  const out: { -readonly [K in keyof UpdatePolicy]: UpdatePolicy[K] } = {}
  if (m.parallelism !== undefined) out.parallelism = uint(m.parallelism, `${path}.parallelism`)
  if (m.delay !== undefined) out.delayNs = durationNs(m.delay, `${path}.delay`)
  if (m.monitor !== undefined) out.monitorNs = durationNs(m.monitor, `${path}.monitor`)
  if (m.failure_action !== undefined) {
    const a = str(m.failure_action, `${path}.failure_action`)
    const allowed: readonly string[] = UPDATE_ACTIONS[key]
    if (!allowed.includes(a)) throw new ComposeError(`${path}.failure_action`, `invalid failure action ${JSON.stringify(a)}: use ${allowed.join(', ')}`)
    out.failureAction = a
  }
  if (m.max_failure_ratio !== undefined) {
    const r = num(m.max_failure_ratio, `${path}.max_failure_ratio`)
    if (r < 0 || r > 1) throw new ComposeError(`${path}.max_failure_ratio`, 'must be between 0 and 1')
    out.maxFailureRatio = r
  }
  if (m.order !== undefined) {
    const o = str(m.order, `${path}.order`)
    if (o !== 'start-first' && o !== 'stop-first') throw new ComposeError(`${path}.order`, `invalid order ${JSON.stringify(o)}: use start-first or stop-first`)
    out.order = o
  }
  return out
}

function restartPolicy (v: unknown, path: string): RestartPolicy {
  const m = mapping(v, path)
  checkKeys(m, path, ['condition', 'delay', 'max_attempts', 'window'])
  const out: { -readonly [K in keyof RestartPolicy]: RestartPolicy[K] } = {}
  if (m.condition !== undefined) {
    const c = str(m.condition, `${path}.condition`)
    if (c !== 'none' && c !== 'on-failure' && c !== 'any') throw new ComposeError(`${path}.condition`, `invalid restart condition ${JSON.stringify(c)}: use none, on-failure or any`)
    out.condition = c
  }
  if (m.delay !== undefined) out.delayNs = durationNs(m.delay, `${path}.delay`)
  if (m.max_attempts !== undefined) out.maxAttempts = uint(m.max_attempts, `${path}.max_attempts`)
  if (m.window !== undefined) out.windowNs = durationNs(m.window, `${path}.window`)
  return out
}

function resourceValues (v: unknown, path: string, refused: Readonly<Record<string, string>>): ResourceValues {
  const m = mapping(v, path)
  checkKeys(m, path, ['cpus', 'memory'], refused)
  return {
    ...(m.cpus === undefined ? {} : { nanoCpus: nanoCpus(m.cpus, `${path}.cpus`) }),
    ...(m.memory === undefined ? {} : { memoryBytes: bytes(m.memory, `${path}.memory`) })
  }
}

function deploy (v: unknown, path: string): DeployConfig {
  const m = mapping(v, path)
  checkKeys(m, path, ['mode', 'replicas', 'labels', 'endpoint_mode', 'placement', 'resources', 'restart_policy', 'update_config', 'rollback_config'])
  const out: { -readonly [K in keyof DeployConfig]: DeployConfig[K] } = {}
  if (m.mode !== undefined) {
    const mode = str(m.mode, `${path}.mode`)
    if (mode === 'replicated-job' || mode === 'global-job') throw new ComposeError(`${path}.mode`, `${mode}: not supported by flotilla`, 'job services are not supported: use replicated or global')
    if (mode !== 'replicated' && mode !== 'global') throw new ComposeError(`${path}.mode`, `unknown mode: ${mode}`, 'use replicated or global')
    out.mode = mode
  }
  if (m.replicas !== undefined) out.replicas = uint(m.replicas, `${path}.replicas`)
  if (m.labels !== undefined) out.labels = labelMap(m.labels, `${path}.labels`)
  if (m.endpoint_mode !== undefined) {
    const e = str(m.endpoint_mode, `${path}.endpoint_mode`).toLowerCase()
    if (e !== 'vip' && e !== 'dnsrr') throw new ComposeError(`${path}.endpoint_mode`, `invalid endpoint mode ${JSON.stringify(e)}: use vip or dnsrr`)
    out.endpointMode = e
  }
  if (m.placement !== undefined) {
    const p = mapping(m.placement, `${path}.placement`)
    checkKeys(p, `${path}.placement`, ['constraints', 'preferences', 'max_replicas_per_node'])
    if (p.preferences !== undefined && !Array.isArray(p.preferences)) throw new ComposeError(`${path}.placement.preferences`, 'must be a list')
    const preferences = p.preferences === undefined
      ? undefined
      : (p.preferences as unknown[]).map((pref, i) => {
          const at = `${path}.placement.preferences[${i}]`
          const pm = mapping(pref, at)
          checkKeys(pm, at, ['spread'])
          if (pm.spread === undefined) throw new ComposeError(`${at}.spread`, 'is required (the only placement preference is spread)')
          return str(pm.spread, `${at}.spread`)
        })
    out.placement = {
      ...(p.constraints === undefined ? {} : { constraints: stringList(p.constraints, `${path}.placement.constraints`) }),
      ...(preferences === undefined ? {} : { preferences }),
      ...(p.max_replicas_per_node === undefined ? {} : { maxReplicasPerNode: uint(p.max_replicas_per_node, `${path}.placement.max_replicas_per_node`) })
    }
  }
  if (m.resources !== undefined) {
    const r = mapping(m.resources, `${path}.resources`)
    checkKeys(r, `${path}.resources`, ['limits', 'reservations'])
    out.resources = {
      ...(r.limits === undefined ? {} : { limits: resourceValues(r.limits, `${path}.resources.limits`, { pids: '' }) }),
      ...(r.reservations === undefined ? {} : { reservations: resourceValues(r.reservations, `${path}.resources.reservations`, { generic_resources: '', devices: '' }) })
    }
  }
  if (m.restart_policy !== undefined) out.restartPolicy = restartPolicy(m.restart_policy, `${path}.restart_policy`)
  if (m.update_config !== undefined) out.updateConfig = updatePolicy(m.update_config, `${path}.update_config`, 'update_config')
  if (m.rollback_config !== undefined) out.rollbackConfig = updatePolicy(m.rollback_config, `${path}.rollback_config`, 'rollback_config')
  return out
}

function healthcheck (v: unknown, path: string): HealthcheckConfig {
  const m = mapping(v, path)
  checkKeys(m, path, ['test', 'interval', 'timeout', 'retries', 'start_period', 'disable'], { start_interval: 'flotilla speaks Engine API 1.41, which has no start interval' })
  const out: { -readonly [K in keyof HealthcheckConfig]: HealthcheckConfig[K] } = {}
  if (m.test !== undefined) out.test = typeof m.test === 'string' ? ['CMD-SHELL', m.test] : stringList(m.test, `${path}.test`)
  if (m.interval !== undefined) out.intervalNs = durationNs(m.interval, `${path}.interval`)
  if (m.timeout !== undefined) out.timeoutNs = durationNs(m.timeout, `${path}.timeout`)
  if (m.start_period !== undefined) out.startPeriodNs = durationNs(m.start_period, `${path}.start_period`)
  if (m.retries !== undefined) out.retries = uint(m.retries, `${path}.retries`)
  if (m.disable !== undefined) out.disable = bool(m.disable, `${path}.disable`)
  return out
}

function serviceNetworks (v: unknown, path: string): Record<string, { aliases?: string[] }> {
  if (Array.isArray(v)) return Object.fromEntries(stringList(v, path).map(n => [n, {}]))
  const m = mapping(v, path)
  const out: Record<string, { aliases?: string[] }> = {}
  for (const [name, attach] of Object.entries(m)) {
    const at = `${path}.${name}`
    if (attach === null) {
      out[name] = {}
      continue
    }
    const a = mapping(attach, at)
    checkKeys(a, at, ['aliases'], { driver_opts: '', ipv4_address: 'the leader allocates task addresses', ipv6_address: 'flotilla networks are IPv4 only', link_local_ips: '', priority: '' })
    out[name] = a.aliases === undefined ? {} : { aliases: stringList(a.aliases, `${at}.aliases`) }
  }
  return out
}

function fileReferences (v: unknown, path: string): FileReference[] {
  if (!Array.isArray(v)) throw new ComposeError(path, 'must be a list')
  return v.map((entry, i) => {
    const at = `${path}[${i}]`
    if (typeof entry === 'string') return { source: entry }
    const m = mapping(entry, at)
    checkKeys(m, at, ['source', 'target', 'uid', 'gid', 'mode'])
    if (m.source === undefined) throw new ComposeError(`${at}.source`, 'is required')
    const id = (x: unknown, p: string): string => typeof x === 'number' ? String(uint(x, p)) : str(x, p)
    const ref: { -readonly [K in keyof FileReference]: FileReference[K] } = { source: str(m.source, `${at}.source`) }
    if (m.target !== undefined) ref.target = str(m.target, `${at}.target`)
    if (m.uid !== undefined) ref.uid = id(m.uid, `${at}.uid`)
    if (m.gid !== undefined) ref.gid = id(m.gid, `${at}.gid`)
    if (m.mode !== undefined) {
      ref.mode = uint(m.mode, `${at}.mode`)
      if (ref.mode > 0o7777) throw new ComposeError(`${at}.mode`, `invalid file mode ${ref.mode} (write it in octal, e.g. 0440)`)
    }
    return ref
  })
}

/** docker's kvfile.Parse: `KEY=VALUE` lines as they are, a bare `KEY` from the environment (or left out), `#` comments. */
export function parseEnvFile (text: string, path: string, env: Environment): Record<string, string> {
  const out: Record<string, string> = {}
  text.replace(/^\uFEFF/, '').split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/^\s+/, '')
    if (line === '' || line.startsWith('#')) return
    const eq = line.indexOf('=')
    const key = eq < 0 ? line : line.slice(0, eq)
    if (key === '') throw new ComposeError(path, `invalid env file: no variable name on line ${i + 1} '${line}'`)
    if (/[ \t]/.test(key)) throw new ComposeError(path, `invalid env file: variable '${key}' contains whitespaces (line ${i + 1})`)
    if (eq >= 0) out[key] = line.slice(eq + 1)
    else if (Object.hasOwn(env, key) && env[key] !== undefined) out[key] = env[key]
  })
  return out
}

/**
 * docker's resolveEnvironment: the env files' variables, then `environment`'s over them; a variable
 * without a value, or with an empty one, takes the environment's value when it has one.
 */
function resolveEnvironment (files: ReadonlyArray<Record<string, string>>, environment: Readonly<Record<string, string | null>>, env: Environment): Record<string, string | null> {
  const out: Record<string, string | null> = {}
  const update = (vars: Readonly<Record<string, string | null>>): void => {
    for (const [k, v] of Object.entries(vars)) {
      const fromEnv = Object.hasOwn(env, k) ? env[k] : undefined
      out[k] = (v === null || v === '') && fromEnv !== undefined ? fromEnv : v
    }
  }
  for (const f of files) update(f)
  update(environment)
  return out
}

const RESTART = /^(no|always|unless-stopped|on-failure(:\d+)?)$/

/** One service of one file: `services.<name>` validated and normalized; `env_file` is read here. */
export function loadService (name: string, v: unknown, ctx: LoadContext): ServiceConfig {
  const path = `services.${name}`
  if (!/^[a-zA-Z0-9._-]+$/.test(name)) throw new ComposeError(path, 'a service name may hold only letters, digits, ".", "-" and "_"')
  const m: Mapping = v === null ? {} : mapping(v, path)
  checkKeys(m, path, SERVICE_KEYS, REFUSED_SERVICE_KEYS)
  const out: { -readonly [K in keyof ServiceConfig]: ServiceConfig[K] } = {}
  if (m.image !== undefined) out.image = str(m.image, `${path}.image`)
  if (m.command !== undefined && m.command !== null) out.command = shellCommand(m.command, `${path}.command`)
  if (m.entrypoint !== undefined && m.entrypoint !== null) out.entrypoint = shellCommand(m.entrypoint, `${path}.entrypoint`)
  const envFiles = m.env_file === undefined
    ? []
    : stringOrList(m.env_file, `${path}.env_file`).map((f, i) => {
      const abs = resolve(ctx.workingDir, f)
      let text: string
      try {
        text = ctx.readFile(abs).toString('utf8')
      } catch (e) {
        throw new ComposeError(`${path}.env_file`, `cannot read ${abs}: ${(e as Error).message}`)
      }
      return parseEnvFile(text, `${path}.env_file[${i}]`, ctx.env)
    })
  if (m.environment !== undefined || envFiles.length > 0) {
    out.environment = resolveEnvironment(envFiles, m.environment === undefined ? {} : listOrDict(m.environment, `${path}.environment`, true), ctx.env)
  }
  if (m.labels !== undefined) out.labels = labelMap(m.labels, `${path}.labels`)
  if (m.deploy !== undefined && m.deploy !== null) out.deploy = deploy(m.deploy, `${path}.deploy`)
  if (m.ports !== undefined) {
    if (!Array.isArray(m.ports)) throw new ComposeError(`${path}.ports`, 'must be a list')
    out.ports = m.ports.flatMap((p, i): PortConfig[] => ports(p, `${path}.ports[${i}]`))
  }
  if (m.networks !== undefined && m.networks !== null) out.networks = serviceNetworks(m.networks, `${path}.networks`)
  if (m.secrets !== undefined) out.secrets = fileReferences(m.secrets, `${path}.secrets`)
  if (m.configs !== undefined) out.configs = fileReferences(m.configs, `${path}.configs`)
  if (m.healthcheck !== undefined) out.healthcheck = healthcheck(m.healthcheck, `${path}.healthcheck`)
  if (m.stop_grace_period !== undefined) out.stopGracePeriodNs = durationNs(m.stop_grace_period, `${path}.stop_grace_period`)
  if (m.stop_signal !== undefined) out.stopSignal = str(m.stop_signal, `${path}.stop_signal`)
  if (m.user !== undefined) out.user = typeof m.user === 'number' ? String(uint(m.user, `${path}.user`)) : str(m.user, `${path}.user`)
  if (m.working_dir !== undefined) out.workingDir = str(m.working_dir, `${path}.working_dir`)
  if (m.hostname !== undefined) out.hostname = str(m.hostname, `${path}.hostname`)
  if (m.restart !== undefined) {
    const r = str(m.restart, `${path}.restart`)
    if (!RESTART.test(r)) throw new ComposeError(`${path}.restart`, `invalid restart policy ${JSON.stringify(r)}: use no, always, on-failure[:N] or unless-stopped`)
    out.restart = r
  }
  return out
}
