import { lpStream } from 'it-length-prefixed-stream'
import type { Stream } from '@libp2p/interface'
import { decode, encode } from './codec.js'

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

export function frameStream (stream: Stream, maxBytes: number): FrameStream {
  const lp = lpStream(stream, { maxDataLength: maxBytes })
  return {
    async read (signal) {
      const bytes = await lp.read(signal === undefined ? undefined : { signal })
      return decode(bytes.subarray(), maxBytes)
    },
    async write (value, signal) {
      await lp.write(encode(value), signal === undefined ? undefined : { signal })
    },
    async close () {
      await stream.close()
    },
    abort (err) {
      stream.abort(err)
    }
  }
}
