import { writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest'
import { callSocket, waitFor, type AgentProcess } from '../support/agent-process.js'
import { TestCluster } from '../support/cluster.js'
import { checkLinearizable } from '../support/linearizability/checker.js'
import { casRegister } from '../support/linearizability/cas-register.js'
import { createRegisterService, runCasWorkload, VALUE_LABEL, type WorkloadTick } from '../support/linearizability/workload.js'

const SEED = Number(process.env.JEPSEN_SEED ?? 7)
const SERVICE = 'jepsen-register'
const INITIAL = 'initial'

/** The leader's hostname as the first running agent of `agents` sees it, or undefined. */
async function leaderOf (agents: readonly AgentProcess[]): Promise<string | undefined> {
  for (const a of agents.filter(x => x.running)) {
    try {
      const r = await callSocket(a.socket, 'GET', '/nodes', undefined, 2_000)
      if (r.status !== 200) continue
      const leader = (r.body as any[]).find(n => n.ManagerStatus?.Leader === true)
      if (leader !== undefined) return leader.Description.Hostname as string
    } catch { /* try the next agent */ }
  }
  return undefined
}

// A compare-and-set register (a service label updated with ?version=) under SIGKILL of the Raft leader
// and its restart, checked for linearizability (Jepsen's cas-register workload; Knossos's WGL search).
describe('a service label as a CAS register is linearizable (3 managers, leader killed and restarted)', () => {
  let cluster: TestCluster

  beforeAll(async () => {
    cluster = await TestCluster.start({ size: 3, managers: 3, hostnamePrefix: 'jepsen', logLevel: 'info' })
    await cluster.waitForReady(3, 30_000)
    await waitFor('all three managers to be reachable voters', async () => {
      const r = await cluster.agents[0]!.api('GET', '/nodes')
      return r.status === 200 && (r.body as any[]).filter(n => n.ManagerStatus?.Reachability === 'reachable').length === 3
    }, 20_000)
  })
  afterAll(async () => { await cluster?.stop() })

  it('keeps every acknowledged CAS and serves no stale read', async () => {
    onTestFailed(() => { console.log(cluster.logs()) })
    const agents = cluster.agents
    await createRegisterService(agents[0]!.socket, SERVICE, INITIAL)
    const created = await agents[1]!.api('GET', `/services/${SERVICE}`)
    expect(created.status, JSON.stringify(created.body)).toBe(200)
    expect(created.body.Spec.Labels[VALUE_LABEL]).toBe(INITIAL)

    // The fault schedule, from the seed: kill the leader at 2–3 s, restart it 1.5–2.5 s later.
    let killAtMs = -1
    let downMs = -1
    let victim: AgentProcess | undefined
    let restarted = false
    const onTick = async (tick: WorkloadTick): Promise<void> => {
      if (killAtMs < 0) { killAtMs = tick.rng.int(2_000, 3_000); downMs = tick.rng.int(1_500, 2_500) }
      if (victim === undefined && tick.elapsedMs >= killAtMs) {
        const leader = await leaderOf(agents)
        victim = agents.find(a => a.hostname === leader)
        if (victim === undefined) return
        await victim.kill('SIGKILL')
        tick.mark(`SIGKILL leader ${victim.hostname} at ${tick.elapsedMs.toFixed(0)} ms`)
      } else if (victim !== undefined && !restarted && tick.elapsedMs >= killAtMs + downMs) {
        restarted = true
        tick.mark(`restart ${victim.hostname} at ${tick.elapsedMs.toFixed(0)} ms`)
        await victim.start([])
        tick.mark(`${victim.hostname} answers /_ping`)
      }
    }

    const result = await runCasWorkload({
      sockets: agents.map(a => a.socket), serviceName: SERVICE, durationMs: 8_000, maxOps: 20_000, seed: SEED, onTick
    })
    const t0 = result.history[0]?.invokedMs ?? 0
    console.log(`workload (seed ${SEED}): ${result.history.length} ops in ${result.durationMs.toFixed(0)} ms: ${JSON.stringify(result.counts)}`)
    for (const e of result.events) console.log(`  fault at +${(e.atMs - t0).toFixed(0)} ms: ${e.note}`)
    const notes = new Map<string, number>()
    for (const op of result.history) {
      if (op.result === 'ok') continue
      const key = `${op.input.kind} ${op.result} ${(op.note ?? '').replace(/\d+/g, 'N').slice(0, 100)}`
      notes.set(key, (notes.get(key) ?? 0) + 1)
    }
    for (const [k, n] of notes) console.log(`  ${n} × ${k}`)
    const oks = result.history.filter(op => op.result === 'ok' && op.input.kind === 'cas').map(op => op.completedMs).sort((a, b) => a - b)
    const gap = oks.reduce((g, t, i) => i === 0 ? g : Math.max(g, t - oks[i - 1]!), 0)
    console.log(`  longest time without an acknowledged CAS: ${gap.toFixed(0)} ms`)

    const started = performance.now()
    const verdict = checkLinearizable(casRegister(INITIAL), result.history, { maxStates: 2_000_000 })
    console.log(`checker: ${verdict.verdict}, ${verdict.opsChecked} ops searched, ${verdict.statesExplored} states explored, ${(performance.now() - started).toFixed(0)} ms`)
    if (verdict.verdict !== 'ok') {
      const file = join(tmpdir(), `jepsen-cas-history-${SEED}-${Date.now()}.json`)
      writeFileSync(file, JSON.stringify({ events: result.events, history: result.history }, (_k, v: unknown) => v === Number.POSITIVE_INFINITY ? 'Infinity' : v, 1))
      console.log(`history written to ${file}\n${verdict.message}`)
    }
    expect(victim, 'the leader was killed').toBeDefined()
    expect(restarted).toBe(true)
    expect(result.counts.cas.ok).toBeGreaterThan(10)
    expect(verdict.verdict).toBe('ok')
  }, 40_000)
})
