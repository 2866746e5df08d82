import { afterAll, afterEach, describe, expect, it } from 'vitest'
import type { DockerExecutor } from '../../../src/tasks/executor/docker/docker-executor.js'
import type { TaskStep } from '../../../src/tasks/executor/task-step.js'
import { TaskRunner } from '../../../src/tasks/executor/task-runner.js'
import type { ContainerSpec } from '../../../src/tasks/executor/types.js'
import { EngineFixture, engine, ensureHealthcheckImage, newId, removeNodeContainers, task, until } from './helpers.js'

const MS = 1_000_000

// Health checks against a real engine (SwarmKit's controller Start and Wait), from ContainerSpec.Healthcheck
// or from the image's HEALTHCHECK: a task with a health check is running only once healthy, and fails when
// its container turns unhealthy.
describe('Docker task controller health checks', () => {
  const nodeId = newId()
  const fixture = new EngineFixture()
  const setup = async (): Promise<DockerExecutor> => await fixture.setup()

  /** A spec whose check passes while /tmp/ok exists; StopGracePeriod 0 so that stopping it is quick. */
  const spec = (script: string): ContainerSpec => ({
    Image: fixture.image,
    Command: ['sh', '-c', script],
    StopGracePeriod: 0,
    Healthcheck: { Test: ['CMD-SHELL', 'test -f /tmp/ok'], Interval: 200 * MS, Timeout: 1000 * MS, Retries: 1 }
  })

  /** Run a task towards 'running', recording each step with the time it was reported. */
  const start = (executor: DockerExecutor, s: ContainerSpec): { name: string, runner: TaskRunner, steps: Array<TaskStep & { atMs: number }>, done: Promise<TaskStep> } => {
    const steps: Array<TaskStep & { atMs: number }> = []
    const t = task(nodeId, s)
    const runner = new TaskRunner({
      controller: executor.controller(t), observed: 'new', desired: 'running',
      onStep: step => { steps.push({ ...step, atMs: Date.now() }) }, retryDelayMs: () => 50
    })
    return { name: `svc.1.${t.taskId}`, runner, steps, done: runner.run(AbortSignal.timeout(15_000)) }
  }

  afterEach(async () => {
    if (fixture.executor !== undefined) await removeNodeContainers([nodeId])
  })

  afterAll(async () => {
    await fixture.executor?.close()
  })

  it('reports running only once the container is healthy', async () => {
    const executor = await setup()
    // Within StartPeriod the failing checks of the first second do not count; the first passing one makes it healthy.
    const s = spec('sleep 1; touch /tmp/ok; exec sleep 3600')
    const { name, runner, steps, done } = start(executor, { ...s, Healthcheck: { ...s.Healthcheck, StartPeriod: 5000 * MS } })
    const running = await until('the task to run', async () => steps.find(s => s.state === 'running'), 10_000)
    const starting = steps.find(s => s.state === 'starting')!
    expect(steps.map(s => s.state)).toEqual(['accepted', 'preparing', 'ready', 'starting', 'running'])
    expect(running.atMs - starting.atMs).toBeGreaterThanOrEqual(900)
    const info = await engine().getContainer(name).inspect()
    expect(info.State.Health?.Status).toBe('healthy')
    expect(info.Config.Healthcheck).toEqual({ Test: ['CMD-SHELL', 'test -f /tmp/ok'], Interval: 200 * MS, Timeout: 1000 * MS, Retries: 1, StartPeriod: 5000 * MS })
    runner.setDesired('remove')
    expect(await done).toMatchObject({ state: 'shutdown', removed: true })
  })

  it('fails a running task whose container turns unhealthy, and stops the container', async () => {
    const executor = await setup()
    const { name, steps, done } = start(executor, spec('touch /tmp/ok; sleep 2; rm /tmp/ok; exec sleep 3600'))
    expect(await done).toMatchObject({ state: 'failed', action: 'none' })
    expect(steps.map(s => s.state)).toEqual(['accepted', 'preparing', 'ready', 'starting', 'running', 'failed'])
    const last = steps.at(-1)!
    expect(last).toMatchObject({ state: 'failed', errorClass: 'failed', exitCode: 137 })
    expect(last.err).toMatch(/^task: non-zero exit \(137\): dockerexec: unhealthy container \(last check exited 1\)$/)
    const info = await engine().getContainer(name).inspect()
    expect(info.State.Running).toBe(false)
  })

  it('fails a task whose check never passes from starting, never reporting it running', async () => {
    const executor = await setup()
    const { name, steps, done } = start(executor, spec('exec sleep 3600'))
    expect(await done).toMatchObject({ state: 'failed', action: 'none' })
    expect(steps.map(s => s.state)).toEqual(['accepted', 'preparing', 'ready', 'starting', 'failed'])
    const last = steps.at(-1)!
    expect(last).toMatchObject({ state: 'failed', errorClass: 'failed', message: 'start' })
    expect(last.err).toContain('unhealthy')
    expect(last.err).toMatch(/^task: non-zero exit \(137\): dockerexec: unhealthy container/)
    expect((await engine().getContainer(name).inspect()).State.Running).toBe(false)
  })

  /** The image with its own HEALTHCHECK (test -f /tmp/ok every 200 ms, one failure is unhealthy), made once. */
  let hcImage: Promise<string> | undefined
  /** A spec of the image with its own check, giving no Healthcheck. */
  const imageSpec = async (script: string): Promise<ContainerSpec> => {
    hcImage ??= ensureHealthcheckImage(fixture.image)
    return { Image: await hcImage, Command: ['sh', '-c', script], StopGracePeriod: 0 }
  }

  it('reports running only once healthy when only the image defines the check', async () => {
    const executor = await setup()
    const { name, runner, steps, done } = start(executor, await imageSpec('touch /tmp/ok; exec sleep 3600'))
    const running = await until('the task to run', async () => steps.find(s => s.state === 'running'), 10_000)
    const starting = steps.find(s => s.state === 'starting')!
    expect(steps.map(s => s.state)).toEqual(['accepted', 'preparing', 'ready', 'starting', 'running'])
    const info = await engine().getContainer(name).inspect()
    expect(info.Config.Healthcheck?.Test).toEqual(['CMD-SHELL', 'test -f /tmp/ok'])
    expect(info.State.Health?.Status).toBe('healthy')
    // The engine's first probe runs an interval (200 ms) after the start; running is reported after it passed.
    const firstPass = info.State.Health!.Log.find(l => l.ExitCode === 0)!
    expect(running.atMs).toBeGreaterThanOrEqual(Math.floor(Date.parse(firstPass.End)))
    expect(running.atMs - starting.atMs).toBeGreaterThanOrEqual(190)
    runner.setDesired('remove')
    expect(await done).toMatchObject({ state: 'shutdown', removed: true })
  })

  it('waits for the image\'s check with the spec\'s timings when the spec gives no Test', async () => {
    const executor = await setup()
    // The engine merges the two: the image's Test, the spec's StartPeriod, so the failing probes of the first second do not count.
    const s = await imageSpec('sleep 1; touch /tmp/ok; exec sleep 3600')
    const { name, runner, steps, done } = start(executor, { ...s, Healthcheck: { StartPeriod: 5000 * MS } })
    const running = await until('the task to run', async () => steps.find(s => s.state === 'running'), 10_000)
    const starting = steps.find(s => s.state === 'starting')!
    expect(steps.map(s => s.state)).toEqual(['accepted', 'preparing', 'ready', 'starting', 'running'])
    expect(running.atMs - starting.atMs).toBeGreaterThanOrEqual(900)
    const info = await engine().getContainer(name).inspect()
    expect(info.Config.Healthcheck).toEqual({ Test: ['CMD-SHELL', 'test -f /tmp/ok'], Interval: 200 * MS, Timeout: 1000 * MS, Retries: 1, StartPeriod: 5000 * MS })
    expect(info.State.Health?.Status).toBe('healthy')
    runner.setDesired('remove')
    expect(await done).toMatchObject({ state: 'shutdown', removed: true })
  })

  it('fails a task whose image\'s check never passes from starting, never reporting it running', async () => {
    const executor = await setup()
    const { name, steps, done } = start(executor, await imageSpec('exec sleep 3600'))
    expect(await done).toMatchObject({ state: 'failed', action: 'none' })
    expect(steps.map(s => s.state)).toEqual(['accepted', 'preparing', 'ready', 'starting', 'failed'])
    const last = steps.at(-1)!
    expect(last).toMatchObject({ state: 'failed', errorClass: 'failed', message: 'start' })
    expect(last.err).toMatch(/^task: non-zero exit \(137\): dockerexec: unhealthy container \(last check exited 1\)$/)
    expect((await engine().getContainer(name).inspect()).State.Running).toBe(false)
  })

  it('fails a running task whose image\'s check turns unhealthy', async () => {
    const executor = await setup()
    const { name, steps, done } = start(executor, await imageSpec('touch /tmp/ok; sleep 2; rm /tmp/ok; exec sleep 3600'))
    expect(await done).toMatchObject({ state: 'failed', action: 'none' })
    expect(steps.map(s => s.state)).toEqual(['accepted', 'preparing', 'ready', 'starting', 'running', 'failed'])
    expect(steps.at(-1)).toMatchObject({ state: 'failed', errorClass: 'failed', exitCode: 137 })
    expect(steps.at(-1)!.err).toMatch(/^task: non-zero exit \(137\): dockerexec: unhealthy container \(last check exited 1\)$/)
    expect((await engine().getContainer(name).inspect()).State.Running).toBe(false)
  })

  it('starts a task at once when its spec check NONE disables the image\'s', async () => {
    const executor = await setup()
    // The check would never pass (no /tmp/ok): waiting for it would fail the task.
    const { name, runner, steps, done } = start(executor, { ...await imageSpec('exec sleep 3600'), Healthcheck: { Test: ['NONE'] } })
    await until('the task to run', async () => steps.find(s => s.state === 'running'), 10_000)
    expect(steps.map(s => s.state)).toEqual(['accepted', 'preparing', 'ready', 'starting', 'running'])
    const info = await engine().getContainer(name).inspect()
    expect(info.Config.Healthcheck?.Test).toEqual(['NONE'])
    expect(info.State.Health).toBeUndefined()
    expect(info.State.Running).toBe(true)
    runner.setDesired('remove')
    expect(await done).toMatchObject({ state: 'shutdown', removed: true })
  })

  it('starts a task whose check is NONE at once', async () => {
    const executor = await setup()
    const { runner, steps, done } = start(executor, { ...spec('exec sleep 3600'), Healthcheck: { Test: ['NONE'] } })
    await until('the task to run', async () => steps.find(s => s.state === 'running'), 10_000)
    runner.setDesired('remove')
    expect(await done).toMatchObject({ state: 'shutdown', removed: true })
  })
})
