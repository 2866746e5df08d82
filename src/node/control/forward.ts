import { performance } from 'node:perf_hooks'
import type { Logger, Membership } from '../../membership/index.js'
import type { ApiHandler, ApiRequest, ApiResponse } from './http-server.js'
import { ForwardChannel, ForwardNotSentError, serveChannel } from './forward-channel.js'

export { ForwardNotSentError, ForwardUnansweredError } from './forward-channel.js'

/**
 * Docker API calls carried from one node to another over libp2p: a worker's socket forwards
 * cluster reads and writes to a manager, a follower manager forwards writes to the leader. The
 * receiver runs the call through the same API with `forwarded` set, so a call is forwarded at most once.
 * Calls travel on forward channels (forward-channel.ts): one long-lived stream per (caller, target).
 */
export const API_PROTOCOL = '/flotilla/api/2.0.0'
const MAX_API_FRAME = 2 * 1024 * 1024
/** How long one forwarded call may take in all. */
const CALL_TIMEOUT_MS = 30_000
/** How long opening a channel (dial, stream, the hello's answer) may take. */
const OPEN_TIMEOUT_MS = 5_000
/**
 * A forwarded write is sent at once only on a channel that heard from its target within this many ms;
 * on a quieter one, only after the target answers a ping. So a leader cut off by a partition is sent a
 * write only if the partition began at most this long (plus one network hop) before it, and that
 * write's outcome is then unknown; a write issued later fails unsent and goes to the next leader.
 */
export const WRITE_FRESH_MS = 50
/** A ping unanswered this long breaks its channel. */
const PING_TIMEOUT_MS = 5_000
/** A channel with no call in flight for this long is closed (the target's stream released). */
const CHANNEL_IDLE_MS = 60_000
/** Calls one channel may have running on the receiver; one more is refused with RETRY_HEADER, unserved. */
const MAX_CALLS_IN_FLIGHT = 128
/** Header a receiver sets when it cannot serve a forwarded call now (not the leader): the sender retries elsewhere. */
export const RETRY_HEADER = 'X-Flotilla-Retry'

/** Serve forward channels on `membership`: every call read is run through `handler`. */
export async function serveForwardedCalls (membership: Membership, handler: ApiHandler, log: Logger): Promise<void> {
  const refusal: ApiResponse = { status: 503, json: { message: `more than ${MAX_CALLS_IN_FLIGHT} forwarded calls in flight on one channel` }, headers: { [RETRY_HEADER]: '1' } }
  await membership.serveMembers(API_PROTOCOL, { maxFrameBytes: MAX_API_FRAME, timeoutMs: 0 }, () => null, async stream => {
    await serveChannel(stream, handler, { maxInFlight: MAX_CALLS_IN_FLIGHT, refusal, log })
  })
}

/**
 * This node's forward channels, at most one per target, opened on first use and again after one
 * closes. A channel opens with the member hello answered (`dialMember`'s `confirmed`), so the target
 * was reachable and serving when it opened. Channels belong to one membership: a call made with
 * another (the node left and joined again) closes those of the previous one.
 */
export class Forwarder {
  private membership: Membership | null = null
  private readonly channels = new Map<string, ForwardChannel>()
  private readonly opening = new Map<string, Promise<ForwardChannel>>()

  constructor (private readonly now: () => number = () => performance.now()) {}

  /**
   * Send one call to node `target` on its channel and return its answer as if served here, giving up
   * after 30 s or when `abort` fires. Throws ForwardNotSentError when the call never left this node
   * (the channel could not be opened, or the call was given up before it was sent: sending it again is
   * safe), ForwardUnansweredError when it was sent and no answer came (the target may have applied it).
   * A `write` is sent only while the target is known to be reachable (see WRITE_FRESH_MS).
   */
  async call (m: Membership, target: string, req: ApiRequest, write: boolean, abort?: AbortSignal): Promise<ApiResponse> {
    if (m !== this.membership) {
      for (const ch of this.channels.values()) ch.close(new Error('this node left the cluster'))
      this.channels.clear()
      this.opening.clear()
      this.membership = m
    }
    const timeout = AbortSignal.timeout(CALL_TIMEOUT_MS)
    const signal = abort === undefined ? timeout : AbortSignal.any([timeout, abort])
    let ch: ForwardChannel
    try {
      ch = await untilAborted(this.channel(m, target), signal)
      // It may have broken while this call waited for it: then once more with a new one.
      if (ch.closed !== null) ch = await untilAborted(this.channel(m, target), signal)
    } catch (err) {
      throw new ForwardNotSentError(target, err)
    }
    return await ch.call(req, write, signal)
  }

  private async channel (m: Membership, target: string): Promise<ForwardChannel> {
    const open = this.channels.get(target)
    if (open !== undefined && open.closed === null) return open
    const pending = this.opening.get(target)
    if (pending !== undefined) return await pending
    const opened = (async () => {
      const stream = await m.dialMember(target, API_PROTOCOL, MAX_API_FRAME, AbortSignal.timeout(OPEN_TIMEOUT_MS), true)
      const ch: ForwardChannel = new ForwardChannel({
        target,
        stream,
        now: this.now,
        freshMs: WRITE_FRESH_MS,
        pingTimeoutMs: PING_TIMEOUT_MS,
        idleMs: CHANNEL_IDLE_MS,
        onClose: () => { if (this.channels.get(target) === ch) this.channels.delete(target) }
      })
      if (this.membership === m) this.channels.set(target, ch)
      return ch
    })()
    this.opening.set(target, opened)
    try {
      return await opened
    } finally {
      if (this.opening.get(target) === opened) this.opening.delete(target)
    }
  }
}

/** `p`, or a rejection with the signal's reason if it aborts first (`p` goes on, for whoever else awaits it). */
async function untilAborted<T> (p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) throw signal.reason
  let onAbort!: () => void
  const aborted = new Promise<never>((_resolve, reject) => {
    onAbort = () => { reject(signal.reason as Error) }
    signal.addEventListener('abort', onAbort, { once: true })
  })
  try {
    return await Promise.race([p, aborted])
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}
