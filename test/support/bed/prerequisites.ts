import { accessSync, constants, existsSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { BUSYBOX } from '../test-image.js'
import { BedError } from './errors.js'

/** Absolute paths of the programs the bed runs. */
export interface BedTools {
  readonly ip: string
  readonly iptables: string
  readonly iptablesRestore: string
  readonly dockerd: string
  /** Used by `TestBed.canConnect` (its /dev/tcp) and by `timeout`. */
  readonly bash: string
  readonly timeout: string
  /** Only `TestBed.throttle` needs it; undefined when missing. */
  readonly tc: string | undefined
}

const NEEDED: ReadonlyArray<{ name: string, pkg: string }> = [
  { name: 'ip', pkg: 'iproute2' },
  { name: 'iptables', pkg: 'iptables' },
  { name: 'iptables-restore', pkg: 'iptables' },
  { name: 'dockerd', pkg: 'docker.io' },
  { name: 'containerd', pkg: 'containerd (comes with docker.io)' },
  { name: 'runc', pkg: 'runc (comes with docker.io)' },
  { name: 'tar', pkg: 'tar' },
  { name: 'bash', pkg: 'bash' },
  { name: 'timeout', pkg: 'coreutils' }
]

/**
 * Check that the bed can be built here, and return the tools' paths. Fails (never skips) with a
 * `bed-prerequisite` BedError naming everything missing and how to install it: root, iproute2, iptables,
 * docker.io (dockerd, containerd, runc), the 28.x docker CLI at /usr/local/bin/docker, busybox-static.
 */
export function checkPrerequisites (): BedTools {
  const missing: string[] = []
  const install = new Set<string>()
  if (process.platform !== 'linux') missing.push(`Linux (this is ${process.platform})`)
  if (process.getuid?.() !== 0) missing.push('root (network namespaces, iptables and dockerd need it): run the tests as root, e.g. `sudo npx vitest run test/hosts`')
  const found = new Map<string, string>()
  for (const { name, pkg } of NEEDED) {
    const path = which(name)
    if (path === undefined) { missing.push(`\`${name}\``); install.add(pkg.split(' ')[0]!) } else found.set(name, path)
  }
  if (!existsSync('/usr/local/bin/docker')) missing.push('the docker CLI at /usr/local/bin/docker (it imports the test image)')
  if (!existsSync(BUSYBOX)) { missing.push(BUSYBOX); install.add('busybox-static') }
  if (!existsSync('/sys/fs/cgroup')) missing.push('a cgroup hierarchy mounted at /sys/fs/cgroup')
  if (missing.length > 0) {
    const apt = install.size === 0 ? '' : `install with \`apt-get install -y ${[...install].join(' ')}\` (Debian/Ubuntu); `
    throw new BedError('bed-prerequisite', `the multi-host test bed cannot be built: missing ${missing.join(', ')}`,
      `${apt}\`sudo bash .ci/run\` sets up Docker and busybox-static on a fresh machine`)
  }
  return {
    ip: found.get('ip')!,
    iptables: found.get('iptables')!,
    iptablesRestore: found.get('iptables-restore')!,
    dockerd: found.get('dockerd')!,
    bash: found.get('bash')!,
    timeout: found.get('timeout')!,
    tc: which('tc')
  }
}

/** The first executable `name` on PATH or in the sbin directories (which a non-login root shell may lack). */
export function which (name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/bin', '/bin']
  for (const dir of dirs) {
    if (dir === '') continue
    const path = join(dir, name)
    try { accessSync(path, constants.X_OK); return path } catch { /* not here */ }
  }
  return undefined
}
