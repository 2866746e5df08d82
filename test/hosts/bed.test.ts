import { execFileSync } from 'node:child_process'
import { readlinkSync } from 'node:fs'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { callSocket, waitFor, type ApiResult } from '../support/agent-process.js'
import { TEST_IMAGE, TestBed, type BedCluster, type BedHost } from '../support/bed/index.js'

// A 5-host bed (netns + dockerd + agent each) forming a 3-manager, 2-worker cluster. Needs root and
// Docker's binaries; without them TestBed.start fails and says what to install.

interface Task { ID: string, NodeID: string, DesiredState: string, Status: { State: string } }

const CALL_MS = 10_000

async function engineApi (h: BedHost, method: string, path: string, body?: unknown): Promise<ApiResult> {
  return await callSocket(h.engine.socket, method, path, body, CALL_MS)
}

async function runningTasks (h: BedHost, service: string): Promise<Task[]> {
  const filters = encodeURIComponent(JSON.stringify({ service: [service], 'desired-state': ['running'] }))
  const r = await h.agent.api('GET', `/tasks?filters=${filters}`, undefined, CALL_MS)
  if (r.status !== 200) throw new Error(`GET /tasks answered ${r.status}: ${JSON.stringify(r.body)}`)
  return r.body as Task[]
}

/** Wait until `replicas` tasks run; returns them. */
async function waitForRunning (h: BedHost, service: string, replicas: number): Promise<Task[]> {
  return await waitFor(`${replicas} running tasks of ${service}`, async () => {
    const tasks = await runningTasks(h, service)
    if (tasks.length === replicas && tasks.every(t => t.Status.State === 'running')) return tasks
    throw new Error(`tasks now: ${JSON.stringify(tasks.map(t => ({ node: t.NodeID, state: t.Status.State })))}`)
  }, 45_000, 250)
}

/**
 * Each engine runs exactly the containers of its own node's tasks (found by Swarm's task and node labels),
 * and no task's container is in another node's engine.
 */
async function expectContainersOnTheirNodes (bed: TestBed, cluster: BedCluster, tasks: Task[]): Promise<void> {
  const hostOfNode = new Map([...cluster.nodeIds].map(([host, id]) => [id, host]))
  for (const h of bed.hosts) {
    const listed = await engineApi(h, 'GET', '/containers/json?all=true')
    expect(listed.status).toBe(200)
    const containers = listed.body as Array<{ Labels: Record<string, string>, State: string }>
    const taskIds = containers.map(c => c.Labels['com.docker.swarm.task.id']).sort()
    expect(taskIds, `containers in ${h.name}'s engine`).toEqual(tasks.filter(t => hostOfNode.get(t.NodeID) === h.name).map(t => t.ID).sort())
    for (const c of containers) {
      expect(c.Labels['com.docker.swarm.node.id']).toBe(cluster.nodeIds.get(h.name))
      expect(c.State).toBe('running')
    }
  }
}

describe('multi-host test bed: 5 hosts, 3 managers + 2 workers', () => {
  let bed: TestBed | undefined
  let cluster: BedCluster

  const theBed = (): TestBed => {
    if (bed === undefined) throw new Error('the bed did not start')
    return bed
  }

  beforeAll(async () => {
    const t0 = Date.now()
    bed = await TestBed.start({ hosts: 5 })
    const started = Date.now() - t0
    cluster = await bed.formCluster({ managers: 3 })
    console.log(`bed ${bed.runId}: hosts up in ${started} ms (network ${bed.timings.network}, engines ${bed.timings.engines}, image + agents ${bed.timings.agents}), ` +
      `cluster formed at ${Date.now() - t0} ms`)
  }, 180_000)

  beforeEach(ctx => {
    ctx.onTestFailed(() => { if (bed !== undefined) console.log(bed.logs()) })
  })

  afterAll(async () => {
    await bed?.teardown()
  }, 60_000)

  it('gives each host its own netns, engine and agent, the agent being the node process itself', async () => {
    const b = theBed()
    const netnsOf = (pid: number | undefined): string => readlinkSync(`/proc/${pid ?? 0}/ns/net`)
    const seen = new Set<string>([netnsOf(process.pid)])
    for (const h of b.hosts) {
      expect(readlinkSync(`/proc/${h.agent.pid ?? 0}/exe`)).toMatch(/\/node(-\d+)?$|\/node$/)
      expect(netnsOf(h.engine.pid)).toBe(netnsOf(h.agent.pid))
      seen.add(netnsOf(h.agent.pid))
      const info = await engineApi(h, 'GET', '/info')
      expect(info.status).toBe(200)
      expect(info.body.DockerRootDir).toBe(h.engine.dataRoot)
      const images = await engineApi(h, 'GET', `/images/${encodeURIComponent(TEST_IMAGE)}/json`)
      expect(images.status).toBe(200)
    }
    expect(seen.size).toBe(b.hosts.length + 1)
    const nodes = await b.host(1).agent.api('GET', '/nodes', undefined, CALL_MS)
    expect((nodes.body as Array<{ Description: { Hostname: string }, Spec: { Role: string } }>).map(n => `${n.Description.Hostname}:${n.Spec.Role}`).sort())
      .toEqual(['h1:manager', 'h2:manager', 'h3:manager', 'h4:worker', 'h5:worker'])
  })

  it('runs a service created on a worker\'s socket spread over the hosts, each container in its own node\'s engine only', async () => {
    const b = theBed()
    const worker = cluster.workers[0]!
    const created = await worker.agent.api('POST', '/services/create', {
      Name: 'spread',
      TaskTemplate: { ContainerSpec: { Image: TEST_IMAGE, Command: ['sleep', '3600'] } },
      Mode: { Replicated: { Replicas: 5 } }
    }, CALL_MS)
    expect(created.status, JSON.stringify(created.body)).toBe(201)
    const tasks = await waitForRunning(worker, 'spread', 5)
    const hostOfNode = new Map([...cluster.nodeIds].map(([host, id]) => [id, host]))
    expect(new Set(tasks.map(t => hostOfNode.get(t.NodeID))).size).toBe(5)
    await expectContainersOnTheirNodes(b, cluster, tasks)

    // Scale up through the other worker's socket: it forwards the write to the leader.
    const other = cluster.workers[1]!
    const svc = await other.agent.api('GET', '/services/spread', undefined, CALL_MS)
    expect(svc.status).toBe(200)
    const spec = { ...svc.body.Spec, Mode: { Replicated: { Replicas: 8 } } }
    const updated = await other.agent.api('POST', `/services/${svc.body.ID as string}/update?version=${svc.body.Version.Index as number}`, spec, CALL_MS)
    expect(updated.status, JSON.stringify(updated.body)).toBe(200)
    const scaled = await waitForRunning(other, 'spread', 8)
    await expectContainersOnTheirNodes(b, cluster, scaled)
  })

  it('isolates a host from every other and heals it', async () => {
    const b = theBed()
    const target = b.host('h5')
    const others = b.hosts.filter(h => h !== target)
    for (const h of others) expect(await b.canConnect(h, target)).toBe(true)
    await b.isolate(target)
    expect(b.faults).toEqual([{ kind: 'isolate', host: 'h5' }])
    expect(await b.faultRules(target)).toHaveLength(2)
    for (const h of others) expect(await b.canConnect(h, target, 4242, 1_000)).toBe(false)
    expect(await b.canConnect(target, others[0]!, 4242, 1_000)).toBe(false)
    // The leader notices: the silent node goes down.
    await waitFor('h5 to be down', async () => {
      const r = await b.host('h1').agent.api('GET', '/nodes/h5', undefined, CALL_MS)
      return r.status === 200 && r.body.Status.State === 'down'
    }, 30_000, 250)
    expect(await b.heal()).toEqual([{ kind: 'isolate', host: 'h5' }])
    expect(b.faults).toEqual([])
    expect(await b.faultRules(target)).toEqual([])
    for (const h of others) expect(await b.canConnect(h, target)).toBe(true)
    await b.waitForReady(30_000)
  })

  it('tears down everything the run made', async () => {
    const b = theBed()
    const agentPids = b.hosts.map(h => h.agent.pid)
    const t0 = Date.now()
    await b.teardown()
    console.log(`bed ${b.runId}: torn down in ${Date.now() - t0} ms`)
    expect(b.remains()).toEqual({ runId: b.runId, netns: [], cgroups: [], pids: [], dirs: [] })
    for (const pid of agentPids) expect(() => process.kill(pid ?? 0, 0)).toThrow()
    const links = execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8', timeout: 5_000 })
    expect(links).not.toContain(b.runId)
    const netns = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8', timeout: 5_000 })
    expect(netns).not.toContain(b.runId)
    const mounts = execFileSync('cat', ['/proc/self/mountinfo'], { encoding: 'utf8', timeout: 5_000 })
    expect(mounts).not.toContain(b.runId)
  })
})
