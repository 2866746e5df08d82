import { createHash } from 'node:crypto'
import { statfsSync } from 'node:fs'
import { homedir, hostname as osHostname } from 'node:os'
import { join } from 'node:path'
import { FlotillaError, parseHostPort, DEFAULT_PORT, DEFAULT_TIMING, type HostPort, type MembershipTiming } from '../membership/index.js'
import { dockerOptions } from '../tasks/index.js'
import { LOG_LEVELS, type LogLevel } from '../membership/index.js'

/** What the `agent` command (flags, then FLOTILLA_* variables) passes; every field optional. */
export interface AgentInit {
  dataDir?: string
  socket?: string
  listenAddr?: string
  advertiseAddr?: string
  hostname?: string
  dockerHost?: string
  init?: boolean
  join?: string
  token?: string
  logLevel?: string
  secretsDir?: string
  /** `--ui [IP:PORT]`: true (the flag without a value) for the default loopback address. */
  ui?: string | boolean
  uiActions?: boolean
}

/** How the agent starts when its data dir holds no membership. */
export type StartMode =
  | { readonly kind: 'wait' } // as dockerd: wait for `swarm init` / `swarm join` on the socket
  | { readonly kind: 'init' }
  | { readonly kind: 'join', readonly remote: HostPort, readonly token: string }

/** The dashboard's port when `--ui` names none. */
export const DEFAULT_UI_PORT = 8420

/** The dashboard (src/node/ui): where it listens, and whether its page may change the cluster. */
export interface UiConfig {
  readonly listen: HostPort
  /** `--ui-actions`: scale, update image, rollback and drain from the page; read-only otherwise. */
  readonly actions: boolean
}

/** The resolved, validated, frozen agent configuration. */
export interface AgentConfig {
  readonly dataDir: string
  readonly socketPath: string
  readonly listen: HostPort
  /** null: derive from the listen address (the first non-loopback IPv4 when listening on a wildcard). */
  readonly advertise: HostPort | null
  readonly hostname: string
  readonly dockerHost: string
  /** Where task secrets are written: must be on a tmpfs (checked when the first secret is). */
  readonly secretsDir: string
  readonly start: StartMode
  readonly logLevel: LogLevel
  readonly timing: MembershipTiming
  /** null: no dashboard (the default). */
  readonly ui: UiConfig | null
}

export interface Environment {
  readonly isRoot: boolean
  readonly home: string
  readonly xdgRuntimeDir: string | undefined
  readonly dockerHost: string | undefined
  /** The first of /run, /dev/shm and $XDG_RUNTIME_DIR that is a tmpfs; undefined when none is. */
  readonly tmpfsRoot: string | undefined
}

/** statfs's f_type of a tmpfs. */
const TMPFS_MAGIC = 0x01021994

function firstTmpfs (candidates: ReadonlyArray<string | undefined>): string | undefined {
  for (const dir of candidates) {
    if (dir === undefined || dir === '') continue
    try {
      if (statfsSync(dir).type === TMPFS_MAGIC) return dir
    } catch { /* absent: the next */ }
  }
  return undefined
}

export function currentEnvironment (): Environment {
  return {
    isRoot: process.getuid?.() === 0,
    home: homedir(),
    xdgRuntimeDir: process.env.XDG_RUNTIME_DIR,
    dockerHost: process.env.DOCKER_HOST,
    tmpfsRoot: firstTmpfs(['/run', '/dev/shm', process.env.XDG_RUNTIME_DIR])
  }
}

export function defaultDataDir (env: Environment): string {
  return env.isRoot ? '/var/lib/flotilla' : join(env.home, '.local', 'share', 'flotilla')
}

/** Default control socket: /run/flotilla.sock as root, else $XDG_RUNTIME_DIR/flotilla.sock, else in the data dir. */
export function defaultSocket (env: Environment, dataDir: string): string {
  if (env.isRoot) return '/run/flotilla.sock'
  if (env.xdgRuntimeDir !== undefined && env.xdgRuntimeDir !== '') return join(env.xdgRuntimeDir, 'flotilla.sock')
  return join(dataDir, 'flotilla.sock')
}

/**
 * Default secrets dir: on the first tmpfs the host has, one per data dir (agents sharing a host keep
 * theirs apart); without a tmpfs, a path in the data dir that the executor refuses to write secrets to.
 */
export function defaultSecretsDir (env: Environment, dataDir: string): string {
  const id = createHash('sha256').update(dataDir).digest('hex').slice(0, 12)
  return join(env.tmpfsRoot ?? join(dataDir, 'no-tmpfs'), 'flotilla-secrets', id)
}

/** Resolve → validate → freeze. Throws `invalid-argument` naming the flag. */
export function resolveAgentConfig (init: AgentInit, env: Environment): AgentConfig {
  const dataDir = init.dataDir ?? defaultDataDir(env)
  const logLevel = (init.logLevel ?? 'info') as LogLevel
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new FlotillaError('invalid-argument', `--log-level: "${init.logLevel ?? ''}" is not one of ${LOG_LEVELS.join(', ')}`)
  }
  if (init.init === true && init.join !== undefined) {
    throw new FlotillaError('invalid-argument', '--init and --join exclude each other', { hint: 'one node inits the cluster; the others join it' })
  }
  let start: StartMode = { kind: 'wait' }
  if (init.init === true) start = { kind: 'init' }
  if (init.join !== undefined) {
    if (init.token === undefined || init.token === '') {
      throw new FlotillaError('invalid-argument', '--join needs --token', { hint: 'print one with `flotilla swarm join-token worker` on a manager' })
    }
    start = { kind: 'join', remote: parseHostPort(init.join, '--join'), token: init.token }
  }
  const ui = resolveUi(init)
  const dockerHost = init.dockerHost ?? env.dockerHost ?? 'unix:///var/run/docker.sock'
  dockerOptions(dockerHost)
  const hostname = init.hostname ?? osHostname()
  if (!/^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$/.test(hostname)) {
    throw new FlotillaError('invalid-argument', `--hostname: "${hostname}" is not a valid host name`)
  }
  return Object.freeze({
    dataDir,
    socketPath: init.socket ?? defaultSocket(env, dataDir),
    listen: parseHostPort(init.listenAddr ?? `0.0.0.0:${DEFAULT_PORT}`, '--listen-addr'),
    advertise: init.advertiseAddr === undefined ? null : parseHostPort(init.advertiseAddr, '--advertise-addr'),
    hostname,
    dockerHost,
    secretsDir: init.secretsDir ?? defaultSecretsDir(env, dataDir),
    start,
    logLevel,
    timing: DEFAULT_TIMING,
    ui
  })
}

/**
 * `--ui`: off unless given; the flag alone (or `true`/`1` from FLOTILLA_UI) listens on loopback, so
 * that only this host's users reach it; a bare port is a loopback port; any other address only when
 * named explicitly. `--ui-actions` without `--ui` is refused rather than silently ignored.
 */
export function resolveUi (init: Pick<AgentInit, 'ui' | 'uiActions'>): UiConfig | null {
  const raw = init.ui
  if (raw === undefined || raw === false || raw === 'false' || raw === '0' || raw === '') {
    if (init.uiActions === true) throw new FlotillaError('invalid-argument', '--ui-actions needs --ui', { hint: 'add --ui (the dashboard listens on 127.0.0.1:8420 by default)' })
    return null
  }
  let listen: HostPort
  if (raw === true || raw === 'true' || raw === '1') listen = { ip: '127.0.0.1', port: DEFAULT_UI_PORT }
  else if (/^\d{1,5}$/.test(raw)) listen = parseHostPort(`127.0.0.1:${raw}`, '--ui')
  else listen = parseHostPort(raw, '--ui', DEFAULT_UI_PORT)
  return Object.freeze({ listen, actions: init.uiActions === true })
}
