import { open, rename, unlink, type FileHandle } from 'node:fs/promises'
import { ioError } from './errors.js'

/** Write all of `bytes` at `position`; FileHandle.write may write less than asked, so loop. */
export async function writeAll (fh: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let done = 0
  while (done < bytes.length) {
    const { bytesWritten } = await fh.write(bytes, done, bytes.length - done, position + done)
    if (bytesWritten <= 0) throw new Error(`write returned ${bytesWritten}`)
    done += bytesWritten
  }
}

/** fsync a directory so that a rename, create or delete in it survives a power cut. */
export async function fsyncDir (dir: string): Promise<void> {
  let dh: FileHandle | undefined
  try {
    dh = await open(dir, 'r')
    await dh.sync()
  } catch (err) {
    throw ioError('fsync directory', dir, err)
  } finally {
    await dh?.close()
  }
}

/**
 * Create `path` holding `chunks` concatenated, atomically and durably: write `path.tmp`, fsync it, rename it into place,
 * fsync the directory. A crash leaves either no `path` (and perhaps a `.tmp` that recovery deletes) or
 * the complete file. Mode 0600: the log holds cluster secrets.
 */
export async function writeFileAtomic (dir: string, path: string, chunks: readonly Uint8Array[]): Promise<void> {
  const tmp = `${path}.tmp`
  let fh: FileHandle | undefined
  try {
    fh = await open(tmp, 'w', 0o600)
    let position = 0
    for (const chunk of chunks) {
      await writeAll(fh, chunk, position)
      position += chunk.length
    }
    await fh.sync()
    await fh.close()
    fh = undefined
    await rename(tmp, path)
  } catch (err) {
    await fh?.close().catch(() => undefined) // the write error is the one to report
    throw ioError('write', tmp, err)
  }
  await fsyncDir(dir)
}

/** Delete `path`; a file already gone is fine (recovery may have removed it). */
export async function removeFile (path: string): Promise<void> {
  try {
    await unlink(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError('unlink', path, err)
  }
}
