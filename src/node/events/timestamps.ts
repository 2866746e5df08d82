/**
 * `since` and `until` of `GET /events`, in every form Docker's tools take (moby daemon/internal/timestamp
 * Parse; the docker CLI converts the same forms to unix seconds before sending): a Go duration counted
 * back from now (`10m`, `1h30m`, `-5s` is 5 s ahead), an RFC 3339 date or time (`2024-05-01`,
 * `2024-05-01T10:00`, `2024-05-01T10:00:00.5+02:00`; without a zone, the agent's local time), or unix
 * seconds with an optional fraction (`1714557600.123456789`). Results are nanoseconds since the epoch.
 */
import { FlotillaError } from '../../membership/index.js'

const UNIT_NS: Readonly<Record<string, number>> = { ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 }
const DURATION = /^([+-]?)((?:(?:\d+\.?\d*|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+)$/
const DURATION_PART = /(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2})(?::(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?)?([zZ]|[+-]\d{2}:\d{2})?$/
const UNIX = /^(\d{1,12})(?:\.(\d{0,20}))?$/

/** A Go duration (time.ParseDuration) in nanoseconds, or null when `value` is not one. */
export function parseGoDuration (value: string): bigint | null {
  const m = DURATION.exec(value)
  if (m === null) return null
  let ns = 0
  for (const part of m[2]!.matchAll(DURATION_PART)) ns += Number(part[1]) * UNIT_NS[part[2]!]!
  const total = BigInt(Math.round(ns))
  return m[1] === '-' ? -total : total
}

function fractionNs (digits: string | undefined): bigint {
  if (digits === undefined || digits === '') return 0n
  return BigInt(digits.slice(0, 9).padEnd(9, '0'))
}

function parseDateTime (value: string): bigint | null {
  const m = DATE_TIME.exec(value)
  if (m === null) return null
  const [, y, mo, d, h, mi, s, frac, zone] = m
  const fields = [Number(y), Number(mo) - 1, Number(d), Number(h ?? 0), Number(mi ?? 0), Number(s ?? 0)] as const
  let ms: number
  if (zone === undefined) {
    ms = new Date(...fields).getTime()
  } else {
    ms = Date.UTC(...fields)
    if (zone !== 'Z' && zone !== 'z') {
      const sign = zone.startsWith('-') ? -1 : 1
      ms -= sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6))) * 60_000
    }
  }
  // Date rolls an out-of-range field over (Feb 30 → Mar 2): refuse it, as Go's parser does.
  const check = zone === undefined ? new Date(ms) : new Date(Date.UTC(...fields))
  const [cy, cmo, cd] = zone === undefined ? [check.getFullYear(), check.getMonth(), check.getDate()] : [check.getUTCFullYear(), check.getUTCMonth(), check.getUTCDate()]
  if (Number.isNaN(ms) || cy !== fields[0] || cmo !== fields[1] || cd !== fields[2] || fields[3] > 23 || fields[4] > 59 || fields[5] > 59) return null
  return BigInt(ms) * 1_000_000n + fractionNs(frac)
}

/**
 * Docker's time forms (see the module comment) as nanoseconds since the epoch; `nowNs` anchors a
 * duration. Throws `invalid-argument` naming `param` when `value` is none of them.
 */
export function parseEventTime (param: 'since' | 'until', value: string, nowNs: bigint): bigint {
  const bad = (why: string): FlotillaError => new FlotillaError('invalid-argument', `invalid value for '${param}': ${why}`, {
    hint: 'give unix seconds (1714557600.5), an RFC 3339 time (2024-05-01T10:00:00Z) or a duration back from now (10m)'
  })
  if (value.trim() === '') throw bad('failed to parse value as time or duration: value is empty')
  const d = value === '0' ? null : parseGoDuration(value)
  if (d !== null) return nowNs - d
  const t = parseDateTime(value)
  if (t !== null) return t
  if (value.includes('-')) throw bad(`parsing time "${value}": not an RFC 3339 time`)
  const u = UNIX.exec(value)
  if (u === null) throw bad(`failed to parse value as time or duration: "${value}"`)
  return BigInt(u[1]!) * 1_000_000_000n + fractionNs(u[2])
}

/** What `GET /events` asks for: a window in nanoseconds since the epoch (null: open). */
export interface EventWindow {
  readonly since: bigint | null
  readonly until: bigint | null
}

/** `since` and `until` of the query; `until` before `since` is a 400, as dockerd's. */
export function parseEventWindow (q: URLSearchParams, nowNs: bigint): EventWindow {
  const rawSince = q.get('since') ?? ''
  const rawUntil = q.get('until') ?? ''
  const since = rawSince === '' ? null : parseEventTime('since', rawSince, nowNs)
  const until = rawUntil === '' ? null : parseEventTime('until', rawUntil, nowNs)
  if (since !== null && until !== null && until < since) {
    throw new FlotillaError('invalid-argument', `\`since\` time (${rawSince}) cannot be after \`until\` time (${rawUntil})`)
  }
  return { since, until }
}
