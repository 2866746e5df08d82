import type { Entry, HardState } from '../raft/types.js'
import { corruptionError } from './errors.js'
import { LogImage } from './log-image.js'
import {
  decodeEntries, decodeHardState, decodeHeader, decodeTruncate, encodeEntries, encodePayload
} from './payload.js'
import { MAX_RECORD_BYTES, frameBatch, type RecordInit, type SegmentScan } from './record.js'

/**
 * WAL segments, named `wal-<sequence as 16 hex digits>.log`. Only the highest sequence is live; a lower
 * one is left over from a compaction that crashed before deleting it. A segment starts with a header
 * batch (the snapshot its entries follow) and is created whole by temp file + rename, so its header is
 * never torn; after that it only grows by appended batches, cut back by recovery after a torn write.
 *
 * Batch records, replayed in order:
 *   - `truncate {from}`: drop entries >= from (written when an append rewrites the log's suffix);
 *   - `entries [Entry…]`: append; the first must be lastIndex + 1 after any truncate;
 *   - `hard-state {term, vote, commit}`: replaces the previous one.
 */

const NAME = /^wal-([0-9a-f]{16})\.log$/

export function segmentFileName (sequence: number): string {
  return `wal-${sequence.toString(16).padStart(16, '0')}.log`
}

export function parseSegmentFileName (name: string): number | null {
  const m = NAME.exec(name)
  return m === null ? null : Number.parseInt(m[1]!, 16)
}

/** The records of one append batch: a truncate when it rewrites the log, entries, then the hard state. */
export function appendRecords (log: LogImage, hardState: HardState | null, entries: readonly Entry[]): RecordInit[] {
  const records: RecordInit[] = []
  const first = entries[0]
  if (first !== undefined && first.index <= log.lastIndex()) {
    records.push({ type: 'truncate', payload: encodePayload({ from: first.index }) })
  }
  if (entries.length > 0) records.push(...entriesRecords(entries))
  if (hardState !== null) {
    records.push({ type: 'hard-state', payload: encodePayload({ term: hardState.term, vote: hardState.vote, commit: hardState.commit }) })
  }
  return records
}

/**
 * Entries as records under the size cap: halve a batch until each part fits. A single entry over the cap
 * is left whole and frameBatch refuses it with `too-large`.
 */
function entriesRecords (entries: readonly Entry[]): RecordInit[] {
  const payload = encodeEntries(entries)
  if (payload.length + 1 <= MAX_RECORD_BYTES || entries.length === 1) {
    return [{ type: 'entries', payload }]
  }
  const half = Math.ceil(entries.length / 2)
  return [...entriesRecords(entries.slice(0, half)), ...entriesRecords(entries.slice(half))]
}

/** A whole new segment: its header batch, then one batch with `log`'s entries and hard state (if any). */
export function encodeSegment (log: LogImage): Buffer {
  const header = frameBatch([{
    type: 'header',
    payload: encodePayload({ version: 1, snapshotIndex: log.snapshotIndex, snapshotTerm: log.snapshotTerm })
  }])
  const body = new LogImage(log.snapshotIndex, log.snapshotTerm)
  const records = appendRecords(body, log.hardState, log.entries)
  return records.length === 0 ? header : Buffer.concat([header, frameBatch(records)])
}

/**
 * Rebuild the log a scanned segment describes. Records here passed their CRC, so anything that does
 * not decode or does not fit the log is corruption, reported with its offset.
 */
export function replaySegment (scan: SegmentScan, path: string): LogImage {
  const [headerBatch, ...rest] = scan.batches
  const headerRecord = headerBatch?.[0]
  if (headerBatch === undefined || headerRecord === undefined || headerBatch.length !== 1 || headerRecord.type !== 'header') {
    throw corruptionError(path, 0, 'the segment does not start with a header record')
  }
  const header = decodeHeader(headerRecord.payload)
  if (header === null) throw corruptionError(path, 0, 'the segment header does not decode')
  const log = new LogImage(header.snapshotIndex, header.snapshotTerm)
  for (const batch of rest) {
    for (const rec of batch) {
      switch (rec.type) {
        case 'header':
          throw corruptionError(path, rec.offset, 'a second segment header')
        case 'truncate': {
          const from = decodeTruncate(rec.payload)
          if (from === null) throw corruptionError(path, rec.offset, 'a truncate record does not decode')
          if (from <= log.snapshotIndex || from > log.lastIndex()) {
            throw corruptionError(path, rec.offset, `truncate from ${from} is outside the log (${log.snapshotIndex}, ${log.lastIndex()}]`)
          }
          log.truncateFrom(from)
          break
        }
        case 'entries': {
          const entries = decodeEntries(rec.payload)
          if (entries === null) throw corruptionError(path, rec.offset, 'an entries record does not decode')
          const problem = entries[0]!.index !== log.lastIndex() + 1 ? `entry ${entries[0]!.index} does not follow the last index ${log.lastIndex()}` : log.checkAppend(entries)
          if (problem !== null) throw corruptionError(path, rec.offset, problem)
          log.append(entries)
          break
        }
        case 'hard-state': {
          const hs = decodeHardState(rec.payload)
          if (hs === null) throw corruptionError(path, rec.offset, 'a hard-state record does not decode')
          log.hardState = hs
          break
        }
      }
    }
  }
  return log
}
