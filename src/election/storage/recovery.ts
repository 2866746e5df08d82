import { mkdir, open, readFile, readdir, rename } from 'node:fs/promises'
import { join } from 'node:path'
import type { Snapshot } from '../raft/types.js'
import { corruptionError, ioError } from './errors.js'
import { removeFile, writeFileAtomic } from './fs-util.js'
import { LogImage } from './log-image.js'
import { scanSegment } from './record.js'
import { encodeSegment, parseSegmentFileName, replaySegment, segmentFileName } from './segment.js'
import { parseSnapshotFileName, readSnapshotFile, snapshotFileName } from './snapshot-file.js'

/** The durable state found in a raft dir, with the live segment ready to be appended to. */
export interface Recovered {
  readonly sequence: number
  /** Bytes in the live segment: where the next batch goes. */
  readonly size: number
  readonly image: LogImage
  readonly snapshot: Snapshot | null
}

/**
 * Recover a raft dir (creating it, 0700, if missing), repairing only what a crash can leave:
 *   - `*.tmp` files: a segment or snapshot whose rename never happened → deleted;
 *   - a torn last batch in the live segment → cut (file truncated and fsynced), with a warning;
 *   - a snapshot newer than the live segment's base: a compaction that stopped after the snapshot's
 *     rename → finished now (new segment written), or, if that snapshot is damaged, set aside as
 *     `<name>.corrupt` with a warning: its saveSnapshot never resolved, and the older snapshot plus
 *     the WAL still hold everything acknowledged;
 *   - segments older than the live one and snapshots other than the one in use → deleted.
 * Everything else (a bad record with valid data after it, a missing or damaged base snapshot, records
 * that contradict the log) throws a corruption error naming the file and offset. Never guesses.
 */
export async function recover (dir: string, warn: (msg: string) => void): Promise<Recovered> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 })
  } catch (err) {
    throw ioError('create directory', dir, err)
  }
  let names: string[]
  try {
    names = await readdir(dir)
  } catch (err) {
    throw ioError('list directory', dir, err)
  }
  const segments: number[] = []
  const snapshots: number[] = []
  for (const name of names) {
    if (name.endsWith('.tmp') && (isSegmentOrSnapshot(name.slice(0, -4)))) {
      warn(`raft storage: removed ${join(dir, name)}, a file write that a crash interrupted before its rename`)
      await removeFile(join(dir, name))
      continue
    }
    const seq = parseSegmentFileName(name)
    if (seq !== null) segments.push(seq)
    const index = parseSnapshotFileName(name)
    if (index !== null) snapshots.push(index)
  }
  segments.sort((a, b) => a - b)
  snapshots.sort((a, b) => b - a) // newest first

  const liveSeq = segments.at(-1)
  if (liveSeq === undefined) {
    if (snapshots.length > 0) throw corruptionError(dir, null, 'snapshot files but no WAL segment')
    const image = new LogImage(0, 0)
    const bytes = encodeSegment(image)
    await writeFileAtomic(dir, join(dir, segmentFileName(0)), [bytes])
    return { sequence: 0, size: bytes.length, image, snapshot: null }
  }

  let sequence = liveSeq
  const path = join(dir, segmentFileName(sequence))
  let buf: Buffer
  try {
    buf = await readFile(path)
  } catch (err) {
    throw ioError('read', path, err)
  }
  const scan = scanSegment(buf, path)
  const image = replaySegment(scan, path)
  let size = scan.goodEnd
  if (scan.torn !== null) {
    warn(`raft storage: cut a torn write at the end of ${path}: ${buf.length - scan.goodEnd} bytes from byte offset ${scan.goodEnd} (${scan.torn.reason} at byte offset ${scan.torn.offset})`)
    await truncateFile(path, scan.goodEnd)
  }

  let snapshot: Snapshot | null = null
  for (const index of snapshots.filter(i => i > image.snapshotIndex)) {
    const snapPath = join(dir, snapshotFileName(index))
    const read = await readSnapshotFile(snapPath, index)
    if (read.ok) {
      snapshot = read.snapshot
      break
    }
    warn(`raft storage: set aside ${snapPath} as .corrupt (${read.reason}); it is newer than the WAL's snapshot, so its save never completed`)
    try {
      await rename(snapPath, `${snapPath}.corrupt`)
    } catch (err) {
      throw ioError('rename', snapPath, err)
    }
  }
  if (snapshot !== null) {
    image.applySnapshot(snapshot.index, snapshot.term)
    sequence++
    const bytes = encodeSegment(image)
    await writeFileAtomic(dir, join(dir, segmentFileName(sequence)), [bytes])
    size = bytes.length
    warn(`raft storage: finished a compaction that a crash interrupted, at snapshot ${snapshot.index}`)
  } else if (image.snapshotIndex > 0) {
    snapshot = await readBaseSnapshot(dir, path, image, snapshots)
  }

  for (const seq of segments) if (seq < sequence) await removeFile(join(dir, segmentFileName(seq)))
  for (const index of snapshots) if (index !== snapshot?.index) await removeFile(join(dir, snapshotFileName(index)))
  return { sequence, size, image, snapshot }
}

/** The snapshot the live segment follows: it must exist, verify, and agree with the header's term. */
async function readBaseSnapshot (dir: string, segmentPath: string, image: LogImage, snapshots: readonly number[]): Promise<Snapshot> {
  const snapPath = join(dir, snapshotFileName(image.snapshotIndex))
  if (!snapshots.includes(image.snapshotIndex)) {
    throw corruptionError(segmentPath, 0, `the segment follows snapshot ${image.snapshotIndex}, but ${snapPath} is missing`)
  }
  const read = await readSnapshotFile(snapPath, image.snapshotIndex)
  if (!read.ok) throw corruptionError(snapPath, null, read.reason)
  if (read.snapshot.term !== image.snapshotTerm) {
    throw corruptionError(snapPath, null, `snapshot term ${read.snapshot.term} differs from the term ${image.snapshotTerm} in ${segmentPath}`)
  }
  return read.snapshot
}

function isSegmentOrSnapshot (name: string): boolean {
  return parseSegmentFileName(name) !== null || parseSnapshotFileName(name) !== null
}

async function truncateFile (path: string, length: number): Promise<void> {
  try {
    const fh = await open(path, 'r+')
    try {
      await fh.truncate(length)
      await fh.sync()
    } finally {
      await fh.close()
    }
  } catch (err) {
    throw ioError('truncate', path, err)
  }
}
