import { FlotillaError, isBytes, isRecord, type Membership } from '../../membership/index.js'
import type { ApiHandler, ApiRequest, ApiResponse } from './http-server.js'

/**
 * Docker API calls carried from one node to another over libp2p: a worker's socket forwards
 * cluster reads and writes to a manager, a follower manager forwards writes to the leader. The
 * receiver runs the call through the same API with `forwarded` set, so a call is forwarded at most once.
 */
export const API_PROTOCOL = '/flotilla/api/1.0.0'
const MAX_API_FRAME = 2 * 1024 * 1024
const CALL_TIMEOUT_MS = 30_000
/** Header a receiver sets when it cannot serve a forwarded call now (not the leader): the sender retries elsewhere. */
export const RETRY_HEADER = 'X-Flotilla-Retry'

export async function serveForwardedCalls (membership: Membership, handler: ApiHandler): Promise<void> {
  await membership.serveMembers(API_PROTOCOL, { maxFrameBytes: MAX_API_FRAME, timeoutMs: CALL_TIMEOUT_MS }, () => null, async (stream, _peer, signal) => {
    const f = await stream.read(signal)
    if (!isRecord(f) || typeof f.method !== 'string' || typeof f.path !== 'string' || typeof f.query !== 'string' || !isBytes(f.body)) {
      throw new FlotillaError('invalid-argument', 'malformed forwarded API call')
    }
    const req: ApiRequest = { method: f.method, path: f.path, query: new URLSearchParams(f.query), body: Buffer.from(f.body), headers: {}, forwarded: true }
    const res = await handler(req)
    await stream.write({ status: res.status, json: res.json === undefined ? null : JSON.stringify(res.json), text: res.text ?? null, headers: res.headers ?? {} }, signal)
  })
}

/** The call never left this node (the leader could not be dialled): sending it again is safe. */
export class ForwardNotSentError extends FlotillaError {
  constructor (target: string, cause: unknown) {
    super('unavailable', `could not reach node ${target}: ${(cause as Error).message}`, { retryable: true, cause })
    this.name = 'ForwardNotSentError'
  }
}

/**
 * Send one call to node `target` and return its answer as if served here, giving up after 30 s or when
 * `abort` fires. Throws ForwardNotSentError when the stream could not be opened; any later failure
 * leaves the call's outcome unknown (the target may have applied it), and is thrown as it came.
 *
 * A write (`confirmed`) goes out only once the target has answered the stream's hello: a leader cut off
 * by a partition then fails the dial, and the call is certainly not applied and may go to the next
 * leader, instead of vanishing into the partition with its outcome unknown. The window where the
 * outcome stays unknown shrinks from the partition's length to one round trip, for one round trip more.
 */
export async function forwardCall (membership: Membership, target: string, req: ApiRequest, abort?: AbortSignal, confirmed = false): Promise<ApiResponse> {
  const timeout = AbortSignal.timeout(CALL_TIMEOUT_MS)
  const signal = abort === undefined ? timeout : AbortSignal.any([timeout, abort])
  let stream
  try {
    stream = await membership.dialMember(target, API_PROTOCOL, MAX_API_FRAME, signal, confirmed)
  } catch (err) {
    throw new ForwardNotSentError(target, err)
  }
  try {
    await stream.write({ method: req.method, path: req.path, query: req.query.toString(), body: new Uint8Array(req.body) }, signal)
    const r = await stream.read(signal)
    if (!isRecord(r) || typeof r.status !== 'number') throw new FlotillaError('internal', `node ${target} answered a forwarded call with a malformed frame`)
    return {
      status: r.status,
      json: typeof r.json === 'string' ? JSON.parse(r.json) as unknown : undefined,
      text: typeof r.text === 'string' ? r.text : undefined,
      headers: isRecord(r.headers) ? Object.fromEntries(Object.entries(r.headers).filter(([, v]) => typeof v === 'string')) as Record<string, string> : {}
    }
  } finally {
    await stream.close().catch(() => {})
  }
}
