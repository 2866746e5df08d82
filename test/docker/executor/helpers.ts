import Docker from 'dockerode'
import { randomBytes } from 'node:crypto'
import { DockerExecutor } from '../../../src/tasks/executor/docker/docker-executor.js'
import { LABELS } from '../../../src/tasks/executor/docker/containers.js'
import type { TaskStep } from '../../../src/tasks/executor/task-step.js'
import { TaskRunner } from '../../../src/tasks/executor/task-runner.js'
import type { ContainerSpec, DesiredState, TaskController, TaskDescription, TaskState } from '../../../src/tasks/executor/types.js'
import { ENGINE_SOCKET, requireEngine } from '../../support/docker-engine.js'
import { ensureTestImage } from '../../support/test-image.js'

/** A fresh ID in Swarm's style (25 lowercase alphanumerics), unique per test run. */
export function newId (): string {
  return randomBytes(16).toString('hex').slice(0, 25)
}

export function engine (): Docker {
  return new Docker({ socketPath: ENGINE_SOCKET, timeout: 30_000 })
}

export function newExecutor (): DockerExecutor {
  return new DockerExecutor(`unix://${ENGINE_SOCKET}`)
}

/**
 * A test file's engine, test image and executor, made once on the first `setup()`. Each test asks for
 * it, so that a missing engine fails every test rather than skipping them.
 */
export class EngineFixture {
  private ready: Promise<void> | undefined
  private made: { image: string, executor: DockerExecutor } | undefined

  async setup (): Promise<DockerExecutor> {
    this.ready ??= (async () => {
      await requireEngine()
      this.made = { image: await ensureTestImage(), executor: newExecutor() }
    })()
    await this.ready
    return this.made!.executor
  }

  /** The test image; read only after `setup()`. */
  get image (): string {
    return this.made!.image
  }

  /** The executor, once a test has set it up. */
  get executor (): DockerExecutor | undefined {
    return this.made?.executor
  }
}

/** An image whose own HEALTHCHECK (the spec need not give one) passes while /tmp/ok exists: a probe every 200 ms, unhealthy at the first failure. */
export const HEALTHCHECK_IMAGE = 'flotilla-test/busybox-hc:latest'
const HEALTHCHECK_CMD = 'test -f /tmp/ok'
const MS = 1_000_000

/**
 * Make sure `HEALTHCHECK_IMAGE` exists with that check, else make it by `docker commit` of a container of
 * `base` with a HEALTHCHECK change (no build, no registry). Returns the image name.
 */
export async function ensureHealthcheckImage (base: string): Promise<string> {
  const docker = engine()
  try {
    const hc = (await docker.getImage(HEALTHCHECK_IMAGE).inspect()).Config.Healthcheck
    if (JSON.stringify(hc?.Test) === JSON.stringify(['CMD-SHELL', HEALTHCHECK_CMD]) && hc?.Interval === 200 * MS && hc.Timeout === 1000 * MS &&
      hc.Retries === 1 && (hc.StartPeriod ?? 0) === 0) return HEALTHCHECK_IMAGE
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode !== 404) throw err
  }
  const container = await docker.createContainer({ Image: base })
  try {
    await container.commit({
      repo: 'flotilla-test/busybox-hc', tag: 'latest',
      changes: [`HEALTHCHECK --interval=200ms --timeout=1s --retries=1 CMD ${HEALTHCHECK_CMD}`]
    })
  } finally {
    await container.remove({ v: true })
  }
  return HEALTHCHECK_IMAGE
}

/** A replicated task of service `serviceName` on `nodeId`, slot 1 unless said otherwise. */
export function task (nodeId: string, spec: ContainerSpec, more: Partial<TaskDescription> = {}): TaskDescription {
  return { taskId: newId(), serviceId: newId(), serviceName: 'svc', slot: 1, nodeId, spec, ...more }
}

/** Remove every container labelled with one of `nodeIds`, running or not. */
export async function removeNodeContainers (nodeIds: readonly string[]): Promise<void> {
  const docker = engine()
  for (const nodeId of nodeIds) {
    const list = await docker.listContainers({ all: true, filters: { label: [`${LABELS.nodeId}=${nodeId}`] } })
    for (const c of list) {
      try {
        await docker.getContainer(c.Id).remove({ force: true, v: true })
      } catch (err) {
        if ((err as { statusCode?: number }).statusCode !== 404) throw err
      }
    }
  }
}

/** Drive a task with a TaskRunner until it settles, bounded by `timeoutMs`; returns the steps reported. */
export async function runTask (
  controller: TaskController, desired: DesiredState, observed: TaskState = 'new', timeoutMs = 20_000
): Promise<{ steps: TaskStep[], last: TaskStep, runner: TaskRunner }> {
  const steps: TaskStep[] = []
  const runner = new TaskRunner({ controller, observed, desired, onStep: s => { steps.push(s) }, retryDelayMs: () => 50 })
  const signal = AbortSignal.timeout(timeoutMs)
  const last = await runner.run(signal)
  if (signal.aborted) throw new Error(`task ${controller.task.taskId} did not settle in ${timeoutMs} ms: ${JSON.stringify(steps)}`)
  return { steps, last, runner }
}

/** Poll `fn` until it returns something other than undefined, or fail after `timeoutMs`. */
export async function until<T> (what: string, fn: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let lastErr: unknown
  while (Date.now() < deadline) {
    try {
      const v = await fn()
      if (v !== undefined) return v
    } catch (err) {
      lastErr = err
    }
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  throw new Error(`timed out waiting for ${what}${lastErr === undefined ? '' : `: ${(lastErr as Error).message}`}`)
}
