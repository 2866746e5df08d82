// Before dockerode: docker-modem's ssh transport (and ssh2) then loads only if an ssh:// engine is used.
import './lazy-ssh.js'
import Docker from 'dockerode'
import { FlotillaError, type Logger, type NodeDescription } from '../../../membership/index.js'
import type { DataPlane } from '../network-view.js'
import { DockerDataPlane } from './overlay/data-plane.js'
import { TaskFiles, type TaskFilesInit } from './task-files.js'
import { hostDescription } from '../host-description.js'
import type { AdoptResult, AdoptedTask, Executor, LogLine, LogOptions, LogSelector, TaskController, TaskDescription, TaskState } from '../types.js'
import { LABELS, engineError, engineStatus, nodeFilter } from './containers.js'
import { DockerController } from './controller.js'
import { EngineEvents } from './events.js'
import { readNodeLogs } from './logs.js'

/** How long the engine may take to answer `GET /info` before it counts as unavailable. */
const ENGINE_TIMEOUT_MS = 3000
/** How long a task call (inspect, create, start, remove) may stay silent before the engine counts as unavailable. */
const CALL_TIMEOUT_MS = 60_000

/**
 * Parse a Docker host URL as the docker CLI takes it: unix:///path, tcp://host:port (or http://), or a
 * bare socket path. Throws `invalid-argument` otherwise.
 */
export function dockerOptions (url: string): Docker.DockerOptions {
  if (url.startsWith('unix://')) return { socketPath: url.slice('unix://'.length), timeout: ENGINE_TIMEOUT_MS }
  if (url.startsWith('/')) return { socketPath: url, timeout: ENGINE_TIMEOUT_MS }
  const m = /^(tcp|http):\/\/([^:/]+):(\d+)\/?$/.exec(url)
  if (m !== null) return { protocol: 'http', host: m[2]!, port: Number(m[3]), timeout: ENGINE_TIMEOUT_MS }
  throw new FlotillaError('invalid-argument', `docker host "${url}" is not unix:///path or tcp://host:port`)
}

/**
 * The executor backed by one Docker engine through dockerode. Task containers carry Docker swarm's labels
 * and names; this executor touches only containers labelled with the node ID it is given, so agents
 * may share an engine. Each node ID gets one events stream, opened on its first wait.
 */
export class DockerExecutor implements Executor {
  private readonly docker: Docker
  private readonly calls: Docker
  private readonly slow: Docker
  private readonly events = new Map<string, EngineEvents>()
  readonly dataPlane: DataPlane | null
  private readonly files: TaskFiles | null

  /**
   * `overlay`: where the data plane keeps its files, and its logger; without it the executor has no data
   * plane. `files`: where task secrets (a tmpfs) and configs go; without it tasks that reference one are rejected.
   */
  constructor (readonly dockerHost: string, overlay?: { readonly stateDir: string, readonly logger: Logger }, files?: TaskFilesInit) {
    const options = dockerOptions(dockerHost)
    this.docker = new Docker(options)
    this.calls = new Docker({ ...options, timeout: CALL_TIMEOUT_MS })
    this.slow = new Docker({ ...options, timeout: undefined })
    this.dataPlane = overlay === undefined ? null : new DockerDataPlane({ docker: this.calls, stateDir: overlay.stateDir, logger: overlay.logger })
    this.files = files === undefined ? null : new TaskFiles(files)
  }

  async wipeTaskFiles (): Promise<void> {
    await this.files?.wipe()
  }

  controller (task: TaskDescription): TaskController {
    return new DockerController({ docker: this.calls, slowDocker: this.slow, events: this.eventsOf(task.nodeId), dataPlane: this.dataPlane, files: this.files }, task)
  }

  async adopt (nodeId: string, assigned: ReadonlySet<string>): Promise<AdoptResult> {
    let list: Docker.ContainerInfo[]
    try {
      list = await this.calls.listContainers({ all: true, filters: { label: [nodeFilter(nodeId)] } })
    } catch (err) {
      throw engineError(`list the containers of node ${nodeId}`, err)
    }
    const adopted: AdoptedTask[] = []
    const removed: string[] = []
    for (const c of list) {
      if (c.Labels[LABELS.nodeId] !== nodeId) continue
      const taskId = c.Labels[LABELS.taskId] ?? ''
      if (taskId !== '' && assigned.has(taskId)) {
        const found = await this.adoptOne(c.Id, taskId)
        if (found !== undefined) adopted.push(found)
        continue
      }
      try {
        await this.slow.getContainer(c.Id).remove({ force: true, v: true })
      } catch (err) {
        if (engineStatus(err) !== 404) throw engineError(`remove container ${c.Id.slice(0, 12)} of unassigned task ${taskId}`, err)
      }
      removed.push(c.Id)
    }
    return { adopted, removed }
  }

  logs (nodeId: string, selector: LogSelector, options: LogOptions, signal: AbortSignal): AsyncIterable<LogLine> {
    return readNodeLogs({ calls: this.calls, slow: this.slow }, nodeId, selector, options, signal)
  }

  async close (): Promise<void> {
    for (const e of this.events.values()) e.close()
    this.events.clear()
  }

  private eventsOf (nodeId: string): EngineEvents {
    let e = this.events.get(nodeId)
    if (e === undefined) this.events.set(nodeId, e = new EngineEvents(this.slow, nodeId))
    return e
  }

  /** The observed state to resume an assigned task's container from; undefined when it vanished meanwhile. */
  private async adoptOne (containerId: string, taskId: string): Promise<AdoptedTask | undefined> {
    let info: Docker.ContainerInspectInfo
    try {
      info = await this.calls.getContainer(containerId).inspect()
    } catch (err) {
      if (engineStatus(err) === 404) return undefined
      throw engineError(`inspect container ${containerId.slice(0, 12)}`, err)
    }
    const s = info.State
    if (s.Status === 'created') return { taskId, containerId, observed: 'ready' }
    if (s.Status !== 'exited' && s.Status !== 'dead' && s.Status !== 'removing') return { taskId, containerId, observed: 'running' }
    const observed: TaskState = s.ExitCode === 0 ? 'complete' : 'failed'
    return {
      taskId,
      containerId,
      observed,
      exit: { exitCode: s.ExitCode, error: s.Error !== '' ? s.Error : s.OOMKilled ? 'OOM killed' : '', startedAt: s.StartedAt, finishedAt: s.FinishedAt }
    }
  }

  async describe (): Promise<NodeDescription> {
    try {
      const info = await this.docker.info() as {
        ServerVersion?: string, OSType?: string, Architecture?: string, NCPU?: number, MemTotal?: number, Labels?: string[]
      }
      const labels: Record<string, string> = {}
      for (const l of info.Labels ?? []) {
        const i = l.indexOf('=')
        if (i > 0) labels[l.slice(0, i)] = l.slice(i + 1)
      }
      const host = hostDescription({ state: 'available', version: info.ServerVersion ?? '', labels })
      return {
        ...host,
        os: info.OSType ?? host.os,
        arch: info.Architecture ?? host.arch,
        nanoCpus: (info.NCPU ?? 0) > 0 ? info.NCPU! * 1_000_000_000 : host.nanoCpus,
        memoryBytes: (info.MemTotal ?? 0) > 0 ? info.MemTotal! : host.memoryBytes
      }
    } catch (err) {
      return hostDescription({ state: 'unavailable', message: `Docker engine at ${this.dockerHost} does not answer: ${(err as Error).message}` })
    }
  }
}
