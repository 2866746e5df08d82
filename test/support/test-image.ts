import Docker from 'dockerode'
import { execFile } from 'node:child_process'
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { ENGINE_SOCKET } from './docker-engine.js'

/**
 * The image the executor tests run, built locally (no registry needed): a static busybox with its applet
 * links, plus glibc's loader, libc and libnss_files and `getent`, so that names resolve through
 * /etc/hosts (the static busybox's resolver dlopens libnss_files; without it `getent`, `ping NAME` and
 * `wget` fail). The tag changes whenever the contents do, so engines holding an older build build this one.
 * Busybox 1.35's `wget -T` segfaults: bound a wget with `timeout SECS wget …` instead.
 */
export const TEST_IMAGE = 'flotilla-test/busybox:2'

/** Where Debian's busybox-static package puts the binary. */
export const BUSYBOX = '/bin/busybox'
const DOCKER_CLI = '/usr/local/bin/docker'
const APPLETS = ['sh', 'sleep', 'httpd', 'echo', 'true', 'false', 'ping', 'wget', 'nc', 'cat', 'hostname', 'ip']
/** The glibc files name resolution needs, by where they sit on the host (and in the image): Debian's multiarch layout. */
const GLIBC_FILES: readonly string[] = process.arch === 'arm64'
  ? ['/lib/aarch64-linux-gnu/libc.so.6', '/lib/aarch64-linux-gnu/libnss_files.so.2', '/lib/ld-linux-aarch64.so.1', '/usr/bin/getent']
  : ['/lib/x86_64-linux-gnu/libc.so.6', '/lib/x86_64-linux-gnu/libnss_files.so.2', '/lib64/ld-linux-x86-64.so.2', '/usr/bin/getent']
/**
 * Names from /etc/hosts only (the data plane writes it): the engines the tests run have no DNS server a
 * container reaches, and `getent hosts` asks for IPv6 first, so a DNS fallback would cost a timeout.
 */
const NSSWITCH = 'hosts: files\n'
/** Every address of a name on several /etc/hosts lines (`tasks.<service>`), not only the first: Debian's default. */
const HOST_CONF = 'multi on\n'
const IMPORT_TIMEOUT_MS = 60_000

/**
 * Make sure `TEST_IMAGE` exists on the engine at `engineSocket` (default: the tests' engine); when it does
 * not, build it by `docker import` of a tar holding /bin/busybox, its applet symlinks, glibc's files for
 * name resolution (GLIBC_FILES), /etc/nsswitch.conf, /etc/host.conf and an empty /tmp, with `CMD ["sh"]`. `tar`, when
 * given, is a rootfs tar written by `writeTestImageTar` (so that several engines share one); otherwise
 * one is written and removed. Returns the image name.
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
 * path; `dir` must exist. Fails with what to install when busybox or a glibc file is missing. The glibc
 * files are copied with their symlinks resolved (the loader is a link on Debian).
 */
export async function writeTestImageTar (dir: string): Promise<string> {
  if (!existsSync(BUSYBOX)) throw new Error(`${BUSYBOX} is missing: install Debian's busybox-static to build ${TEST_IMAGE}`)
  const missing = GLIBC_FILES.filter(f => !existsSync(f))
  if (missing.length > 0) throw new Error(`${missing.join(', ')} missing: install Debian's libc6 and libc-bin to build ${TEST_IMAGE}`)
  const root = join(dir, 'rootfs')
  mkdirSync(join(root, 'bin'), { recursive: true })
  mkdirSync(join(root, 'tmp'))
  chmodSync(join(root, 'tmp'), 0o1777)
  copyFileSync(BUSYBOX, join(root, 'bin', 'busybox'))
  chmodSync(join(root, 'bin', 'busybox'), 0o755)
  for (const applet of APPLETS) symlinkSync('busybox', join(root, 'bin', applet))
  for (const file of GLIBC_FILES) {
    mkdirSync(join(root, dirname(file)), { recursive: true })
    copyFileSync(realpathSync(file), join(root, file))
    chmodSync(join(root, file), 0o755)
  }
  mkdirSync(join(root, 'etc'))
  writeFileSync(join(root, 'etc', 'nsswitch.conf'), NSSWITCH)
  writeFileSync(join(root, 'etc', 'host.conf'), HOST_CONF)
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
