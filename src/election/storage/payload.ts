import { Packr } from 'msgpackr'
import type { ConfChange, Entry, HardState } from '../raft/types.js'

/**
 * msgpack payloads of WAL records and snapshot metadata, and their checks. The settings match the
 * project codec (src/membership/codec.ts: every payload decodes on its own) plus `copyBuffers`, so a
 * recovered entry's data does not keep the whole segment file's buffer alive. Decoders return null
 * for a shape they do not recognise; the caller turns that into a corruption error with the offset.
 */
const packr = new Packr({ useRecords: false, moreTypes: false, bundleStrings: false, mapsAsObjects: true, copyBuffers: true })

/** The first record of every segment: the snapshot this segment's entries follow (0/0 for none). */
export interface SegmentHeader {
  readonly version: 1
  readonly snapshotIndex: number
  readonly snapshotTerm: number
}

/** A fresh copy: msgpackr returns a view into an output buffer that later calls may overwrite. */
export function encodePayload (value: unknown): Uint8Array {
  return new Uint8Array(packr.pack(value))
}

function unpack (bytes: Uint8Array): unknown {
  try {
    return packr.unpack(bytes)
  } catch {
    return undefined
  }
}

export function encodeEntries (entries: readonly Entry[]): Uint8Array {
  // Only the known fields: an Entry object may carry extra properties that must not reach the disk.
  return encodePayload(entries.map(e => e.kind === 'normal'
    ? { kind: e.kind, term: e.term, index: e.index, data: e.data }
    : { kind: e.kind, term: e.term, index: e.index, change: e.change }))
}

export function decodeHeader (bytes: Uint8Array): SegmentHeader | null {
  const v = unpack(bytes)
  if (!isObject(v) || v.version !== 1 || !isUint(v.snapshotIndex) || !isUint(v.snapshotTerm)) return null
  return { version: 1, snapshotIndex: v.snapshotIndex, snapshotTerm: v.snapshotTerm }
}

export function decodeHardState (bytes: Uint8Array): HardState | null {
  const v = unpack(bytes)
  return isObject(v) ? hardStateFrom(v) : null
}

export function hardStateFrom (v: Record<string, unknown>): HardState | null {
  if (!isUint(v.term) || !isUint(v.commit) || !(v.vote === null || typeof v.vote === 'string')) return null
  return { term: v.term, vote: v.vote, commit: v.commit }
}

export function decodeTruncate (bytes: Uint8Array): number | null {
  const v = unpack(bytes)
  return isObject(v) && isUint(v.from) && v.from > 0 ? v.from : null
}

export function decodeEntries (bytes: Uint8Array): Entry[] | null {
  const v = unpack(bytes)
  if (!Array.isArray(v) || v.length === 0) return null
  const out: Entry[] = []
  for (const item of v) {
    const e = entryFrom(item)
    if (e === null) return null
    out.push(e)
  }
  return out
}

function entryFrom (v: unknown): Entry | null {
  if (!isObject(v) || !isUint(v.term) || !isUint(v.index) || v.index === 0) return null
  if (v.kind === 'normal' && v.data instanceof Uint8Array) {
    return { kind: 'normal', term: v.term, index: v.index, data: asPlainBytes(v.data) }
  }
  if (v.kind === 'conf') {
    const change = confChangeFrom(v.change)
    if (change !== null) return { kind: 'conf', term: v.term, index: v.index, change }
  }
  return null
}

function confChangeFrom (v: unknown): ConfChange | null {
  if (!isObject(v)) return null
  if ((v.type === 'add-voter' || v.type === 'remove-voter') && typeof v.id === 'string') return { type: v.type, id: v.id }
  if (v.type === 'reset-voters' && isStringArray(v.voters)) return { type: 'reset-voters', voters: v.voters }
  return null
}

/** msgpackr decodes binary as a Buffer; callers get the plain Uint8Array the types promise (a view, no copy). */
export function asPlainBytes (b: Uint8Array): Uint8Array {
  return b.constructor === Uint8Array ? b : new Uint8Array(b.buffer, b.byteOffset, b.byteLength)
}

export function decodeObject (bytes: Uint8Array): Record<string, unknown> | null {
  const v = unpack(bytes)
  return isObject(v) ? v : null
}

export function isObject (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array)
}

export function isUint (v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
}

export function isStringArray (v: unknown): v is string[] {
  return Array.isArray(v) && v.every(s => typeof s === 'string')
}
