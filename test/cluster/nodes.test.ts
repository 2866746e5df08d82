import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest'
import { TestCluster } from '../support/cluster.js'
import { waitFor, type AgentProcess } from '../support/agent-process.js'

async function nodeBy (via: AgentProcess, ref: string): Promise<any> {
  return (await via.api('GET', `/nodes/${ref}`)).body
}

// Node management through any node's socket: promote, demote, availability, labels, removal.
describe('node management (1 manager + 2 workers)', () => {
  let cluster: TestCluster
  let manager: AgentProcess
  let w1: AgentProcess
  let w2: AgentProcess

  beforeAll(async () => {
    cluster = await TestCluster.start({ size: 3, managers: 1, hostnamePrefix: 'nm' })
    ;[manager, w1, w2] = cluster.agents as [AgentProcess, AgentProcess, AgentProcess]
    await cluster.waitForReady(3, 30_000)
  })
  afterAll(async () => { await cluster?.stop() })

  it('promotes a worker from another worker\'s socket, which then runs Raft; then demotes it', async () => {
    onTestFailed(() => { console.log(cluster.logs()) })
    const p = await w2.cli(['node', 'promote', 'nm-2'])
    expect(p.stderr).toBe('')
    expect(p.stdout).toContain('Node nm-2 promoted to a manager in the swarm.')
    // Every socket takes cluster writes (Info.Swarm.ControlAvailable is true on workers too): the agent's log says when it took the role.
    await waitFor('nm-2 to act as a manager', () => /promoted to manager/.test(w1.logs), 20_000)
    await waitFor('nm-2 to be a reachable manager', async () => (await nodeBy(manager, 'nm-2')).ManagerStatus?.Reachability === 'reachable')
    // Its store caught up: it serves the swarm from its own copy.
    await waitFor('nm-2 to serve the swarm itself', async () => (await w1.api('GET', '/swarm')).status === 200)
    expect(w1.logs).toMatch(/promoted to manager/)

    const d = await manager.cli(['node', 'demote', 'nm-2'])
    expect(d.stdout).toContain('Manager nm-2 demoted in the swarm.')
    await waitFor('nm-2 to be a worker again', () => /demoted to worker/.test(w1.logs), 20_000)
    expect((await nodeBy(manager, 'nm-2')).ManagerStatus).toBeUndefined()
  })

  it('a manager that leaves gives up its vote: the others keep taking writes', async () => {
    onTestFailed(() => { console.log(cluster.logs()) })
    const logged = w1.logs.length
    await w1.cli(['node', 'promote', 'nm-2'])
    await waitFor('nm-2 to act as a manager', () => /promoted to manager/.test(w1.logs.slice(logged)), 20_000)
    await waitFor('nm-2 to serve the swarm itself', async () => (await w1.api('GET', '/swarm')).status === 200, 20_000)
    const id = (await w1.api('GET', '/info')).body.Swarm.NodeID as string
    const refused = await w1.api('POST', '/swarm/leave')
    expect(refused.status).toBe(503)
    const left = await w1.api('POST', '/swarm/leave?force=true', undefined, 30_000)
    expect(left.status, JSON.stringify(left.body)).toBe(200)
    expect(((await manager.api('GET', '/nodes')).body as any[]).map(n => n.ID)).not.toContain(id)
    const sw = (await manager.api('GET', '/swarm')).body
    const w = await manager.api('POST', `/swarm/update?version=${sw.Version.Index as number}&rotateWorkerToken=true`, sw.Spec, 30_000)
    expect(w.status, JSON.stringify(w.body)).toBe(200)
    // nm-2 joins again as a worker, under a new node ID.
    const again = await w1.api('POST', '/swarm/join', { RemoteAddrs: [manager.addr], JoinToken: (await manager.api('GET', '/swarm')).body.JoinTokens.Worker, ListenAddr: w1.addr })
    expect(again.status, JSON.stringify(again.body)).toBe(200)
    await cluster.waitForReady(3, 20_000)
  })

  it('refuses to demote the last manager, and a stale version', async () => {
    const d = await w1.cli(['node', 'demote', 'nm-1'])
    expect(d.code).toBe(1)
    expect(d.stderr).toMatch(/last manager/)
    const n = await nodeBy(manager, 'nm-3')
    const stale = await manager.api('POST', `/nodes/${n.ID as string}/update?version=1`, { Role: 'worker', Availability: 'drain', Labels: {} })
    expect(stale.status).toBe(409)
    expect(stale.body.message).toMatch(/out of sequence/)
    expect((await nodeBy(manager, 'nm-3')).Spec.Availability).toBe('active')
  })

  it('sets availability and labels', async () => {
    const u = await w2.cli(['node', 'update', '--availability', 'drain', '--label-add', 'zone=a', '--label-add', 'disk=ssd', 'nm-3'])
    expect(u.code, u.stderr).toBe(0)
    let n = await nodeBy(manager, 'nm-3')
    expect(n.Spec.Availability).toBe('drain')
    expect(n.Spec.Labels).toEqual({ zone: 'a', disk: 'ssd' })
    await w2.cli(['node', 'update', '--availability', 'active', '--label-rm', 'disk', 'nm-3'])
    n = await nodeBy(manager, 'nm-3')
    expect(n.Spec.Availability).toBe('active')
    expect(n.Spec.Labels).toEqual({ zone: 'a' })
    const bad = await manager.api('POST', `/nodes/${n.ID as string}/update?version=${n.Version.Index as number}`, { Role: 'captain', Availability: 'active' })
    expect(bad.status).toBe(400)
    expect(bad.body.message).toMatch(/Role/)
  })

  it('removes a node: refused while it is up unless forced; then its agent leaves, and it can join again as a new node', async () => {
    const id = (await nodeBy(manager, 'nm-3')).ID as string
    const refused = await manager.cli(['node', 'rm', 'nm-3'])
    expect(refused.code).toBe(1)
    expect(refused.stderr).toMatch(/is not down and can't be removed/)
    const rm = await manager.cli(['node', 'rm', '--force', 'nm-3'])
    expect(rm.code, rm.stderr).toBe(0)
    await waitFor('the removed node to leave', async () => (await w2.api('GET', '/info')).body.Swarm.LocalNodeState === 'inactive', 20_000)
      .catch(err => { throw new Error(`${(err as Error).message}\n${cluster.logs()}`) })
    expect(w2.logs).toMatch(/this node was removed from the swarm/)
    const listed = ((await manager.api('GET', '/nodes')).body as any[]).map(n => n.ID)
    expect(listed).not.toContain(id)
    expect((await manager.api('GET', `/nodes/${id}`)).status).toBe(404)

    const token = (await manager.api('GET', '/swarm')).body.JoinTokens.Worker as string
    const again = await w2.api('POST', '/swarm/join', { RemoteAddrs: [manager.addr], JoinToken: token, ListenAddr: w2.addr })
    expect(again.status, JSON.stringify(again.body)).toBe(200)
    const newId = (await w2.api('GET', '/info')).body.Swarm.NodeID as string
    expect(newId).not.toBe(id)
    await cluster.waitForReady(3, 20_000)
  })
})
