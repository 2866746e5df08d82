/**
 * Cluster events carried between nodes: a node that is not a live manager (a worker, or a manager still
 * catching up) asks a manager for its events over a member-only libp2p stream.
 *
 *   requester                                  manager
 *   { t: 'events', since, until, after,  ──▶
 *     filters }
 *                                        ◀──   { t: 'event', e: {...} }        (any number)
 *                                        ◀──   { t: 'end' }                    (`until` passed)
 *                                              | { t: 'error', code, message } (not a live manager, malformed request)
 *
 * Times are nanoseconds since the epoch as decimal strings (msgpack has no room for them in a float).
 * The requester ends the stream by closing or resetting it; the manager notices at once (it keeps a
 * read pending) and drops the subscription.
 */
import { FlotillaError, isRecord, type FrameStream, type Membership } from '../../membership/index.js'
import { EVENT_TYPES, type ClusterEvent, type EventCursor, type EventType } from './derive.js'
import { matchesEvent, parseEventFilters } from './filter.js'
import type { EventSource } from './source.js'

export const EVENTS_PROTOCOL = '/flotilla/events/1.0.0'
/** Largest frame either side accepts. */
const MAX_EVENTS_FRAME = 256 * 1024
const REQUEST_TIMEOUT_MS = 10_000
const DIAL_TIMEOUT_MS = 5_000
const MAX_FILTERS_CHARS = 64 * 1024
const MAX_ATTRIBUTES = 64
const MAX_ATTRIBUTE_CHARS = 4096

/** What a requester asks a manager for (see SubscribeOptions; `filters` is the query's JSON). */
export interface EventRequest {
  readonly since: bigint | null
  readonly until: bigint | null
  readonly after: EventCursor | null
  readonly filters: string
}

const NANOS = /^\d{1,20}$/
const ID = /^[0-9a-z]{1,64}$/
const ACTIONS: readonly string[] = ['create', 'update', 'remove', 'reschedule']

function isUint (v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
}

function nanos (v: unknown): bigint | null | undefined {
  if (v === null) return null
  return typeof v === 'string' && NANOS.test(v) ? BigInt(v) : undefined
}

/** Validate a request frame field by field; null when anything is off. */
export function parseEventRequest (f: unknown): EventRequest | null {
  if (!isRecord(f) || f.t !== 'events') return null
  const since = nanos(f.since)
  const until = nanos(f.until)
  if (since === undefined || until === undefined) return null
  let after: EventCursor | null = null
  if (f.after !== null) {
    if (!isRecord(f.after) || !isUint(f.after.index) || !isUint(f.after.seq)) return null
    after = { index: f.after.index, seq: f.after.seq }
  }
  if (typeof f.filters !== 'string' || f.filters.length > MAX_FILTERS_CHARS) return null
  return { since, until, after, filters: f.filters }
}

function requestFrame (r: EventRequest): Record<string, unknown> {
  return {
    t: 'events',
    since: r.since?.toString() ?? null,
    until: r.until?.toString() ?? null,
    after: r.after === null ? null : { index: r.after.index, seq: r.after.seq },
    filters: r.filters
  }
}

function eventFrame (e: ClusterEvent): Record<string, unknown> {
  return { t: 'event', e: { type: e.type, action: e.action, id: e.id, attributes: e.attributes, index: e.index, seq: e.seq, timeNano: e.timeNano.toString() } }
}

/** An event frame's event; null when anything is off. */
export function parseEventFrame (f: Record<string, unknown>): ClusterEvent | null {
  const e = f.e
  if (!isRecord(e)) return null
  const { type, action, id, attributes, index, seq, timeNano } = e
  if (typeof type !== 'string' || !(EVENT_TYPES as readonly string[]).includes(type)) return null
  if (typeof action !== 'string' || !ACTIONS.includes(action) || typeof id !== 'string' || !ID.test(id)) return null
  if (!isUint(index) || !isUint(seq) || typeof timeNano !== 'string' || !NANOS.test(timeNano)) return null
  if (!isRecord(attributes)) return null
  const entries = Object.entries(attributes)
  if (entries.length > MAX_ATTRIBUTES || !entries.every(([k, v]) => k.length <= MAX_ATTRIBUTE_CHARS && typeof v === 'string' && v.length <= MAX_ATTRIBUTE_CHARS)) return null
  return { type: type as EventType, action: action as ClusterEvent['action'], id, attributes: Object.fromEntries(entries) as Record<string, string>, index, seq, timeNano: BigInt(timeNano) }
}

/** An AbortSignal that fires at `until` (ns since the epoch, by `nowNs`), or never when null. */
export function untilSignal (until: bigint | null, nowNs: () => bigint): { readonly signal: AbortSignal, readonly clear: () => void } {
  const ctl = new AbortController()
  if (until === null) return { signal: ctl.signal, clear: () => {} }
  let timer: NodeJS.Timeout | null = null
  const arm = (): void => {
    const leftMs = Number((until - nowNs()) / 1_000_000n)
    // setTimeout holds at most 2^31-1 ms: a far `until` is reached in steps.
    if (leftMs <= 0) { ctl.abort(); return }
    timer = setTimeout(arm, Math.min(leftMs + 1, 0x7fff_ffff))
  }
  arm()
  return { signal: ctl.signal, clear: () => { if (timer !== null) clearTimeout(timer) } }
}

/**
 * Serve EVENTS_PROTOCOL on `membership` from `local()`, this node's live event source (null: this node
 * is no live manager, and says so: the requester asks another).
 */
export async function serveEvents (membership: Membership, local: () => EventSource | null, nowNs: () => bigint): Promise<void> {
  await membership.serveMembers(EVENTS_PROTOCOL, { maxFrameBytes: MAX_EVENTS_FRAME, timeoutMs: 0 }, () => null, async (stream, peer, signal) => {
    const req = parseEventRequest(await stream.read(AbortSignal.any([signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)])))
    if (req === null) {
      await stream.write({ t: 'error', code: 'invalid', message: `node ${membership.nodeId} refused a malformed events request from node ${peer.claims.nodeId}` }, signal)
      return
    }
    const source = local()
    if (source === null) {
      await stream.write({ t: 'error', code: 'not-ready', message: `node ${membership.nodeId} is not a manager serving events` }, signal)
      return
    }
    let filters
    try {
      filters = parseEventFilters(req.filters)
    } catch (err) {
      await stream.write({ t: 'error', code: 'invalid', message: (err as Error).message }, signal)
      return
    }
    const options = { since: req.since, until: req.until, after: req.after, filter: (e: ClusterEvent) => matchesEvent(filters, e) }
    const life = new AbortController()
    /** The requester is gone (or the host stops). */
    const gone = AbortSignal.any([signal, life.signal])
    const onlyPast = req.until !== null && req.until <= nowNs()
    const until = untilSignal(onlyPast ? null : req.until, nowNs)
    const stop = AbortSignal.any([gone, until.signal])
    // The requester sends nothing more: a frame, its end or a reset all mean it is done.
    stream.read(gone).then(() => { life.abort() }, () => { life.abort() })
    try {
      for await (const e of onlyPast ? source.history(options) : source.subscribe(options, stop)) {
        if (stop.aborted) break
        await stream.write(eventFrame(e), stop)
      }
      if (!gone.aborted) await stream.write({ t: 'end' }, gone)
    } catch (err) {
      if (gone.aborted) return
      if (until.signal.aborted) { await stream.write({ t: 'end' }, gone); return }
      await stream.write({ t: 'error', code: 'ended', message: (err as Error).message }, gone)
    } finally {
      until.clear()
      life.abort()
    }
  })
}

/**
 * Manager `nodeId`'s events over EVENTS_PROTOCOL, until its end frame (returns) or `signal` (returns
 * quietly). Throws a FlotillaError when the manager cannot be reached, is no live manager, or fails.
 */
export async function * remoteEvents (membership: Membership, nodeId: string, request: EventRequest, signal: AbortSignal): AsyncGenerator<ClusterEvent> {
  let stream: FrameStream
  try {
    stream = await membership.dialMember(nodeId, EVENTS_PROTOCOL, MAX_EVENTS_FRAME, AbortSignal.any([signal, AbortSignal.timeout(DIAL_TIMEOUT_MS)]))
  } catch (err) {
    if (signal.aborted) return
    throw new FlotillaError('unavailable', `manager ${nodeId} is not available: ${(err as Error).message}`, { retryable: true, cause: err })
  }
  try {
    await stream.write(requestFrame(request), signal)
    for (;;) {
      const f = await stream.read(signal)
      if (!isRecord(f)) throw new FlotillaError('internal', `manager ${nodeId} sent a malformed events frame`)
      if (f.t === 'end') return
      if (f.t === 'error') {
        const code = f.code === 'invalid' ? 'invalid-argument' : 'unavailable'
        throw new FlotillaError(code, `manager ${nodeId}: ${typeof f.message === 'string' ? f.message : 'error'}`, { retryable: code === 'unavailable' })
      }
      const e = f.t === 'event' ? parseEventFrame(f) : null
      if (e === null) throw new FlotillaError('internal', `manager ${nodeId} sent a malformed events frame`)
      yield e
    }
  } catch (err) {
    if (signal.aborted) return
    if (err instanceof FlotillaError) throw err
    throw new FlotillaError('unavailable', `manager ${nodeId} is not available: ${(err as Error).message}`, { retryable: true, cause: err })
  } finally {
    stream.abort(new Error('events request done'))
  }
}
