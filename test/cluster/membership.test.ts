import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { TestCluster } from '../support/cluster.js'
import { AgentProcess, freePort, waitFor } from '../support/agent-process.js'

// Five real agents on 127.0.0.1, each with its own port, data dir, socket and hostname, every one
// started under the dgram guard (test/support/dgram-guard.mjs).
describe('cluster of 5 agents', () => {
  let cluster: TestCluster
  let ids: string[]

  beforeAll(async () => {
    cluster = await TestCluster.start({ size: 5, managers: 2 })
  })
  afterAll(async () => {
    await cluster?.stop()
  })

  function onFailure (): string {
    return cluster.logs()
  }

  it('joins with one token and every agent lists 5 ready nodes with the same IDs', async () => {
    await cluster.waitForReady(5).catch(err => { throw new Error(`${(err as Error).message}\n${onFailure()}`) })
    const lists = await Promise.all(cluster.agents.map(async a => (await a.api('GET', '/nodes')).body as any[]))
    ids = lists[0]!.map(n => n.ID).sort()
    expect(ids).toHaveLength(5)
    for (const l of lists) expect(l.map(n => n.ID).sort()).toEqual(ids)
    const hostnames = lists[0]!.map(n => n.Description.Hostname).sort()
    expect(hostnames).toEqual(['node-1', 'node-2', 'node-3', 'node-4', 'node-5'])
    const roles = Object.fromEntries(lists[0]!.map(n => [n.Description.Hostname, n.Spec.Role]))
    expect(roles).toEqual({ 'node-1': 'manager', 'node-2': 'manager', 'node-3': 'worker', 'node-4': 'worker', 'node-5': 'worker' })
    for (const a of cluster.agents) {
      // /info is served from the node's own view (a follower's store may be a moment behind).
      const info = await waitFor(`${a.hostname}'s /info to count 5 nodes`, async () => {
        const body = (await a.api('GET', '/info')).body
        return body.Swarm.Nodes === 5 ? body : undefined
      })
      expect(info.Swarm.LocalNodeState).toBe('active')
      expect(info.Swarm.Managers).toBe(2)
    }
  })

  it('opens no UDP socket on any agent (dgram guard and /proc)', () => {
    for (const a of cluster.agents) {
      expect(a.logs).not.toContain('DGRAM-GUARD')
      expect(a.udpSockets()).toEqual([])
    }
  })

  it('sees a SIGKILLed agent as down on all others, then ready again under the same node ID after restart', async () => {
    onTestFailed(() => { console.log(onFailure()) })
    const victim = cluster.agents[3]!
    const victimId = (await victim.api('GET', '/info')).body.Swarm.NodeID as string
    await victim.kill('SIGKILL')
    const others = cluster.agents.filter(a => a !== victim)
    await waitFor('the killed node to be down everywhere', async () => {
      for (const a of others) {
        const n = (await a.api('GET', `/nodes/${victimId}`)).body
        if (n.Status.State !== 'down') return false
      }
      return true
    }, 10_000)
    // Each agent's own failure detector logs it (the lists above come from the leader's view).
    for (const a of others) await waitFor(`${a.hostname} to log the node down`, () => new RegExp(`member down node=${victimId}`).test(a.logs))

    await victim.start([])
    expect((await victim.api('GET', '/info')).body.Swarm.NodeID).toBe(victimId)
    await cluster.waitForReady(5)
    const after = ((await cluster.agents[0]!.api('GET', '/nodes')).body as any[]).map(n => n.ID).sort()
    expect(after).toEqual(ids)
  })

  it('detects a SIGKILLed agent on every other agent within 3 s (SWIM), and takes it back when it restarts at a higher incarnation', async () => {
    onTestFailed(() => { console.log(onFailure()) })
    const victim = cluster.agents[2]!
    const others = cluster.agents.filter(a => a !== victim)
    const victimId = (await victim.api('GET', '/info')).body.Swarm.NodeID as string
    const incarnation = (): number => JSON.parse(readFileSync(join(victim.dataDir, 'membership.json'), 'utf8')).incarnation as number
    const before = incarnation()
    /** When `a` logged `event` about a node after `sinceMs` (its log line's own time), or undefined. */
    const loggedAt = (a: AgentProcess, event: string, node: string, sinceMs: number): number | undefined => {
      const re = new RegExp(`^(\\S+) \\S+ +\\[membership\\] member ${event} node=(\\S+)`, 'gm')
      for (const m of a.logs.matchAll(re)) if (m[2] === node && Date.parse(m[1]!) >= sinceMs) return Date.parse(m[1]!)
      return undefined
    }
    const killedAt = Date.now()
    await victim.kill('SIGKILL')
    const seen = await waitFor('every other agent to log the killed node down', () => {
      const at = others.map(a => loggedAt(a, 'down', victimId, killedAt))
      return at.every(t => t !== undefined) ? at : undefined
    }, 10_000, 50)
    expect(Math.max(...seen) - killedAt).toBeLessThanOrEqual(3000)
    // Nobody else was taken for dead meanwhile.
    for (const a of others) {
      for (const o of others) expect(loggedAt(a, 'down', (await o.api('GET', '/info')).body.Swarm.NodeID as string, killedAt)).toBeUndefined()
    }

    const restartedAt = Date.now()
    await victim.start([])
    await waitFor('every other agent to log the restarted node up', () => others.every(a => loggedAt(a, 'up', victimId, restartedAt) !== undefined), 10_000, 50)
    expect(incarnation()).toBeGreaterThan(before)
    await cluster.waitForReady(5)
  })

  it('refuses a malformed token, a wrong secret, another cluster\'s token and a rotated token; the member list does not change', async () => {
    onTestFailed(() => { console.log(onFailure()) })
    const first = cluster.agents[0]!
    const sw = (await first.api('GET', '/swarm')).body
    const joiner = await cluster.addAgent('joiner')
    await joiner.start([])
    const join = async (token: string, addr = first.addr): Promise<{ status: number, body: any }> =>
      await joiner.api('POST', '/swarm/join', { RemoteAddrs: [addr], JoinToken: token, ListenAddr: joiner.addr })

    let r = await join('not-a-token')
    expect(r.status).toBe(400)
    expect(r.body.message).toMatch(/invalid join token/)

    const wrongSecret = sw.JoinTokens.Worker.replace(/-[0-9a-z]{25}$/, '-' + '0'.repeat(25))
    r = await join(wrongSecret)
    expect(r.status).toBe(400)
    expect(r.body.message).toMatch(/invalid join token/)

    // A token of another cluster, presented to this cluster's manager: the joiner notices the digest
    // mismatch before it reveals the secret.
    const other = new AgentProcess({ baseDir: cluster.baseDir, hostname: 'other-cluster', port: await freePort() })
    cluster.agents.push(other)
    await other.start(['--init'])
    const otherToken = (await other.api('GET', '/swarm')).body.JoinTokens.Worker as string
    r = await join(otherToken)
    expect(r.status).toBe(400)
    expect(r.body.message).toMatch(/not a member of the cluster this token belongs to/)
    expect(other.logs).not.toMatch(/admitted node/)
    await other.kill()

    // Rotate the worker token: the old one admits no one; nodes already in keep working.
    const rot = await first.api('POST', `/swarm/update?version=${sw.Version.Index as number}&rotateWorkerToken=true`, sw.Spec)
    expect(rot.status).toBe(200)
    const sw2 = (await first.api('GET', '/swarm')).body
    expect(sw2.JoinTokens.Worker).not.toBe(sw.JoinTokens.Worker)
    expect(sw2.JoinTokens.Manager).toBe(sw.JoinTokens.Manager)
    r = await join(sw.JoinTokens.Worker)
    expect(r.status).toBe(400)
    expect(r.body.message).toMatch(/invalid join token/)

    // A stale version is refused and changes nothing.
    const stale = await first.api('POST', `/swarm/update?version=${sw.Version.Index as number}&rotateWorkerToken=true`, sw.Spec)
    expect(stale.status).toBe(409)
    expect((await first.api('GET', '/swarm')).body.JoinTokens.Worker).toBe(sw2.JoinTokens.Worker)

    const listed = ((await first.api('GET', '/nodes')).body as any[]).map(n => n.ID).sort()
    expect(listed).toEqual(ids)
    expect(joiner.logs).not.toMatch(/joined swarm/)

    // The second manager learns the rotated token too.
    const second = cluster.agents[1]!
    await waitFor('the rotation to reach the other manager', async () =>
      (await second.api('GET', '/swarm')).body.JoinTokens.Worker === sw2.JoinTokens.Worker)

    // The new token works, through a worker's address too (redirected to a manager).
    r = await join(sw2.JoinTokens.Worker, cluster.agents[2]!.addr)
    expect(r.status, JSON.stringify(r.body)).toBe(200)
    await cluster.waitForReady(6)
    await joiner.kill()
  })

  it('ignores forged broadcasts: a certificate of another root, and a member\'s certificate sent by another peer', async () => {
    const { forgeBroadcasts } = await import('../support/forger.js')
    const first = cluster.agents[0]!
    const before = ((await first.api('GET', '/nodes')).body as any[]).map(n => `${n.ID as string}/${n.Description.Hostname as string}`).sort()
    const clusterId = (await first.api('GET', '/info')).body.Swarm.Cluster.ID as string
    const realCert = Buffer.from(JSON.parse(readFileSync(join(cluster.agents[2]!.dataDir, 'membership.json'), 'utf8')).certificate, 'base64')
    const rejectedBefore = (first.logs.match(/rejected membership message/g) ?? []).length
    const sent = await forgeBroadcasts({ target: first.addr, clusterId, realCertificate: realCert, count: 5 })
    expect(sent).toBeGreaterThan(0)
    await waitFor('the forged broadcasts to be rejected', () => (first.logs.match(/rejected membership message/g) ?? []).length >= rejectedBefore + 2)
    expect(first.logs).toMatch(/rejected membership message .*not signed by this cluster's root key/)
    expect(first.logs).toMatch(/rejected membership message .*bound to another peer/)
    const after = ((await first.api('GET', '/nodes')).body as any[]).map(n => `${n.ID as string}/${n.Description.Hostname as string}`).sort()
    expect(after).toEqual(before)
    expect(after.join()).not.toContain('forged')
  })
})

describe('agent started with --join', () => {
  let cluster: TestCluster
  beforeAll(async () => { cluster = await TestCluster.start({ size: 1 }) })
  afterAll(async () => { await cluster?.stop() })

  it('retries while the manager is unreachable and joins once it is back', async () => {
    const manager = cluster.agents[0]!
    const token = (await manager.api('GET', '/swarm')).body.JoinTokens.Worker as string
    await manager.kill()
    const joiner = await cluster.addAgent('late-joiner')
    await joiner.start(['--join', manager.addr, '--token', token])
    await waitFor('a retry to be logged', () => /cannot join yet; retrying/.test(joiner.logs))
    expect((await joiner.api('GET', '/info')).body.Swarm.LocalNodeState).not.toBe('active')
    await manager.start([])
    await cluster.waitForReady(2, 30_000)
  })

  it('stops with a clear message when the token is refused', async () => {
    const manager = cluster.agents[0]!
    const token = (await manager.api('GET', '/swarm')).body.JoinTokens.Worker as string
    const bad = token.replace(/-[0-9a-z]{25}$/, '-' + 'z'.repeat(25))
    const joiner = await cluster.addAgent('refused-joiner')
    await joiner.start(['--join', manager.addr, '--token', bad]).catch(() => {})
    await waitFor('the refused agent to exit', () => !joiner.running)
    expect(joiner.logs).toMatch(/Error: invalid join token/)
    expect(joiner.logs).toMatch(/Hint: .*join-token/)
  })
})
