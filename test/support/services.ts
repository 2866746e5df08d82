/**
 * What the service tests and the services bench share: Docker-shaped service specs, task listings from
 * an agent's socket, and the engine's view of task containers (by Swarm's labels) with their clean-up.
 */
import Docker from 'dockerode'
import { callSocket, waitFor, type AgentProcess, type ApiResult } from './agent-process.js'
import { ENGINE_SOCKET } from './docker-engine.js'
import { TEST_IMAGE } from './test-image.js'

/** The labels Swarm (and flotilla's executor) put on task containers. */
export const SERVICE_LABEL = 'com.docker.swarm.service.name'
export const NODE_LABEL = 'com.docker.swarm.node.id'
export const TASK_LABEL = 'com.docker.swarm.task.id'

/** A task as `GET /tasks` returns it, as far as tests read it. */
export interface TaskView {
  readonly ID: string
  readonly ServiceID: string
  readonly Slot?: number
  readonly NodeID?: string
  readonly DesiredState: string
  /** The TaskTemplate the task was made from. */
  readonly Spec?: { readonly ContainerSpec: { readonly Image: string } }
  readonly Status: {
    readonly State: string
    readonly Message?: string
    readonly Err?: string
    readonly Timestamp?: string
    readonly ContainerStatus?: { readonly ContainerID?: string, readonly ExitCode?: number }
  }
}

/** A container of the engine's list, as far as tests read it. */
export interface ContainerView {
  readonly id: string
  readonly name: string
  readonly state: string
  readonly nodeId: string
  readonly taskId: string
  readonly service: string
}

export interface SpecInit {
  readonly replicas?: number
  readonly global?: boolean
  /** ContainerSpec.Args (the image's CMD); default `sleep 3600`. */
  readonly args?: readonly string[]
  readonly image?: string
  readonly constraints?: readonly string[]
  readonly restart?: { Condition?: string, Delay?: number, MaxAttempts?: number, Window?: number }
  readonly reserveMemoryBytes?: number
  readonly ports?: ReadonlyArray<{ TargetPort: number, PublishedPort: number }>
  /** ContainerSpec.StopSignal; `sleep` as PID 1 ignores SIGTERM, so tests and the bench stop with SIGKILL. */
  readonly stopSignal?: string
  /** ContainerSpec.Healthcheck, durations in nanoseconds. */
  readonly healthcheck?: { Test: string[], Interval?: number, Timeout?: number, Retries?: number, StartPeriod?: number }
  readonly labels?: Readonly<Record<string, string>>
  readonly updateConfig?: Readonly<Record<string, unknown>>
}

/** A ServiceSpec in Docker's shape. Restart delay defaults to 0.5 s here (Docker's is 5 s). */
export function serviceSpec (name: string, init: SpecInit = {}): Record<string, unknown> {
  return {
    Name: name,
    ...(init.labels === undefined ? {} : { Labels: { ...init.labels } }),
    TaskTemplate: {
      ContainerSpec: {
        Image: init.image ?? TEST_IMAGE,
        Args: [...(init.args ?? ['sleep', '3600'])],
        StopSignal: init.stopSignal ?? 'SIGKILL',
        ...(init.healthcheck === undefined ? {} : { Healthcheck: init.healthcheck })
      },
      RestartPolicy: { Condition: 'any', Delay: 500_000_000, ...init.restart },
      ...(init.constraints === undefined ? {} : { Placement: { Constraints: [...init.constraints] } }),
      ...(init.reserveMemoryBytes === undefined ? {} : { Resources: { Reservations: { MemoryBytes: init.reserveMemoryBytes } } })
    },
    Mode: init.global === true ? { Global: {} } : { Replicated: { Replicas: init.replicas ?? 1 } },
    ...(init.updateConfig === undefined ? {} : { UpdateConfig: { ...init.updateConfig } }),
    ...(init.ports === undefined ? {} : { EndpointSpec: { Ports: init.ports.map(p => ({ Protocol: 'tcp', PublishMode: 'host', ...p })) } })
  }
}

/** `GET /tasks?filters={"service":[service]}` on an agent's socket; throws on anything but 200. */
export async function tasksOf (agent: AgentProcess, service: string, timeoutMs = 5_000): Promise<TaskView[]> {
  const r = await callSocket(agent.socket, 'GET', `/tasks?filters=${encodeURIComponent(JSON.stringify({ service: [service] }))}`, undefined, timeoutMs)
  if (r.status !== 200 || !Array.isArray(r.body)) throw new Error(`GET /tasks for ${service} on ${agent.hostname}: ${describeResult(r)}`)
  return r.body as TaskView[]
}

/** Tasks whose desired and observed states are both running. */
export function running (tasks: readonly TaskView[]): TaskView[] {
  return tasks.filter(t => t.DesiredState === 'running' && t.Status.State === 'running')
}

/** Wait until exactly `n` tasks of `service` are meant to run and all of them do, as `via` lists them; returns them. */
export async function waitRunningTasks (via: AgentProcess, service: string, n: number, timeoutMs = 30_000): Promise<TaskView[]> {
  return await waitFor(`${n} running tasks of ${service}`, async () => {
    const tasks = await tasksOf(via, service)
    const desired = tasks.filter(t => t.DesiredState === 'running')
    return desired.length === n && running(tasks).length === n ? desired : false
  }, timeoutMs)
}

/**
 * A test's clean-up: remove every service through `via`, then wait until the engine lists no task
 * container of `nodeIds` (other agents may share the engine). Throws on a refused removal.
 */
export async function removeAllServices (via: AgentProcess, docker: Docker, nodeIds: Iterable<string>, timeoutMs = 30_000): Promise<void> {
  for (const s of (await via.api('GET', '/services')).body as Array<{ ID: string }>) {
    const r = await via.api('DELETE', `/services/${s.ID}`)
    if (r.status !== 200) throw new Error(`DELETE /services/${s.ID} on ${via.hostname}: ${describeResult(r)}`)
  }
  const ids = [...nodeIds]
  await waitFor('no task container left on the engine', async () => {
    for (const id of ids) if ((await taskContainers(docker, [`${NODE_LABEL}=${id}`])).length > 0) return false
    return true
  }, timeoutMs)
}

/** `GET /services/{ref}`; throws on anything but 200. */
export async function inspectService (agent: AgentProcess, ref: string): Promise<{ ID: string, Version: { Index: number }, Spec: any }> {
  const r = await agent.api('GET', `/services/${encodeURIComponent(ref)}`)
  if (r.status !== 200) throw new Error(`GET /services/${ref} on ${agent.hostname}: ${describeResult(r)}`)
  return r.body
}

/** Set a replicated service's replica count with `POST /services/{id}/update?version=N` (read, then write). */
export async function scaleThrough (agent: AgentProcess, ref: string, replicas: number, timeoutMs = 30_000): Promise<ApiResult> {
  const s = await inspectService(agent, ref)
  const spec = { ...s.Spec, Mode: { Replicated: { Replicas: replicas } } }
  return await callSocket(agent.socket, 'POST', `/services/${s.ID}/update?version=${s.Version.Index}`, spec, timeoutMs)
}

/** Status and message of an answer, for assertion messages. */
export function describeResult (r: ApiResult): string {
  return `${r.status} ${JSON.stringify(r.body)}`
}

/** The engine the tests share. */
export function engine (): Docker {
  return new Docker({ socketPath: ENGINE_SOCKET, timeout: 30_000 })
}

/** The engine's task containers matching every `label` filter (`key` or `key=value`), running or not. */
export async function taskContainers (docker: Docker, labels: readonly string[], onlyRunning = false): Promise<ContainerView[]> {
  const list = await docker.listContainers({ all: !onlyRunning, filters: { label: [...labels] } })
  return list.map(c => ({
    id: c.Id,
    name: (c.Names[0] ?? '').replace(/^\//, ''),
    state: c.State,
    nodeId: c.Labels[NODE_LABEL] ?? '',
    taskId: c.Labels[TASK_LABEL] ?? '',
    service: c.Labels[SERVICE_LABEL] ?? ''
  }))
}

/** `docker rm -f` every container matching the label filters; returns how many were removed. */
export async function removeContainers (docker: Docker, labels: readonly string[]): Promise<number> {
  const list = await docker.listContainers({ all: true, filters: { label: [...labels] } })
  await Promise.all(list.map(async c => {
    try {
      await docker.getContainer(c.Id).remove({ force: true, v: true })
    } catch (err) {
      const code = (err as { statusCode?: number }).statusCode
      // 404: already gone; 409: removal already in progress.
      if (code !== 404 && code !== 409) throw err
    }
  }))
  return list.length
}

/** Count per key, e.g. tasks per NodeID: `{ a: 2, b: 2 }`. */
export function countBy<T> (xs: readonly T[], key: (x: T) => string): Record<string, number> {
  const out: Record<string, number> = {}
  for (const x of xs) out[key(x)] = (out[key(x)] ?? 0) + 1
  return out
}
