import { Packr } from 'msgpackr'
import { FlotillaError } from './errors.js'

/**
 * msgpackr codec for every wire frame and signed body. Records (`useRecords`) are off so that a frame
 * carries no structure definitions between frames: each frame decodes on its own, which is what a
 * signed body and a length-prefixed stream need.
 */
const packr = new Packr({ useRecords: false, moreTypes: false, bundleStrings: false, mapsAsObjects: true })

export function encode (value: unknown): Uint8Array {
  return packr.pack(value)
}

/**
 * Decode one frame of at most `maxBytes`. Throws `invalid-argument` for a frame that is too large or does
 * not decode; callers then drop the frame (and close its stream) rather than trust any part of it.
 */
export function decode (bytes: Uint8Array, maxBytes: number): unknown {
  if (bytes.byteLength > maxBytes) {
    throw new FlotillaError('too-large', `frame of ${bytes.byteLength} bytes is over the ${maxBytes}-byte cap`)
  }
  try {
    return packr.unpack(bytes)
  } catch (err) {
    throw new FlotillaError('invalid-argument', `frame does not decode: ${(err as Error).message}`, { cause: err })
  }
}

/** Type guards for decoded frames: frames come from the network and are checked field by field. */
export function isRecord (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array)
}

export function isBytes (v: unknown): v is Uint8Array {
  return v instanceof Uint8Array
}

export function isStringArray (v: unknown, maxItems: number): v is string[] {
  return Array.isArray(v) && v.length <= maxItems && v.every(s => typeof s === 'string')
}

export function isSafeUint (v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
}
