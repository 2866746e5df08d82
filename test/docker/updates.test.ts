import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { runCommand, waitFor, type AgentProcess } from '../support/agent-process.js'
import { TestCluster } from '../support/cluster.js'
import { requireEngine } from '../support/docker-engine.js'
import {
  NODE_LABEL, SERVICE_LABEL, countBy, describeResult, engine, removeAllServices, removeContainers, running, serviceSpec, taskContainers,
  tasksOf, waitRunningTasks, type SpecInit, type TaskView
} from '../support/services.js'
import { TEST_IMAGE, ensureTestImage } from '../support/test-image.js'

const DOCKER = '/usr/local/bin/docker'
/** An image no engine here has, nor can pull (no registry is reachable): its tasks are rejected. */
const MISSING = 'flotilla-test/missing:never'
const nanos = (seconds: number): number => Math.round(seconds * 1e9)
const QUICK_RESTART = { Delay: nanos(0.2) }

interface ServiceView {
  ID: string
  Version: { Index: number }
  Spec: any
  PreviousSpec?: any
  UpdateStatus?: { State: string, Message: string, StartedAt?: string, CompletedAt?: string }
  Rebalance?: unknown
}

// Swarm's update machinery on a real engine (3 agents: 1 manager, 2 workers): FailureAction pause and
// rollback, health checks that fail, and rebalancing after a node comes back. Rolling order and delay
// are in services.test.ts, an update through a leader failover in update-failover.test.ts.
describe('updates, rollbacks, health checks and rebalancing', () => {
  let cluster: TestCluster
  let manager: AgentProcess
  let w1: AgentProcess
  let w2: AgentProcess
  let nodeIds = new Map<string, string>()
  const docker = engine()
  const idOf = (a: AgentProcess): string => nodeIds.get(a.hostname)!

  const create = async (name: string, init: SpecInit = {}): Promise<string> => {
    const r = await manager.api('POST', '/services/create', serviceSpec(name, init), 30_000)
    expect(r.status, describeResult(r)).toBe(201)
    return r.body.ID as string
  }

  const inspect = async (ref: string, via: AgentProcess = manager): Promise<ServiceView> => {
    const r = await via.api('GET', `/services/${ref}`)
    expect(r.status, describeResult(r)).toBe(200)
    return r.body as ServiceView
  }

  const waitRunning = async (service: string, n: number, timeoutMs = 30_000): Promise<TaskView[]> =>
    await waitRunningTasks(manager, service, n, timeoutMs)

  const waitUpdateState = async (ref: string, state: string, timeoutMs = 60_000): Promise<ServiceView> => {
    let last: ServiceView | undefined
    try {
      return await waitFor(`UpdateStatus ${state} of ${ref}`, async () => {
        last = await inspect(ref)
        return last.UpdateStatus?.State === state ? last : false
      }, timeoutMs)
    } catch (err) {
      const tasks = await tasksOf(manager, ref).catch(() => [])
      throw new Error(`${(err as Error).message}; last UpdateStatus ${JSON.stringify(last?.UpdateStatus ?? null)}, tasks ${JSON.stringify(tasks.map(t => [t.Slot, t.DesiredState, t.Status.State, t.Spec?.ContainerSpec.Image]))}`)
    }
  }

  /** Running containers of `service` per hostname, as the engine lists them. */
  const spread = async (service: string): Promise<Record<string, number>> => {
    const hosts = new Map([...nodeIds].map(([host, id]) => [id, host]))
    return countBy((await taskContainers(docker, [`${SERVICE_LABEL}=${service}`], true)).filter(c => hosts.has(c.nodeId)), c => hosts.get(c.nodeId)!)
  }

  beforeAll(async () => {
    await requireEngine()
    await ensureTestImage()
    await docker.getImage(TEST_IMAGE).tag({ repo: 'flotilla-test/busybox', tag: 'v2' })
    cluster = await TestCluster.start({ size: 3, managers: 1, hostnamePrefix: 'upd' })
    ;[manager, w1, w2] = cluster.agents as [AgentProcess, AgentProcess, AgentProcess]
    await cluster.waitForReady(3, 30_000)
    nodeIds = await cluster.nodeIds()
  }, 90_000)

  beforeEach(({ onTestFailed }) => { onTestFailed(() => { console.log(cluster.logs()) }) })

  afterEach(async () => {
    for (const a of [manager, w1, w2]) if (!a.running) await a.start([])
    await cluster.waitForReady(3, 30_000)
    await removeAllServices(manager, docker, nodeIds.values())
  }, 90_000)

  afterAll(async () => {
    await cluster?.stop()
    for (const id of nodeIds.values()) await removeContainers(docker, [`${NODE_LABEL}=${id}`])
    await docker.getImage('flotilla-test/busybox:v2').remove().catch(() => {})
  })

  it('FailureAction pause (the default): an update to a missing image stops at its first failure and reports paused', async () => {
    await create('halt', { replicas: 4, restart: QUICK_RESTART })
    const before = await waitRunning('halt', 4)
    // The docker CLI on a worker, without --detach: it follows the update until the pause, and fails.
    const up = await runCommand(DOCKER, ['-H', `unix://${w1.socket}`, 'service', 'update', '--image', MISSING, 'halt'], 60_000)
    expect(up.code, up.stdout).toBe(1)
    expect(up.stderr).toMatch(/service update paused: update paused due to failure or early termination of task [0-9a-z]+/)
    const svc = await inspect('halt')
    expect(svc.UpdateStatus).toMatchObject({ State: 'paused' })
    expect(svc.UpdateStatus!.Message).toMatch(/^update paused due to failure or early termination of task /)
    expect(svc.UpdateStatus!.StartedAt).toBeDefined()
    // Paused: the three slots not yet reached keep their old task; nothing more is replaced while we watch
    // (the failed slot's restarts, under the restart policy, stay in that slot).
    const observeUntil = Date.now() + 3_000
    while (Date.now() < observeUntil) {
      const tasks = await tasksOf(manager, 'halt')
      const oldRunning = tasks.filter(t => t.DesiredState === 'running' && before.some(b => b.ID === t.ID))
      expect(oldRunning).toHaveLength(3)
      const touched = new Set(tasks.filter(t => t.Spec?.ContainerSpec.Image === MISSING).map(t => t.Slot))
      expect(touched.size).toBe(1)
      await new Promise(resolve => setTimeout(resolve, 250))
    }
    const failed = (await tasksOf(manager, 'halt')).filter(t => t.Spec?.ContainerSpec.Image === MISSING && t.Status.State === 'rejected')
    expect(failed.length).toBeGreaterThan(0)
    expect(failed[0]!.Status.Err).toMatch(/^pull flotilla-test\/missing:never: /) // the engine's own error, from the pull it tried

    // A new update resumes: back to the old image, all four slots converge.
    const resume = await runCommand(DOCKER, ['-H', `unix://${w1.socket}`, 'service', 'update', '--image', TEST_IMAGE, 'halt'], 90_000)
    expect(resume.code, resume.stderr).toBe(0)
    const after = await waitRunning('halt', 4)
    expect(after.every(t => t.Spec?.ContainerSpec.Image === TEST_IMAGE)).toBe(true)
    expect((await waitUpdateState('halt', 'completed')).UpdateStatus!.Message).toBe('update completed')
  }, 150_000)

  it('FailureAction rollback: an update to a missing image returns to the old spec by itself', async () => {
    await create('back', { replicas: 4, restart: QUICK_RESTART })
    const before = await waitRunning('back', 4)
    const up = await runCommand(DOCKER, [
      '-H', `unix://${w2.socket}`, 'service', 'update', '--image', MISSING, '--update-failure-action', 'rollback', '--update-monitor', '2s', 'back'
    ], 90_000)
    // docker 28 follows the rollback to its end and says so.
    expect(up.stdout).toMatch(/rollback: update rolled back due to failure or early termination of task [0-9a-z]+/)
    const svc = await waitUpdateState('back', 'rollback_completed')
    expect(svc.UpdateStatus!.Message).toBe('rollback completed')
    expect(svc.UpdateStatus!.CompletedAt).toBeDefined()
    expect(svc.Spec.TaskTemplate.ContainerSpec.Image).toBe(TEST_IMAGE)
    expect(svc.PreviousSpec).toBeUndefined() // used up by the rollback, as SwarmKit
    const after = await waitRunning('back', 4)
    expect(after.every(t => t.Spec?.ContainerSpec.Image === TEST_IMAGE)).toBe(true)
    // Only the slot that failed was touched: three of the four original tasks never stopped.
    expect(after.filter(t => before.some(b => b.ID === t.ID)).length).toBe(3)
    const rollback = await runCommand(DOCKER, ['-H', `unix://${w2.socket}`, 'service', 'rollback', 'back'], 30_000)
    expect(rollback.code).toBe(1)
    expect(rollback.stderr).toContain('does not have a previous spec')
  }, 150_000)

  it('replaces tasks whose health check fails, per the restart policy, and rolls an update to such tasks back', async () => {
    const failing = { Test: ['CMD', 'false'], Interval: nanos(0.2), Timeout: nanos(1), Retries: 1 }
    await create('sick', { replicas: 1, restart: QUICK_RESTART, healthcheck: failing })
    const replaced = await waitFor('three failed unhealthy tasks in slot 1', async () => {
      const tasks = await tasksOf(manager, 'sick')
      const unhealthy = tasks.filter(t => t.Status.State === 'failed' && (t.Status.Err ?? '').includes('unhealthy container'))
      return unhealthy.length >= 3 ? tasks : false
    }, 40_000)
    expect(replaced.filter(t => t.Status.State === 'running')).toEqual([]) // never counted as running: never healthy
    expect(new Set(replaced.map(t => t.Slot))).toEqual(new Set([1]))

    // An update to a health check that fails: the new tasks fail within Monitor, so the update rolls back.
    await create('checked', { replicas: 2, restart: QUICK_RESTART, healthcheck: { Test: ['CMD', 'true'], Interval: nanos(0.2), Retries: 1 } })
    const healthy = await waitRunning('checked', 2)
    const svc = await inspect('checked')
    const spec = {
      ...svc.Spec,
      TaskTemplate: { ...svc.Spec.TaskTemplate, ContainerSpec: { ...svc.Spec.TaskTemplate.ContainerSpec, Healthcheck: failing } },
      UpdateConfig: { FailureAction: 'rollback', Monitor: nanos(2) }
    }
    const r = await manager.api('POST', `/services/${svc.ID}/update?version=${svc.Version.Index}`, spec)
    expect(r.status, describeResult(r)).toBe(200)
    const done = await waitUpdateState('checked', 'rollback_completed')
    expect(done.Spec.TaskTemplate.ContainerSpec.Healthcheck.Test).toEqual(['CMD', 'true'])
    const after = await waitRunning('checked', 2)
    expect(after.filter(t => healthy.some(h => h.ID === t.ID)).length).toBe(1)
  }, 150_000)

  it('rebalances after a node returns: 3/3/0 becomes 2/2/2, one task at a time, never below 6 running', async () => {
    await create('reb', { replicas: 6, restart: QUICK_RESTART })
    await waitRunning('reb', 6)
    expect(await spread('reb')).toEqual({ [manager.hostname]: 2, [w1.hostname]: 2, [w2.hostname]: 2 })
    await w2.kill('SIGKILL')
    await removeContainers(docker, [`${NODE_LABEL}=${idOf(w2)}`]) // as if the host had rebooted
    await waitFor('6 running tasks, none on the killed node', async () => {
      const tasks = await tasksOf(manager, 'reb')
      const live = running(tasks).filter(t => t.DesiredState === 'running')
      return live.length === 6 && live.every(t => t.NodeID !== idOf(w2))
    }, 30_000)
    await w2.start([])
    await cluster.waitForReady(3, 30_000)
    // As Swarm: a returning node gets nothing of a converged service.
    expect(await spread('reb')).toEqual({ [manager.hostname]: 3, [w1.hostname]: 3 })

    let fewest = 6
    let watching = true
    const watch = (async () => {
      while (watching) {
        const tasks = await tasksOf(manager, 'reb')
        fewest = Math.min(fewest, tasks.filter(t => t.DesiredState === 'running' && t.Status.State === 'running').length)
        await new Promise(resolve => setTimeout(resolve, 100))
      }
    })()
    const started = Date.now()
    let out
    try {
      out = await w1.cli(['service', 'rebalance', 'reb'], 60_000)
    } finally {
      watching = false
      await watch
    }
    expect(out.code, out.stderr).toBe(0)
    expect(out.stdout).toContain('verify: Service reb rebalanced')
    console.log(`rebalance 3/3/0 → 2/2/2: ${Date.now() - started} ms, fewest running ${fewest}`)
    expect(fewest).toBeGreaterThanOrEqual(6)
    expect(await spread('reb')).toEqual({ [manager.hostname]: 2, [w1.hostname]: 2, [w2.hostname]: 2 })
    expect((await inspect('reb')).Rebalance).toBeUndefined()
  }, 150_000)

  it('keeps a service labelled flotilla.rebalance=true balanced by itself when a node returns', async () => {
    const c = await manager.cli(['service', 'create', '--detach', '--name', 'even', '--replicas', '6', '--rebalance', '--restart-delay', '200ms',
      '--stop-signal', 'SIGKILL', TEST_IMAGE, 'sleep', '3600'])
    expect(c.code, c.stderr).toBe(0)
    expect((await inspect('even')).Spec.Labels).toEqual({ 'flotilla.rebalance': 'true' })
    await waitRunning('even', 6)
    await w2.kill('SIGKILL')
    await removeContainers(docker, [`${NODE_LABEL}=${idOf(w2)}`])
    await waitFor('6 running tasks, none on the killed node', async () => {
      const live = running(await tasksOf(manager, 'even')).filter(t => t.DesiredState === 'running')
      return live.length === 6 && live.every(t => t.NodeID !== idOf(w2))
    }, 30_000)
    await w2.start([])
    await waitFor('the spread back to 2/2/2', async () => {
      const s = await spread('even')
      return s[manager.hostname] === 2 && s[w1.hostname] === 2 && s[w2.hostname] === 2
    }, 60_000)
    expect(running(await tasksOf(manager, 'even')).filter(t => t.DesiredState === 'running')).toHaveLength(6)
    // --no-rebalance takes the label off.
    const off = await manager.cli(['service', 'update', '--detach', '--no-rebalance', 'even'])
    expect(off.code, off.stderr).toBe(0)
    expect((await inspect('even')).Spec.Labels ?? {}).toEqual({})
  }, 150_000)
})
