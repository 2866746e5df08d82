import { CliError } from '../client.js'
import { parseDurationNs, parseMemBytes, parseNanoCpus } from '../service-flags.js'
import { ComposeError, type PortConfig } from './compose-types.js'

/**
 * Readers for the values of a Compose file: each takes the parsed YAML value and its key path, returns
 * the normalized value, and throws a ComposeError naming the path when the value does not fit (the
 * shapes of docker/cli's config_schema_v3.x.json and its loader's transforms).
 */

export type Mapping = Readonly<Record<string, unknown>>

/** Whether `v` is a YAML mapping (not a list, not null). */
export function isMapping (v: unknown): v is Mapping {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** `v` as a mapping, or a refusal naming `path`. */
export function mapping (v: unknown, path: string): Mapping {
  if (!isMapping(v)) throw new ComposeError(path, 'must be a mapping')
  return v
}

/**
 * Every key of `m` must be `allowed`; a key in `refused` names a feature flotilla does not run (its
 * value is the hint); `x-` keys are extensions, ignored as docker ignores them.
 */
export function checkKeys (m: Mapping, path: string, allowed: readonly string[], refused: Readonly<Record<string, string>> = {}): void {
  for (const k of Object.keys(m)) {
    if (k.startsWith('x-')) continue
    const at = path === '' ? k : `${path}.${k}`
    const hint = Object.hasOwn(refused, k) ? refused[k] : undefined
    if (hint !== undefined) throw new ComposeError(at, 'not supported by flotilla', hint === '' ? undefined : hint)
    if (!allowed.includes(k)) throw new ComposeError(at, 'unknown key', `the keys allowed here are: ${allowed.join(', ')}`)
  }
}

/** A string (docker's schema takes no number where a string is due). */
export function str (v: unknown, path: string): string {
  if (typeof v !== 'string') throw new ComposeError(path, 'must be a string')
  return v
}

/** A non-negative integer. */
export function uint (v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new ComposeError(path, 'must be a non-negative integer')
  return v
}

/** A finite number. */
export function num (v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ComposeError(path, 'must be a number')
  return v
}

/** A YAML boolean (`true`/`false`; YAML 1.2 reads `yes` as a string, as go-yaml v3 does). */
export function bool (v: unknown, path: string): boolean {
  if (typeof v !== 'boolean') throw new ComposeError(path, 'must be a boolean')
  return v
}

/** The reason of a service-flags error (`invalid argument "x" for "--f" flag: why` → `why`). */
function reason (e: unknown): string {
  if (!(e instanceof CliError)) throw e
  const i = e.message.indexOf(' flag: ')
  return i < 0 ? e.message : e.message.slice(i + ' flag: '.length)
}

/** A Go duration string (`10s`, `1m30s`, `500ms`), to nanoseconds; not negative. */
export function durationNs (v: unknown, path: string): number {
  const s = str(v, path)
  let ns: number
  try {
    ns = parseDurationNs(s, path)
  } catch (e) {
    throw new ComposeError(path, `${reason(e)}; write a duration such as 10s, 1m30s or 500ms`)
  }
  if (ns < 0) throw new ComposeError(path, `duration ${s} must not be negative`)
  return ns
}

/** A size: bytes as a number, or docker's `64M`, `1.5g`, `512MiB`. */
export function bytes (v: unknown, path: string): number {
  if (typeof v === 'number') return uint(v, path)
  try {
    return parseMemBytes(str(v, path), path)
  } catch (e) {
    if (e instanceof ComposeError) throw e
    throw new ComposeError(path, reason(e))
  }
}

/** CPUs (`'0.5'`, or a number), to NanoCPUs. */
export function nanoCpus (v: unknown, path: string): number {
  if (typeof v !== 'number' && typeof v !== 'string') throw new ComposeError(path, 'must be a string such as \'0.5\'')
  let n: number
  try {
    n = parseNanoCpus(String(v), path)
  } catch (e) {
    throw new ComposeError(path, reason(e))
  }
  if (n < 0) throw new ComposeError(path, 'must not be negative')
  return n
}

/** A list of strings. */
export function stringList (v: unknown, path: string): string[] {
  if (!Array.isArray(v)) throw new ComposeError(path, 'must be a list of strings')
  return v.map((x, i) => str(x, `${path}[${i}]`))
}

/** A string or a list of strings (env_file). */
export function stringOrList (v: unknown, path: string): string[] {
  return typeof v === 'string' ? [v] : stringList(v, path)
}

/** Go's fmt.Sprint of a scalar, as docker turns mapping values into strings. */
function scalarText (v: unknown, path: string): string {
  if (typeof v === 'string') return v
  if (typeof v === 'number' || typeof v === 'boolean') return String(v)
  throw new ComposeError(path, 'must be a string, number or boolean')
}

/**
 * A `list_or_dict`: `{K: V}` or `["K=V", "K"]`. With `allowNil`, a key without a value (`K`, or `K:`
 * with nothing) is `null` (environment); without, it is `""` (labels).
 */
export function listOrDict (v: unknown, path: string, allowNil: boolean): Record<string, string | null> {
  const out: Record<string, string | null> = {}
  if (Array.isArray(v)) {
    v.forEach((item, i) => {
      const entry = str(item, `${path}[${i}]`)
      const eq = entry.indexOf('=')
      const key = eq < 0 ? entry : entry.slice(0, eq)
      if (key === '') throw new ComposeError(`${path}[${i}]`, `${JSON.stringify(entry)} has no key`)
      out[key] = eq >= 0 ? entry.slice(eq + 1) : allowNil ? null : ''
    })
    return out
  }
  if (!isMapping(v)) throw new ComposeError(path, 'must be a mapping or a list of KEY=VALUE strings')
  for (const [k, x] of Object.entries(v)) out[k] = x === null ? (allowNil ? null : '') : scalarText(x, `${path}.${k}`)
  return out
}

/** Labels: a `list_or_dict` whose keys without a value are `""`. */
export function labelMap (v: unknown, path: string): Record<string, string> {
  return listOrDict(v, path, false) as Record<string, string>
}

/**
 * google/shlex's Split, which docker uses for a string `command` or `entrypoint`: words split on
 * whitespace; single quotes literal; in double quotes a backslash makes the next character literal; a
 * backslash outside quotes likewise; `#` at the start of a word begins a comment to the end of the line.
 */
export function shlexSplit (s: string, path: string): string[] {
  const words: string[] = []
  let word: string | null = null
  let quote: '' | '\'' | '"' = ''
  const chars = [...s]
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!
    if (quote === '\'') {
      if (c === '\'') quote = ''
      else word += c
      continue
    }
    if (quote === '"') {
      if (c === '"') quote = ''
      else if (c === '\\') {
        if (i + 1 >= chars.length) throw new ComposeError(path, 'EOF found when expecting closing quote')
        word += chars[++i]!
      } else word += c
      continue
    }
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      if (word !== null) words.push(word)
      word = null
    } else if (c === '#' && word === null) {
      while (i + 1 < chars.length && chars[i + 1] !== '\n') i++
    } else if (c === '\\') {
      if (i + 1 >= chars.length) throw new ComposeError(path, 'EOF found after escape character')
      word = (word ?? '') + chars[++i]!
    } else if (c === '\'' || c === '"') {
      quote = c
      word ??= ''
    } else {
      word = (word ?? '') + c
    }
  }
  if (quote !== '') throw new ComposeError(path, 'EOF found when expecting closing quote')
  if (word !== null) words.push(word)
  return words
}

/** `command`/`entrypoint`: a string split as a shell would, or a list of strings as given. */
export function shellCommand (v: unknown, path: string): string[] {
  if (typeof v === 'string') return shlexSplit(v, path)
  if (!Array.isArray(v)) throw new ComposeError(path, 'must be a string or a list of strings')
  return v.map((x, i) => scalarText(x, `${path}[${i}]`))
}

const PROTOCOLS = ['tcp', 'udp', 'sctp'] as const

function protocol (v: string, path: string): PortConfig['protocol'] {
  const p = v.toLowerCase()
  if (!(PROTOCOLS as readonly string[]).includes(p)) throw new ComposeError(path, `invalid protocol ${JSON.stringify(v)}: use tcp, udp or sctp`)
  return p as PortConfig['protocol']
}

function portNumber (text: string, path: string, spec: string): number {
  const n = Number(text)
  if (!/^\d+$/.test(text) || n < 1 || n > 65535) throw new ComposeError(path, `invalid port ${JSON.stringify(text)} in ${JSON.stringify(spec)}`)
  return n
}

function portRange (text: string, path: string, spec: string): [number, number] {
  const dash = text.indexOf('-')
  const start = portNumber(dash < 0 ? text : text.slice(0, dash), path, spec)
  const end = dash < 0 ? start : portNumber(text.slice(dash + 1), path, spec)
  if (end < start) throw new ComposeError(path, `invalid port range ${JSON.stringify(text)} in ${JSON.stringify(spec)}`)
  return [start, end]
}

/**
 * One entry of `ports`: the short syntax `[published:]target[/protocol]` with optional equal-length
 * ranges (`8080-8081:80-81`, ingress mode, as docker's nat.ParsePortSpecs and ConvertPortToPortConfig),
 * or the long syntax `{target, published, protocol, mode}`. A host IP (`127.0.0.1:8080:80`) is refused:
 * swarm publishes on every address (docker ignores it with a warning).
 */
export function ports (v: unknown, path: string): PortConfig[] {
  if (isMapping(v)) {
    checkKeys(v, path, ['target', 'published', 'protocol', 'mode'], { host_ip: 'swarm publishes a port on every address of the node' })
    if (v.target === undefined) throw new ComposeError(`${path}.target`, 'is required')
    const target = uint(v.target, `${path}.target`)
    if (target < 1 || target > 65535) throw new ComposeError(`${path}.target`, `invalid port ${target}`)
    const published = v.published === undefined ? 0 : typeof v.published === 'string' ? portNumber(v.published, `${path}.published`, v.published) : uint(v.published, `${path}.published`)
    if (published > 65535) throw new ComposeError(`${path}.published`, `invalid port ${published}`)
    const mode = v.mode === undefined ? undefined : str(v.mode, `${path}.mode`)
    if (mode !== undefined && mode !== 'ingress' && mode !== 'host') throw new ComposeError(`${path}.mode`, `invalid publish mode ${JSON.stringify(mode)}: use ingress or host`)
    return [{
      target,
      published,
      protocol: v.protocol === undefined ? 'tcp' : protocol(str(v.protocol, `${path}.protocol`), `${path}.protocol`),
      ...(mode === undefined ? {} : { mode })
    }]
  }
  if (typeof v !== 'string' && typeof v !== 'number') throw new ComposeError(path, 'must be a port ("8080:80", "80/udp") or a mapping with target, published, protocol and mode')
  const spec = String(v)
  const slash = spec.lastIndexOf('/')
  const proto = slash < 0 ? 'tcp' : protocol(spec.slice(slash + 1), path)
  const parts = (slash < 0 ? spec : spec.slice(0, slash)).split(':')
  if (parts.length > 2) throw new ComposeError(path, `a host IP in ${JSON.stringify(spec)} is not supported by flotilla`, 'swarm publishes a port on every address of the node: write "PUBLISHED:TARGET"')
  const [t0, t1] = portRange(parts[parts.length - 1]!, path, spec)
  const [p0, p1] = parts.length === 2 ? portRange(parts[0]!, path, spec) : [0, 0]
  if (parts.length === 2 && p1 - p0 !== t1 - t0) throw new ComposeError(path, `invalid ranges specified for container and host ports in ${JSON.stringify(spec)}`)
  const out: PortConfig[] = []
  for (let t = t0; t <= t1; t++) out.push({ target: t, published: p0 === 0 ? 0 : p0 + t - t0, protocol: proto, mode: 'ingress' })
  return out
}
