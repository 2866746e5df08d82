/**
 * `GET /events?filters=`, with dockerd's semantics (moby daemon/events/filter.go): every key given must
 * match (AND), any value of a key may (OR).
 *
 * - `type`, `event` (the Action), `scope`: exact values;
 * - `service`, `node`, `network`, `secret`, `config`: the event's Actor ID or `name` attribute equals or
 *   starts with a value. As dockerd, such a key applies to events of every type (a `service=web` filter
 *   leaves a node event only if the node's ID or name starts with `web`);
 * - `label`: every value (`key` or `key=value`) must be among the Actor's Attributes;
 * - `container`, `image`, `volume`, `plugin`, `daemon`: these objects make no swarm event, so the
 *   stream holds nothing (dockerd would show that object's local events, which flotilla has none of);
 * - any other key (`name`, …) is ignored, as dockerd ignores it.
 * A filters value that is not JSON of `{"key": {"value": true}}` (or the old `{"key": ["value"]}`) is a 400.
 */
import { FlotillaError } from '../../membership/index.js'
import type { ClusterEvent } from './derive.js'

/** key → values. */
export type EventFilters = ReadonlyMap<string, readonly string[]>

/** Keys naming objects that make no swarm event: a filter on them matches nothing. */
const LOCAL_OBJECT_KEYS = ['container', 'image', 'volume', 'plugin', 'daemon']
/** Keys matched against the Actor's ID or name, by prefix (dockerd's fuzzyMatchName). */
const NAME_KEYS = ['service', 'node', 'network', 'secret', 'config']
/** dockerd's exception: these `event` values match by prefix (`health_status: healthy`). */
const FUZZY_ACTIONS = ['health_status', 'exec_create', 'exec_start']

/** Docker's `filters` query parameter; a malformed one is a 400 with dockerd's words. */
export function parseEventFilters (raw: string | null): EventFilters {
  const out = new Map<string, string[]>()
  if (raw === null || raw === '') return out
  let v: unknown
  try {
    v = JSON.parse(raw)
  } catch {
    throw new FlotillaError('invalid-argument', `invalid filter: ${raw} is not JSON`, { hint: 'pass --filter key=value, e.g. --filter type=service' })
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new FlotillaError('invalid-argument', 'invalid filter: expected a JSON object of key → values')
  for (const [key, val] of Object.entries(v as Record<string, unknown>)) {
    let values: string[]
    if (Array.isArray(val) && val.every(x => typeof x === 'string')) values = val
    else if (typeof val === 'object' && val !== null && !Array.isArray(val) && Object.values(val).every(x => typeof x === 'boolean')) values = Object.keys(val)
    else throw new FlotillaError('invalid-argument', `invalid filter '${key}': expected {"value": true}`)
    out.set(key, values)
  }
  return out
}

function exact (f: EventFilters, key: string, value: string): boolean {
  const values = f.get(key)
  return values === undefined || values.length === 0 || values.includes(value)
}

function fuzzy (f: EventFilters, key: string, value: string): boolean {
  const values = f.get(key)
  return values === undefined || values.length === 0 || values.some(v => value.startsWith(v))
}

/** The Actor's Attributes hold every `label` value (dockerd's MatchKVList). */
function labels (f: EventFilters, attributes: Readonly<Record<string, string>>): boolean {
  const values = f.get('label')
  if (values === undefined || values.length === 0) return true
  return values.every(v => {
    const i = v.indexOf('=')
    const key = i < 0 ? v : v.slice(0, i)
    return Object.hasOwn(attributes, key) && (i < 0 || attributes[key] === v.slice(i + 1))
  })
}

/** Whether `e` passes `f` (every event here has scope `swarm`). */
export function matchesEvent (f: EventFilters, e: Pick<ClusterEvent, 'type' | 'action' | 'id' | 'attributes'>): boolean {
  if (f.size === 0) return true
  const fuzzyAction = (f.get('event') ?? []).some(v => FUZZY_ACTIONS.includes(v))
  if (!(fuzzyAction ? fuzzy(f, 'event', e.action) : exact(f, 'event', e.action))) return false
  if (!exact(f, 'type', e.type) || !exact(f, 'scope', 'swarm')) return false
  if (LOCAL_OBJECT_KEYS.some(k => (f.get(k)?.length ?? 0) > 0)) return false
  const name = e.attributes.name ?? ''
  for (const key of NAME_KEYS) {
    if (!fuzzy(f, key, e.id) && !fuzzy(f, key, name)) return false
  }
  return labels(f, e.attributes)
}
