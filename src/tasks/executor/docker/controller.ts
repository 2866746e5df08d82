import type Docker from 'dockerode'
import { FlotillaError, asFlotillaError } from '../../../membership/index.js'
import type { ContainerStatus, ExitStatus, TaskController, TaskDescription } from '../types.js'
import { LABELS, containerName, createOptions, engineError, engineMessage, engineStatus, healthcheckDisabled, healthcheckEnabled } from './containers.js'
import type { EngineEvents } from './events.js'
import type { DataPlane } from '../network-view.js'
import type { TaskFiles } from './task-files.js'

/** What a Docker controller uses: the engine for short calls, for calls that may stay silent (stop), and the node's events. */
export interface DockerControllerDeps {
  /** Requests with an idle timeout. */
  readonly docker: Docker
  /** Requests without one: `stop` answers only after the grace period. */
  readonly slowDocker: Docker
  readonly events: EngineEvents
  /** The node's overlay data plane; null: a task attached to a network is rejected. */
  readonly dataPlane?: DataPlane | null
  /** Where secret and config files go; null: a task that references one is rejected. */
  readonly files?: TaskFiles | null
}

/** Container states from which a container will not run again by itself. */
const EXITED = new Set(['exited', 'dead', 'removing'])

/**
 * One task's container on a Docker engine (SwarmKit's daemon/cluster/executor/container controller). The
 * container is addressed by its name, `<service>.<slot>.<taskId>`, so a controller built after an
 * agent restart finds the container of an earlier one.
 */
export class DockerController implements TaskController {
  readonly name: string

  constructor (private readonly deps: DockerControllerDeps, readonly task: TaskDescription) {
    this.name = containerName(task)
  }

  /**
   * Create the container unless this task's already exists. The image is pulled only when the engine
   * lacks it; a failed pull is not retryable (the task is rejected) and carries the engine's message.
   * A container of that name belonging to another task or node is a non-retryable `conflict`.
   * The create is tried first: when the image is there and the container is not (nearly always), that
   * is the one engine call, where checking both first would be three, and the engine's calls are what
   * bounds how fast a node starts many tasks.
   */
  async prepare (): Promise<void> {
    const plane = this.plane()
    const binds = [...(plane === null ? [] : (await plane.createOptions(this.attachable())).binds), ...await this.fileBinds()]
    for (let attempt = 1; ; attempt++) {
      try {
        const created = await this.deps.docker.createContainer(createOptions(this.task, binds))
        if (plane !== null) await plane.attach(this.attachable(), created.id)
        return
      } catch (err) {
        if (err instanceof FlotillaError) throw err // the data plane's, already explained
        const status = engineStatus(err)
        if (status === 409) {
          const existing = await this.inspectInfo()
          if (existing !== undefined) {
            this.checkOwned(existing)
            if (plane !== null) await plane.attach(this.attachable(), existing.Id)
            return
          }
          // Removed between the create and the inspect: create again.
        } else if (status === 404 && attempt === 1) {
          // No such image: pull it (a failure rejects the task), then create again.
          await pullImage(this.deps.slowDocker, this.task.spec.Image)
        } else {
          throw engineError(`create container ${this.name}`, err)
        }
        if (attempt >= 3) throw engineError(`create container ${this.name}`, err)
      }
    }
  }

  /**
   * Start the container. With a health check, resolve only once the engine reports it healthy
   * (SwarmKit's controller Start): the task stays 'starting' meanwhile. Should it turn unhealthy first,
   * the container is stopped and the start rejects, not retryable, with the exit and
   * "dockerexec: unhealthy container"; should it exit by itself first, a non-zero exit rejects the same
   * way and a zero exit resolves (the wait then finds it exited). A dropped events stream rejects,
   * retryable: starting again finds the container started and waits on.
   *
   * Whether there is a check is read, as SwarmKit does, from the container the engine created: its
   * effective Healthcheck merges the image's HEALTHCHECK with the spec's (`healthcheckEnabled`). The
   * inspect that follows the start tells, so a spec without a Test costs that one inspect; a spec Test of
   * `['NONE']` settles it without one.
   */
  async start (): Promise<void> {
    if (healthcheckDisabled(this.task)) {
      await this.startContainer()
      return
    }
    await this.deps.events.ready()
    await new Promise<void>((resolve, reject) => {
      let settled = false
      let unhealthy = false
      const finish = (err?: unknown): void => {
        if (settled) return
        settled = true
        unsubscribe()
        if (err === undefined) resolve()
        else reject(asFlotillaError(err))
      }
      const onExit = (info: Docker.ContainerInspectInfo): void => {
        const exit = exitStatus(info)
        if (!unhealthy && exit.exitCode === 0) { finish(); return }
        const cause = unhealthy ? unhealthyMessage(info) : exit.error
        finish(new FlotillaError('internal', `task: non-zero exit (${exit.exitCode})${cause === '' ? '' : `: ${cause}`}`))
      }
      const check = async (): Promise<void> => {
        try {
          const info = await this.inspectInfo()
          if (info === undefined) finish(new FlotillaError('not-found', `container ${this.name} was removed`))
          // No check, from the image or the spec: started is all there is to wait for; the wait reads any exit.
          else if (!healthcheckEnabled(info.Config.Healthcheck?.Test)) finish()
          else if (EXITED.has(info.State.Status)) onExit(info)
          else if (info.State.Health?.Status === 'healthy') finish()
          else if (info.State.Health?.Status === 'unhealthy') stopUnhealthy()
        } catch (err) {
          finish(err)
        }
      }
      const stopUnhealthy = (): void => {
        if (unhealthy) return
        unhealthy = true
        void this.shutdown().then(check, finish)
      }
      // Subscribe before starting, so that no health_status or die event is missed.
      const unsubscribe = this.deps.events.subscribe(this.name, event => {
        if (event.kind === 'lost') finish(event.error)
        else if (event.action === 'health_status: healthy') { if (!unhealthy) finish() }
        else if (event.action === 'health_status: unhealthy') stopUnhealthy()
        else if (event.action === 'die' || event.action === 'destroy') void check()
      })
      void this.startContainer().then(check, finish)
    })
  }

  private async startContainer (): Promise<void> {
    try {
      await this.deps.docker.getContainer(this.name).start()
    } catch (err) {
      if (engineStatus(err) !== 304) throw engineError(`start container ${this.name}`, err)
      // 304: already started
    }
    const plane = this.plane()
    if (plane === null) return
    // The VIP rules live in the container's network namespace, which exists once it runs.
    const info = await this.inspectInfo()
    if (info !== undefined && info.State.Pid > 0) await plane.started(this.attachable(), info.Id, info.State.Pid)
  }

  /** Write the task's secret and config files; their binds. */
  private async fileBinds (): Promise<string[]> {
    if ((this.task.spec.Secrets ?? []).length + (this.task.spec.Configs ?? []).length === 0) return []
    const files = this.deps.files ?? null
    if (files === null) throw new FlotillaError('unavailable', `task ${this.task.taskId} references secrets or configs, but this node's executor keeps no task files`)
    return await files.prepare(this.task)
  }

  /** The data plane, when the task attaches to a network; throws, not retryable, when this node has none. */
  private plane (): DataPlane | null {
    if ((this.task.networks ?? []).length === 0) return null
    const plane = this.deps.dataPlane ?? null
    if (plane === null) {
      throw new FlotillaError('unavailable', `task ${this.task.taskId} attaches to overlay networks, but this node's executor has no data plane`, {
        hint: 'run the agent as root with iproute2 and iptables installed'
      })
    }
    return plane
  }

  private attachable (): { readonly taskId: string, readonly networks: NonNullable<TaskDescription['networks']> } {
    return { taskId: this.task.taskId, networks: this.task.networks ?? [] }
  }

  /**
   * Follow the node's events stream until this container dies, then read its exit from the engine. A
   * container already exited resolves at once. Rejects, retryable, when `signal` aborts or the stream
   * drops; with a non-retryable `not-found` when the container is removed. A container whose health
   * check turns unhealthy (or is found unhealthy) is stopped (SwarmKit's controller Wait), and its exit
   * carries the error "dockerexec: unhealthy container"; should it still exit 0, the wait rejects, not
   * retryable, with that message, so that the task fails either way.
   */
  async wait (signal?: AbortSignal): Promise<ExitStatus> {
    const exit = await this.waitExit(signal)
    await this.dropSecrets()
    return exit
  }

  /**
   * A task's secrets leave the node when its container stops (as dockerd unmounts a stopped container's
   * secrets): a stopped container is never started again, a new task gets a new one. Its configs stay
   * until the container is removed.
   */
  private async dropSecrets (): Promise<void> {
    if ((this.task.spec.Secrets ?? []).length > 0) await this.deps.files?.removeSecrets(this.task.taskId)
  }

  private async waitExit (signal?: AbortSignal): Promise<ExitStatus> {
    const interrupted = (): FlotillaError =>
      new FlotillaError('unavailable', `wait for ${this.name} interrupted`, { retryable: true, cause: signal?.reason })
    if (signal?.aborted === true) throw interrupted()
    await this.deps.events.ready()
    return await new Promise<ExitStatus>((resolve, reject) => {
      let settled = false
      const finish = (settle: () => void): void => {
        if (settled) return
        settled = true
        unsubscribe()
        signal?.removeEventListener('abort', onAbort)
        settle()
      }
      const onAbort = (): void => { finish(() => { reject(interrupted()) }) }
      let unhealthy = false
      const check = async (): Promise<void> => {
        try {
          const info = await this.inspectInfo()
          if (info === undefined) {
            finish(() => { reject(new FlotillaError('not-found', `container ${this.name} was removed`)) })
          } else if (EXITED.has(info.State.Status)) {
            const exit = exitStatus(info)
            if (!unhealthy) finish(() => { resolve(exit) })
            else if (exit.exitCode !== 0) finish(() => { resolve({ ...exit, error: unhealthyMessage(info) }) })
            else finish(() => { reject(new FlotillaError('internal', `task: ${unhealthyMessage(info)}`)) })
          } else if (info.State.Health?.Status === 'unhealthy') {
            stopUnhealthy()
          }
        } catch (err) {
          finish(() => { reject(asFlotillaError(err)) })
        }
      }
      const stopUnhealthy = (): void => {
        if (unhealthy) return
        unhealthy = true
        void this.shutdown().then(check, (err: unknown) => { finish(() => { reject(asFlotillaError(err)) }) })
      }
      // Subscribe before the first inspect, so that a death between the two is not missed.
      const unsubscribe = this.deps.events.subscribe(this.name, event => {
        if (event.kind === 'lost') finish(() => { reject(event.error) })
        else if (event.action === 'health_status: unhealthy') stopUnhealthy()
        else if (event.action === 'die' || event.action === 'destroy') void check()
      })
      signal?.addEventListener('abort', onAbort, { once: true })
      void check()
    })
  }

  /** `docker stop`: the container's StopSignal, then SIGKILL after its StopTimeout (both set from the spec at create). */
  async shutdown (): Promise<void> {
    await this.stopContainer()
    await this.dropSecrets()
  }

  private async stopContainer (): Promise<void> {
    try {
      await this.deps.slowDocker.getContainer(this.name).stop()
    } catch (err) {
      const status = engineStatus(err)
      if (status === 304 || status === 404) return // already stopped, or never created
      throw engineError(`stop container ${this.name}`, err)
    }
  }

  async remove (): Promise<void> {
    try {
      await this.deps.slowDocker.getContainer(this.name).remove({ force: true, v: true })
    } catch (err) {
      if (engineStatus(err) !== 404) {
        const e = engineError(`remove container ${this.name}`, err)
        // 409: a removal is already in progress; the next attempt finds it done.
        throw e.code === 'conflict' ? new FlotillaError('conflict', e.message, { retryable: true, cause: err }) : e
      }
    }
    if ((this.task.networks ?? []).length > 0) await this.deps.dataPlane?.removed(this.task.taskId)
    // Its secrets leave the node with the container.
    await this.deps.files?.remove(this.task.taskId)
  }

  async inspect (): Promise<ContainerStatus | undefined> {
    const info = await this.inspectInfo()
    if (info === undefined) return undefined
    const s = info.State
    const state = EXITED.has(s.Status) ? 'exited' : s.Status === 'created' ? 'created' : s.Status === 'paused' ? 'paused' : 'running'
    const at = Date.parse(state === 'exited' ? s.FinishedAt : state === 'created' ? info.Created : s.StartedAt)
    return {
      taskId: this.task.taskId,
      containerId: info.Id,
      state,
      timestampMs: Number.isNaN(at) ? 0 : at,
      ...(state === 'exited' ? { exitCode: s.ExitCode, error: exitStatus(info).error } : {})
    }
  }

  /**
   * Report each state change of the container from the node's events stream, in order: create, start,
   * pause, unpause, die (with the exit code and the engine's error text) and destroy. Should the stream
   * drop, changes until the next `ready` (a wait, another subscribe) are replayed by the engine then.
   */
  async subscribe (listener: (status: ContainerStatus) => void): Promise<() => void> {
    await this.deps.events.ready()
    let queue = Promise.resolve()
    let active = true
    const emit = (status: ContainerStatus): void => { if (active) listener(status) }
    const unsubscribe = this.deps.events.subscribe(this.name, event => {
      if (event.kind !== 'event') return
      const state = STATE_OF_ACTION[event.action]
      if (state === undefined) return
      const base = { taskId: this.task.taskId, containerId: event.containerId, state, timestampMs: Number(event.timeNano / 1_000_000n) }
      if (state !== 'exited') {
        queue = queue.then(() => { emit(base) })
        return
      }
      const exitCode = Number(event.attributes.exitCode ?? '0')
      // The die event carries the exit code but not the error text: read it, keeping events in order.
      queue = queue.then(async () => {
        let error = ''
        try {
          const info = await this.inspectInfo()
          if (info !== undefined) error = exitStatus(info).error
        } catch (err) {
          error = `could not inspect the container: ${engineMessage(err)}`
        }
        emit({ ...base, exitCode, error })
      })
    })
    return () => { active = false; unsubscribe() }
  }

  private async inspectInfo (): Promise<Docker.ContainerInspectInfo | undefined> {
    try {
      return await this.deps.docker.getContainer(this.name).inspect()
    } catch (err) {
      if (engineStatus(err) === 404) return undefined
      throw engineError(`inspect container ${this.name}`, err)
    }
  }

  private checkOwned (info: Docker.ContainerInspectInfo): void {
    const labels = info.Config.Labels ?? {}
    if (labels[LABELS.taskId] !== this.task.taskId || labels[LABELS.nodeId] !== this.task.nodeId) {
      throw new FlotillaError('conflict', `container name ${this.name} is taken by container ${info.Id.slice(0, 12)} of another task or node`, {
        hint: 'remove that container'
      })
    }
  }
}

const STATE_OF_ACTION: Readonly<Record<string, ContainerStatus['state']>> = {
  create: 'created', start: 'running', pause: 'paused', unpause: 'running', die: 'exited', destroy: 'removed'
}

/** A container's exit as the engine recorded it. */
function exitStatus (info: Docker.ContainerInspectInfo): ExitStatus {
  const s = info.State
  return {
    exitCode: s.ExitCode,
    error: s.Error !== '' ? s.Error : s.OOMKilled ? 'OOM killed' : '',
    startedAt: s.StartedAt,
    finishedAt: s.FinishedAt
  }
}

/**
 * SwarmKit's error for a container whose health check failed, with the last check's exit code and
 * output (from the engine's health log) when there is one.
 */
function unhealthyMessage (info: Docker.ContainerInspectInfo): string {
  const last = info.State.Health?.Log.at(-1)
  if (last === undefined) return 'dockerexec: unhealthy container'
  const output = last.Output.trim().replace(/\s+/g, ' ').slice(0, 200)
  return `dockerexec: unhealthy container (last check exited ${last.ExitCode}${output === '' ? '' : `: ${output}`})`
}

/**
 * Pull `image`, following the progress stream to its end. The engine reports a failure either as the
 * answer's status or as an `error` line in the stream; both become a non-retryable `not-found` with the
 * engine's message. Only an engine that does not answer is retryable.
 */
async function pullImage (docker: Docker, image: string): Promise<void> {
  const failed = (message: string, cause?: unknown): FlotillaError =>
    new FlotillaError('not-found', `pull ${image}: ${message}`, { cause, hint: 'check the image name, and that the node can reach its registry' })
  let stream: NodeJS.ReadableStream
  try {
    stream = await docker.pull(image)
  } catch (err) {
    if (engineStatus(err) === undefined) throw engineError(`pull ${image}`, err)
    throw failed(engineMessage(err), err)
  }
  await new Promise<void>((resolve, reject) => {
    docker.modem.followProgress(stream, (err: Error | null, output: Array<{ error?: string, errorDetail?: { message?: string } }>) => {
      if (err !== null) { reject(failed(err.message, err)); return }
      const bad = output.find(o => o.error !== undefined)
      if (bad !== undefined) { reject(failed(bad.errorDetail?.message ?? bad.error ?? 'failed')); return }
      resolve()
    })
  })
}
