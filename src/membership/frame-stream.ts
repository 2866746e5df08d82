import { Uint8ArrayList } from 'uint8arraylist'
import type { Stream } from '@libp2p/interface'
import { decode, encode } from './codec.js'
import { FlotillaError } from './errors.js'

/**
 * msgpackr frames over a libp2p stream, each prefixed with its varint length and capped at `maxBytes`:
 * a frame over the cap or one that does not decode throws before anything acts on it, and the caller
 * closes the stream (see `serveStream`).
 */
export interface FrameStream {
  read(signal?: AbortSignal): Promise<unknown>
  write(value: unknown, signal?: AbortSignal): Promise<void>
  close(): Promise<void>
  abort(err: Error): void
}

/**
 * Read and written here rather than through it-length-prefixed-stream: that reads the length one byte
 * at a time through it-byte-stream, each byte a Uint8ArrayList of its own and, for any frame of 128
 * bytes or more, a RangeError thrown and caught. Every SWIM probe, heartbeat and Raft append pays it;
 * this reader takes whole chunks and parses the prefix in place. `npm run bench:stream` times a round
 * trip; the figures before and after are in the commit that made this change.
 */
export function frameStream (stream: Stream, maxBytes: number): FrameStream {
  const outbox = new Outbox()
  stream.sink(outbox).then(() => { outbox.end() }, (err: unknown) => { outbox.end(err instanceof Error ? err : new Error(String(err))) })
  const inbox = new FrameReader(stream.source, maxBytes)
  return {
    async read (signal) {
      return decode(await inbox.next(signal), maxBytes)
    },
    // An aborted write stops waiting; its frame, already queued, is still sent in order.
    async write (value, signal) {
      signal?.throwIfAborted()
      await untilAborted(outbox.push(prefixed(encode(value))), signal)
    },
    async close () {
      await stream.close()
    },
    abort (err) {
      outbox.end(err)
      stream.abort(err)
    }
  }
}

/** Bytes of the varint prefix: 7 bits each. */
function varintLength (n: number): number {
  let len = 1
  while (n >= 0x80) {
    n = Math.floor(n / 0x80)
    len++
  }
  return len
}

/** `body` behind its unsigned LEB128 length, in one buffer: one yamux frame, one noise message. */
function prefixed (body: Uint8Array): Uint8Array {
  const head = varintLength(body.byteLength)
  const out = new Uint8Array(head + body.byteLength)
  let n = body.byteLength
  for (let i = 0; i < head - 1; i++) {
    out[i] = (n % 0x80) | 0x80
    n = Math.floor(n / 0x80)
  }
  out[head - 1] = n
  out.set(body, head)
  return out
}

/** `p`, or the signal's reason when it aborts first (`p` itself is not cancelled). */
async function untilAborted<T> (p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return await p
  signal.throwIfAborted()
  let onAbort: (() => void) | undefined
  const aborted = new Promise<never>((_resolve, reject) => {
    onAbort = () => { reject(signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason))) }
    signal.addEventListener('abort', onAbort, { once: true })
  })
  try {
    return await Promise.race([p, aborted])
  } finally {
    signal.removeEventListener('abort', onAbort!)
  }
}

type Chunk = Uint8Array | Uint8ArrayList

/** Whole frames out of the stream's chunks, whatever their boundaries. */
class FrameReader {
  private readonly buffered = new Uint8ArrayList()
  private readonly source: AsyncIterator<Chunk>
  /** A chunk asked for by a read that was then aborted: the next read takes it, so no byte is lost. */
  private pending: Promise<IteratorResult<Chunk>> | null = null
  private readonly maxPrefix: number

  constructor (source: AsyncIterable<Chunk>, private readonly maxBytes: number) {
    this.source = source[Symbol.asyncIterator]()
    this.maxPrefix = varintLength(maxBytes)
  }

  async next (signal: AbortSignal | undefined): Promise<Uint8Array> {
    for (;;) {
      const frame = this.take()
      if (frame !== undefined) return frame
      signal?.throwIfAborted()
      this.pending ??= this.source.next()
      const r = await untilAborted(this.pending, signal)
      this.pending = null
      if (r.done === true) {
        throw new FlotillaError('unavailable', this.buffered.byteLength === 0 ? 'stream ended' : 'stream ended inside a frame', { retryable: true })
      }
      this.buffered.append(r.value)
    }
  }

  /** The next whole frame, or undefined until more bytes arrive. Throws on a prefix over the cap. */
  private take (): Uint8Array | undefined {
    const buf = this.buffered
    let length = 0
    let scale = 1
    let i = 0
    for (;;) {
      if (i >= buf.byteLength) return undefined
      if (i >= this.maxPrefix) throw new FlotillaError('too-large', `frame length prefix is longer than a ${this.maxBytes}-byte frame needs`)
      const b = buf.get(i++)
      length += (b & 0x7f) * scale
      if (b < 0x80) break
      scale *= 0x80
    }
    if (length > this.maxBytes) throw new FlotillaError('too-large', `frame of ${length} bytes is over the ${this.maxBytes}-byte cap`)
    if (buf.byteLength < i + length) return undefined
    const frame = buf.subarray(i, i + length)
    buf.consume(i + length)
    return frame
  }
}

interface Queued {
  readonly bytes: Uint8Array
  readonly taken: () => void
  readonly failed: (err: Error) => void
}

/**
 * The stream's sink source: frames in write order. A write resolves when the muxer takes its frame (so
 * a peer that stops reading holds writers back through yamux's window), and fails when the stream ends
 * first. An iterator object, not a generator, so that `return` from the sink ends it at once.
 */
class Outbox implements AsyncIterableIterator<Uint8Array> {
  private readonly queue: Queued[] = []
  private waiting: ((r: IteratorResult<Uint8Array>) => void) | null = null
  private ended: Error | null | undefined

  [Symbol.asyncIterator] (): this {
    return this
  }

  async push (bytes: Uint8Array): Promise<void> {
    if (this.ended !== undefined) throw this.ended ?? new FlotillaError('unavailable', 'stream closed', { retryable: true })
    const w = this.waiting
    if (w !== null) {
      this.waiting = null
      w({ done: false, value: bytes })
      return
    }
    await new Promise<void>((resolve, reject) => { this.queue.push({ bytes, taken: resolve, failed: reject }) })
  }

  async next (): Promise<IteratorResult<Uint8Array>> {
    const q = this.queue.shift()
    if (q !== undefined) {
      q.taken()
      return { done: false, value: q.bytes }
    }
    if (this.ended !== undefined) return { done: true, value: undefined }
    return await new Promise(resolve => { this.waiting = resolve })
  }

  async return (): Promise<IteratorResult<Uint8Array>> {
    this.end()
    return { done: true, value: undefined }
  }

  /** No more frames: those still queued fail with `err` (or as closed). */
  end (err?: Error): void {
    if (this.ended !== undefined) return
    this.ended = err ?? null
    const failure = err ?? new FlotillaError('unavailable', 'stream closed', { retryable: true })
    for (const q of this.queue.splice(0)) q.failed(failure)
    const w = this.waiting
    this.waiting = null
    w?.({ done: true, value: undefined })
  }
}
