import { open, rename, readFile, unlink, mkdir } from 'node:fs/promises'
import { dirname, basename, join } from 'node:path'

/**
 * Replace `path` atomically and durably: write a temporary file beside it, fsync it, rename it over the
 * old one, then fsync the directory so the rename itself survives a power cut. A reader sees the old or
 * the new content, never a mix. `mode` applies to the new file (0600 for keys and secrets).
 */
export async function writeFileDurable (path: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  const dir = dirname(path)
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const tmp = join(dir, `.${basename(path)}.${process.pid}.tmp`)
  const fh = await open(tmp, 'w', mode)
  try {
    await fh.writeFile(data)
    await fh.sync()
  } finally {
    await fh.close()
  }
  await rename(tmp, path)
  const dh = await open(dir, 'r')
  try {
    await dh.sync()
  } finally {
    await dh.close()
  }
}

/** The file's bytes, or null when it does not exist. */
export async function readFileIfExists (path: string): Promise<Buffer | null> {
  try {
    return await readFile(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw err
  }
}

export async function removeIfExists (path: string): Promise<void> {
  try {
    await unlink(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
}
