import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Snapshot } from '../raft/types.js'
import { crc32 } from './crc32.js'
import { ioError } from './errors.js'
import { writeFileAtomic } from './fs-util.js'
import { asPlainBytes, decodeObject, encodePayload, isStringArray, isUint } from './payload.js'

/**
 * Snapshot files, one per snapshot, named `snap-<index as 16 hex digits>.snap`:
 *
 *   [magic "FLSNAP01"][crc32 u32 LE][meta length u32 LE][meta: msgpack {index, term, voters}][data]
 *
 * The CRC-32 covers everything after itself (meta length, meta and data); the data runs to the end of
 * the file. Files are written whole through a temporary file and a rename, so a reader sees a complete
 * file or none; the checksum is there for bit rot and for files damaged outside this code.
 */

const MAGIC = Buffer.from('FLSNAP01', 'latin1')
const PREFIX_BYTES = MAGIC.length + 8
const NAME = /^snap-([0-9a-f]{16})\.snap$/

export function snapshotFileName (index: number): string {
  return `snap-${index.toString(16).padStart(16, '0')}.snap`
}

/** The snapshot index a file name stands for, or null if the name is not a snapshot file's. */
export function parseSnapshotFileName (name: string): number | null {
  const m = NAME.exec(name)
  return m === null ? null : Number.parseInt(m[1]!, 16)
}

/** Write `snapshot` to `dir` atomically and durably (temp file, fsync, rename, fsync dir). */
export async function writeSnapshotFile (dir: string, snapshot: Snapshot): Promise<void> {
  const meta = Buffer.from(encodePayload({ index: snapshot.index, term: snapshot.term, voters: [...snapshot.voters] }))
  const prefix = Buffer.alloc(PREFIX_BYTES)
  MAGIC.copy(prefix, 0)
  prefix.writeUInt32LE(meta.length, MAGIC.length + 4)
  let crc = crc32(prefix, MAGIC.length + 4, PREFIX_BYTES)
  crc = crc32(meta, 0, meta.length, crc)
  crc = crc32(snapshot.data, 0, snapshot.data.length, crc)
  prefix.writeUInt32LE(crc, MAGIC.length)
  await writeFileAtomic(dir, join(dir, snapshotFileName(snapshot.index)), [prefix, meta, snapshot.data])
}

export type SnapshotRead =
  | { readonly ok: true, readonly snapshot: Snapshot }
  | { readonly ok: false, readonly reason: string }

/**
 * Read and verify the snapshot file at `path`, expected to hold snapshot `index` (from its name).
 * A damaged file is `{ ok: false }` (the caller decides whether that is fatal); an I/O error throws.
 */
export async function readSnapshotFile (path: string, index: number): Promise<SnapshotRead> {
  let buf: Buffer
  try {
    buf = await readFile(path)
  } catch (err) {
    throw ioError('read', path, err)
  }
  if (buf.length < PREFIX_BYTES || !buf.subarray(0, MAGIC.length).equals(MAGIC)) {
    return { ok: false, reason: 'not a flotilla snapshot file (bad magic or too short)' }
  }
  if (crc32(buf, MAGIC.length + 4) !== buf.readUInt32LE(MAGIC.length)) return { ok: false, reason: 'checksum mismatch' }
  const metaEnd = PREFIX_BYTES + buf.readUInt32LE(MAGIC.length + 4)
  if (metaEnd > buf.length) return { ok: false, reason: 'metadata runs past the end of the file' }
  const meta = decodeObject(buf.subarray(PREFIX_BYTES, metaEnd))
  if (meta === null || !isUint(meta.index) || !isUint(meta.term) || !isStringArray(meta.voters)) {
    return { ok: false, reason: 'metadata does not decode' }
  }
  if (meta.index !== index) return { ok: false, reason: `holds snapshot ${meta.index}, not ${index} as its name says` }
  return {
    ok: true,
    snapshot: { index: meta.index, term: meta.term, voters: meta.voters, data: asPlainBytes(buf.subarray(metaEnd)) }
  }
}
