import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, rmSync, unlinkSync } from 'node:fs'
import { join } from 'node:path'
import { cgroupHierarchies, cgroupTreePids, removeCgroupTree } from './cgroups.js'
import { deleteNetnsSync, listBedNetns, netnsPids } from './network.js'
import { RUN_ID_PATTERN, RUN_NAME_PATTERN, defaultBaseRoot, ownerAlive, processStartTicks } from './names.js'
import { which } from './prerequisites.js'

/** What one run left on the machine, found from its run id alone. */
export interface RunRemains {
  readonly runId: string
  readonly netns: readonly string[]
  readonly cgroups: readonly string[]
  readonly pids: readonly number[]
  readonly dirs: readonly string[]
}

const KILL_WAIT_MS = 5_000

/** Find everything run `runId` made that still exists: netns, cgroups, processes, directories under `baseRoots`. */
export function findRunRemains (runId: string, baseRoots: readonly string[]): RunRemains {
  const ip = ipPath()
  const mine = new RegExp(`^${runId}(?:-|$)`)
  const netns = listBedNetns({ ip }, mine)
  const cgroups = cgroupHierarchies().flatMap(h => safeReaddir(h).filter(e => mine.test(e)).map(e => join(h, e)))
  const dirs = baseRoots.map(r => join(r, runId)).filter(d => existsSync(d))
  const pids = new Set<number>()
  for (const ns of netns) for (const pid of netnsPids({ ip }, ns)) pids.add(pid)
  for (const cg of cgroups) for (const pid of cgroupTreePids(cg)) pids.add(pid)
  // Processes whose netns is already gone but whose command line names the run's directory (dockerd, containerd, shims, agents).
  for (const pid of safeReaddir('/proc').filter(e => /^\d+$/.test(e)).map(Number)) {
    if (pid === process.pid) continue
    let cmdline: string
    try { cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8') } catch { continue }
    if (dirs.some(d => cmdline.includes(`${d}/`))) pids.add(pid)
  }
  pids.delete(process.pid)
  return { runId, netns, cgroups, pids: [...pids], dirs }
}

/**
 * Remove everything in `remains`, synchronously (usable from an exit handler): SIGKILL its processes and
 * wait (up to 5 s) for them to die, unlink the containerd shim sockets of its containers, remove its cgroups,
 * delete its netns (their veths and iptables rules go with them), then its directories. Idempotent;
 * a step that fails is left and reported in the returned list, never thrown.
 */
export function purgeRunSync (remains: RunRemains): string[] {
  const problems: string[] = []
  for (const pid of remains.pids) {
    try { process.kill(pid, 'SIGKILL') } catch { /* gone already */ }
  }
  const deadline = Date.now() + KILL_WAIT_MS
  let alive = remains.pids.filter(p => processStartTicks(p) !== undefined)
  while (alive.length > 0 && Date.now() < deadline) {
    sleepSync(20)
    alive = alive.filter(p => processStartTicks(p) !== undefined)
  }
  if (alive.length > 0) problems.push(`processes still alive after SIGKILL: ${alive.join(' ')}`)
  for (const dir of remains.dirs) removeShimSockets(dir)
  for (const cg of remains.cgroups) {
    let gone = removeCgroupTree(cg)
    while (!gone && Date.now() < deadline) { sleepSync(20); gone = removeCgroupTree(cg) }
    if (!gone) problems.push(`cgroup ${cg} could not be removed`)
  }
  const ip = ipPath()
  for (const ns of remains.netns) deleteNetnsSync({ ip }, ns)
  for (const dir of remains.dirs) {
    try { rmSync(dir, { recursive: true, force: true, maxRetries: 3 }) } catch (err) { problems.push(`${dir}: ${(err as Error).message}`) }
  }
  return problems
}

/**
 * Remove what crashed earlier runs of the bed left behind: runs whose names start with the fixed `flb`
 * prefix and whose recorded owner (owner.json: pid and start time) is dead or unrecorded. A run whose
 * owner lives — another test process using its bed right now — is never touched. Returns the run ids removed.
 */
export function removeLeftovers (baseRoots: readonly string[] = [defaultBaseRoot(), '/tmp', '/var/tmp']): string[] {
  const roots = [...new Set(baseRoots)]
  const runIds = new Set<string>()
  const take = (name: string): void => { const m = RUN_NAME_PATTERN.exec(name); if (m !== null) runIds.add(m[1]!) }
  for (const ns of listBedNetns({ ip: ipPath() }, RUN_NAME_PATTERN)) take(ns)
  for (const h of cgroupHierarchies()) for (const e of safeReaddir(h)) take(e)
  for (const r of roots) for (const e of safeReaddir(r)) if (RUN_ID_PATTERN.test(e)) take(e)
  const removed: string[] = []
  for (const runId of runIds) {
    if (roots.some(r => ownerAlive(join(r, runId)))) continue
    purgeRunSync(findRunRemains(runId, roots))
    removed.push(runId)
  }
  return removed
}

/**
 * containerd (1.6) puts each shim's socket at /run/containerd/s/<sha256(address/namespace/id)>; a shim
 * that is killed leaves it. Unlink those of the containers in the run's engines (`dir/engines/<host>`).
 */
function removeShimSockets (runDir: string): void {
  const enginesDir = join(runDir, 'engines')
  for (const host of safeReaddir(enginesDir)) {
    const address = join(enginesDir, host, 'run', 'containerd', 'containerd.sock')
    for (const id of safeReaddir(join(enginesDir, host, 'data', 'containers'))) {
      const socket = join('/run/containerd/s', createHash('sha256').update(join(address, 'moby', id)).digest('hex'))
      try { unlinkSync(socket) } catch { /* not there */ }
    }
  }
}

function ipPath (): string {
  return which('ip') ?? 'ip'
}

function safeReaddir (dir: string): string[] {
  try { return readdirSync(dir) } catch { return [] }
}

/** Block the thread for `ms` (exit handlers cannot await). */
export function sleepSync (ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
}
