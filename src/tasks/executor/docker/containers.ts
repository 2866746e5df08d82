import type Docker from 'dockerode'
import { FlotillaError } from '../../../membership/index.js'
import type { TaskDescription } from '../types.js'

/** The labels Docker's swarm puts on task containers (daemon/cluster/executor/container), so `docker ps --filter label=…` works. */
export const LABELS = {
  nodeId: 'com.docker.swarm.node.id',
  serviceId: 'com.docker.swarm.service.id',
  serviceName: 'com.docker.swarm.service.name',
  task: 'com.docker.swarm.task',
  taskId: 'com.docker.swarm.task.id',
  taskName: 'com.docker.swarm.task.name',
  taskSlot: 'com.docker.swarm.task.slot'
} as const

/** Swarm's task name, which is also the container's: `<service>.<slot>.<taskId>`, the node ID in place of the slot for a global task. */
export function containerName (task: TaskDescription): string {
  return `${task.serviceName}.${task.slot ?? task.nodeId}.${task.taskId}`
}

/** The container's labels: the spec's, then the swarm labels over them. A global task has no slot label. */
export function taskLabels (task: TaskDescription): Record<string, string> {
  return {
    ...task.spec.Labels,
    [LABELS.nodeId]: task.nodeId,
    [LABELS.serviceId]: task.serviceId,
    [LABELS.serviceName]: task.serviceName,
    [LABELS.task]: '',
    [LABELS.taskId]: task.taskId,
    [LABELS.taskName]: containerName(task),
    ...(task.slot === null ? {} : { [LABELS.taskSlot]: String(task.slot) })
  }
}

/** The engine's filter for this node's containers (and their events). */
export function nodeFilter (nodeId: string): string {
  return `${LABELS.nodeId}=${nodeId}`
}

/**
 * The engine's create request for a task, as SwarmKit's container adapter builds it: Command → Entrypoint
 * (when non-empty), Args → Cmd, limits to NanoCpus/Memory, the memory reservation to MemoryReservation,
 * StopGracePeriod rounded up to whole seconds, host-mode ports to PortBindings, Healthcheck as given, `binds`
 * (the data plane's) to Binds. No restart policy: the
 * orchestrator restarts tasks.
 */
export function createOptions (task: TaskDescription, binds: readonly string[] = []): Docker.ContainerCreateOptions {
  const spec = task.spec
  const exposed: Record<string, object> = {}
  const bindings: Record<string, Array<{ HostIp: string, HostPort: string }>> = {}
  for (const p of task.ports ?? []) {
    const key = `${p.TargetPort}/${p.Protocol ?? 'tcp'}`
    exposed[key] = {}
    const list = bindings[key] ?? (bindings[key] = [])
    list.push({ HostIp: '', HostPort: p.PublishedPort === 0 ? '' : String(p.PublishedPort) })
  }
  const limits = task.resources?.Limits
  const reservations = task.resources?.Reservations
  const opts: Docker.ContainerCreateOptions = {
    name: containerName(task),
    Image: spec.Image,
    Labels: taskLabels(task),
    HostConfig: {
      RestartPolicy: { Name: 'no' },
      ...(limits?.NanoCPUs !== undefined && limits.NanoCPUs > 0 ? { NanoCpus: limits.NanoCPUs } : {}),
      ...(limits?.MemoryBytes !== undefined && limits.MemoryBytes > 0 ? { Memory: limits.MemoryBytes } : {}),
      ...(reservations?.MemoryBytes !== undefined && reservations.MemoryBytes > 0 ? { MemoryReservation: reservations.MemoryBytes } : {}),
      ...(Object.keys(bindings).length > 0 ? { PortBindings: bindings } : {}),
      // The data plane's files (the hosts file that carries the service names).
      ...(binds.length > 0 ? { Binds: [...binds] } : {})
    }
  }
  if (spec.Command !== undefined && spec.Command.length > 0) opts.Entrypoint = [...spec.Command]
  if (spec.Args !== undefined && spec.Args.length > 0) opts.Cmd = [...spec.Args]
  if (spec.Env !== undefined) opts.Env = [...spec.Env]
  if (spec.Dir !== undefined && spec.Dir !== '') opts.WorkingDir = spec.Dir
  if (spec.User !== undefined && spec.User !== '') opts.User = spec.User
  if (spec.Hostname !== undefined && spec.Hostname !== '') opts.Hostname = spec.Hostname
  if (spec.StopSignal !== undefined && spec.StopSignal !== '') opts.StopSignal = spec.StopSignal
  if (spec.StopGracePeriod !== undefined) opts.StopTimeout = stopTimeoutSeconds(spec.StopGracePeriod)
  if (Object.keys(exposed).length > 0) opts.ExposedPorts = exposed
  const hc = spec.Healthcheck
  if (hc !== undefined) {
    opts.Healthcheck = {
      ...(hc.Test !== undefined ? { Test: [...hc.Test] } : {}),
      ...(hc.Interval !== undefined ? { Interval: hc.Interval } : {}),
      ...(hc.Timeout !== undefined ? { Timeout: hc.Timeout } : {}),
      ...(hc.Retries !== undefined ? { Retries: hc.Retries } : {}),
      ...(hc.StartPeriod !== undefined ? { StartPeriod: hc.StartPeriod } : {})
    }
  }
  return opts
}

/**
 * Whether a health check's Test is one to wait for (SwarmKit's controller, isHealthCheckEnabled): neither
 * missing, empty nor `['NONE']`. Give it the created container's effective Test (`docker inspect`
 * .Config.Healthcheck.Test: the image's HEALTHCHECK merged with the spec's), not the spec's: a spec
 * without a Test leaves the image's in force.
 */
export function healthcheckEnabled (test: readonly string[] | null | undefined): boolean {
  return test !== undefined && test !== null && test.length > 0 && test[0] !== 'NONE'
}

/**
 * Whether the spec alone settles that the container has no health check to wait for: its Test is
 * `['NONE']`, which also disables the image's. Otherwise only the created container tells (`healthcheckEnabled`).
 */
export function healthcheckDisabled (task: TaskDescription): boolean {
  return task.spec.Healthcheck?.Test?.[0] === 'NONE'
}

/** A grace period in nanoseconds as the engine's whole seconds, rounded up so that a short grace is not zero. */
export function stopTimeoutSeconds (gracePeriodNs: number): number {
  return Math.max(0, Math.ceil(gracePeriodNs / 1e9))
}

/** The HTTP status of a dockerode error, if the engine answered. */
export function engineStatus (err: unknown): number | undefined {
  const code = (err as { statusCode?: unknown } | null)?.statusCode
  return typeof code === 'number' ? code : undefined
}

/** The engine's own message for a dockerode error (its JSON `message`), else the error's. */
export function engineMessage (err: unknown): string {
  const json = (err as { json?: unknown } | null)?.json
  if (typeof json === 'object' && json !== null && typeof (json as { message?: unknown }).message === 'string') {
    return (json as { message: string }).message
  }
  if (json instanceof Buffer || typeof json === 'string') {
    const text = json.toString().trim()
    if (text !== '') return text
  }
  return err instanceof Error ? err.message : String(err)
}

/**
 * A dockerode error as a FlotillaError: 404 → not-found, 409 → conflict, 400 → invalid-argument, other
 * answers → internal; no answer (connection refused, reset, timed out) → unavailable and retryable.
 */
export function engineError (what: string, err: unknown): FlotillaError {
  const status = engineStatus(err)
  const message = `${what}: ${engineMessage(err)}`
  if (status === undefined) {
    return new FlotillaError('unavailable', message, { retryable: true, cause: err, hint: 'check that the Docker engine is running' })
  }
  const code = status === 404 ? 'not-found' : status === 409 ? 'conflict' : status === 400 ? 'invalid-argument' : 'internal'
  return new FlotillaError(code, message, { cause: err })
}
