import { open, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { FlotillaError } from '../../membership/index.js'
import type { Entry, HardState, RaftInitialState, Snapshot } from '../raft/types.js'
import { ioError } from './errors.js'
import { removeFile, writeFileAtomic, writeAll } from './fs-util.js'
import { LogImage } from './log-image.js'
import { frameBatch } from './record.js'
import { recover } from './recovery.js'
import { appendRecords, encodeSegment, segmentFileName } from './segment.js'
import { snapshotFileName, writeSnapshotFile } from './snapshot-file.js'
import type { RaftObserver } from '../observer.js'

export interface RaftStorageOptions {
  /** Receives recovery warnings (a torn write cut, an interrupted compaction finished). Default: none. */
  readonly log?: (msg: string) => void
  /** Told each WAL fsync's duration and each snapshot written (the agent's metrics). Default: none. */
  readonly observer?: Pick<RaftObserver, 'walFsync' | 'snapshotSaved'>
}

export interface RaftStorageOpened {
  readonly storage: RaftStorage
  /** null for a brand-new node: nothing durable was ever saved in this dir. */
  readonly state: RaftInitialState | null
  /** The same warnings passed to `options.log`, for callers that report them elsewhere. */
  readonly warnings: readonly string[]
}

/** What a node that saved entries or a snapshot but never a hard state starts from. */
const EMPTY_HARD_STATE: HardState = { term: 0, vote: null, commit: 0 }

/**
 * Durable Raft state in one directory: a write-ahead log (segments of checksummed record batches, see
 * segment.ts and record.ts) plus the latest snapshot (snapshot-file.ts). The driver calls `append`
 * before it sends any message or acknowledges any write (Raft Figure 2, "persistent state ... updated
 * on stable storage before responding to RPCs"); every method resolves only once its data is fsynced.
 *
 * Calls are serialized in call order. An I/O failure part-way through a write leaves the file in an
 * unknown state, so it fails the storage: every later call throws, and the agent must restart (and
 * recover) rather than write after a possibly torn record. One process per dir: there is no lock file.
 */
export class RaftStorage {
  private readonly dir: string
  private fh: FileHandle
  private sequence: number
  private size: number
  private image: LogImage
  private queue: Promise<unknown> = Promise.resolve()
  private failure: FlotillaError | null = null
  private closed = false

  private constructor (dir: string, fh: FileHandle, sequence: number, size: number, image: LogImage, private readonly observer?: RaftStorageOptions['observer']) {
    this.dir = dir
    this.fh = fh
    this.sequence = sequence
    this.size = size
    this.image = image
  }

  /**
   * Open (creating it, mode 0700, if missing) and recover the raft dir `dir`. Throws a FlotillaError
   * `internal` naming the file and byte offset when the data is corrupt beyond a torn last write.
   */
  static async open (dir: string, options: RaftStorageOptions = {}): Promise<RaftStorageOpened> {
    const warnings: string[] = []
    const warn = (msg: string): void => {
      warnings.push(msg)
      options.log?.(msg)
    }
    const r = await recover(dir, warn)
    const fh = await openSegment(join(dir, segmentFileName(r.sequence)))
    const storage = new RaftStorage(dir, fh, r.sequence, r.size, r.image, options.observer)
    const saved = r.image.hardState !== null || r.image.entries.length > 0 || r.snapshot !== null
    const state: RaftInitialState | null = saved
      ? { hardState: r.image.hardState ?? EMPTY_HARD_STATE, snapshot: r.snapshot, entries: [...r.image.entries] }
      : null
    return { storage, state, warnings }
  }

  /**
   * Append `entries` and then `hardState` (either may be empty/null) as one batch: one write, one
   * fsync, then resolve. `sync: false` skips the fsync, for a hard state whose only change is the
   * commit index (which a restarted node learns again from the leader, as etcd's MustSync rule has it);
   * anything else must be synced. If entries[0].index ≤ the last stored index, the stored log from that index on
   * is replaced (a truncate record, Raft §5.3). Entries must be contiguous, start after the snapshot
   * and no later than lastIndex + 1, else `invalid-argument`; a record over 64 MiB is `too-large`.
   * Neither error writes anything.
   */
  async append (hardState: HardState | null, entries: readonly Entry[], options: { readonly sync?: boolean } = {}): Promise<void> {
    const sync = options.sync ?? true
    await this.serialized(async () => {
      if (entries.length > 0) {
        const problem = this.image.checkAppend(entries)
        if (problem !== null) throw new FlotillaError('invalid-argument', `raft storage: cannot append: ${problem}`)
      }
      if (hardState === null && entries.length === 0) return
      const batch = frameBatch(appendRecords(this.image, hardState, entries))
      await this.failOnError('append to', this.segmentPath(), async () => {
        await writeAll(this.fh, batch, this.size)
        if (sync) {
          const started = performance.now()
          await this.fh.sync()
          this.observer?.walFsync((performance.now() - started) / 1000)
        }
      })
      this.size += batch.length
      if (entries.length > 0) this.image.append(entries)
      if (hardState !== null) this.image.hardState = hardState
    })
  }

  /**
   * Save `snapshot` and compact the log behind it. In order, each step durable before the next:
   * the snapshot file (temp, fsync, rename, fsync dir); a new WAL segment holding the hard state and
   * the entries after the snapshot that the log keeps (Raft §7: all of them if the log has the
   * snapshot's last entry with its term, else none), likewise renamed into place; then the previous
   * segment and snapshot are deleted. A crash anywhere leaves the old or the new state (recovery
   * finishes a compaction whose snapshot made it). `snapshot.index` must be ≥ 1 and ≥ the current one.
   */
  async saveSnapshot (snapshot: Snapshot): Promise<void> {
    await this.serialized(async () => {
      const old = this.image
      if (snapshot.index < 1 || snapshot.index < old.snapshotIndex) {
        throw new FlotillaError('invalid-argument', `raft storage: snapshot index ${snapshot.index} is below 1 or the current snapshot ${old.snapshotIndex}`)
      }
      const next = new LogImage(old.snapshotIndex, old.snapshotTerm)
      next.entries = old.entries.slice()
      next.hardState = old.hardState
      next.applySnapshot(snapshot.index, snapshot.term)
      const oldSegment = this.segmentPath()
      const nextSegment = join(this.dir, segmentFileName(this.sequence + 1))
      await this.failOnError('compact into', nextSegment, async () => {
        await writeSnapshotFile(this.dir, snapshot)
        const bytes = encodeSegment(next)
        await writeFileAtomic(this.dir, nextSegment, [bytes])
        await this.fh.close()
        this.fh = await openSegment(nextSegment)
        this.sequence++
        this.size = bytes.length
        this.image = next
        // Deletions need no fsync: a file that reappears after a crash is deleted again by recovery.
        await removeFile(oldSegment)
        if (old.snapshotIndex > 0 && old.snapshotIndex !== snapshot.index) {
          await removeFile(join(this.dir, snapshotFileName(old.snapshotIndex)))
        }
      })
      this.observer?.snapshotSaved()
    })
  }

  /** Wait for pending calls, then close the segment. Later calls throw `conflict`. Idempotent. */
  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.queue.catch(() => undefined) // each call's own caller received its error
    await this.fh.close()
  }

  private segmentPath (): string {
    return join(this.dir, segmentFileName(this.sequence))
  }

  private serialized (fn: () => Promise<void>): Promise<void> {
    const run = async (): Promise<void> => {
      if (this.failure !== null) {
        throw new FlotillaError('internal', `raft storage failed earlier and takes no more writes: ${this.failure.message}`, {
          cause: this.failure,
          hint: this.failure.hint
        })
      }
      await fn()
    }
    if (this.closed) return Promise.reject(new FlotillaError('conflict', 'raft storage is closed'))
    const result = this.queue.then(run, run)
    this.queue = result
    return result
  }

  private async failOnError (op: string, path: string, fn: () => Promise<void>): Promise<void> {
    try {
      await fn()
    } catch (err) {
      this.failure = err instanceof FlotillaError ? err : ioError(op, path, err)
      throw this.failure
    }
  }
}

async function openSegment (path: string): Promise<FileHandle> {
  try {
    return await open(path, 'r+')
  } catch (err) {
    throw ioError('open', path, err)
  }
}
