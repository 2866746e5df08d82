import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { request } from 'node:http'
import { freePort, runCommand, waitFor, type AgentProcess } from '../support/agent-process.js'
import { TestCluster } from '../support/cluster.js'
import { requireEngine } from '../support/docker-engine.js'
import {
  NODE_LABEL, SERVICE_LABEL, countBy, describeResult, engine, inspectService, removeContainers, running, scaleThrough,
  removeAllServices, serviceSpec, taskContainers, tasksOf, waitRunningTasks, type SpecInit, type TaskView
} from '../support/services.js'
import { TEST_IMAGE, ensureTestImage } from '../support/test-image.js'
import { EngineProxy } from '../support/engine-proxy.js'
import { join } from 'node:path'

/** Seconds to the nanoseconds a ServiceSpec's durations are in. */
const nanos = (seconds: number): number => Math.round(seconds * 1e9)
const QUICK_RESTART = { Delay: nanos(0.2) }

/** Check `fn` every 100 ms for `forMs`: fail at the first false (an observation over a window, not a wait). */
async function holds (what: string, fn: () => Promise<boolean>, forMs: number): Promise<void> {
  const end = Date.now() + forMs
  while (Date.now() < end) {
    if (!await fn()) throw new Error(`no longer true: ${what}`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

// Services on 3 agents (1 manager + 2 workers) sharing this machine's engine: placement, scaling from a
// worker, node loss, drain, global services, constraints, reservations, failures, adoption, ports.
describe('services on 3 agents sharing one engine', () => {
  let cluster: TestCluster
  let manager: AgentProcess
  let w1: AgentProcess
  let w2: AgentProcess
  /** Node IDs by hostname, of every agent this file started. */
  let nodeIds = new Map<string, string>()
  const docker = engine()
  const idOf = (a: AgentProcess): string => nodeIds.get(a.hostname)!

  const create = async (via: AgentProcess, name: string, init: SpecInit = {}): Promise<string> => {
    const r = await via.api('POST', '/services/create', serviceSpec(name, init), 30_000)
    expect(r.status, describeResult(r)).toBe(201)
    return r.body.ID as string
  }

  /** Wait until exactly `n` tasks of `service` should run and all of them do; returns them. */
  const waitRunning = async (service: string, n: number, timeoutMs = 30_000, via: AgentProcess = manager): Promise<TaskView[]> =>
    await waitRunningTasks(via, service, n, timeoutMs)

  /** The engine's running containers of `service` on this file's nodes (others may share the engine), per node ID. */
  const containersPerNode = async (service: string): Promise<Record<string, number>> => {
    const ours = new Set(nodeIds.values())
    return countBy((await taskContainers(docker, [`${SERVICE_LABEL}=${service}`], true)).filter(c => ours.has(c.nodeId)), c => c.nodeId)
  }

  /** Counts per node ID, keyed by hostname instead (unknown IDs as `?id`), for readable failures. */
  const byHost = (counts: Record<string, number>): Record<string, number> => {
    const out: Record<string, number> = {}
    for (const [host, id] of nodeIds) if (counts[id] !== undefined) out[host] = counts[id]
    for (const [id, n] of Object.entries(counts)) if (![...nodeIds.values()].includes(id)) out[`?${id}`] = n
    return out
  }

  /** Read a node's spec and write it back changed (`POST /nodes/{id}/update?version=N`). */
  const updateNode = async (via: AgentProcess, host: string, change: (spec: any) => any): Promise<void> => {
    const n = (await via.api('GET', `/nodes/${host}`)).body
    const r = await via.api('POST', `/nodes/${n.ID as string}/update?version=${n.Version.Index as number}`, change({ ...n.Spec }))
    expect(r.status, describeResult(r)).toBe(200)
  }

  beforeAll(async () => {
    await requireEngine()
    await ensureTestImage()
    cluster = await TestCluster.start({ size: 3, managers: 1, hostnamePrefix: 'svc' })
    ;[manager, w1, w2] = cluster.agents as [AgentProcess, AgentProcess, AgentProcess]
    await cluster.waitForReady(3, 30_000)
    nodeIds = await cluster.nodeIds()
  }, 90_000)

  beforeEach(({ onTestFailed }) => { onTestFailed(() => { console.log(cluster.logs()) }) })
  // Back to 3 ready, active, unlabelled nodes with no service and no task container, whatever a test left.
  afterEach(async () => {
    for (const a of [manager, w1, w2]) if (!a.running) await a.start([])
    await removeAllServices(manager, docker, cluster.agents.filter(a => a.running).map(idOf))
    for (const extra of cluster.agents.slice(3)) {
      await extra.kill()
      const id = nodeIds.get(extra.hostname)
      if (id === undefined || id === '') continue
      await removeContainers(docker, [`${NODE_LABEL}=${id}`])
      if ((await manager.api('GET', `/nodes/${id}`)).status === 200) {
        const rm = await manager.cli(['node', 'rm', '--force', id])
        expect(rm.code, rm.stderr).toBe(0)
      }
    }
    cluster.agents.splice(3)
    await cluster.waitForReady(3, 30_000)
    for (const a of [manager, w1, w2]) {
      const n = (await manager.api('GET', `/nodes/${a.hostname}`)).body
      if (n.Spec.Availability !== 'active' || Object.keys(n.Spec.Labels ?? {}).length > 0) {
        await updateNode(manager, a.hostname, s => ({ ...s, Availability: 'active', Labels: {} }))
      }
    }
  }, 90_000)

  afterAll(async () => {
    await cluster?.stop()
    for (const id of nodeIds.values()) await removeContainers(docker, [`${NODE_LABEL}=${id}`])
  })

  it('spreads 6 replicas 2/2/2, then scales 6 → 12 → 0 through a worker\'s socket', async () => {
    await create(manager, 'web', { replicas: 6 })
    const tasks = await waitRunning('web', 6)
    const perNode = { [idOf(manager)]: 2, [idOf(w1)]: 2, [idOf(w2)]: 2 }
    expect(byHost(countBy(tasks, t => t.NodeID ?? ''))).toEqual(byHost(perNode))
    expect(byHost(await containersPerNode('web'))).toEqual(byHost(perNode))
    expect(new Set(tasks.map(t => t.Slot))).toEqual(new Set([1, 2, 3, 4, 5, 6]))

    const scaled = await w1.cli(['service', 'scale', 'web=12'], 60_000)
    expect(scaled.code, scaled.stderr).toBe(0)
    const twelve = await waitRunning('web', 12, 40_000, w1)
    const perNode12 = { [idOf(manager)]: 4, [idOf(w1)]: 4, [idOf(w2)]: 4 }
    expect(byHost(countBy(twelve, t => t.NodeID ?? ''))).toEqual(byHost(perNode12))
    await waitFor('the engine to run 4 containers of web per node', async () =>
      JSON.stringify(byHost(await containersPerNode('web'))) === JSON.stringify(byHost(perNode12)), 20_000)

    const zero = await scaleThrough(w2, 'web', 0)
    expect(zero.status, describeResult(zero)).toBe(200)
    await waitRunning('web', 0, 30_000, w2)
    await waitFor('the engine to run no container of web', async () =>
      Object.keys(await containersPerNode('web')).length === 0, 20_000)
    expect((await inspectService(w2, 'web')).Spec.Mode.Replicated.Replicas).toBe(0)
  }, 150_000)

  it('moves a SIGKILLed worker\'s tasks within seconds; its orphaned containers go when it returns', async () => {
    await create(manager, 'web', { replicas: 6, restart: QUICK_RESTART })
    const before = await waitRunning('web', 6)
    const lost = before.filter(t => t.NodeID === idOf(w2))
    expect(lost).toHaveLength(2)
    const t0 = Date.now()
    await w2.kill('SIGKILL')
    // As on a host that lost its agent: the containers keep running.
    expect((await containersPerNode('web'))[idOf(w2)]).toBe(2)
    const moved = await waitFor('6 running tasks of web, none on the killed node', async () => {
      const tasks = await waitRunning('web', 6, 2_000)
      return tasks.every(t => t.NodeID !== idOf(w2)) ? tasks : false
    }, 15_000)
    const movedMs = Date.now() - t0
    console.log(`tasks of a SIGKILLed node running elsewhere after ${movedMs} ms`)
    expect(byHost(countBy(moved, t => t.NodeID ?? ''))).toEqual(byHost({ [idOf(manager)]: 3, [idOf(w1)]: 3 }))
    expect(movedMs).toBeLessThan(15_000)
    const lostTasks = await Promise.all(lost.map(async t => (await manager.api('GET', `/tasks/${t.ID}`)).body as TaskView))
    for (const t of lostTasks) expect(t.DesiredState, JSON.stringify(t)).not.toBe('running')

    await w2.start([])
    await cluster.waitForReady(3, 30_000)
    await waitFor('the returned node to remove its orphaned containers', async () =>
      (await taskContainers(docker, [`${NODE_LABEL}=${idOf(w2)}`])).every(c => !lost.some(t => t.ID === c.taskId)), 20_000)
    expect((await containersPerNode('web'))[idOf(w2)]).toBeUndefined()
    expect(running(await tasksOf(manager, 'web'))).toHaveLength(6)
  }, 120_000)

  it('drains a node: its tasks move off; active again, new tasks land there', async () => {
    await create(manager, 'web', { replicas: 6, restart: QUICK_RESTART })
    await waitRunning('web', 6)
    await updateNode(w1, 'svc-2', s => ({ ...s, Availability: 'drain' }))
    const drained = await waitFor('web to run off the drained node', async () => {
      const tasks = await waitRunning('web', 6, 5_000)
      return tasks.every(t => t.NodeID !== idOf(w1)) ? tasks : false
    }, 30_000)
    expect(byHost(countBy(drained, t => t.NodeID ?? ''))).toEqual(byHost({ [idOf(manager)]: 3, [idOf(w2)]: 3 }))
    await waitFor('the drained node to run no container of web', async () =>
      (await containersPerNode('web'))[idOf(w1)] === undefined, 20_000)

    await updateNode(w1, 'svc-2', s => ({ ...s, Availability: 'active' }))
    const r = await scaleThrough(manager, 'web', 9)
    expect(r.status, describeResult(r)).toBe(200)
    const nine = await waitRunning('web', 9)
    expect(nine.filter(t => t.NodeID === idOf(w1)).length).toBeGreaterThanOrEqual(1)
    expect((await containersPerNode('web'))[idOf(w1)]).toBeGreaterThanOrEqual(1)
  }, 120_000)

  it('runs a global service on every node: 3, a 4th agent joins → 4, one drained → 3', async () => {
    await create(manager, 'glob', { global: true })
    const three = await waitRunning('glob', 3)
    expect(new Set(three.map(t => t.NodeID))).toEqual(new Set([idOf(manager), idOf(w1), idOf(w2)]))

    const fourth = await cluster.addAgent('svc-4')
    await fourth.start(['--join', manager.addr, '--token', (await manager.api('GET', '/swarm')).body.JoinTokens.Worker as string])
    await cluster.waitForReady(4, 30_000)
    nodeIds.set(fourth.hostname, (await manager.api('GET', '/nodes/svc-4')).body.ID as string)
    expect(idOf(fourth)).toMatch(/^[0-9a-z]{25}$/)
    const four = await waitRunning('glob', 4)
    expect(new Set(four.map(t => t.NodeID)).size).toBe(4)
    expect(four.some(t => t.NodeID === idOf(fourth))).toBe(true)
    expect((await containersPerNode('glob'))[idOf(fourth)]).toBe(1)

    await updateNode(w2, 'svc-4', s => ({ ...s, Availability: 'drain' }))
    const after = await waitRunning('glob', 3)
    expect(after.some(t => t.NodeID === idOf(fourth))).toBe(false)
    await waitFor('the drained node to run no container of glob', async () =>
      (await containersPerNode('glob'))[idOf(fourth)] === undefined, 20_000)
  }, 150_000)

  it('fails the tasks of a node whose engine dies, with the engine\'s error, and places nothing more there', async () => {
    const proxy = await EngineProxy.start(join(cluster.baseDir, 'engine-5.sock'))
    // Not svc-4: an agent's data dir is named after its hostname, and the global test's svc-4 was removed.
    const fourth = await cluster.addAgent('svc-5')
    try {
      await fourth.start(['--join', manager.addr, '--token', (await manager.api('GET', '/swarm')).body.JoinTokens.Worker as string, '--docker-host', proxy.url])
      await cluster.waitForReady(4, 30_000)
      nodeIds.set(fourth.hostname, (await manager.api('GET', '/nodes/svc-5')).body.ID as string)
      await create(manager, 'glob', { global: true })
      const four = await waitRunning('glob', 4)
      const doomed = four.find(t => t.NodeID === idOf(fourth))!

      const cutAt = Date.now()
      await proxy.cut()
      const failed = await waitFor('the dead engine\'s task to fail', async () => {
        const t = (await tasksOf(manager, 'glob')).find(x => x.ID === doomed.ID)
        return t?.Status.State === 'failed' ? t : false
      }, 30_000)
      console.log(`task on the node whose engine died failed after ${Date.now() - cutAt} ms: ${failed.Status.Err ?? ''}`)
      expect(failed.Status.Err).toMatch(/engine|docker|ENOENT|ECONNREFUSED|socket/i)
      expect(fourth.running).toBe(true)
      // The node stays in the cluster, but takes no new task while its engine does not answer.
      await create(manager, 'web', { replicas: 6 })
      const six = await waitRunning('web', 6)
      expect(six.some(t => t.NodeID === idOf(fourth))).toBe(false)
      const glob = await tasksOf(manager, 'glob')
      expect(glob.filter(t => t.NodeID === idOf(fourth) && t.Status.State === 'running')).toEqual([])
    } finally {
      // Its container outlived the engine connection: the clean-up removes it by its node label.
      await fourth.kill()
      await proxy.cut().catch(() => {})
    }
  }, 150_000)

  it('updates the image one task at a time through the docker CLI on a worker, and rolls it back', async () => {
    await docker.getImage(TEST_IMAGE).tag({ repo: 'flotilla-test/busybox', tag: 'v2' })
    try {
      await create(manager, 'upd', { replicas: 3 })
      const before = await waitRunning('upd', 3)
      const sock = `unix://${w1.socket}`
      const up = await runCommand('/usr/local/bin/docker', ['-H', sock, 'service', 'update', '--image', 'flotilla-test/busybox:v2', 'upd'], 60_000)
      expect(up.code, up.stderr).toBe(0)
      expect(up.stdout).toContain('converged')
      const after = await waitRunning('upd', 3)
      expect(after.every(t => t.Spec?.ContainerSpec.Image === 'flotilla-test/busybox:v2')).toBe(true)
      expect(new Set(after.map(t => t.Slot))).toEqual(new Set([1, 2, 3]))
      expect(after.some(t => before.some(b => b.ID === t.ID))).toBe(false)
      // The replaced tasks stay as the slots' history, shut down.
      const history = (await tasksOf(manager, 'upd')).filter(t => before.some(b => b.ID === t.ID))
      expect(history.map(t => t.DesiredState)).toEqual(['shutdown', 'shutdown', 'shutdown'])

      const back = await runCommand('/usr/local/bin/docker', ['-H', sock, 'service', 'rollback', 'upd'], 60_000)
      expect(back.code, back.stderr).toBe(0)
      const rolled = await waitRunning('upd', 3)
      expect(rolled.every(t => t.Spec?.ContainerSpec.Image === TEST_IMAGE)).toBe(true)
      const svc = (await manager.api('GET', '/services/upd')).body
      expect(svc.PreviousSpec.TaskTemplate.ContainerSpec.Image).toBe('flotilla-test/busybox:v2')
    } finally {
      await docker.getImage('flotilla-test/busybox:v2').remove().catch(() => {})
    }
  }, 150_000)

  it.each(['stop-first', 'start-first'] as const)('rolls 6 replicas to a new image %s, Parallelism 2 and Delay 1 s, never below its floor', async order => {
    await docker.getImage(TEST_IMAGE).tag({ repo: 'flotilla-test/busybox', tag: 'v2' })
    try {
      const id = await create(manager, 'roll', { replicas: 6 })
      await waitRunning('roll', 6)
      // The fewest tasks running and meant to run, and the most running in one slot (whatever their
      // desired state), seen every 100 ms while the update goes on.
      let fewest = 6
      let mostInSlot = 0
      let watching = true
      const watch = (async () => {
        while (watching) {
          const tasks = await tasksOf(w1, 'roll')
          fewest = Math.min(fewest, tasks.filter(t => t.DesiredState === 'running' && t.Status.State === 'running').length)
          mostInSlot = Math.max(mostInSlot, ...Object.values(countBy(tasks.filter(t => t.Status.State === 'running'), t => String(t.Slot))))
          await new Promise(resolve => setTimeout(resolve, 100))
        }
      })()
      const svc = (await manager.api('GET', `/services/${id}`)).body
      const spec = {
        ...svc.Spec,
        TaskTemplate: { ...svc.Spec.TaskTemplate, ContainerSpec: { ...svc.Spec.TaskTemplate.ContainerSpec, Image: 'flotilla-test/busybox:v2' } },
        UpdateConfig: { Parallelism: 2, Delay: nanos(1), Order: order }
      }
      const started = Date.now()
      const r = await w1.api('POST', `/services/${id}/update?version=${svc.Version.Index as number}`, spec)
      expect(r.status, describeResult(r)).toBe(200)
      try {
        await waitFor('6 running tasks of the new image', async () => {
          const tasks = await tasksOf(manager, 'roll')
          const live = tasks.filter(t => t.DesiredState === 'running')
          return live.length === 6 && live.every(t => t.Status.State === 'running' && t.Spec?.ContainerSpec.Image === 'flotilla-test/busybox:v2')
        }, 60_000)
      } finally {
        watching = false
        await watch
      }
      console.log(`${order} rolling update of 6 (parallelism 2, delay 1 s): ${Date.now() - started} ms, fewest running ${fewest}, most running in a slot ${mostInSlot}`)
      expect(fewest).toBeGreaterThanOrEqual(order === 'start-first' ? 6 : 4)
      // Stop-first: a slot's old task has stopped before its replacement starts.
      if (order === 'stop-first') expect(mostInSlot).toBe(1)
    } finally {
      await docker.getImage('flotilla-test/busybox:v2').remove().catch(() => {})
    }
  }, 150_000)

  it('places by constraint: node.role==manager, and a node label', async () => {
    const c = await w2.cli(['service', 'create', '--detach', '--name', 'mgr', '--replicas', '3', '--constraint', 'node.role==manager',
      '--stop-signal', 'SIGKILL', TEST_IMAGE, 'sleep', '3600'], 60_000)
    expect(c.code, c.stderr).toBe(0)
    const onManager = await waitRunning('mgr', 3)
    expect(onManager.every(t => t.NodeID === idOf(manager))).toBe(true)
    expect(byHost(await containersPerNode('mgr'))).toEqual(byHost({ [idOf(manager)]: 3 }))

    const label = await w1.cli(['node', 'update', '--label-add', 'zone=x', 'svc-3'])
    expect(label.code, label.stderr).toBe(0)
    await create(w1, 'zoned', { replicas: 3, constraints: ['node.labels.zone==x'] })
    const zoned = await waitRunning('zoned', 3)
    expect(zoned.every(t => t.NodeID === idOf(w2))).toBe(true)
    expect(byHost(await containersPerNode('zoned'))).toEqual(byHost({ [idOf(w2)]: 3 }))
  }, 120_000)

  it('keeps tasks pending, with the reason, when no node has the memory reserved', async () => {
    const { memTotal } = await requireEngine()
    const c = await manager.cli(['service', 'create', '--detach', '--name', 'big', '--replicas', '2',
      '--reserve-memory', String(memTotal * 4), TEST_IMAGE, 'sleep', '3600'], 60_000)
    expect(c.code, c.stderr).toBe(0)
    const pending = await waitFor('2 pending tasks of big, with the reason', async () => {
      const tasks = await tasksOf(manager, 'big')
      return tasks.length === 2 && tasks.every(t => t.Status.State === 'pending' && /insufficient resources on 3 nodes/.test(t.Status.Err ?? '')) ? tasks : false
    }, 20_000)
    expect(pending[0]!.Status.Err).toMatch(/^no suitable node \(insufficient resources on 3 nodes\)$/)
    expect(pending.every(t => t.NodeID === undefined || t.NodeID === '')).toBe(true)
    const ps = await w1.cli(['service', 'ps', '--no-trunc', 'big'])
    expect(ps.code, ps.stderr).toBe(0)
    expect(ps.stdout).toMatch(/Pending/)
    expect(ps.stdout).toContain('no suitable node (insufficient resources on 3 nodes)')
    expect(Object.keys(await containersPerNode('big'))).toHaveLength(0)
  }, 90_000)

  it('rejects tasks of an image that does not exist, with the engine\'s message, and keeps retrying', async () => {
    const image = 'flotilla-test/nope:1'
    const engineMessage = await docker.pull(image).then(() => 'pulled?!', (err: unknown) => String((err as { json?: { message?: string } }).json?.message ?? (err as Error).message))
    await create(manager, 'nope', { image, restart: QUICK_RESTART })
    const tasks = await waitFor('3 rejected tasks of nope', async () => {
      const ts = await tasksOf(manager, 'nope')
      const rejected = ts.filter(t => t.Status.State === 'rejected')
      return rejected.length >= 3 ? ts : false
    }, 30_000)
    const rejected = tasks.filter(t => t.Status.State === 'rejected')
    for (const t of rejected) {
      expect(t.Status.Err, JSON.stringify(t)).toContain(engineMessage)
      expect(t.Slot).toBe(1)
    }
    expect(new Set(rejected.map(t => t.ID)).size).toBe(rejected.length)
    expect(tasks.filter(t => t.DesiredState === 'running').length).toBeLessThanOrEqual(1)
  }, 90_000)

  it('restarts on failure at most MaxAttempts times: 3 failed tasks with exit code 1, then no more', async () => {
    await create(manager, 'fails', { args: ['sh', '-c', 'exit 1'], restart: { Condition: 'on-failure', MaxAttempts: 2, Delay: nanos(0.2) } })
    const failed = await waitFor('3 failed tasks of fails', async () => {
      const ts = await tasksOf(manager, 'fails')
      return ts.length >= 3 && ts.every(t => t.Status.State === 'failed') ? ts : false
    }, 30_000)
    expect(failed).toHaveLength(3)
    for (const t of failed) {
      expect(t.Slot).toBe(1)
      expect(t.Status.ContainerStatus?.ExitCode, JSON.stringify(t)).toBe(1)
    }
    // No fourth task over several restart delays (0.2 s each).
    await holds('3 tasks of fails', async () => (await tasksOf(manager, 'fails')).length === 3, 3_000)
  }, 90_000)

  it('adopts a restarted agent\'s running containers: same containers, no duplicates', async () => {
    await create(manager, 'web', { replicas: 6 })
    const before = await waitRunning('web', 6)
    const mine = before.filter(t => t.NodeID === idOf(w1))
    expect(mine).toHaveLength(2)
    const containersBefore = (await taskContainers(docker, [`${SERVICE_LABEL}=web`, `${NODE_LABEL}=${idOf(w1)}`], true)).map(c => c.id).sort()
    expect(containersBefore).toHaveLength(2)

    const sessions = (): number => w1.logs.split('dispatcher session open').length - 1
    const sessionsBefore = sessions()
    await w1.stop()
    await w1.start([])
    await cluster.waitForReady(3, 30_000)
    await waitFor('the restarted agent\'s dispatcher session', () => sessions() > sessionsBefore, 20_000)
    // Once it has its assignments, its executor acts on them: adopting, or (wrongly) starting others.
    await holds('2 containers of web on the restarted node, the same as before', async () =>
      JSON.stringify((await taskContainers(docker, [`${SERVICE_LABEL}=web`, `${NODE_LABEL}=${idOf(w1)}`])).map(c => c.id).sort()) ===
        JSON.stringify(containersBefore), 3_000)
    const after = running(await tasksOf(manager, 'web'))
    expect(after.map(t => t.ID).sort()).toEqual(before.map(t => t.ID).sort())
    for (const t of mine) {
      const now = after.find(x => x.ID === t.ID)!
      expect(now.Status.ContainerStatus?.ContainerID).toBe(t.Status.ContainerStatus?.ContainerID)
    }
    const containersAfter = (await taskContainers(docker, [`${SERVICE_LABEL}=web`, `${NODE_LABEL}=${idOf(w1)}`])).map(c => c.id).sort()
    expect(containersAfter).toEqual(containersBefore)
    expect(Object.values(await containersPerNode('web')).reduce((a, b) => a + b, 0)).toBe(6)
  }, 120_000)

  it('answers on a published host port', async () => {
    const port = await freePort()
    const c = await w1.cli(['service', 'create', '--detach', '--name', 'http', '--publish', `mode=host,target=80,published=${port}`,
      '--stop-signal', 'SIGKILL', TEST_IMAGE, 'httpd', '-f', '-p', '80', '-h', '/tmp'], 60_000)
    expect(c.code, c.stderr).toBe(0)
    await waitRunning('http', 1)
    const status = await waitFor(`an HTTP answer on 127.0.0.1:${port}`, async () => await httpStatus(port), 20_000)
    expect(status).toBeGreaterThanOrEqual(200)
    // As docker's: `service ls` lists the routing mesh's ports only; a host-mode port is its task's (`service ps`).
    const ls = await manager.cli(['service', 'ls'])
    expect(ls.stdout).toMatch(new RegExp(`http\\s+replicated\\s+1/1\\s+${TEST_IMAGE.replace(/[/.]/g, '\\$&')}\\s*$`, 'm'))
    const ps = await manager.cli(['service', 'ps', 'http'])
    expect(ps.stdout).toMatch(new RegExp(`\\*:${port}->80/tcp`))
  }, 90_000)

  it('refuses bad input: 400 naming the field with nothing stored, 409 for a taken name and a stale version', async () => {
    const bad: Array<[string, (spec: any) => void, RegExp]> = [
      ['negative replicas', s => { s.Mode = { Replicated: { Replicas: -1 } } }, /Replicas/],
      ['fractional replicas', s => { s.Mode = { Replicated: { Replicas: 1.5 } } }, /Replicas/],
      ['empty image', s => { s.TaskTemplate.ContainerSpec.Image = '' }, /Image/],
      ['unknown mode', s => { s.Mode = { Sometimes: {} } }, /Mode/],
      ['malformed constraint', s => { s.TaskTemplate.Placement = { Constraints: ['node.role~manager'] } }, /Constraints/],
      ['name docker refuses', s => { s.Name = 'no spaces!' }, /Name/],
      ['duplicate published port', s => {
        s.EndpointSpec = { Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 31080, PublishMode: 'host' }, { Protocol: 'tcp', TargetPort: 81, PublishedPort: 31080, PublishMode: 'host' }] }
      }, /Ports|PublishedPort/]
    ]
    for (const [what, mutate, field] of bad) {
      const spec: any = serviceSpec('bad')
      mutate(spec)
      const r = await w1.api('POST', '/services/create', spec)
      expect(r.status, `${what}: ${describeResult(r)}`).toBe(400)
      expect(r.body.message, what).toMatch(field)
      console.log(`${what}: ${r.body.message as string}`)
    }
    expect((await manager.api('GET', '/services')).body).toEqual([])

    await create(manager, 'dup', { replicas: 1 })
    const again = await w2.api('POST', '/services/create', serviceSpec('dup'))
    expect(again.status, describeResult(again)).toBe(409)
    expect(again.body.message).toMatch(/dup/)
    const s = await inspectService(manager, 'dup')
    const ok = await manager.api('POST', `/services/${s.ID}/update?version=${s.Version.Index}`, { ...s.Spec, Mode: { Replicated: { Replicas: 2 } } })
    expect(ok.status, describeResult(ok)).toBe(200)
    const stale = await w1.api('POST', `/services/${s.ID}/update?version=${s.Version.Index}`, { ...s.Spec, Mode: { Replicated: { Replicas: 3 } } })
    expect(stale.status, describeResult(stale)).toBe(409)
    expect((await inspectService(manager, 'dup')).Spec.Mode.Replicated.Replicas).toBe(2)
    expect(((await manager.api('GET', '/services')).body as unknown[]).length).toBe(1)
  }, 60_000)
})

/** The status of `GET /` on 127.0.0.1:port, or false when nothing answers yet. */
async function httpStatus (port: number): Promise<number | false> {
  return await new Promise(resolve => {
    const req = request({ host: '127.0.0.1', port, path: '/', timeout: 2_000 }, res => {
      res.resume()
      resolve(res.statusCode ?? false)
    })
    req.on('timeout', () => { req.destroy() })
    req.on('error', () => { resolve(false) })
    req.end()
  })
}
