/**
 * Task logs carried between nodes (SwarmKit's log broker, without the manager in the middle): the node
 * that got `docker service logs` asks every node holding tasks of the service for its containers'
 * lines, over a member-only libp2p stream.
 *
 *   requester                         node holding tasks
 *   { t: 'logs', serviceId, taskIds,  ──▶
 *     follow, tail, since }
 *                                     ◀── { t: 'lines', lines: [...] }   (any number)
 *                                     ◀── { t: 'end' } | { t: 'error', message }
 *
 * A follow ends when the requester closes or resets the stream; the server notices at once (it keeps
 * a read pending) and stops reading its engine. A malformed request is answered with an error frame
 * and changes nothing.
 */
import { FlotillaError, isRecord, type FrameStream, type Membership } from '../../membership/index.js'
import type { Executor, LogLine, LogOptions, LogSelector } from '../../tasks/index.js'

export const LOGS_PROTOCOL = '/flotilla/logs/1.0.0'
/** Largest frame either side accepts. */
export const MAX_LOGS_FRAME = 1024 * 1024
/** A lines frame is sent once it holds this many bytes of text or lines, or when no more lines are ready. */
const BATCH_TEXT_BYTES = 256 * 1024
const BATCH_LINES = 512
/** A line's text is cut to this on the wire (a real one is at most 16 KiB: the engine splits longer lines). */
const MAX_TEXT_BYTES = 64 * 1024
/** Most task IDs one request may name. */
const MAX_TASK_IDS = 10_000
/** How long the request may take to arrive, and the dial to succeed. */
const REQUEST_TIMEOUT_MS = 10_000
const DIAL_TIMEOUT_MS = 5_000

/** What one node is asked for. */
export interface LogRequest {
  readonly selector: LogSelector
  readonly options: LogOptions
}

const ID = /^[0-9a-z]{1,64}$/
const SINCE = /^\d{1,12}(\.\d{1,9})?$/

/** Validate a request frame field by field; null when anything is off. */
export function parseLogRequest (f: unknown): LogRequest | null {
  if (!isRecord(f) || f.t !== 'logs') return null
  const { serviceId, taskIds, follow, tail, since } = f
  if (serviceId !== null && (typeof serviceId !== 'string' || !ID.test(serviceId))) return null
  if (!Array.isArray(taskIds) || taskIds.length > MAX_TASK_IDS || !taskIds.every(t => typeof t === 'string' && ID.test(t))) return null
  if (serviceId === null && taskIds.length === 0) return null
  if (typeof follow !== 'boolean') return null
  if (tail !== 'all' && !(typeof tail === 'number' && Number.isSafeInteger(tail) && tail >= 0)) return null
  if (since !== null && (typeof since !== 'string' || !SINCE.test(since))) return null
  return { selector: { serviceId, taskIds: taskIds as string[] }, options: { follow, tail, since } }
}

function requestFrame (r: LogRequest): Record<string, unknown> {
  return { t: 'logs', serviceId: r.selector.serviceId, taskIds: [...r.selector.taskIds], follow: r.options.follow, tail: r.options.tail, since: r.options.since }
}

const TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/

/** The lines of a lines frame from node `nodeId`; null when anything is off (a node speaks only for its own containers). */
export function parseLinesFrame (f: Record<string, unknown>, nodeId: string): LogLine[] | null {
  if (!Array.isArray(f.lines) || f.lines.length > BATCH_LINES) return null
  const lines: LogLine[] = []
  for (const l of f.lines as unknown[]) {
    if (!isRecord(l)) return null
    const { taskId, serviceId, stream, timestamp, text } = l
    if (typeof taskId !== 'string' || !ID.test(taskId) || typeof serviceId !== 'string' || !ID.test(serviceId)) return null
    if ((stream !== 'stdout' && stream !== 'stderr') || typeof timestamp !== 'string' || !TIMESTAMP.test(timestamp)) return null
    if (typeof text !== 'string' || text.length > MAX_TEXT_BYTES) return null
    lines.push({ taskId, serviceId, nodeId, stream, timestamp, text })
  }
  return lines
}

/**
 * Group `lines` into batches: a batch goes out when it is full, or as soon as no further line is ready
 * (a follow's single new line is not held back).
 */
export async function * batches (lines: AsyncIterable<LogLine>): AsyncGenerator<LogLine[]> {
  const it = lines[Symbol.asyncIterator]()
  let batch: LogLine[] = []
  let bytes = 0
  let next = it.next()
  try {
    for (;;) {
      const r = batch.length === 0 ? await next : await Promise.race([next, new Promise<'idle'>(resolve => { setImmediate(resolve, 'idle') })])
      if (r === 'idle') {
        yield batch
        batch = []
        bytes = 0
        continue
      }
      if (r.done === true) break
      const text = r.value.text.length > MAX_TEXT_BYTES ? r.value.text.slice(0, MAX_TEXT_BYTES - 1) + '\n' : r.value.text
      batch.push({ ...r.value, text })
      bytes += Buffer.byteLength(text)
      next = it.next()
      if (batch.length >= BATCH_LINES || bytes >= BATCH_TEXT_BYTES) {
        yield batch
        batch = []
        bytes = 0
      }
    }
    if (batch.length > 0) yield batch
  } finally {
    // Not awaited: a `next` may still be pending (it settles once the source's signal aborts), and
    // an async generator's return waits behind it.
    it.return?.().catch(() => {})
  }
}

/** Serve LOGS_PROTOCOL on `membership`: this node's containers' lines, read through `executor`. */
export async function serveLogs (membership: Membership, executor: Executor): Promise<void> {
  await membership.serveMembers(LOGS_PROTOCOL, { maxFrameBytes: MAX_LOGS_FRAME, timeoutMs: 0 }, () => null, async (stream, peer, signal) => {
    const req = parseLogRequest(await stream.read(AbortSignal.any([signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)])))
    if (req === null) {
      await stream.write({ t: 'error', message: `node ${membership.nodeId} refused a malformed logs request from node ${peer.claims.nodeId}` }, signal)
      return
    }
    const life = new AbortController()
    const stop = AbortSignal.any([signal, life.signal])
    // The requester sends nothing more: a frame, its end or a reset all mean it is done.
    stream.read(stop).then(() => { life.abort() }, () => { life.abort() })
    try {
      for await (const lines of batches(executor.logs(membership.nodeId, req.selector, req.options, stop))) {
        await stream.write({ t: 'lines', lines }, stop)
      }
      if (!stop.aborted) await stream.write({ t: 'end' }, stop)
    } catch (err) {
      if (stop.aborted) return
      await stream.write({ t: 'error', message: (err as Error).message }, stop)
    } finally {
      life.abort()
    }
  })
}

/**
 * Node `nodeId`'s lines over LOGS_PROTOCOL, until its end frame or `signal` (then it ends quietly).
 * Throws a FlotillaError when the node cannot be reached, refuses, or reports an error.
 */
export async function * remoteLogs (membership: Membership, nodeId: string, request: LogRequest, signal: AbortSignal): AsyncGenerator<LogLine> {
  let stream: FrameStream
  try {
    stream = await membership.dialMember(nodeId, LOGS_PROTOCOL, MAX_LOGS_FRAME, AbortSignal.any([signal, AbortSignal.timeout(DIAL_TIMEOUT_MS)]))
  } catch (err) {
    if (signal.aborted) return
    throw new FlotillaError('unavailable', `node ${nodeId} is not available: ${(err as Error).message}`, { retryable: true, cause: err })
  }
  try {
    await stream.write(requestFrame(request), signal)
    for (;;) {
      const f = await stream.read(signal)
      if (!isRecord(f)) throw new FlotillaError('internal', `node ${nodeId} sent a malformed logs frame`)
      if (f.t === 'end') return
      if (f.t === 'error') throw new FlotillaError('unavailable', `node ${nodeId}: ${typeof f.message === 'string' ? f.message : 'error'}`)
      const lines = f.t === 'lines' ? parseLinesFrame(f, nodeId) : null
      if (lines === null) throw new FlotillaError('internal', `node ${nodeId} sent a malformed logs frame`)
      yield * lines
    }
  } catch (err) {
    if (signal.aborted) return
    if (err instanceof FlotillaError) throw err
    throw new FlotillaError('unavailable', `node ${nodeId} is not available: ${(err as Error).message}`, { retryable: true, cause: err })
  } finally {
    stream.abort(new Error('logs request done'))
  }
}

/** Node `nodeId`'s lines: this node's own straight from `executor`, another's over LOGS_PROTOCOL. */
export function nodeLogs (membership: Membership, executor: Executor, nodeId: string, request: LogRequest, signal: AbortSignal): AsyncIterable<LogLine> {
  if (nodeId === membership.nodeId) return executor.logs(nodeId, request.selector, request.options, signal)
  return remoteLogs(membership, nodeId, request, signal)
}
