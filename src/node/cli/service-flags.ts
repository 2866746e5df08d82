import { CliError } from './client.js'

/**
 * The docker CLI's value syntaxes for `service create|update` flags (docker/cli opts and
 * cli/command/service/opts.go), parsed to what the ServiceSpec carries: bytes, nanoseconds, NanoCPUs,
 * PortConfigs. Every error names the flag as docker does: `invalid argument "x" for "--flag" flag: why`.
 */

function badFlag (flag: string, value: string, why: string): CliError {
  return new CliError(`invalid argument "${value}" for "${flag}" flag: ${why}`)
}

const RAM_UNITS: Readonly<Record<string, number>> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 }

/**
 * Docker's memory sizes (go-units RAMInBytes): a number, an optional space, an optional unit
 * b/k/m/g/t/p in either case with optional `i` and `b` (`64M`, `64m`, `64MiB`, `1.5g`, `100b`), always
 * binary (k = 1024). Returns bytes, truncated to an integer.
 */
export function parseMemBytes (value: string, flag = '--memory'): number {
  const m = /^(\d+(?:\.\d+)?) ?([kKmMgGtTpP])?[iI]?[bB]?$/.exec(value)
  if (m === null) throw badFlag(flag, value, `invalid size: '${value}'`)
  return Math.trunc(Number(m[1]) * RAM_UNITS[(m[2] ?? '').toLowerCase()]!)
}

/** Docker's CPU counts (opts.NanoCPUs): a decimal number of CPUs, at most 9 decimals, to NanoCPUs. */
export function parseNanoCpus (value: string, flag = '--cpus'): number {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(value)
  if (m === null || (m[2] === '' && (m[3] ?? '') === '')) throw badFlag(flag, value, `failed to parse ${value} as a rational number`)
  const fraction = (m[3] ?? '').replace(/0+$/, '')
  if (fraction.length > 9) throw badFlag(flag, value, 'value is too precise')
  const nanos = Number(m[2] === '' ? '0' : m[2]) * 1e9 + Number(fraction.padEnd(9, '0'))
  return m[1] === '-' ? -nanos : nanos
}

const DURATION_UNITS: Readonly<Record<string, number>> = { ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 }

/**
 * Go's time.ParseDuration (`5s`, `1m30s`, `1.5h`, `300ms`, `-2s`, `0`), to nanoseconds; Docker's
 * duration flags (--restart-delay, --stop-grace-period, ...) take exactly this syntax.
 */
export function parseDurationNs (value: string, flag = '--duration'): number {
  const bad = (why: string): CliError => badFlag(flag, value, `time: ${why}`)
  let s = value
  let sign = 1
  if (s.startsWith('-') || s.startsWith('+')) {
    if (s[0] === '-') sign = -1
    s = s.slice(1)
  }
  if (s === '0') return 0
  if (s === '') throw bad(`invalid duration "${value}"`)
  let total = 0
  while (s !== '') {
    const num = /^(\d*)(?:\.(\d*))?/.exec(s)!
    if (num[0] === '' || (num[1] === '' && (num[2] ?? '') === '')) throw bad(`invalid duration "${value}"`)
    s = s.slice(num[0].length)
    const unit = /^[^\d.]+/.exec(s)?.[0]
    if (unit === undefined) throw bad(`missing unit in duration "${value}"`)
    const scale = DURATION_UNITS[unit]
    if (scale === undefined) throw bad(`unknown unit "${unit}" in duration "${value}"`)
    s = s.slice(unit.length)
    total += Number(`${num[1] === '' ? '0' : num[1]}.${num[2] ?? ''}0`) * scale
  }
  return sign * Math.round(total)
}

/** A PortConfig as the CLI builds it for the API. */
export interface PortFlag {
  readonly Protocol: 'tcp' | 'udp' | 'sctp'
  readonly TargetPort: number
  /** 0: the manager assigns one from 30000-32767. */
  readonly PublishedPort: number
  readonly PublishMode: 'host' | 'ingress'
}

function portNumber (flag: string, value: string, text: string): number {
  const n = Number(text)
  if (!/^\d+$/.test(text) || n > 65535) throw badFlag(flag, value, `invalid port "${text}"`)
  return n
}

function protocolOf (flag: string, value: string, text: string): PortFlag['Protocol'] {
  if (text !== 'tcp' && text !== 'udp' && text !== 'sctp') throw badFlag(flag, value, `invalid protocol value '${text}'`)
  return text
}

function portRange (flag: string, value: string, text: string): [number, number] {
  const [a, b] = text.split('-') as [string, string | undefined]
  const start = portNumber(flag, value, a)
  const end = b === undefined ? start : portNumber(flag, value, b)
  if (end < start) throw badFlag(flag, value, `invalid port range "${text}"`)
  return [start, end]
}

/**
 * `--publish`: docker's long form `mode=host,target=80,published=8080,protocol=udp` (target required),
 * or the short form `[published:]target[/protocol]` with optional equal-length ranges
 * (`8080-8081:80-81`). Flotilla publishes in host mode, so both forms default to `host` (docker's
 * default is `ingress`, which flotilla's manager refuses).
 */
export function parsePublish (value: string, flag = '--publish'): PortFlag[] {
  if (/\w+=\w+(,\w+=\w+)*/.test(value)) {
    let protocol: PortFlag['Protocol'] = 'tcp'
    let mode: PortFlag['PublishMode'] = 'ingress'
    let target = 0
    let published = 0
    for (const field of value.split(',')) {
      const i = field.indexOf('=')
      if (i <= 0) throw badFlag(flag, value, `invalid field: ${field}`)
      const v = field.slice(i + 1)
      switch (field.slice(0, i).toLowerCase()) {
        case 'protocol': protocol = protocolOf(flag, value, v); break
        case 'mode':
          if (v !== 'host' && v !== 'ingress') throw badFlag(flag, value, `invalid publish mode value (${v}): must be either 'ingress' or 'host'`)
          mode = v
          break
        case 'target': target = portNumber(flag, value, v); break
        case 'published': published = portNumber(flag, value, v); break
        default: throw badFlag(flag, value, `invalid field key: ${field.slice(0, i)}`)
      }
    }
    if (target === 0) throw badFlag(flag, value, 'missing mandatory field \'target\'')
    return [{ Protocol: protocol, TargetPort: target, PublishedPort: published, PublishMode: mode }]
  }
  const slash = value.lastIndexOf('/')
  const protocol = slash < 0 ? 'tcp' : protocolOf(flag, value, value.slice(slash + 1))
  const spec = slash < 0 ? value : value.slice(0, slash)
  const parts = spec.split(':')
  if (parts.length > 2) throw badFlag(flag, value, 'hostip is not supported')
  const [target0, target1] = portRange(flag, value, parts[parts.length - 1]!)
  const [pub0, pub1] = parts.length === 2 ? portRange(flag, value, parts[0]!) : [0, 0]
  if (parts.length === 2 && pub1 - pub0 !== target1 - target0) throw badFlag(flag, value, 'invalid ranges specified for container and host Ports')
  const out: PortFlag[] = []
  for (let t = target0; t <= target1; t++) {
    out.push({ Protocol: protocol, TargetPort: t, PublishedPort: pub0 === 0 ? 0 : pub0 + (t - target0), PublishMode: 'ingress' })
  }
  return out
}

/** `--env KEY=value`, or `--env KEY` taking KEY's value from this environment when it has one (docker's ValidateEnv). */
export function parseEnvEntry (value: string, env: Readonly<Record<string, string | undefined>> = {}): string {
  const i = value.indexOf('=')
  const key = i < 0 ? value : value.slice(0, i)
  if (key === '') throw badFlag('--env', value, `invalid environment variable: ${value}`)
  if (i >= 0) return value
  const v = env[key]
  return v === undefined ? value : `${key}=${v}`
}

/** The variable name of an `--env` entry. */
export function envKey (entry: string): string {
  const i = entry.indexOf('=')
  return i < 0 ? entry : entry.slice(0, i)
}

/** `--label k=v` (or `k`, value "") entries into a map; later ones win. */
export function parseLabels (values: readonly string[], flag = '--label'): Record<string, string> {
  const out: Record<string, string> = {}
  for (const kv of values) {
    const i = kv.indexOf('=')
    const key = i < 0 ? kv : kv.slice(0, i)
    if (key === '') throw badFlag(flag, kv, 'empty label key')
    out[key] = i < 0 ? '' : kv.slice(i + 1)
  }
  return out
}

/** `--placement-pref spread=node.labels.zone`. */
export function parsePlacementPref (value: string): { Spread: { SpreadDescriptor: string } } {
  const fields = value.split('=')
  if (fields.length !== 2) throw badFlag('--placement-pref', value, 'placement preference must be of the format "<strategy>=<arg>"')
  if (fields[0] !== 'spread') throw badFlag('--placement-pref', value, `unsupported placement preference ${fields[0]!} (only spread is supported)`)
  return { Spread: { SpreadDescriptor: fields[1]! } }
}

/** `--replicas 3`, `--restart-max-attempts 5`: an unsigned integer. */
export function parseUint (value: string, flag: string): number {
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) throw badFlag(flag, value, `strconv.ParseUint: parsing "${value}": invalid syntax`)
  return Number(value)
}

/** `--update-max-failure-ratio 0.2`: a fraction from 0 to 1. */
export function parseRatio (value: string, flag: string): number {
  const n = Number(value)
  if (value.trim() === '' || !Number.isFinite(n)) throw badFlag(flag, value, `strconv.ParseFloat: parsing "${value}": invalid syntax`)
  if (n < 0 || n > 1) throw badFlag(flag, value, 'must be between 0 and 1')
  return n
}

/** `service scale`'s `SERVICE=REPLICAS`. */
export function parseScaleArg (arg: string): { service: string, replicas: number } {
  const i = arg.indexOf('=')
  const service = i < 0 ? '' : arg.slice(0, i)
  const text = i < 0 ? '' : arg.slice(i + 1)
  if (service === '' || !/^\d+$/.test(text)) {
    throw new CliError(`invalid scale specifier '${arg}'.`, 'write SERVICE=REPLICAS, e.g. `flotilla service scale web=3`')
  }
  return { service, replicas: Number(text) }
}
