import { execFile } from 'node:child_process'
import { afterAll, describe, expect, it } from 'vitest'
import { FlotillaError } from '../../../src/membership/errors.js'
import { LABELS } from '../../../src/tasks/executor/docker/containers.js'
import type { DockerExecutor } from '../../../src/tasks/executor/docker/docker-executor.js'
import type { TaskStep } from '../../../src/tasks/executor/task-step.js'
import { TaskRunner } from '../../../src/tasks/executor/task-runner.js'
import type { ContainerStatus } from '../../../src/tasks/executor/types.js'
import { freePort } from '../../support/agent-process.js'
import { ENGINE_SOCKET } from '../../support/docker-engine.js'
import { EngineFixture, engine, newExecutor, newId, removeNodeContainers, runTask, task, until } from './helpers.js'

// The Docker controller against a real engine: one task each, driven through taskStep by a TaskRunner.
describe('Docker task controller', () => {
  const nodeId = newId()
  const fixture = new EngineFixture()
  const setup = async (): Promise<DockerExecutor> => await fixture.setup()

  afterAll(async () => {
    await fixture.executor?.close()
    if (fixture.executor !== undefined) await removeNodeContainers([nodeId])
  })

  it('runs a task to running, its container named and labelled as Docker swarm does', async () => {
    const executor = await setup()
    const t = task(nodeId, {
      Image: fixture.image,
      Command: ['sh', '-c'],
      Args: ['echo "$GREETING" > /tmp/out; exec sleep 600'],
      Env: ['GREETING=hello'],
      Labels: { 'com.example.tier': 'web', [LABELS.nodeId]: 'forged' },
      Dir: '/tmp',
      User: '1000:1000',
      Hostname: 'task-host',
      StopSignal: 'SIGUSR1',
      StopGracePeriod: 2_500_000_000
    }, { serviceName: 'web', slot: 3, resources: { Limits: { NanoCPUs: 500_000_000, MemoryBytes: 64 * 1024 * 1024 }, Reservations: { MemoryBytes: 32 * 1024 * 1024 } } })
    const controller = executor.controller(t)
    const statuses: ContainerStatus[] = []
    const unsubscribe = await controller.subscribe(s => { statuses.push(s) })
    const steps: TaskStep[] = []
    const runner = new TaskRunner({ controller, observed: 'new', desired: 'running', onStep: s => { steps.push(s) } })
    const done = runner.run(AbortSignal.timeout(30_000))
    await until('the task to run', async () => steps.find(s => s.state === 'running'))
    expect(steps.map(s => s.state)).toEqual(['accepted', 'preparing', 'ready', 'starting', 'running'])

    const info = await engine().getContainer(`web.3.${t.taskId}`).inspect()
    expect(info.State.Running).toBe(true)
    expect(info.Config.Labels).toEqual({
      'com.example.tier': 'web',
      [LABELS.nodeId]: nodeId,
      [LABELS.serviceId]: t.serviceId,
      [LABELS.serviceName]: 'web',
      [LABELS.task]: '',
      [LABELS.taskId]: t.taskId,
      [LABELS.taskName]: `web.3.${t.taskId}`,
      [LABELS.taskSlot]: '3'
    })
    expect(info.Config.Entrypoint).toEqual(['sh', '-c'])
    expect(info.Config.Cmd).toEqual(['echo "$GREETING" > /tmp/out; exec sleep 600'])
    expect(info.Config.Env).toContain('GREETING=hello')
    expect(info.Config.WorkingDir).toBe('/tmp')
    expect(info.Config.User).toBe('1000:1000')
    expect(info.Config.Hostname).toBe('task-host')
    const stop = info.Config as { StopSignal?: string, StopTimeout?: number }
    expect([stop.StopSignal, stop.StopTimeout]).toEqual(['SIGUSR1', 3])
    expect(info.HostConfig.NanoCpus).toBe(500_000_000)
    expect(info.HostConfig.Memory).toBe(64 * 1024 * 1024)
    expect(info.HostConfig.MemoryReservation).toBe(32 * 1024 * 1024)

    // The docker CLI finds it by the swarm labels.
    const ps = await cli(['ps', '-q', '--no-trunc', '--filter', `label=${LABELS.taskId}=${t.taskId}`, '--filter', `label=${LABELS.serviceName}=web`])
    expect(ps.trim()).toBe(info.Id)

    // The container's own status, and its state changes from the events stream, with the engine's times.
    expect(await controller.inspect()).toMatchObject({ taskId: t.taskId, containerId: info.Id, state: 'running' })
    await until('create and start events', async () => statuses.length >= 2 ? true : undefined)
    expect(statuses.slice(0, 2).map(s => s.state)).toEqual(['created', 'running'])
    expect(statuses[1]!.timestampMs).toBeGreaterThanOrEqual(statuses[0]!.timestampMs)
    expect(Math.abs(statuses[1]!.timestampMs - Date.parse(info.State.StartedAt))).toBeLessThan(1000)

    // Shutdown interrupts the wait; SIGUSR1 is not handled by `sleep` as PID 1, so it is killed after the grace.
    runner.setDesired('remove')
    const last = await done
    expect(last).toMatchObject({ state: 'shutdown', action: 'none', removed: true })
    expect(await controller.inspect()).toBeUndefined()
    await until('die and destroy events', async () => statuses.some(s => s.state === 'removed') ? true : undefined)
    expect(statuses.map(s => s.state)).toEqual(['created', 'running', 'exited', 'removed'])
    unsubscribe()
  })

  it('completes a task whose command exits 0, and fails one that exits 1 with its exit code', async () => {
    const executor = await setup()
    const good = executor.controller(task(nodeId, { Image: fixture.image, Command: ['true'] }))
    const exits: ContainerStatus[] = []
    const unsubscribe = await good.subscribe(s => { if (s.state === 'exited') exits.push(s) })
    const ok = await runTask(good, 'running')
    expect(ok.last).toMatchObject({ state: 'complete', action: 'none' })
    expect(ok.steps.at(-1)).toMatchObject({ state: 'complete', message: 'finished', exitCode: 0 })
    await until('the die event', async () => exits[0])
    expect(exits[0]).toMatchObject({ exitCode: 0, error: '' })
    unsubscribe()

    const bad = executor.controller(task(nodeId, { Image: fixture.image, Command: ['sh', '-c', 'exit 1'] }))
    const failed = await runTask(bad, 'running')
    expect(failed.last).toMatchObject({ state: 'failed', action: 'none' })
    expect(failed.steps.at(-1)).toMatchObject({ state: 'failed', errorClass: 'failed', exitCode: 1, err: 'task: non-zero exit (1)' })
    expect((await bad.inspect())?.exitCode).toBe(1) // kept for inspection until the task is shut down

    // Shutting a finished task down removes its container.
    expect((await runTask(bad, 'remove', 'failed')).last).toMatchObject({ state: 'failed', removed: true })
    expect(await bad.inspect()).toBeUndefined()
  })

  it('rejects a task whose image is absent and cannot be pulled, with the engine\'s message', async () => {
    const executor = await setup()
    const t = task(nodeId, { Image: `flotilla-test/no-such-image-${newId()}:latest` })
    const controller = executor.controller(t)
    const err = await controller.prepare().then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(FlotillaError)
    expect((err as FlotillaError).retryable).toBe(false)
    expect((err as FlotillaError).message).toMatch(new RegExp(`^pull flotilla-test/no-such-image-\\w+:latest: .*(registry|no such host|not found|denied)`))

    const run = await runTask(controller, 'running')
    expect(run.last).toMatchObject({ state: 'rejected', action: 'none' })
    expect(run.steps.at(-1)).toMatchObject({ state: 'rejected', errorClass: 'rejected', err: (err as FlotillaError).message })
    expect(await controller.inspect()).toBeUndefined()
  })

  it('shuts a task down with its stop signal, or kills it after its grace period, then removes it', async () => {
    const executor = await setup()
    // The task handles SIGUSR2 by exiting 42: the exit code proves which signal came.
    const handled = executor.controller(task(nodeId, {
      Image: fixture.image, Command: ['sh', '-c', 'trap "exit 42" USR2; echo ready > /tmp/ready; sleep 600 & wait'], StopSignal: 'SIGUSR2', StopGracePeriod: 20e9
    }))
    await handled.prepare()
    await handled.start()
    await until('the trap to be set', async () => await fileExists(handled.task, '/tmp/ready'))
    let started = Date.now()
    await handled.shutdown()
    expect(Date.now() - started).toBeLessThan(10_000)
    expect(await handled.inspect()).toMatchObject({ state: 'exited', exitCode: 42 })
    await handled.remove()
    expect(await handled.inspect()).toBeUndefined()

    // This one ignores SIGTERM: the engine kills it once the one-second grace is over.
    const stubborn = executor.controller(task(nodeId, {
      Image: fixture.image, Command: ['sh', '-c', 'trap "" TERM; sleep 600 & wait'], StopSignal: 'SIGTERM', StopGracePeriod: 1e9
    }))
    await stubborn.prepare()
    await stubborn.start()
    started = Date.now()
    await stubborn.shutdown()
    const elapsed = Date.now() - started
    expect(elapsed).toBeGreaterThanOrEqual(900)
    expect(elapsed).toBeLessThan(8000)
    expect(await stubborn.inspect()).toMatchObject({ state: 'exited', exitCode: 137 })
    await stubborn.remove()
    expect(await stubborn.inspect()).toBeUndefined()
    // Both calls are idempotent on a container that is gone.
    await stubborn.shutdown()
    await stubborn.remove()
  })

  it('publishes a host port that answers HTTP', async () => {
    const executor = await setup()
    const port = await freePort()
    const t = task(nodeId, {
      Image: fixture.image, Command: ['sh', '-c', 'echo hello-from-task > /tmp/index.html; exec httpd -f -p 8080 -h /tmp'], StopGracePeriod: 0
    }, { slot: null, serviceName: 'http', ports: [{ TargetPort: 8080, PublishedPort: port, Protocol: 'tcp' }] })
    const controller = executor.controller(t)
    await controller.prepare()
    await controller.start()
    const info = await engine().getContainer(`http.${nodeId}.${t.taskId}`).inspect()
    expect(info.Config.Labels[LABELS.taskSlot]).toBeUndefined() // a global task has no slot
    expect(info.HostConfig.PortBindings).toEqual({ '8080/tcp': [{ HostIp: '', HostPort: String(port) }] })
    const body = await until('httpd to answer', async () => {
      const res = await fetch(`http://127.0.0.1:${port}/index.html`, { signal: AbortSignal.timeout(2000) })
      return res.ok ? await res.text() : undefined
    })
    expect(body.trim()).toBe('hello-from-task')
    await controller.shutdown()
    await controller.remove()
  })

  it('ends a wait, retryable, when it is interrupted or the executor closes', async () => {
    const executor = await setup()
    const t = task(nodeId, { Image: fixture.image, Command: ['sleep', '600'], StopGracePeriod: 0 })
    await executor.controller(t).prepare()
    await executor.controller(t).start()
    const interrupted = await executor.controller(t).wait(AbortSignal.timeout(200)).then(() => undefined, (e: unknown) => e)
    expect(interrupted).toMatchObject({ code: 'unavailable', retryable: true })

    const own = newExecutor()
    const waiting = own.controller(t).wait(AbortSignal.timeout(20_000)).then(() => undefined, (e: unknown) => e)
    // Whether the close lands while the stream opens or once the wait follows it, the wait ends the same way.
    await own.close()
    expect(await waiting).toMatchObject({ code: 'unavailable', retryable: true, message: 'the executor is closed' })
    await executor.controller(t).remove()
  })

  it('refuses to take over a container of the same name that belongs to another node', async () => {
    const executor = await setup()
    const t = task(nodeId, { Image: fixture.image, Command: ['true'] })
    await executor.controller(t).prepare()
    const impostor = executor.controller({ ...t, nodeId: newId() })
    const err = await impostor.prepare().then(() => undefined, (e: unknown) => e)
    expect(err).toMatchObject({ code: 'conflict', retryable: false })
    await executor.controller(t).remove()
  })
})

async function cli (args: string[]): Promise<string> {
  return await new Promise((resolve, reject) => {
    execFile('/usr/local/bin/docker', ['-H', `unix://${ENGINE_SOCKET}`, ...args], { timeout: 15_000 }, (err, stdout, stderr) => {
      if (err !== null) reject(new Error(`docker ${args.join(' ')}: ${err.message} ${stderr}`))
      else resolve(stdout)
    })
  })
}

/** Whether `path` exists in the task's container, asked through `docker exec` with busybox's `test`. */
async function fileExists (t: { serviceName: string, slot: number | null, nodeId: string, taskId: string }, path: string): Promise<true | undefined> {
  const name = `${t.serviceName}.${t.slot ?? t.nodeId}.${t.taskId}`
  try {
    await cli(['exec', name, 'sh', '-c', `test -e ${path}`])
    return true
  } catch {
    return undefined
  }
}
