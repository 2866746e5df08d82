import { afterAll, describe, expect, it } from 'vitest'
import { LABELS } from '../../../src/tasks/executor/docker/containers.js'
import type { DockerExecutor } from '../../../src/tasks/executor/docker/docker-executor.js'
import { requireEngine } from '../../support/docker-engine.js'
import { ensureTestImage } from '../../support/test-image.js'
import { engine, newExecutor, newId, removeNodeContainers, runTask, task } from './helpers.js'

// Several agents may share one engine: each adopts and removes only the containers labelled with its
// own node ID, and an agent that restarts adopts its running containers instead of duplicating them.
describe('adopting containers after an agent restart', () => {
  const nodeA = newId()
  const nodeB = newId()
  let image: string
  const executors: DockerExecutor[] = []

  // Each test asks for the engine itself, so that a missing one fails every test rather than skipping them.
  let ready: Promise<void> | undefined
  const setup = async (): Promise<void> => {
    ready ??= (async () => {
      await requireEngine()
      image = await ensureTestImage()
    })()
    await ready
  }

  afterAll(async () => {
    for (const e of executors) await e.close()
    if (executors.length > 0) await removeNodeContainers([nodeA, nodeB])
  })

  function executor (): DockerExecutor {
    const e = newExecutor()
    executors.push(e)
    return e
  }

  async function containersOfTask (taskId: string): Promise<string[]> {
    const list = await engine().listContainers({ all: true, filters: { label: [`${LABELS.taskId}=${taskId}`] } })
    return list.map(c => c.Id)
  }

  it('adopts this node\'s assigned containers, removes its unassigned ones, and leaves other nodes\' alone', async () => {
    await setup()
    const before = executor()
    const sleeper = { Image: image, Command: ['sleep', '600'], StopGracePeriod: 0 }
    const kept = task(nodeA, sleeper, { slot: 1 })
    const done = task(nodeA, { Image: image, Command: ['sh', '-c', 'exit 3'] }, { slot: 2 })
    const dropped = task(nodeA, sleeper, { slot: 3 })
    const other = task(nodeB, sleeper, { slot: 1 })
    for (const t of [kept, dropped, other]) {
      const c = before.controller(t)
      await c.prepare()
      await c.start()
    }
    expect((await runTask(before.controller(done), 'running')).last.state).toBe('failed')
    const keptId = (await containersOfTask(kept.taskId))[0]
    const droppedId = (await containersOfTask(dropped.taskId))[0]
    await before.close()

    // The restarted agent: a new executor, told which tasks are still assigned to its node.
    const after = executor()
    const result = await after.adopt(nodeA, new Set([kept.taskId, done.taskId, other.taskId]))
    expect([...result.adopted].sort((x, y) => x.taskId.localeCompare(y.taskId))).toEqual([
      { taskId: kept.taskId, containerId: keptId, observed: 'running' },
      { taskId: done.taskId, containerId: expect.any(String), observed: 'failed', exit: expect.objectContaining({ exitCode: 3 }) }
    ].sort((x, y) => x.taskId.localeCompare(y.taskId)))
    expect(result.removed).toEqual([droppedId])
    expect(await containersOfTask(dropped.taskId)).toEqual([])
    // Node B's container is another agent's business, even though its task ID was passed in.
    expect(await containersOfTask(other.taskId)).toHaveLength(1)
    expect((await engine().listContainers({ filters: { label: [`${LABELS.taskId}=${other.taskId}`] } }))[0]?.State).toBe('running')

    // Resuming the adopted task from its observed state prepares nothing anew: one container, still running.
    const resumed = after.controller(kept)
    await resumed.prepare()
    expect(await containersOfTask(kept.taskId)).toEqual([keptId])
    expect(await resumed.inspect()).toMatchObject({ state: 'running', containerId: keptId })

    // And its wait follows the new executor's events stream to the end.
    const ended = resumed.wait(AbortSignal.timeout(20_000))
    await resumed.shutdown()
    expect((await ended).exitCode).toBe(137)
    const removed = await runTask(resumed, 'remove', 'running')
    expect(removed.last).toMatchObject({ state: 'shutdown', removed: true })
    expect(await containersOfTask(kept.taskId)).toEqual([])
  })

  it('finds nothing to adopt on a node without containers', async () => {
    await setup()
    expect(await executor().adopt(newId(), new Set())).toEqual({ adopted: [], removed: [] })
  })
})
