import { z } from 'zod'
import { FlotillaError } from '../../membership/index.js'

/**
 * Request bodies of the swarm endpoints, in Docker's field names. Unknown fields are ignored, as
 * dockerd's JSON decoder does; a known field of the wrong type is a 400 naming it.
 */
const uint = z.number().int().nonnegative()

const labels = z.record(z.string()).nullable().optional()

export const SwarmSpecSchema = z.object({
  Name: z.string().optional(),
  Labels: labels,
  Orchestration: z.object({ TaskHistoryRetentionLimit: uint.nullable().optional() }).nullable().optional(),
  Raft: z.object({
    SnapshotInterval: uint.optional(),
    KeepOldSnapshots: uint.nullable().optional(),
    LogEntriesForSlowFollowers: uint.optional(),
    ElectionTick: uint.optional(),
    HeartbeatTick: uint.optional()
  }).nullable().optional(),
  Dispatcher: z.object({ HeartbeatPeriod: uint.nullable().optional() }).nullable().optional(),
  CAConfig: z.object({
    NodeCertExpiry: uint.nullable().optional(),
    ExternalCAs: z.array(z.unknown()).nullable().optional(),
    SigningCACert: z.string().optional(),
    SigningCAKey: z.string().optional(),
    ForceRotate: uint.optional()
  }).nullable().optional(),
  TaskDefaults: z.object({ LogDriver: z.object({ Name: z.string().optional(), Options: labels }).nullable().optional() }).nullable().optional(),
  EncryptionConfig: z.object({ AutoLockManagers: z.boolean().optional() }).nullable().optional()
})
export type SwarmSpecInput = z.infer<typeof SwarmSpecSchema>

export const SwarmInitSchema = z.object({
  ListenAddr: z.string().optional(),
  AdvertiseAddr: z.string().optional(),
  DataPathAddr: z.string().optional(),
  DataPathPort: uint.optional(),
  ForceNewCluster: z.boolean().optional(),
  Spec: SwarmSpecSchema.nullable().optional(),
  AutoLockManagers: z.boolean().optional(),
  Availability: z.string().optional(),
  DefaultAddrPool: z.array(z.string()).nullable().optional(),
  SubnetSize: uint.optional()
})

export const SwarmJoinSchema = z.object({
  ListenAddr: z.string().optional(),
  AdvertiseAddr: z.string().optional(),
  DataPathAddr: z.string().optional(),
  RemoteAddrs: z.array(z.string()).min(1, 'at least one manager address is needed'),
  JoinToken: z.string().min(1, 'a join token is needed'),
  Availability: z.string().optional()
})

/** Parse `body` with `schema`; a mismatch is a 400 whose message names the field. */
export function parseBody<T extends z.ZodTypeAny> (schema: T, body: unknown, what: string): z.infer<T> {
  if (body === undefined) throw new FlotillaError('invalid-argument', `${what}: request body is empty; a JSON object is expected`)
  const r = schema.safeParse(body)
  if (r.success) return r.data as z.infer<T>
  const issue = r.error.issues[0]!
  const field = issue.path.length === 0 ? what : issue.path.join('.')
  throw new FlotillaError('invalid-argument', `invalid ${field}: ${issue.message}`)
}

/** Docker's defaults for a swarm spec, filling what the request left out or set to zero. */
export function normalizeSwarmSpec (s: SwarmSpecInput | null | undefined): Record<string, unknown> {
  const spec = s ?? {}
  if ((spec.CAConfig?.ExternalCAs?.length ?? 0) > 0 || (spec.CAConfig?.SigningCACert ?? '') !== '') {
    throw new FlotillaError('invalid-argument', 'external or custom certificate authorities are not supported by flotilla')
  }
  if ((spec.CAConfig?.ForceRotate ?? 0) > 0 || (spec.CAConfig?.SigningCAKey ?? '') !== '') {
    throw new FlotillaError('invalid-argument', 'CA rotation is not supported by flotilla: nodes authenticate with the cluster\'s Ed25519 root key and join tokens, not X.509 certificates', {
      hint: 'to cut off a leaked join token, rotate it with `docker swarm join-token --rotate worker|manager`'
    })
  }
  if (spec.EncryptionConfig?.AutoLockManagers === true) {
    throw new FlotillaError('invalid-argument', 'autolock is not supported by flotilla: manager keys are protected by the data dir\'s file mode')
  }
  const positive = (v: number | null | undefined, d: number): number => v === undefined || v === null || v === 0 ? d : v
  return {
    Name: spec.Name === undefined || spec.Name === '' ? 'default' : spec.Name,
    Labels: spec.Labels ?? {},
    Orchestration: { TaskHistoryRetentionLimit: spec.Orchestration?.TaskHistoryRetentionLimit ?? 5 },
    Raft: {
      SnapshotInterval: positive(spec.Raft?.SnapshotInterval, 10000),
      KeepOldSnapshots: spec.Raft?.KeepOldSnapshots ?? 0,
      LogEntriesForSlowFollowers: positive(spec.Raft?.LogEntriesForSlowFollowers, 500),
      ElectionTick: positive(spec.Raft?.ElectionTick, 10),
      HeartbeatTick: positive(spec.Raft?.HeartbeatTick, 1)
    },
    Dispatcher: { HeartbeatPeriod: positive(spec.Dispatcher?.HeartbeatPeriod, 5_000_000_000) },
    CAConfig: { NodeCertExpiry: positive(spec.CAConfig?.NodeCertExpiry, 7_776_000_000_000_000) },
    TaskDefaults: spec.TaskDefaults?.LogDriver == null ? {} : { LogDriver: spec.TaskDefaults.LogDriver },
    EncryptionConfig: { AutoLockManagers: false }
  }
}

/** A boolean query parameter as Docker reads it (`?force=1`, `?force=true`). */
export function queryFlag (q: URLSearchParams, name: string): boolean {
  const v = q.get(name)
  return v === '1' || v === 'true' || v === 'True'
}

/**
 * SwarmKit's lookup of a named object (controlapi getService, getNetwork): full ID, then exact name, then
 * unique ID prefix. Several prefix matches are a 400; none is a 404 of `kind` with `hint`.
 */
export function findByRef<T extends { readonly id: string, readonly name: string }> (objects: Iterable<T>, ref: string, kind: string, hint: string): T {
  const all = [...objects]
  const found = all.find(o => o.id === ref) ?? all.find(o => o.name === ref)
  if (found !== undefined) return found
  const byPrefix = all.filter(o => o.id.startsWith(ref))
  if (byPrefix.length === 1) return byPrefix[0]!
  if (byPrefix.length > 1) throw new FlotillaError('invalid-argument', `${kind} ${ref} is ambiguous (${byPrefix.length} matches found)`)
  throw new FlotillaError('not-found', `${kind} ${ref} not found`, { hint })
}

/** Docker's `label` filter value, `key` or `key=value`, against a label map. */
export function labelMatches (labels: Readonly<Record<string, string>>, v: string): boolean {
  const i = v.indexOf('=')
  return i < 0 ? v in labels : labels[v.slice(0, i)] === v.slice(i + 1)
}

/**
 * Docker's `filters` query parameter: JSON of `{"key": {"value": true}}` (or the old `{"key": ["value"]}`).
 * Returns key → values; a malformed one is a 400.
 */
export function parseFilters (raw: string | null, allowed: readonly string[]): Map<string, string[]> {
  const out = new Map<string, string[]>()
  if (raw === null || raw === '') return out
  let v: unknown
  try {
    v = JSON.parse(raw)
  } catch {
    throw new FlotillaError('invalid-argument', `invalid filters: ${raw} is not JSON`)
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new FlotillaError('invalid-argument', 'invalid filters: expected a JSON object')
  for (const [key, val] of Object.entries(v as Record<string, unknown>)) {
    if (!allowed.includes(key)) throw new FlotillaError('invalid-argument', `invalid filter '${key}'`)
    let values: string[]
    if (Array.isArray(val) && val.every(x => typeof x === 'string')) values = val
    else if (typeof val === 'object' && val !== null && !Array.isArray(val) && Object.values(val).every(x => x === true)) values = Object.keys(val)
    else throw new FlotillaError('invalid-argument', `invalid filter '${key}': expected {"value": true}`)
    out.set(key, values)
  }
  return out
}
