import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync, statfsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/** The fixed part of every name a bed makes: netns, veth, cgroup, directory. */
export const BED_PREFIX = 'flb'
/** A run id: `flb` and 4 base36 characters, e.g. `flb3k9z`. */
export const RUN_ID_PATTERN = /^flb[0-9a-z]{4}$/
/** A name one run made (`flb3k9z`, `flb3k9z-h1`, `flb3k9z-br`); group 1 is the run id. */
export const RUN_NAME_PATTERN = /^(flb[0-9a-z]{4})(?:-[0-9a-z]+)?$/

/** A fresh run id; two runs never share one (`newRunId` retries while a directory of that id exists). */
export function newRunId (baseRoot: string): string {
  for (;;) {
    const n = randomBytes(4).readUInt32BE(0) % 36 ** 4
    const id = BED_PREFIX + n.toString(36).padStart(4, '0')
    if (!existsSync(join(baseRoot, id))) return id
  }
}

/**
 * The names of one run. Interface names stay within Linux's 15 characters for up to 999 hosts:
 * the bridge is `<run>br`, host i's veth end is `<run>h<i>` in its netns and `<run>b<i>` on the bridge.
 */
export interface RunNames {
  readonly runId: string
  /** The run's directory, holding owner.json and each host's engine and agent directories. */
  readonly dir: string
  readonly bridgeNetns: string
  readonly bridge: string
  hostName: (i: number) => string
  hostNetns: (i: number) => string
  hostVeth: (i: number) => string
  bridgeVeth: (i: number) => string
  /** The cgroup (under every hierarchy's root) that holds the containers of host i's engine. */
  cgroupParent: (i: number) => string
}

export function runNames (runId: string, baseRoot: string): RunNames {
  return {
    runId,
    dir: join(baseRoot, runId),
    bridgeNetns: `${runId}-br`,
    bridge: `${runId}br`,
    hostName: i => `h${i}`,
    hostNetns: i => `${runId}-h${i}`,
    hostVeth: i => `${runId}h${i}`,
    bridgeVeth: i => `${runId}b${i}`,
    cgroupParent: i => `${runId}-h${i}`
  }
}

/**
 * Where runs put their directories: /tmp, unless it is an overlay filesystem (which overlay2 cannot
 * stack on), then /var/tmp. On this project's machines both are ext4, and dockerd uses overlay2.
 */
export function defaultBaseRoot (): string {
  const OVERLAYFS_MAGIC = 0x794c7630
  try {
    if (statfsSync('/tmp').type !== OVERLAYFS_MAGIC) return '/tmp'
  } catch { /* fall through */ }
  return '/var/tmp'
}

/** Who made a run: its pid and that process's start time (clock ticks since boot), which tell a reused pid apart. */
export interface RunOwner {
  readonly pid: number
  readonly startTicks: number
}

/** Record this process as the run's owner in `dir/owner.json`; written before the run makes anything else. */
export function writeOwner (dir: string): void {
  const owner: RunOwner = { pid: process.pid, startTicks: processStartTicks(process.pid) ?? 0 }
  writeFileSync(join(dir, 'owner.json'), JSON.stringify(owner))
}

/** Whether the run in `dir` has a live owner; a missing or unreadable owner.json counts as dead. */
export function ownerAlive (dir: string): boolean {
  let owner: RunOwner
  try {
    owner = JSON.parse(readFileSync(join(dir, 'owner.json'), 'utf8')) as RunOwner
  } catch {
    return false
  }
  const ticks = processStartTicks(owner.pid)
  return ticks !== undefined && ticks === owner.startTicks
}

/** Field 22 of /proc/PID/stat, or undefined when no such process lives. */
export function processStartTicks (pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    if (fields[0] === 'Z') return undefined
    return Number(fields[19])
  } catch {
    return undefined
  }
}

/** The state letter of /proc/PID/stat (R, S, D, T stopped, Z…), or undefined when no such process exists. */
export function processState (pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0]
  } catch {
    return undefined
  }
}
