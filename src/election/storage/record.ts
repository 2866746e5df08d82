import { FlotillaError } from '../../membership/index.js'
import { crc32 } from './crc32.js'
import { corruptionError } from './errors.js'

/**
 * WAL record framing. A record is
 *
 *   [length u32 LE][crc32 u32 LE][type u8][payload: msgpack]
 *
 * where `length` counts the type byte and payload, and the CRC-32 covers the same bytes. The type
 * byte's low six bits name the record type; bit 0x40 marks the first record of a batch and bit 0x80 the
 * last. One `RaftStorage.append` call is one batch, written with one write(2): recovery keeps or cuts a
 * batch as a whole, so a power cut that persists a write's later sectors but not its earlier ones reads
 * as a torn tail, not as corruption in the middle.
 */

export const RECORD_HEADER_BYTES = 8
/** Largest type byte + payload accepted, at write and at read time. */
export const MAX_RECORD_BYTES = 64 * 1024 * 1024

export type RecordType = 'header' | 'entries' | 'hard-state' | 'truncate'

const TYPE_IDS: Readonly<Record<RecordType, number>> = { header: 1, entries: 2, 'hard-state': 3, truncate: 4 }
const TYPES_BY_ID: ReadonlyMap<number, RecordType> = new Map(
  Object.entries(TYPE_IDS).map(([name, id]) => [id, name as RecordType])
)
const BATCH_START = 0x40
const BATCH_END = 0x80
const TYPE_MASK = 0x3F

export interface RecordInit {
  readonly type: RecordType
  readonly payload: Uint8Array
}

/** One record as found on disk; `payload` is a view into the file's bytes. */
export interface FramedRecord {
  readonly type: RecordType
  readonly offset: number
  /** Offset of the byte after this record. */
  readonly next: number
  readonly batchStart: boolean
  readonly batchEnd: boolean
  readonly payload: Uint8Array
}

/**
 * Frame `records` as one batch (first flagged start, last flagged end) in a single buffer, ready for
 * one write. Throws `too-large` for a record over MAX_RECORD_BYTES.
 */
export function frameBatch (records: readonly RecordInit[]): Buffer {
  let total = 0
  for (const r of records) {
    if (r.payload.length + 1 > MAX_RECORD_BYTES) {
      throw new FlotillaError('too-large', `a ${r.type} WAL record of ${r.payload.length + 1} bytes is over the ${MAX_RECORD_BYTES}-byte cap`, {
        hint: 'a single Raft entry must stay under 64 MiB: split the proposal into smaller ones'
      })
    }
    total += RECORD_HEADER_BYTES + 1 + r.payload.length
  }
  const out = Buffer.allocUnsafe(total)
  let pos = 0
  records.forEach((r, i) => {
    const flags = (i === 0 ? BATCH_START : 0) | (i === records.length - 1 ? BATCH_END : 0)
    out.writeUInt32LE(r.payload.length + 1, pos)
    out[pos + RECORD_HEADER_BYTES] = TYPE_IDS[r.type] | flags
    out.set(r.payload, pos + RECORD_HEADER_BYTES + 1)
    const end = pos + RECORD_HEADER_BYTES + 1 + r.payload.length
    out.writeUInt32LE(crc32(out, pos + RECORD_HEADER_BYTES, end), pos + 4)
    pos = end
  })
  return out
}

type ReadResult =
  | { readonly ok: true, readonly record: FramedRecord }
  | { readonly ok: false, readonly reason: string, readonly checksummed: boolean }

/** Read the record at `offset`, or say why there is no valid one there. */
function readRecordAt (buf: Buffer, offset: number): ReadResult {
  const remaining = buf.length - offset
  if (remaining < RECORD_HEADER_BYTES + 1) return bad(`the file ends inside a record header (${remaining} bytes left)`)
  const length = buf.readUInt32LE(offset)
  if (length === 0) return bad('record length is zero')
  if (length > MAX_RECORD_BYTES) return bad(`record length ${length} is over the ${MAX_RECORD_BYTES}-byte cap`)
  const next = offset + RECORD_HEADER_BYTES + length
  if (next > buf.length) return bad(`record of ${length} bytes runs ${next - buf.length} bytes past the end of the file`)
  const body = offset + RECORD_HEADER_BYTES
  if (crc32(buf, body, next) !== buf.readUInt32LE(offset + 4)) return bad('checksum mismatch')
  const typeByte = buf[body]!
  const type = TYPES_BY_ID.get(typeByte & TYPE_MASK)
  if (type === undefined) return { ok: false, reason: `unknown record type byte 0x${typeByte.toString(16)}`, checksummed: true }
  return {
    ok: true,
    record: {
      type,
      offset,
      next,
      batchStart: (typeByte & BATCH_START) !== 0,
      batchEnd: (typeByte & BATCH_END) !== 0,
      payload: buf.subarray(body + 1, next)
    }
  }
}

function bad (reason: string): ReadResult {
  return { ok: false, reason, checksummed: false }
}

/**
 * The offset of the first valid batch-start record at or after `from`, or null. A valid one after a bad
 * record proves that a later append completed, so the bad record is not a torn tail. Cost is linear in
 * practice: most offsets fail the cheap length and type checks before any CRC is computed.
 */
function findBatchStartAfter (buf: Buffer, from: number): number | null {
  for (let p = from; p + RECORD_HEADER_BYTES + 1 <= buf.length; p++) {
    const typeByte = buf[p + RECORD_HEADER_BYTES]!
    if ((typeByte & BATCH_START) === 0 || !TYPES_BY_ID.has(typeByte & TYPE_MASK)) continue
    const r = readRecordAt(buf, p)
    if (r.ok) return p
  }
  return null
}

export interface SegmentScan {
  /** Complete batches, in file order. */
  readonly batches: ReadonlyArray<readonly FramedRecord[]>
  /** Offset after the last complete batch: where a torn tail is cut and the next append goes. */
  readonly goodEnd: number
  /** Set when bytes after `goodEnd` were a torn write. */
  readonly torn: { readonly offset: number, readonly reason: string } | null
}

/**
 * Split a segment's bytes into complete batches. A bad or incomplete batch with no valid batch start
 * after it is a torn tail (a crash during the last append); one with a valid batch start after it is
 * corruption in the middle, and throws naming `path` and the bad record's offset.
 */
export function scanSegment (buf: Buffer, path: string): SegmentScan {
  const batches: FramedRecord[][] = []
  let pending: FramedRecord[] = []
  let goodEnd = 0
  let offset = 0
  while (offset < buf.length) {
    const r = readRecordAt(buf, offset)
    if (!r.ok) {
      if (r.checksummed) throw corruptionError(path, offset, r.reason)
      const later = findBatchStartAfter(buf, offset + 1)
      if (later !== null) throw corruptionError(path, offset, `${r.reason}, yet a valid record follows at byte offset ${later}`)
      return { batches, goodEnd, torn: { offset, reason: r.reason } }
    }
    const rec = r.record
    if (rec.batchStart !== (pending.length === 0)) {
      const reason = rec.batchStart ? 'a batch starts before the previous one ended' : 'a record outside any batch'
      throw corruptionError(path, offset, reason)
    }
    pending.push(rec)
    if (rec.batchEnd) {
      batches.push(pending)
      pending = []
      goodEnd = rec.next
    }
    offset = rec.next
  }
  if (pending.length > 0) {
    return { batches, goodEnd, torn: { offset: buf.length, reason: 'the last batch has no end record' } }
  }
  return { batches, goodEnd, torn: null }
}
