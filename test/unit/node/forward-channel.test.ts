import { describe, expect, it } from 'vitest'
import { decode, encode, silentLogger, type FrameStream, type Membership } from '../../../src/membership/index.js'
import { ForwardChannel, ForwardNotSentError, ForwardUnansweredError, serveChannel, type ForwardChannelInit } from '../../../src/node/control/forward-channel.js'
import { Forwarder } from '../../../src/node/control/forward.js'
import type { ApiHandler, ApiRequest, ApiResponse } from '../../../src/node/control/http-server.js'

/** One direction of an in-memory stream: frames in order, msgpack-encoded as on the wire. */
class Inbox {
  private readonly frames: Uint8Array[] = []
  private readonly readers: Array<{ resolve: (v: Uint8Array) => void, reject: (e: Error) => void }> = []
  private error: Error | null = null

  push (bytes: Uint8Array): void {
    if (this.error !== null) throw this.error
    const r = this.readers.shift()
    if (r !== undefined) r.resolve(bytes)
    else this.frames.push(bytes)
  }

  fail (err: Error): void {
    if (this.error !== null) return
    this.error = err
    for (const r of this.readers.splice(0)) r.reject(err)
  }

  async read (): Promise<unknown> {
    const f = this.frames.shift()
    if (f !== undefined) return decode(f, 1 << 20)
    if (this.error !== null) throw this.error
    return decode(await new Promise<Uint8Array>((resolve, reject) => { this.readers.push({ resolve, reject }) }), 1 << 20)
  }
}

interface Pipe {
  readonly caller: FrameStream
  readonly callee: FrameStream
  /** Every frame the caller wrote, decoded, in order. */
  readonly sent: Array<Record<string, unknown>>
  /** Break both ends, as a reset connection does. */
  cut(err: Error): void
  /** Until `release` is called, the caller's writes do not complete (a stream that takes no more bytes). */
  stall(): () => void
}

/** Two ends of a stream, `caller` and `callee`. */
function pipe (): Pipe {
  const toCallee = new Inbox()
  const toCaller = new Inbox()
  const sent: Array<Record<string, unknown>> = []
  let stalled: Promise<void> | null = null
  const cut = (err: Error): void => { toCallee.fail(err); toCaller.fail(err) }
  const end = (inbox: Inbox, outbox: Inbox, record: boolean): FrameStream => ({
    read: async () => await inbox.read(),
    write: async (value) => {
      const bytes = encode(value)
      if (record) sent.push(decode(bytes, 1 << 20) as Record<string, unknown>)
      if (record && stalled !== null) await stalled
      outbox.push(bytes)
    },
    close: async () => { cut(new Error('stream closed')) },
    abort: (err) => { cut(err) }
  })
  const stall = (): () => void => {
    let release!: () => void
    stalled = new Promise(resolve => { release = resolve })
    return () => { stalled = null; release() }
  }
  return { caller: end(toCaller, toCallee, true), callee: end(toCallee, toCaller, false), sent, cut, stall }
}

interface Deferred<T> { readonly promise: Promise<T>, resolve(v: T): void, reject(e: Error): void }
function deferred<T> (): Deferred<T> {
  let resolve!: (v: T) => void
  let reject!: (e: Error) => void
  const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej })
  return { promise, resolve, reject }
}

const request = (method: string, path: string): ApiRequest => ({ method, path, query: new URLSearchParams('version=3'), body: Buffer.from('{"a":1}'), headers: {} })
const ok = (text: string): ApiResponse => ({ status: 200, json: { text }, headers: { 'X-Test': text } })

/** A clock the test moves. */
function clock (): { now: () => number, advance: (ms: number) => void } {
  let t = 1000
  return { now: () => t, advance: ms => { t += ms } }
}

function channel (p: Pipe, over: Partial<ForwardChannelInit> = {}): ForwardChannel {
  return new ForwardChannel({ target: 'n2', stream: p.caller, now: () => 0, freshMs: 50, pingTimeoutMs: 60_000, idleMs: 60_000, ...over })
}

function serve (p: Pipe, handler: ApiHandler, maxInFlight = 8): Promise<void> {
  return serveChannel(p.callee, handler, { maxInFlight, refusal: { status: 503, json: { message: 'busy' }, headers: { 'X-Flotilla-Retry': '1' } }, log: silentLogger })
}

/** Resolves once the caller has written a frame matching `pred`. */
async function written (p: Pipe, pred: (f: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
  for (let i = 0; i < 1000; i++) {
    const f = p.sent.find(pred)
    if (f !== undefined) return f
    await new Promise(resolve => setImmediate(resolve))
  }
  throw new Error('frame never written')
}

describe('forward channel: many calls on one stream', () => {
  it('carries the call and its answer whole', async () => {
    const p = pipe()
    const seen: ApiRequest[] = []
    void serve(p, async req => { seen.push(req); return ok('done') })
    const res = await channel(p).call(request('POST', '/nodes/x/update'), true, new AbortController().signal)
    expect(res).toEqual({ status: 200, json: { text: 'done' }, text: undefined, headers: { 'X-Test': 'done' } })
    expect(seen).toHaveLength(1)
    expect(seen[0]).toMatchObject({ method: 'POST', path: '/nodes/x/update', forwarded: true })
    expect(seen[0]!.query.get('version')).toBe('3')
    expect(seen[0]!.body.toString()).toBe('{"a":1}')
  })

  it('matches answers to calls by id, whatever order they come back in', async () => {
    const p = pipe()
    const gates = new Map<string, Deferred<ApiResponse>>([['/a', deferred()], ['/b', deferred()], ['/c', deferred()]])
    void serve(p, async req => await gates.get(req.path)!.promise)
    const ch = channel(p)
    const signal = new AbortController().signal
    const calls = ['/a', '/b', '/c'].map(async path => await ch.call(request('GET', path), false, signal))
    await written(p, f => f.path === '/c')
    expect(new Set(p.sent.map(f => f.id)).size).toBe(3)
    gates.get('/c')!.resolve(ok('c'))
    gates.get('/a')!.resolve(ok('a'))
    gates.get('/b')!.resolve(ok('b'))
    const answers = await Promise.all(calls)
    expect(answers.map(r => (r.json as { text: string }).text)).toEqual(['a', 'b', 'c'])
    expect(ch.inFlight).toBe(0)
  })

  it('sends a read at once, and a write at once while the target was heard within freshMs', async () => {
    const p = pipe()
    const t = clock()
    void serve(p, async () => ok('x'))
    const ch = channel(p, { now: t.now })
    const signal = new AbortController().signal
    t.advance(50)
    await ch.call(request('POST', '/w1'), true, signal)
    t.advance(10_000)
    await ch.call(request('GET', '/r1'), false, signal)
    expect(p.sent.map(f => f.t)).toEqual(['call', 'call'])
  })

  it('sends a write on a quiet channel only once the target has answered a ping', async () => {
    const p = pipe()
    const t = clock()
    const ch = channel(p, { now: t.now })
    t.advance(51)
    const res = ch.call(request('POST', '/w'), true, new AbortController().signal)
    const ping = await written(p, f => f.t === 'ping')
    expect(p.sent).toEqual([ping])
    // Served by hand: the write must not be written until the pong is read.
    await p.callee.read()
    await p.callee.write({ t: 'pong', id: ping.id })
    const call = await p.callee.read() as Record<string, unknown>
    expect(call).toMatchObject({ t: 'call', path: '/w' })
    await p.callee.write({ t: 'res', id: call.id, status: 200, json: '"ok"', text: null, headers: {} })
    expect((await res).json).toBe('ok')
  })

  it('shares one ping among the writes waiting for it', async () => {
    const p = pipe()
    const t = clock()
    void serve(p, async () => ok('x'))
    const ch = channel(p, { now: t.now })
    t.advance(100)
    const signal = new AbortController().signal
    await Promise.all([ch.call(request('POST', '/w1'), true, signal), ch.call(request('POST', '/w2'), true, signal)])
    expect(p.sent.map(f => f.t)).toEqual(['ping', 'call', 'call'])
  })
})

describe('forward channel: what a failure means for each call', () => {
  it('fails a sent write as unanswered and a write still waiting for its pong as not sent when the stream breaks', async () => {
    const p = pipe()
    const t = clock()
    const ch = channel(p, { now: t.now })
    const signal = new AbortController().signal
    const sent = ch.call(request('POST', '/sent'), true, signal)
    await written(p, f => f.path === '/sent')
    t.advance(51)
    const waiting = ch.call(request('POST', '/waiting'), true, signal)
    await written(p, f => f.t === 'ping')
    p.cut(new Error('connection reset'))
    await expect(sent).rejects.toBeInstanceOf(ForwardUnansweredError)
    await expect(waiting).rejects.toBeInstanceOf(ForwardNotSentError)
    await expect(sent).rejects.toThrow('node n2 did not answer: connection reset')
    expect(p.sent.map(f => f.path ?? f.t)).toEqual(['/sent', 'ping'])
    expect(ch.closed?.message).toBe('connection reset')
    // A closed channel sends nothing more.
    await expect(ch.call(request('GET', '/later'), false, signal)).rejects.toBeInstanceOf(ForwardNotSentError)
  })

  it('fails a call queued behind a write the stream has not taken as not sent, and that write as unanswered', async () => {
    const p = pipe()
    const ch = channel(p)
    const signal = new AbortController().signal
    p.stall()
    const first = ch.call(request('POST', '/first'), true, signal)
    const queued = ch.call(request('POST', '/queued'), true, signal)
    await written(p, f => f.path === '/first')
    ch.close(new Error('connection reset'))
    await expect(first).rejects.toBeInstanceOf(ForwardUnansweredError)
    await expect(queued).rejects.toBeInstanceOf(ForwardNotSentError)
    expect(p.sent.map(f => f.path)).toEqual(['/first'])
  })

  it('gives one call up by its signal, as not sent before its frame went out and as unanswered after', async () => {
    const p = pipe()
    const t = clock()
    const gate = deferred<ApiResponse>()
    void serve(p, async req => req.path === '/slow' ? await gate.promise : ok('fast'))
    const ch = channel(p, { now: t.now })
    const slow = new AbortController()
    const sentCall = ch.call(request('POST', '/slow'), true, slow.signal)
    await written(p, f => f.path === '/slow')
    slow.abort(new Error('node n2 no longer leads'))
    await expect(sentCall).rejects.toBeInstanceOf(ForwardUnansweredError)
    await expect(sentCall).rejects.toThrow('no longer leads')

    // The channel lives on; the late answer to the abandoned call is dropped.
    gate.resolve(ok('late'))
    const fast = await ch.call(request('GET', '/fast'), false, new AbortController().signal)
    expect((fast.json as { text: string }).text).toBe('fast')

    // A write on a quiet channel, given up while its ping is unanswered, was never sent.
    const p2 = pipe()
    const ch2 = channel(p2, { now: t.now })
    t.advance(100)
    const unsent = new AbortController()
    const waiting = ch2.call(request('POST', '/w'), true, unsent.signal)
    await written(p2, f => f.t === 'ping')
    unsent.abort(new Error('node n2 went silent (suspect)'))
    await expect(waiting).rejects.toBeInstanceOf(ForwardNotSentError)
    // Another write waits for the same ping; once it is answered, only that one goes out.
    void ch2.call(request('POST', '/w2'), true, new AbortController().signal)
    await p2.callee.read()
    await p2.callee.write({ t: 'pong', id: p2.sent[0]!.id })
    await written(p2, f => f.path === '/w2')
    expect(p2.sent.map(f => f.path ?? f.t)).toEqual(['ping', '/w2'])
  })

  it('breaks the channel when a ping goes unanswered', async () => {
    const p = pipe()
    const t = clock()
    const closed = deferred<Error>()
    const ch = channel(p, { now: t.now, pingTimeoutMs: 5, onClose: err => { closed.resolve(err) } })
    t.advance(100)
    const w = ch.call(request('POST', '/w'), true, new AbortController().signal)
    await expect(w).rejects.toBeInstanceOf(ForwardNotSentError)
    expect((await closed.promise).message).toBe('node n2 did not answer a ping within 5 ms')
  })

  it('fails a call the target threw on as unanswered', async () => {
    const p = pipe()
    void serve(p, async () => { throw new Error('disk full') })
    const res = channel(p).call(request('POST', '/w'), true, new AbortController().signal)
    await expect(res).rejects.toBeInstanceOf(ForwardUnansweredError)
    await expect(res).rejects.toThrow('the call failed there: disk full')
  })

  it('breaks the channel on a malformed answer', async () => {
    const p = pipe()
    const ch = channel(p)
    const res = ch.call(request('GET', '/r'), false, new AbortController().signal)
    await p.callee.read()
    await p.callee.write({ t: 'res', id: 'one' })
    await expect(res).rejects.toBeInstanceOf(ForwardUnansweredError)
    expect(ch.closed?.message).toMatch(/malformed frame/)
  })

  it('closes itself once idle', async () => {
    const p = pipe()
    void serve(p, async () => ok('x'))
    const closed = deferred<Error>()
    const ch = channel(p, { idleMs: 5, onClose: err => { closed.resolve(err) } })
    await ch.call(request('GET', '/r'), false, new AbortController().signal)
    expect((await closed.promise).message).toMatch(/idle/)
  })
})

describe('forward channel: the callee', () => {
  it('refuses calls over its in-flight cap, unserved', async () => {
    const p = pipe()
    const gate = deferred<ApiResponse>()
    let served = 0
    void serve(p, async () => { served++; return await gate.promise }, 2)
    const ch = channel(p)
    const signal = new AbortController().signal
    const calls = [1, 2, 3].map(async i => await ch.call(request('POST', `/w${i}`), true, signal))
    const third = await calls[2]!
    expect(third.status).toBe(503)
    expect(third.headers?.['X-Flotilla-Retry']).toBe('1')
    expect(served).toBe(2)
    gate.resolve(ok('x'))
    expect((await Promise.all(calls.slice(0, 2))).map(r => r.status)).toEqual([200, 200])
  })

  it('returns when the stream ends and throws on a malformed call', async () => {
    const p = pipe()
    const served = serve(p, async () => ok('x'))
    p.cut(new Error('gone'))
    await served
    const p2 = pipe()
    const bad = serve(p2, async () => ok('x'))
    await p2.caller.write({ t: 'call', id: 1, method: 'GET' })
    await expect(bad).rejects.toThrow('malformed forwarded API call')
  })
})

describe('Forwarder: one channel per target', () => {
  /** A membership whose dialMember opens a pipe served by `handler`, or fails when `refuse` is set. */
  function fakeMembership (handler: ApiHandler): { m: Membership, dials: () => number, pipes: Pipe[], refuse: (err: Error | null) => void } {
    const pipes: Pipe[] = []
    let refusal: Error | null = null
    const m = {
      dialMember: async () => {
        if (refusal !== null) throw refusal
        const p = pipe()
        pipes.push(p)
        void serve(p, handler)
        return p.caller
      }
    } as unknown as Membership
    return { m, dials: () => pipes.length, pipes, refuse: err => { refusal = err } }
  }

  it('opens one channel for concurrent calls, and another after it breaks', async () => {
    const f = fakeMembership(async req => ok(req.path))
    const fw = new Forwarder()
    const answers = await Promise.all(['/a', '/b', '/c'].map(async path => await fw.call(f.m, 'n2', request('GET', path), false)))
    expect(answers.map(r => (r.json as { text: string }).text)).toEqual(['/a', '/b', '/c'])
    expect(f.dials()).toBe(1)
    f.pipes[0]!.cut(new Error('reset'))
    await fw.call(f.m, 'n2', request('POST', '/d'), true)
    expect(f.dials()).toBe(2)
  })

  it('fails a call as not sent when no channel can be opened', async () => {
    const f = fakeMembership(async () => ok('x'))
    f.refuse(new Error('node n2 refused /flotilla/api/2.0.0: revoked'))
    const res = new Forwarder().call(f.m, 'n2', request('POST', '/w'), true)
    await expect(res).rejects.toBeInstanceOf(ForwardNotSentError)
    await expect(res).rejects.toThrow('could not reach node n2: node n2 refused')
  })
})
