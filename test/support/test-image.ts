import Docker from 'dockerode'
import { execFile } from 'node:child_process'
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ENGINE_SOCKET } from './docker-engine.js'

/** The image the executor tests run: a static busybox and nothing else, built locally (no registry needed). */
export const TEST_IMAGE = 'flotilla-test/busybox:latest'

/** Where Debian's busybox-static package puts the binary. */
export const BUSYBOX = '/bin/busybox'
const DOCKER_CLI = '/usr/local/bin/docker'
const APPLETS = ['sh', 'sleep', 'httpd', 'echo', 'true', 'false']
const IMPORT_TIMEOUT_MS = 60_000

/**
 * Make sure `TEST_IMAGE` exists on the engine at `engineSocket` (default: the tests' engine); when it does
 * not, build it by `docker import` of a tar holding /bin/busybox, its applet symlinks and an empty /tmp,
 * with `CMD ["sh"]`. `tar`, when given, is a rootfs tar written by `writeTestImageTar` (so that several
 * engines share one); otherwise one is written and removed. Returns the image name.
 */
export async function ensureTestImage (engineSocket: string = ENGINE_SOCKET, tar?: string): Promise<string> {
  const docker = new Docker({ socketPath: engineSocket, timeout: 10_000 })
  try {
    await docker.getImage(TEST_IMAGE).inspect()
    return TEST_IMAGE
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode !== 404) throw err
  }
  const dir = tar === undefined ? mkdtempSync(join(tmpdir(), 'flotilla-image-')) : undefined
  try {
    const rootfs = tar ?? await writeTestImageTar(dir!)
    await run('sh', ['-c', `${DOCKER_CLI} -H unix://${engineSocket} import --change 'CMD ["sh"]' - ${TEST_IMAGE} < ${rootfs}`])
  } finally {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  }
  await docker.getImage(TEST_IMAGE).inspect()
  return TEST_IMAGE
}

/**
 * Write the test image's root filesystem as `dir/rootfs.tar` (owned by root, numeric ids) and return its
 * path; `dir` must exist. Fails with what to install when busybox is missing.
 */
export async function writeTestImageTar (dir: string): Promise<string> {
  if (!existsSync(BUSYBOX)) throw new Error(`${BUSYBOX} is missing: install Debian's busybox-static to build ${TEST_IMAGE}`)
  const root = join(dir, 'rootfs')
  mkdirSync(join(root, 'bin'), { recursive: true })
  mkdirSync(join(root, 'tmp'))
  chmodSync(join(root, 'tmp'), 0o1777)
  copyFileSync(BUSYBOX, join(root, 'bin', 'busybox'))
  chmodSync(join(root, 'bin', 'busybox'), 0o755)
  for (const applet of APPLETS) symlinkSync('busybox', join(root, 'bin', applet))
  const tar = join(dir, 'rootfs.tar')
  await run('tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', root, '-cf', tar, '.'])
  rmSync(root, { recursive: true, force: true })
  return tar
}

async function run (file: string, args: string[]): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    execFile(file, args, { timeout: IMPORT_TIMEOUT_MS }, (err, _stdout, stderr) => {
      if (err !== null) reject(new Error(`${file} ${args.join(' ')} failed: ${err.message} ${stderr}`))
      else resolve()
    })
  })
}
