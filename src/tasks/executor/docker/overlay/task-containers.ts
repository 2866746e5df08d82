import type Docker from 'dockerode'
import { createHash } from 'node:crypto'
import { constants } from 'node:fs'
import { mkdir, open, rm } from 'node:fs/promises'
import { dirname } from 'node:path'
import { FlotillaError, asFlotillaError, type Logger } from '../../../../membership/index.js'
import type { NetworkView } from '../../network-view.js'
import { LABELS, engineError, engineStatus } from '../containers.js'
import type { HostCommands } from './host-commands.js'
import { hostsFile, type HostsFileNetwork } from './hosts-file.js'
import { parseIptablesSave, renderRestore } from './iptables-plan.js'
import { HOSTS_PATH, bareAddress, hostsFilePath } from './names.js'
import type { ProgrammedNetwork } from './overlay-networks.js'
import { vipRules } from './vip-rules.js'

/** How many containers one pass programs at once. */
const PARALLEL = 4

/** What the data plane knows of one task container: enough to render its names and rules, and what it last wrote. */
export interface TaskContainer {
  readonly containerId: string
  readonly taskId: string
  /** `Config.Hostname`. */
  readonly hostname: string
  /** Whether the container mounts this task's hosts file on /etc/hosts (it was created with `createOptions`' bind). */
  readonly hostsBound: boolean
  /** Its init process while it runs; undefined before it starts. */
  pid: number | undefined
  networks: HostsFileNetwork[]
  hostsHash?: string | undefined
  vipHash?: string | undefined
}

/** What `TaskContainers` uses. */
export interface TaskContainersDeps {
  readonly docker: Docker
  readonly commands: HostCommands
  readonly logger: Logger
  readonly stateDir: string
}

function sha256 (text: string): string {
  return createHash('sha256').update(text).digest('hex')
}

/**
 * Write `text` over the file at `path` in place: the same inode, which a container bind-mounts, so it
 * sees the new text (a rename would leave it the old file). Written before the truncate, so a reader
 * never meets an empty file, only, for an instant, the new text followed by the old text's tail.
 */
export async function writeInPlace (path: string, text: string): Promise<void> {
  const data = Buffer.from(text)
  try {
    await mkdir(dirname(path), { recursive: true })
    // Read-write and created when missing, but neither truncated nor appending: positional writes land where asked.
    const fh = await open(path, constants.O_RDWR | constants.O_CREAT, 0o644)
    try {
      await fh.write(data, 0, data.length, 0)
      await fh.truncate(data.length)
      // Readable by the container's user whoever it is, whatever this process's umask.
      await fh.chmod(0o644)
    } finally {
      await fh.close()
    }
  } catch (err) {
    throw new FlotillaError('internal', `write hosts file ${path}: ${(err as Error).message}`, { cause: err })
  }
}

/**
 * The per-container part of the data plane, I/O: each task container's hosts file and the VIP rules in
 * its network namespace, each rewritten only when its text changed (a hash per container remembers the
 * last written). A pass lists the engine's running task containers (label `com.docker.swarm.task.id`)
 * and derives each one's networks from its engine networks, so it repairs containers this process never
 * attached (after an agent restart) as well as those it did. A container is this data plane's when it
 * mounts a hosts file from its state directory.
 */
export class TaskContainers {
  private readonly byId = new Map<string, TaskContainer>()

  constructor (private readonly deps: TaskContainersDeps) {}

  /** Where the task's hosts file lives. */
  hostsPath (taskId: string): string {
    return hostsFilePath(this.deps.stateDir, taskId)
  }

  /** The bind that mounts the task's hosts file. */
  hostsBind (taskId: string): string {
    return `${this.hostsPath(taskId)}:${HOSTS_PATH}`
  }

  /** Write the task's hosts file before its container exists (no hostname yet). */
  async writePlaceholder (taskId: string, networks: readonly HostsFileNetwork[], view: readonly NetworkView[]): Promise<void> {
    await writeInPlace(this.hostsPath(taskId), hostsFile({ hostname: null, networks: orderByView(networks, view), view }))
  }

  /**
   * Learn a container from its inspect (or refresh what is known), with its networks; returns undefined
   * when it no longer exists.
   */
  async track (containerId: string, taskId: string, networks: readonly HostsFileNetwork[], info?: Docker.ContainerInspectInfo): Promise<TaskContainer | undefined> {
    const known = this.byId.get(containerId)
    if (known !== undefined && info === undefined) {
      known.networks = [...networks]
      return known
    }
    const inspected = info ?? await this.inspect(containerId)
    if (inspected === undefined) return undefined
    const path = this.hostsPath(taskId)
    const c: TaskContainer = {
      containerId,
      taskId,
      hostname: inspected.Config.Hostname,
      hostsBound: inspected.Mounts.some(m => m.Destination === HOSTS_PATH && m.Source === path),
      pid: inspected.State.Running && inspected.State.Pid > 0 ? inspected.State.Pid : undefined,
      networks: [...networks],
      hostsHash: known?.hostsHash,
      vipHash: known?.vipHash
    }
    this.byId.set(containerId, c)
    if (!c.hostsBound && known === undefined) this.deps.logger.debug('a task container does not mount this data plane\'s hosts file: left alone', { task: taskId })
    return c
  }

  /** Set a started container's pid (its network namespace). */
  setPid (c: TaskContainer, pid: number): void {
    if (c.pid !== pid) c.vipHash = undefined
    c.pid = pid
  }

  /** Forget the containers of a task and remove its hosts file. */
  async forgetTask (taskId: string): Promise<void> {
    for (const [id, c] of this.byId) if (c.taskId === taskId) this.byId.delete(id)
    try {
      await rm(this.hostsPath(taskId), { force: true })
    } catch (err) {
      throw new FlotillaError('internal', `remove hosts file of task ${taskId}: ${(err as Error).message}`, { cause: err })
    }
  }

  /**
   * Bring one container's hosts file and VIP rules in line with `view`; each is written only when its
   * text differs from the last written. Rules need the container running (a pid). A container that does
   * not mount this data plane's hosts file was not created through `createOptions` (another agent's on a
   * shared engine, or no task of flotilla's): it is left alone.
   */
  async program (c: TaskContainer, view: readonly NetworkView[]): Promise<void> {
    if (!c.hostsBound) return
    const networks = orderByView(c.networks, view)
    const text = hostsFile({ hostname: c.hostname, networks, view })
    const hostsHash = sha256(text)
    if (hostsHash !== c.hostsHash) {
      await writeInPlace(this.hostsPath(c.taskId), text)
      c.hostsHash = hostsHash
    }
    if (c.pid === undefined) return
    const byId = new Map(view.map(n => [n.id, n]))
    const rules = vipRules(networks.flatMap(n => { const v = byId.get(n.networkId); return v === undefined ? [] : [v] }))
    const vipHash = sha256(JSON.stringify(rules))
    if (vipHash === c.vipHash) return
    c.vipHash = undefined
    const saved = parseIptablesSave(await this.deps.commands.iptablesSave(c.pid))
    const input = renderRestore(saved, rules)
    if (input !== '') await this.deps.commands.iptablesRestore(input, c.pid)
    c.vipHash = vipHash
  }

  /**
   * One pass over the engine's running task containers: each attached to a programmed network is
   * programmed; containers no longer running are forgotten (their hosts files stay until `removed`).
   * Returns what failed; a container that stopped meanwhile is no failure.
   */
  async syncAll (view: readonly NetworkView[], ready: ReadonlyMap<string, ProgrammedNetwork>): Promise<FlotillaError[]> {
    let list: Docker.ContainerInfo[]
    try {
      list = await this.deps.docker.listContainers({ filters: { label: [LABELS.taskId], status: ['running'] } })
    } catch (err) {
      return [engineError('list the running task containers', err)]
    }
    const networkOf = new Map([...ready.values()].map(p => [p.engineId, p.view.id]))
    const running = new Set(list.map(c => c.Id))
    for (const id of [...this.byId.keys()]) if (!running.has(id)) this.byId.delete(id)
    const work = list.flatMap(info => {
      const taskId = info.Labels[LABELS.taskId] ?? ''
      const networks = Object.values(info.NetworkSettings?.Networks ?? {}).flatMap(n => {
        const networkId = networkOf.get(n.NetworkID)
        const ipam = n.IPAMConfig as { IPv4Address?: string } | null | undefined
        const address = n.IPAddress !== '' ? n.IPAddress : ipam?.IPv4Address ?? ''
        return networkId === undefined || address === '' ? [] : [{ networkId, address }]
      })
      return taskId === '' || (networks.length === 0 && !this.byId.has(info.Id)) ? [] : [{ containerId: info.Id, taskId, networks }]
    })
    const errors: FlotillaError[] = []
    await forEachLimited(work, PARALLEL, async w => {
      try {
        const c = await this.track(w.containerId, w.taskId, w.networks)
        if (c !== undefined) await this.program(c, view)
      } catch (err) {
        if (await this.stillRunning(w.containerId)) errors.push(asFlotillaError(err))
        else this.byId.delete(w.containerId)
      }
    })
    return errors
  }

  /** Inspect a container; undefined when it does not exist. */
  async inspect (containerId: string): Promise<Docker.ContainerInspectInfo | undefined> {
    try {
      return await this.deps.docker.getContainer(containerId).inspect()
    } catch (err) {
      if (engineStatus(err) === 404) return undefined
      throw engineError(`inspect container ${containerId.slice(0, 12)}`, err)
    }
  }

  private async stillRunning (containerId: string): Promise<boolean> {
    try {
      return (await this.inspect(containerId))?.State.Running === true
    } catch {
      // The engine did not answer: count the container as running, so the failure is reported.
      return true
    }
  }
}

/** A container's networks in the view's order (those missing from the view last, as given): the same order whichever way they were learnt. */
export function orderByView (networks: readonly HostsFileNetwork[], view: readonly NetworkView[]): HostsFileNetwork[] {
  const rank = new Map(view.map((n, i) => [n.id, i]))
  return networks
    .map((n, i) => ({ n: { networkId: n.networkId, address: bareAddress(n.address) }, r: rank.get(n.networkId) ?? view.length + i }))
    .sort((a, b) => a.r - b.r)
    .map(x => x.n)
}

async function forEachLimited<T> (items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++]!
      await fn(item)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
}
