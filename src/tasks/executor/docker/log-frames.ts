/**
 * Docker's multiplexed log stream (moby api/pkg/stdcopy): frames of an 8-byte header — the stream byte
 * (0 stdin, 1 stdout, 2 stderr, 3 the daemon's own errors), three zero bytes, the payload's length as
 * a big-endian uint32 — then the payload. Pure: no I/O, so that the parsing is unit-tested on its own.
 */
import { FlotillaError } from '../../../membership/index.js'

/** The stream byte of a frame. */
export type MuxStream = 0 | 1 | 2 | 3

export interface MuxFrame {
  readonly stream: MuxStream
  readonly payload: Buffer
}

const HEADER_BYTES = 8
/** Larger than any frame an engine writes (a log line is split at 16 KiB); a larger length is corruption. */
const MAX_FRAME_BYTES = 16 * 1024 * 1024

/** One frame's bytes: header, then `payload`. */
export function muxFrame (stream: MuxStream, payload: Buffer): Buffer {
  const header = Buffer.alloc(HEADER_BYTES)
  header[0] = stream
  header.writeUInt32BE(payload.length, 4)
  return Buffer.concat([header, payload])
}

/**
 * Splits a multiplexed byte stream, arriving in chunks cut anywhere, into whole frames. Throws
 * `invalid-argument` on a header that is not Docker's (an unknown stream byte, an absurd length).
 */
export class MuxParser {
  private pending: Buffer = Buffer.alloc(0)

  push (chunk: Buffer): MuxFrame[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk])
    const frames: MuxFrame[] = []
    let at = 0
    while (this.pending.length - at >= HEADER_BYTES) {
      const stream = this.pending[at]!
      const length = this.pending.readUInt32BE(at + 4)
      if (stream > 3 || length > MAX_FRAME_BYTES) {
        throw new FlotillaError('invalid-argument', `not a multiplexed log stream (frame header ${this.pending.subarray(at, at + HEADER_BYTES).toString('hex')})`)
      }
      if (this.pending.length - at - HEADER_BYTES < length) break
      frames.push({ stream: stream as MuxStream, payload: this.pending.subarray(at + HEADER_BYTES, at + HEADER_BYTES + length) })
      at += HEADER_BYTES + length
    }
    this.pending = this.pending.subarray(at)
    return frames
  }

  /** Bytes of an unfinished frame left at the end of the stream. */
  get leftover (): number {
    return this.pending.length
  }
}

const RFC3339 = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/

/**
 * An RFC 3339 time in UTC with exactly nine fractional digits (moby's rfc3339NanoFixed with a Z), so
 * that times compare as strings. Undefined when `text` is not RFC 3339.
 */
export function fixedRfc3339Nano (text: string): string | undefined {
  const m = RFC3339.exec(text)
  if (m === null) return undefined
  const fraction = (m[2] ?? '').padEnd(9, '0')
  if (m[3] === 'Z') return `${m[1]!}.${fraction}Z`
  const ms = Date.parse(`${m[1]!}${m[3]!}`)
  if (Number.isNaN(ms)) return undefined
  return `${new Date(ms).toISOString().slice(0, 19)}.${fraction}Z`
}

/**
 * One frame of `GET /containers/{id}/logs?timestamps=1`: `<RFC3339Nano> <text>`. Text keeps its
 * newline (a line the log driver split at 16 KiB has none). Undefined when the frame has no timestamp.
 */
export function parseTimestamped (payload: Buffer): { timestamp: string, text: string } | undefined {
  const text = payload.toString('utf8')
  const space = text.indexOf(' ')
  if (space < 0) {
    // An empty line may come as the bare timestamp plus newline.
    const ts = fixedRfc3339Nano(text.trimEnd())
    return ts === undefined ? undefined : { timestamp: ts, text: text.slice(text.trimEnd().length) }
  }
  const timestamp = fixedRfc3339Nano(text.slice(0, space))
  return timestamp === undefined ? undefined : { timestamp, text: text.slice(space + 1) }
}
