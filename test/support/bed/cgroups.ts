import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, rmdirSync } from 'node:fs'
import { join } from 'node:path'

const CGROUP_ROOT = '/sys/fs/cgroup'

/** One mount of the cgroup tree as /proc/self/mountinfo shows it. */
interface CgroupMount {
  readonly mountPoint: string
  readonly fsType: string
  readonly source: string
  readonly superOptions: string
}

/** The mounts at and under /sys/fs/cgroup in this mount namespace, parents first (mountinfo order). */
function cgroupMounts (): CgroupMount[] {
  const mounts: CgroupMount[] = []
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [pre, post] = line.split(' - ')
    if (pre === undefined || post === undefined) continue
    const mountPoint = pre.split(' ')[4]
    const [fsType, source, superOptions] = post.split(' ')
    if (mountPoint === undefined || fsType === undefined || source === undefined || superOptions === undefined) continue
    if (mountPoint === CGROUP_ROOT || mountPoint.startsWith(`${CGROUP_ROOT}/`)) mounts.push({ mountPoint, fsType, source, superOptions })
  }
  return mounts
}

/**
 * A POSIX sh script that rebuilds this machine's cgroup mounts (v1, v2 or hybrid: the tmpfs, each
 * hierarchy with its own options, and the symlinks such as `cpu -> cpu,cpuacct`), then execs "$@".
 * `ip netns exec` mounts a fresh sysfs for the netns, which hides /sys/fs/cgroup; dockerd needs it.
 * Mounting a v1 hierarchy with the options it already has joins that hierarchy, so the engines' cgroups
 * are the machine's (which is how teardown finds and removes them).
 */
export function cgroupRemountScript (): string {
  const q = (s: string): string => `'${s.replace(/'/g, "'\\''")}'`
  const lines = ['set -e']
  const mounts = cgroupMounts()
  if (mounts.length === 0) throw new Error(`no cgroup filesystem is mounted at ${CGROUP_ROOT}`)
  for (const m of mounts) {
    lines.push(`mkdir -p ${q(m.mountPoint)}`, `mount -t ${q(m.fsType)} -o ${q(m.superOptions)} ${q(m.source)} ${q(m.mountPoint)}`)
    if (m.mountPoint === CGROUP_ROOT && m.fsType === 'tmpfs') {
      for (const entry of readdirSync(CGROUP_ROOT)) {
        const path = join(CGROUP_ROOT, entry)
        if (lstatSync(path).isSymbolicLink()) lines.push(`ln -s ${q(readlinkSync(path))} ${q(path)}`)
      }
    }
  }
  lines.push('exec "$@"')
  return lines.join('\n')
}

/** The hierarchies' root directories (each cgroup or cgroup2 mount point). */
export function cgroupHierarchies (): string[] {
  return cgroupMounts().filter(m => m.fsType === 'cgroup' || m.fsType === 'cgroup2').map(m => m.mountPoint)
}

/** The directories named `name` at the root of every hierarchy that exist. */
export function cgroupDirs (name: string): string[] {
  return cgroupHierarchies().map(h => join(h, name)).filter(d => existsSync(d))
}

/** Every pid in the cgroup tree at `dir` (all hierarchies give the same processes; read them all anyway). */
export function cgroupTreePids (dir: string): number[] {
  const pids: number[] = []
  const walk = (d: string): void => {
    let entries: string[]
    try { entries = readdirSync(d) } catch { return }
    try {
      pids.push(...readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n').filter(s => s !== '').map(Number))
    } catch { /* removed meanwhile */ }
    for (const e of entries) {
      const sub = join(d, e)
      try { if (lstatSync(sub).isDirectory()) walk(sub) } catch { /* removed meanwhile */ }
    }
  }
  walk(dir)
  return pids
}

/** Remove the cgroup tree at `dir`, deepest first. Returns whether it is gone (a cgroup with live processes stays). */
export function removeCgroupTree (dir: string): boolean {
  const walk = (d: string): void => {
    let entries: string[]
    try { entries = readdirSync(d) } catch { return }
    for (const e of entries) {
      const sub = join(d, e)
      try { if (lstatSync(sub).isDirectory()) walk(sub) } catch { /* removed meanwhile */ }
    }
    try { rmdirSync(d) } catch { /* busy or gone */ }
  }
  walk(dir)
  return !existsSync(dir)
}
