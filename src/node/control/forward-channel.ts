import { FlotillaError, isBytes, isRecord, type FrameStream, type Logger } from '../../membership/index.js'
import type { ApiHandler, ApiRequest, ApiResponse } from './http-server.js'

/**
 * A forward channel: one long-lived member stream from a node to another that carries many forwarded
 * API calls at once, each tagged with an id. The stream is opened once (its certificate hello answered,
 * see forward.ts) and reused until it breaks, goes idle or its target stops being the one called.
 *
 * Frames (msgpack, one per length-prefixed message), from the caller:
 *   { t: 'call', id, method, path, query, body }   a call; `id` is a positive integer, unique on the channel
 *   { t: 'ping', id }                               answer me (before a write, on a channel gone quiet)
 * and from the callee, in any order (calls are served concurrently):
 *   { t: 'res', id, status, json, text, headers }  a call's answer: `json` JSON-encoded, or null
 *   { t: 'fail', id, message }                     the call threw on the callee (its outcome is unknown)
 *   { t: 'pong', id }                              a ping's answer
 *
 * What a failure means for a call (cluster-call.ts retries only the first):
 *   - ForwardNotSentError: the call never left this node (the channel could not be opened, broke, or the
 *     call was abandoned before its frame was written): sending it again is safe;
 *   - ForwardUnansweredError: its frame was written and no answer came (the channel broke, the call was
 *     abandoned or timed out): the callee may have applied it.
 */

/** The call never left this node (the target could not be reached, or the call was given up before it was sent): sending it again is safe. */
export class ForwardNotSentError extends FlotillaError {
  constructor (target: string, cause: unknown) {
    super('unavailable', `could not reach node ${target}: ${(cause as Error).message}`, { retryable: true, cause })
    this.name = 'ForwardNotSentError'
  }
}

/** The call was sent and no answer came: the target may or may not have applied it. */
export class ForwardUnansweredError extends FlotillaError {
  constructor (target: string, cause: unknown) {
    super('unavailable', `node ${target} did not answer: ${(cause as Error).message}`, { retryable: false, cause })
    this.name = 'ForwardUnansweredError'
  }
}

export interface ForwardChannelInit {
  /** The node at the other end, for messages. */
  readonly target: string
  /** A member stream whose hello the target has answered. */
  readonly stream: FrameStream
  /** A monotonic clock, ms. */
  readonly now: () => number
  /**
   * A write goes out at once only if the target was heard on the channel (any frame) within this many
   * ms; otherwise only once it has answered a ping. Reads never wait for this.
   */
  readonly freshMs: number
  /** A ping unanswered this long breaks the channel (every call on it fails as above). */
  readonly pingTimeoutMs: number
  /** With no call in flight for this long, the channel closes itself. */
  readonly idleMs: number
  /** Called once when the channel closes, for whatever reason. */
  readonly onClose?: (err: Error) => void
}

interface Call {
  /** True once its frame has been handed to the stream: from then on its outcome is unknown until answered. */
  sent: boolean
  readonly resolve: (res: ApiResponse) => void
  readonly reject: (err: Error) => void
}

interface Ping {
  readonly id: number
  readonly answered: Promise<void>
  readonly resolve: () => void
  readonly reject: (err: Error) => void
  readonly timer: NodeJS.Timeout
}

/** The caller's end of a forward channel. */
export class ForwardChannel {
  private readonly calls = new Map<number, Call>()
  private nextId = 1
  /** When a frame last arrived (the hello's answer counts: the channel is created just after it). */
  private heardAtMs: number
  private ping: Ping | null = null
  /** The frame writes, one after another (the stream takes one write at a time). */
  private writes: Promise<void> = Promise.resolve()
  private closedBy: Error | null = null
  private idleTimer: NodeJS.Timeout | null = null

  constructor (private readonly init: ForwardChannelInit) {
    this.heardAtMs = init.now()
    this.armIdle()
    void this.readLoop()
  }

  /** Why the channel closed, or null while it is open. */
  get closed (): Error | null {
    return this.closedBy
  }

  /** Calls sent or waiting to be sent, and not yet answered. */
  get inFlight (): number {
    return this.calls.size
  }

  /**
   * Send `req` and resolve with the target's answer. A `write` waits until the target is known to be
   * reachable (heard within `freshMs`, else a ping answered). Rejects with ForwardNotSentError while
   * the call has not been sent, ForwardUnansweredError after; `signal` gives the call up.
   */
  async call (req: ApiRequest, write: boolean, signal: AbortSignal): Promise<ApiResponse> {
    if (this.closedBy !== null) throw new ForwardNotSentError(this.init.target, this.closedBy)
    if (signal.aborted) throw new ForwardNotSentError(this.init.target, signal.reason)
    const id = this.nextId++
    if (this.idleTimer !== null) { clearTimeout(this.idleTimer); this.idleTimer = null }
    return await new Promise<ApiResponse>((resolve, reject) => {
      const onAbort = (): void => { this.settle(id, signal.reason as Error) }
      const done = (): void => {
        signal.removeEventListener('abort', onAbort)
        this.armIdle()
      }
      this.calls.set(id, {
        sent: false,
        resolve: res => { done(); resolve(res) },
        reject: err => { done(); reject(err) }
      })
      signal.addEventListener('abort', onAbort, { once: true })
      void this.send(id, req, write)
    })
  }

  /** Close the channel: calls not yet sent fail as not sent, calls sent as unanswered. Idempotent. */
  close (err: Error): void {
    if (this.closedBy !== null) return
    this.closedBy = err
    if (this.idleTimer !== null) { clearTimeout(this.idleTimer); this.idleTimer = null }
    if (this.ping !== null) {
      clearTimeout(this.ping.timer)
      this.ping.reject(err)
      this.ping = null
    }
    for (const id of [...this.calls.keys()]) this.settle(id, err)
    this.init.stream.abort(err)
    this.init.onClose?.(err)
  }

  private async send (id: number, req: ApiRequest, write: boolean): Promise<void> {
    try {
      if (write && this.init.now() - this.heardAtMs > this.init.freshMs) await this.confirmReachable()
    } catch (err) {
      this.settle(id, err as Error)
      return
    }
    const frame = { t: 'call', id, method: req.method, path: req.path, query: req.query.toString(), body: new Uint8Array(req.body) }
    this.enqueueWrite(frame, () => {
      const c = this.calls.get(id)
      if (c === undefined) return false // given up before its turn: never sent
      c.sent = true
      return true
    })
  }

  /** Resolve once the target answers a ping (one ping at a time, shared by every write waiting for it). */
  private async confirmReachable (): Promise<void> {
    if (this.ping === null) {
      const id = this.nextId++
      let resolve!: () => void
      let reject!: (err: Error) => void
      const answered = new Promise<void>((res, rej) => { resolve = res; reject = rej })
      // A rejection nobody waits for (every waiting write was given up) is not an unhandled one.
      answered.catch(() => {})
      const timer = setTimeout(() => {
        this.close(new FlotillaError('unavailable', `node ${this.init.target} did not answer a ping within ${this.init.pingTimeoutMs} ms`, { retryable: true }))
      }, this.init.pingTimeoutMs)
      timer.unref()
      this.ping = { id, answered, resolve, reject, timer }
      this.enqueueWrite({ t: 'ping', id }, () => true)
    }
    await this.ping.answered
  }

  /** Write `frame` after the writes before it, if `go()` still says so at its turn; a failed write breaks the channel. */
  private enqueueWrite (frame: Record<string, unknown>, go: () => boolean): void {
    this.writes = this.writes.then(async () => {
      if (this.closedBy !== null || !go()) return
      try {
        await this.init.stream.write(frame)
      } catch (err) {
        this.close(err as Error)
      }
    })
  }

  /** Answer call `id` with `outcome` (an answer, or an error classified by whether it was sent). */
  private settle (id: number, outcome: ApiResponse | Error): void {
    const c = this.calls.get(id)
    if (c === undefined) return
    this.calls.delete(id)
    if (!(outcome instanceof Error)) c.resolve(outcome)
    else if (outcome instanceof ForwardNotSentError || outcome instanceof ForwardUnansweredError) c.reject(outcome)
    else c.reject(c.sent ? new ForwardUnansweredError(this.init.target, outcome) : new ForwardNotSentError(this.init.target, outcome))
  }

  private armIdle (): void {
    if (this.closedBy !== null || this.calls.size > 0 || this.idleTimer !== null) return
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null
      if (this.calls.size === 0) this.close(new FlotillaError('unavailable', 'forward channel closed after being idle', { retryable: true }))
    }, this.init.idleMs)
    this.idleTimer.unref()
  }

  private async readLoop (): Promise<void> {
    try {
      while (this.closedBy === null) {
        const f = await this.init.stream.read()
        this.heardAtMs = this.init.now()
        this.receive(f)
      }
    } catch (err) {
      this.close(err as Error)
    }
  }

  private receive (f: unknown): void {
    if (!isRecord(f) || typeof f.id !== 'number') throw malformed(this.init.target)
    if (f.t === 'pong') {
      if (this.ping !== null && this.ping.id === f.id) {
        clearTimeout(this.ping.timer)
        this.ping.resolve()
        this.ping = null
      }
    } else if (f.t === 'res') {
      if (typeof f.status !== 'number') throw malformed(this.init.target)
      this.settle(f.id, {
        status: f.status,
        json: typeof f.json === 'string' ? JSON.parse(f.json) as unknown : undefined,
        text: typeof f.text === 'string' ? f.text : undefined,
        headers: isRecord(f.headers) ? Object.fromEntries(Object.entries(f.headers).filter(([, v]) => typeof v === 'string')) as Record<string, string> : {}
      })
    } else if (f.t === 'fail') {
      const message = typeof f.message === 'string' ? f.message : 'no reason given'
      this.settle(f.id, new ForwardUnansweredError(this.init.target, new FlotillaError('internal', `the call failed there: ${message}`)))
    } else {
      throw malformed(this.init.target)
    }
  }
}

function malformed (target: string): FlotillaError {
  return new FlotillaError('internal', `node ${target} sent a malformed frame on the forward channel`)
}

/**
 * The callee's end: serve every call read from `stream` with `handler`, concurrently, each answer written
 * when it is ready; answer pings at once. At most `maxInFlight` calls run at a time: a call over it is
 * answered with `refusal` unserved. Returns when the stream ends or breaks (calls still running finish,
 * and their answers are dropped).
 */
export async function serveChannel (stream: FrameStream, handler: ApiHandler, opts: { readonly maxInFlight: number, readonly refusal: ApiResponse, readonly log: Logger }): Promise<void> {
  let writes: Promise<void> = Promise.resolve()
  let broken = false
  let inFlight = 0
  const reply = (frame: Record<string, unknown>): void => {
    writes = writes.then(async () => {
      if (broken) return
      await stream.write(frame).catch((err: unknown) => {
        broken = true
        opts.log.debug('forward channel broke while answering', { err: (err as Error).message })
      })
    })
  }
  const answer = (id: number, res: ApiResponse): void => {
    reply({ t: 'res', id, status: res.status, json: res.json === undefined ? null : JSON.stringify(res.json), text: res.text ?? null, headers: res.headers ?? {} })
  }
  for (;;) {
    let f: unknown
    try {
      f = await stream.read()
    } catch (err) {
      broken = true
      opts.log.debug('forward channel ended', { err: (err as Error).message })
      return
    }
    if (!isRecord(f) || typeof f.id !== 'number') throw new FlotillaError('invalid-argument', 'malformed forward channel frame')
    const id = f.id
    if (f.t === 'ping') {
      reply({ t: 'pong', id })
      continue
    }
    if (f.t !== 'call' || typeof f.method !== 'string' || typeof f.path !== 'string' || typeof f.query !== 'string' || !isBytes(f.body)) {
      throw new FlotillaError('invalid-argument', 'malformed forwarded API call')
    }
    if (inFlight >= opts.maxInFlight) {
      answer(id, opts.refusal)
      continue
    }
    const req: ApiRequest = { method: f.method, path: f.path, query: new URLSearchParams(f.query), body: Buffer.from(f.body), headers: {}, forwarded: true }
    inFlight++
    void handler(req).then(res => { answer(id, res) }, (err: unknown) => {
      opts.log.warn('forwarded call failed', { method: req.method, path: req.path, err: (err as Error).message })
      reply({ t: 'fail', id, message: (err as Error).message })
    }).finally(() => { inFlight-- })
  }
}
