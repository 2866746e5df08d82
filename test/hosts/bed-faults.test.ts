import { execFileSync, spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { callSocket, waitFor } from '../support/agent-process.js'
import { removeLeftovers, TestBed, type BedHost } from '../support/bed/index.js'
import { unregisterExitTeardown } from '../support/bed/exit-cleanup.js'

// Each fault of the bed, made and undone, on a 3-host bed (1 manager, 2 workers).

const CALL_MS = 10_000

async function nodeState (bed: TestBed, of: string): Promise<string | undefined> {
  const r = await bed.host('h1').agent.api('GET', `/nodes/${of}`, undefined, CALL_MS)
  return r.status === 200 ? r.body.Status.State as string : undefined
}

function processState (pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
}

function qdiscs (h: BedHost): string {
  return execFileSync('ip', ['netns', 'exec', h.netns, 'tc', 'qdisc', 'show', 'dev', h.veth], { encoding: 'utf8', timeout: 5_000 })
}

describe('multi-host test bed faults', () => {
  let bed: TestBed | undefined
  const theBed = (): TestBed => { if (bed === undefined) throw new Error('the bed did not start'); return bed }

  beforeAll(async () => {
    bed = await TestBed.start({ hosts: 3 })
    await bed.formCluster({ managers: 1 })
  }, 120_000)

  beforeEach(ctx => {
    ctx.onTestFailed(() => { if (bed !== undefined) console.log(bed.logs()) })
  })

  // Each test starts from a healthy bed, whatever the one before left.
  afterEach(async () => { await bed?.heal() }, 60_000)

  afterAll(async () => { await bed?.teardown() }, 60_000)

  it('cuts one direction of one pair, and heals it', async () => {
    const b = theBed()
    await b.cut('h2', 'h3')
    expect(await b.canConnect('h2', 'h3', 4242, 1_000)).toBe(false)
    // h3's packets still reach h2, but a TCP handshake needs h2's answer too: one cut direction fails both connects.
    expect(await b.canConnect('h3', 'h2', 4242, 1_000)).toBe(false)
    expect(await b.canConnect('h2', 'h1')).toBe(true)
    expect(await b.canConnect('h1', 'h3')).toBe(true)
    expect(await b.faultRules('h2')).toEqual([`-A FLB-FAULT-OUT -d ${b.host('h3').ip}/32 -j DROP`])
    expect(await b.faultRules('h3')).toEqual([])
    expect(await b.heal('h3')).toEqual([{ kind: 'cut', from: 'h2', to: 'h3' }])
    expect(await b.canConnect('h2', 'h3')).toBe(true)
    expect(await b.faultRules('h2')).toEqual([])
  })

  it('drops packets at random on a host\'s link (all of them at probability 1)', async () => {
    const b = theBed()
    await b.loss('h3', 1)
    expect((await b.faultRules('h3')).every(r => r.includes('statistic'))).toBe(true)
    expect(await b.canConnect('h1', 'h3', 4242, 1_000)).toBe(false)
    await b.healNetwork()
    expect(await b.canConnect('h1', 'h3')).toBe(true)
  })

  it('throttles a host\'s link with tbf, and removes the qdisc on heal', async () => {
    const b = theBed()
    await b.throttle('h2', 512)
    expect(qdiscs(b.host('h2'))).toContain('tbf')
    expect(await b.canConnect('h1', 'h2')).toBe(true)
    await b.heal('h2')
    expect(qdiscs(b.host('h2'))).not.toContain('tbf')
  })

  it('pauses an agent (its node goes down) and resumes it', async () => {
    const b = theBed()
    const h3 = b.host('h3')
    await b.pauseAgent(h3)
    expect(processState(h3.agent.pid!)).toBe('T')
    await waitFor('h3 down while paused', async () => await nodeState(b, 'h3') === 'down', 20_000, 200)
    await b.resumeAgent(h3)
    expect(b.faults).toEqual([])
    expect(processState(h3.agent.pid!)).not.toBe('T')
    await b.waitForReady(30_000)
  })

  it('kills an agent with SIGKILL and restarts it from its data dir under the same node ID', async () => {
    const b = theBed()
    const h2 = b.host('h2')
    const nodeId = (await h2.agent.api('GET', '/info')).body.Swarm.NodeID as string
    const pid = h2.agent.pid!
    await b.killAgent(h2)
    expect(() => process.kill(pid, 0)).toThrow()
    expect(b.faults).toEqual([{ kind: 'agent-killed', host: 'h2' }])
    await b.restartAgent(h2)
    expect((await h2.agent.api('GET', '/info')).body.Swarm.NodeID).toBe(nodeId)
    await b.waitForReady(30_000)
  })

  it('stops a host\'s engine and starts it again; heal undoes a mix of faults', async () => {
    const b = theBed()
    const h3 = b.host('h3')
    await b.stopEngine(h3)
    await expect(callSocket(h3.engine.socket, 'GET', '/_ping', undefined, 2_000)).rejects.toThrow()
    expect(h3.engine.enginePids()).toEqual([])
    await b.startEngine(h3)
    expect((await callSocket(h3.engine.socket, 'GET', '/_ping', undefined, CALL_MS)).status).toBe(200)

    await b.isolate('h1')
    await b.pauseAgent('h2')
    await b.stopEngine('h3')
    expect(b.faults.map(f => f.kind)).toEqual(['isolate', 'agent-paused', 'engine-stopped'])
    expect((await b.heal()).map(f => f.kind)).toEqual(['engine-stopped', 'agent-paused', 'isolate'])
    expect(b.faults).toEqual([])
    expect(await b.canConnect('h2', 'h1')).toBe(true)
    expect((await callSocket(h3.engine.socket, 'GET', '/_ping', undefined, CALL_MS)).status).toBe(200)
    await b.waitForReady(30_000)
  })

  it('removes the remains of a run whose owner died, and leaves a live run alone', async () => {
    const live = theBed()
    const crashed = await TestBed.start({ hosts: 1, removeLeftovers: false })
    try {
      // Pretend its owner crashed: no exit handler, and owner.json names a process that has exited.
      unregisterExitTeardown(crashed)
      const dead = spawnSync('true').pid
      writeFileSync(join(crashed.dir, 'owner.json'), JSON.stringify({ pid: dead, startTicks: 1 }))
      expect(crashed.remains().pids.length).toBeGreaterThan(0)
      const removed = removeLeftovers([crashed.baseRoot])
      expect(removed).toContain(crashed.runId)
      expect(removed).not.toContain(live.runId)
      expect(crashed.remains()).toEqual({ runId: crashed.runId, netns: [], cgroups: [], pids: [], dirs: [] })
      expect(live.remains().netns).toHaveLength(4)
      expect((await live.host('h1').agent.api('GET', '/_ping')).status).toBe(200)
    } finally {
      await crashed.teardown()
    }
  })
})
