import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest'
import { TestCluster } from '../support/cluster.js'
import { waitFor, type AgentProcess } from '../support/agent-process.js'

/** The leader's hostname as `agent` sees it, or undefined. */
async function leaderSeenBy (agent: AgentProcess): Promise<string | undefined> {
  const r = await agent.api('GET', '/nodes')
  if (r.status !== 200) return undefined
  const leaders = (r.body as any[]).filter(n => n.ManagerStatus?.Leader === true)
  return leaders.length === 1 ? leaders[0].Description.Hostname as string : undefined
}

/** A write through `agent`'s socket: rotate the worker token (read the version, then update). */
async function rotateThrough (agent: AgentProcess): Promise<{ status: number, body: any }> {
  const sw = await agent.api('GET', '/swarm', undefined, 30_000)
  if (sw.status !== 200) return sw
  // A write may wait up to 10 s for a leader before it fails: give the call longer than that.
  return await agent.api('POST', `/swarm/update?version=${sw.body.Version.Index as number}&rotateWorkerToken=true`, sw.body.Spec, 30_000)
}

// 3 managers and 1 worker on loopback: leader election, failover, restarts, quorum loss and recovery.
describe('managers elect a leader (3 managers + 1 worker)', () => {
  let cluster: TestCluster
  let byName: Map<string, AgentProcess>

  beforeAll(async () => {
    cluster = await TestCluster.start({ size: 4, managers: 3, hostnamePrefix: 'raft' })
    byName = new Map(cluster.agents.map(a => [a.hostname, a]))
    await cluster.waitForReady(4, 30_000)
  })
  afterAll(async () => { await cluster?.stop() })

  const worker = (): AgentProcess => byName.get('raft-4')!
  const managers = (): AgentProcess[] => ['raft-1', 'raft-2', 'raft-3'].map(n => byName.get(n)!)

  it('lists one leader and two reachable managers on every node, the worker included', async () => {
    onTestFailed(() => { console.log(cluster.logs()) })
    const leader = await waitFor('every node to agree on one leader', async () => {
      const seen = await Promise.all(cluster.agents.map(leaderSeenBy))
      return seen.every(s => s !== undefined && s === seen[0]) ? seen[0] : undefined
    }, 20_000)
    // Managers that joined at the same moment become voters one after another.
    await waitFor('all three managers to be voters', async () =>
      ((await worker().api('GET', '/nodes')).body as any[]).filter(n => n.ManagerStatus?.Reachability === 'reachable').length === 3, 20_000)
    const nodes = (await worker().api('GET', '/nodes')).body as any[]
    const ms = nodes.filter(n => n.Spec.Role === 'manager')
    expect(ms).toHaveLength(3)
    expect(ms.filter(n => n.ManagerStatus.Reachability === 'reachable')).toHaveLength(3)
    expect(ms.find(n => n.ManagerStatus.Leader).Description.Hostname).toBe(leader)
    // A worker's /info comes from its own gossip table, which may be a heartbeat behind the leader.
    const info = await waitFor('the worker to know the three managers', async () => {
      const body = (await worker().api('GET', '/info')).body
      return body.Swarm.RemoteManagers?.length === 3 ? body : undefined
    })
    // Every node's socket takes cluster writes (the worker forwards them): docker reads that as "Is Manager: true".
    expect(info.Swarm.ControlAvailable).toBe(true)
    const ls = await worker().cli(['node', 'ls'])
    expect(ls.stdout).toMatch(new RegExp(`${leader}\\s+Ready\\s+Active\\s+Leader`))
  })

  it('takes a write through the worker\'s socket, and after SIGKILL of the leader elects another and takes writes again', async () => {
    onTestFailed(() => { console.log(cluster.logs()) })
    const before = await rotateThrough(worker())
    expect(before.status, JSON.stringify(before.body)).toBe(200)
    const oldLeader = (await leaderSeenBy(worker()))!
    await byName.get(oldLeader)!.kill()
    const r = await waitFor('a write through the worker to succeed after the leader died', async () => {
      const res = await rotateThrough(worker())
      return res.status === 200 ? res : undefined
    }, 20_000, 50)
    expect(r.status).toBe(200)
    const newLeader = await waitFor('a new leader', async () => {
      const l = await leaderSeenBy(worker())
      return l !== undefined && l !== oldLeader ? l : undefined
    })
    expect(newLeader).not.toBe(oldLeader)

    // The old leader comes back as a follower with the same state; PreVote keeps it from deposing the leader.
    await byName.get(oldLeader)!.start([])
    const tokens = (await worker().api('GET', '/swarm')).body.JoinTokens
    await waitFor('the restarted manager to catch up', async () => {
      const sw = await byName.get(oldLeader)!.api('GET', '/swarm')
      return sw.status === 200 && sw.body.JoinTokens.Worker === tokens.Worker
    }, 20_000)
    expect(await leaderSeenBy(worker())).toBe(newLeader)
  })

  it('keeps its state when all four agents stop and start again', async () => {
    const sw = (await worker().api('GET', '/swarm')).body
    const ids = ((await worker().api('GET', '/nodes')).body as any[]).map(n => n.ID).sort()
    await Promise.all(cluster.agents.map(async a => { await a.stop() }))
    await Promise.all(cluster.agents.map(async a => { await a.start([]) }))
    await cluster.waitForReady(4, 30_000)
    const sw2 = await waitFor('the swarm to be served again', async () => {
      const r = await worker().api('GET', '/swarm')
      return r.status === 200 ? r.body : undefined
    }, 20_000)
    expect(sw2.ID).toBe(sw.ID)
    expect(sw2.JoinTokens).toEqual(sw.JoinTokens)
    expect(sw2.Version.Index).toBeGreaterThanOrEqual(sw.Version.Index)
    expect(((await worker().api('GET', '/nodes')).body as any[]).map(n => n.ID).sort()).toEqual(ids)
    const w = await waitFor('a write after the full restart', async () => {
      const res = await rotateThrough(worker())
      return res.status === 200 ? res : undefined
    }, 20_000)
    expect(w.status).toBe(200)
  })

  it('refuses writes with a clear error when 2 of 3 managers are gone, and takes them again after --force-new-cluster', async () => {
    const [survivor, ...lost] = managers()
    await Promise.all(lost.map(async a => { await a.kill() }))
    const t0 = Date.now()
    const failed = await rotateThrough(worker())
    expect(failed.status).toBe(503)
    // The worker reaches 1 of the 3 managers: it says so at once instead of waiting out the 10 s.
    expect(failed.body.message).toMatch(/no Raft leader: this node reaches 1 of 3 managers, fewer than the 2 a quorum needs \(unreachable: [^)]+\); nothing was changed/)
    expect(failed.body.message).toMatch(/force-new-cluster/)
    expect(Date.now() - t0).toBeLessThan(10_000)

    const forced = await survivor!.api('POST', '/swarm/init', { ForceNewCluster: true })
    expect(forced.status, JSON.stringify(forced.body)).toBe(200)
    const w = await waitFor('a write after --force-new-cluster', async () => {
      const res = await rotateThrough(worker())
      return res.status === 200 ? res : undefined
    }, 20_000)
    expect(w.status).toBe(200)
    expect(await leaderSeenBy(worker())).toBe(survivor!.hostname)
  })
})
