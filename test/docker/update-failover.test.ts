import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { waitFor, type AgentProcess } from '../support/agent-process.js'
import { TestCluster } from '../support/cluster.js'
import { requireEngine } from '../support/docker-engine.js'
import { NODE_LABEL, describeResult, engine, removeContainers, serviceSpec, tasksOf, type TaskView } from '../support/services.js'
import { TEST_IMAGE, ensureTestImage } from '../support/test-image.js'

const V2 = 'flotilla-test/busybox:v2'

// A rolling update lives in the replicated store, not in the leader's memory: when the leader dies
// mid-update, the next leader's orchestrator carries it on from the tasks as they stand.
describe('a rolling update through a leader failover (3 managers on one engine)', () => {
  let cluster: TestCluster
  const docker = engine()
  let nodeIds: string[] = []

  beforeAll(async () => {
    await requireEngine()
    await ensureTestImage()
    await docker.getImage(TEST_IMAGE).tag({ repo: 'flotilla-test/busybox', tag: 'v2' })
    cluster = await TestCluster.start({ size: 3, managers: 3, hostnamePrefix: 'upf' })
    await cluster.waitForReady(3, 30_000)
    nodeIds = [...(await cluster.nodeIds()).values()]
  }, 90_000)

  beforeEach(({ onTestFailed }) => { onTestFailed(() => { console.log(cluster.logs()) }) })

  afterAll(async () => {
    await cluster?.stop()
    for (const id of nodeIds) await removeContainers(docker, [`${NODE_LABEL}=${id}`])
    await docker.getImage(V2).remove().catch(() => {})
  })

  const leaderOf = async (via: AgentProcess): Promise<AgentProcess> => {
    const nodes = (await via.api('GET', '/nodes')).body as Array<{ Description: { Hostname: string }, ManagerStatus?: { Leader?: boolean } }>
    const host = nodes.find(n => n.ManagerStatus?.Leader === true)?.Description.Hostname
    const leader = cluster.agents.find(a => a.hostname === host)
    if (leader === undefined) throw new Error('no leader listed')
    return leader
  }

  it('completes an update begun before the leader was SIGKILLed', async () => {
    const first = cluster.agents[0]!
    const r = await first.api('POST', '/services/create', serviceSpec('fo', { replicas: 6 }), 30_000)
    expect(r.status, describeResult(r)).toBe(201)
    const live = (ts: TaskView[]): TaskView[] => ts.filter(t => t.DesiredState === 'running')
    await waitFor('6 running tasks', async () => {
      const ts = live(await tasksOf(first, 'fo'))
      return ts.length === 6 && ts.every(t => t.Status.State === 'running')
    }, 30_000)

    const svc = (await first.api('GET', '/services/fo')).body
    const spec = {
      ...svc.Spec,
      TaskTemplate: { ...svc.Spec.TaskTemplate, ContainerSpec: { ...svc.Spec.TaskTemplate.ContainerSpec, Image: V2 } },
      UpdateConfig: { Parallelism: 1, Delay: 1e9 }
    }
    const u = await first.api('POST', `/services/${svc.ID as string}/update?version=${svc.Version.Index as number}`, spec)
    expect(u.status, describeResult(u)).toBe(200)
    const startedAt = await waitFor('UpdateStatus updating', async () => {
      const s = (await first.api('GET', '/services/fo')).body
      return s.UpdateStatus?.State === 'updating' ? s.UpdateStatus.StartedAt as string : false
    }, 30_000)
    // Kill the leader once the update is under way: one task replaced, the others not yet.
    await waitFor('the first replacement running', async () =>
      live(await tasksOf(first, 'fo')).some(t => t.Spec?.ContainerSpec.Image === V2 && t.Status.State === 'running'), 30_000)
    const leader = await leaderOf(first)
    const before = live(await tasksOf(first, 'fo')).filter(t => t.Spec?.ContainerSpec.Image === V2).length
    expect(before).toBeLessThan(6)
    const killedAt = Date.now()
    await leader.kill()

    const survivor = cluster.agents.find(a => a !== leader)!
    const done = await waitFor('6 running tasks of the new image', async () => {
      const ts = live(await tasksOf(survivor, 'fo', 10_000).catch(() => []))
      return ts.length === 6 && ts.every(t => t.Status.State === 'running' && t.Spec?.ContainerSpec.Image === V2) ? ts : false
    }, 90_000)
    console.log(`update finished ${Date.now() - killedAt} ms after the leader was killed (${before} of 6 replaced before)`)
    expect(new Set(done.map(t => t.Slot))).toEqual(new Set([1, 2, 3, 4, 5, 6]))
    expect(done.some(t => t.NodeID === nodeIds[cluster.agents.indexOf(leader)])).toBe(false)
    // The new leader carried the update's status on from the store: same start, then completed.
    const status = await waitFor('UpdateStatus completed', async () => {
      const s = (await survivor.api('GET', '/services/fo', undefined, 10_000).catch(() => null))?.body
      return s?.UpdateStatus?.State === 'completed' ? s.UpdateStatus : false
    }, 30_000)
    expect(status).toMatchObject({ StartedAt: startedAt, Message: 'update completed' })
  }, 180_000)
})
