import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import Docker from 'dockerode'
import { AgentProcess, freePort, waitFor } from '../support/agent-process.js'
import { TestCluster } from '../support/cluster.js'
import { requireEngine } from '../support/docker-engine.js'
import { NODE_LABEL, SERVICE_LABEL, engine, removeContainers, serviceSpec } from '../support/services.js'
import { ensureTestImage } from '../support/test-image.js'

/**
 * dockerode's swarm, node, service and task methods against agents' sockets (`new Docker({ socketPath })`),
 * each through a manager's and a worker's socket. Service logs are tested in service-logs.test.ts.
 */
describe('dockerode against flotilla agents', () => {
  let cluster: TestCluster
  let manager: AgentProcess
  let worker: AgentProcess
  let lone: AgentProcess
  let joiner: AgentProcess
  const nodeIds = new Set<string>()
  const client = (a: AgentProcess): Docker => new Docker({ socketPath: a.socket, timeout: 30_000 })
  const both = (): Array<[string, Docker]> => [['manager', client(manager)], ['worker', client(worker)]]
  const status = async (p: Promise<unknown>): Promise<number | undefined> => {
    try {
      await p
      return 200
    } catch (err) {
      return (err as { statusCode?: number }).statusCode
    }
  }

  beforeAll(async () => {
    await requireEngine()
    await ensureTestImage()
    cluster = TestCluster.empty('dode')
    manager = await cluster.addAgent('dode-1', 'info')
    worker = await cluster.addAgent('dode-2', 'info')
    joiner = await cluster.addAgent('dode-3', 'info')
    lone = await cluster.addAgent('dode-lone', 'info')
    await Promise.all([manager, worker, joiner, lone].map(async a => { await a.start([]) }))
  }, 60_000)

  afterAll(async () => {
    await cluster?.stop()
    for (const id of nodeIds) await removeContainers(engine(), [`${NODE_LABEL}=${id}`])
    // A node removed or left mid-file has a node ID not collected above: clean up by this file's services too.
    for (const name of ['dode-manager', 'dode-worker']) await removeContainers(engine(), [`${SERVICE_LABEL}=${name}`])
  }, 60_000)

  it('swarmInit returns the node ID; swarmJoin joins a worker; 503 outside a swarm', async () => {
    expect(await status(client(manager).listNodes())).toBe(503)
    const id = await client(manager).swarmInit({ ListenAddr: manager.addr, AdvertiseAddr: manager.addr }) as unknown
    expect(id).toMatch(/^[0-9a-z]{25}$/)
    nodeIds.add(id as string)
    const sw = await client(manager).swarmInspect()
    await client(worker).swarmJoin({ ListenAddr: worker.addr, RemoteAddrs: [manager.addr], JoinToken: sw.JoinTokens.Worker })
    await client(joiner).swarmJoin({ ListenAddr: joiner.addr, RemoteAddrs: [manager.addr], JoinToken: sw.JoinTokens.Worker })
    await waitFor('3 ready nodes', async () => {
      const nodes = await client(manager).listNodes()
      return nodes.length === 3 && nodes.every((n: any) => n.Status.State === 'ready')
    }, 30_000)
    for (const a of [worker, joiner]) nodeIds.add((await a.api('GET', '/info')).body.Swarm.NodeID as string)
    // A wrong token is refused.
    const other = new AgentProcess({ baseDir: cluster.baseDir, hostname: 'dode-bad', port: await freePort(), logLevel: 'info' })
    cluster.agents.push(other)
    await other.start([])
    const bad = sw.JoinTokens.Worker.replace(/.$/, c => (c === 'a' ? 'b' : 'a'))
    expect(await status(client(other).swarmJoin({ ListenAddr: other.addr, RemoteAddrs: [manager.addr], JoinToken: bad }))).toBeGreaterThanOrEqual(400)
    await other.kill()
  }, 60_000)

  it('swarmInspect on both sockets', async () => {
    for (const [, d] of both()) {
      const sw = await d.swarmInspect()
      expect(sw.ID).toMatch(/^[0-9a-z]{25}$/)
      expect(sw.Version.Index).toBeGreaterThan(0)
      expect(sw.Spec.Orchestration.TaskHistoryRetentionLimit).toBe(5)
      expect(sw.JoinTokens.Worker).toMatch(/^FLTKN-1-/)
    }
  })

  it('listNodes with filters, getNode().inspect by ID and hostname', async () => {
    for (const [, d] of both()) {
      const nodes = await d.listNodes()
      expect(nodes.map((n: any) => n.Description.Hostname).sort()).toEqual(['dode-1', 'dode-2', 'dode-3'])
      const managers = await d.listNodes({ filters: JSON.stringify({ role: ['manager'] }) })
      expect(managers.map((n: any) => n.Description.Hostname)).toEqual(['dode-1'])
      const w = nodes.find((n: any) => n.Description.Hostname === 'dode-2')!
      const byId = await d.getNode(w.ID).inspect()
      const byName = await d.getNode('dode-2').inspect()
      expect(byName.ID).toBe(byId.ID)
      expect(byId.Status.State).toBe('ready')
      expect(await status(d.getNode('dode-nope').inspect())).toBe(404)
    }
  })

  it('getNode().update sets availability and labels at the version read; a stale version is a 409', async () => {
    for (const [, d] of both()) {
      const n = await d.getNode('dode-3').inspect()
      // @types/dockerode types Node.update as returning nothing; without a callback it returns a promise.
      await (d.getNode(n.ID).update({ version: n.Version.Index, ...n.Spec, Availability: 'drain', Labels: { zone: 'b' } }) as unknown as Promise<void>)
      const after = await d.getNode('dode-3').inspect()
      expect(after.Spec).toEqual({ Labels: { zone: 'b' }, Role: 'worker', Availability: 'drain' })
      expect(await status(d.getNode(n.ID).update({ version: n.Version.Index, ...n.Spec }))).toBe(409)
      await d.getNode(n.ID).update({ version: after.Version.Index, Role: 'worker', Availability: 'active', Labels: {} })
    }
  })

  it('createService, listServices, getService().inspect/update/remove, listTasks, getTask().inspect', async () => {
    for (const [where, d] of both()) {
      const name = `dode-${where}`
      const created = await d.createService(serviceSpec(name, { replicas: 2 }))
      expect(created.ID ?? created.id).toMatch(/^[0-9a-z]{25}$/)
      const id: string = created.ID ?? created.id
      expect(await status(d.createService(serviceSpec(name) as any))).toBe(409)

      const list = await d.listServices({ filters: JSON.stringify({ name: [name] }) })
      expect(list.map((s: any) => s.ID)).toEqual([id])
      const svc = await d.getService(name).inspect()
      expect(svc.ID).toBe(id)
      expect(svc.Spec.Mode).toEqual({ Replicated: { Replicas: 2 } })

      const tasks = await waitFor(`2 running tasks of ${name}`, async () => {
        const ts = await d.listTasks({ filters: JSON.stringify({ service: [name], 'desired-state': ['running'] }) })
        return ts.length === 2 && ts.every((t: any) => t.Status.State === 'running') ? ts : false
      }, 30_000)
      const t = await d.getTask(tasks[0].ID).inspect()
      expect(t.ServiceID).toBe(id)
      expect(t.Status.State).toBe('running')
      expect(await status(d.getTask('nope').inspect())).toBe(404)

      await d.getService(id).update({ version: svc.Version.Index, ...svc.Spec, Mode: { Replicated: { Replicas: 1 } } })
      expect((await d.getService(id).inspect()).Spec.Mode).toEqual({ Replicated: { Replicas: 1 } })
      expect(await status(d.getService(id).update({ version: svc.Version.Index, ...svc.Spec }))).toBe(409)
      await waitFor(`1 task of ${name}`, async () =>
        (await d.listTasks({ filters: JSON.stringify({ service: [id], 'desired-state': ['running'] }) })).length === 1, 30_000)

      await d.getService(id).remove()
      expect(await status(d.getService(id).inspect())).toBe(404)
      expect(await status(d.getService(id).remove())).toBe(404)
    }
  }, 120_000)

  it('getNode().remove refuses a live node, removes it with force', async () => {
    const id = (await joiner.api('GET', '/info')).body.Swarm.NodeID as string
    const d = client(worker)
    expect(await status(d.getNode(id).remove({}))).toBe(409)
    await d.getNode(id).remove({ force: true })
    expect(await status(client(manager).getNode(id).inspect())).toBe(404)
    await joiner.kill()
  })

  it('swarmLeave on a worker, then on the last manager with force', async () => {
    await client(worker).swarmLeave({})
    expect(await status(client(manager).swarmLeave({}))).toBe(503)
    await client(manager).swarmLeave({ force: true })
    expect((await manager.api('GET', '/info')).body.Swarm.LocalNodeState).toBe('inactive')
    expect(await status(client(lone).swarmInspect())).toBe(503)
  })
})
