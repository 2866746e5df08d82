import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest'
import { TestBed, type BedCluster } from '../support/bed/index.js'
import { waitForAgreedLeader } from '../support/bed-cluster.js'
import { FAULT_KINDS, runBedJepsen } from '../support/jepsen-bed.js'

// Jepsen's cas-register workload on the 5-host bed (3 managers + 2 workers): five concurrent clients,
// one per host's socket, while a seeded schedule isolates hosts, cuts pairs one way, pauses and kills
// agents (the leader included) and drops packets; then the WGL checker. FLOTILLA_JEPSEN_SEED replays a
// schedule; `node dist/bench/jepsen.js --seed S --duration 120` runs a longer one outside vitest.

const SEED = Number(process.env.FLOTILLA_JEPSEN_SEED ?? 20_261_203)
const DURATION_MS = 30_000

describe('a CAS register under a seeded fault schedule on the bed is linearizable', () => {
  let bed: TestBed | undefined
  let cluster: BedCluster

  beforeAll(async () => {
    bed = await TestBed.start({ hosts: 5, logLevel: 'info' })
    cluster = await bed.formCluster({ managers: 3 })
    await waitForAgreedLeader(bed, cluster.managers, 30_000)
  }, 180_000)

  afterAll(async () => { await bed?.teardown() }, 60_000)

  it(`keeps every acknowledged CAS and serves no stale read (seed ${SEED}, ${DURATION_MS / 1000} s)`, async () => {
    if (bed === undefined) throw new Error('the bed did not start')
    const b = bed
    let report = ''
    onTestFailed(() => { console.log(`${report}\nFLOTILLA_JEPSEN_SEED=${SEED} replays this schedule\n${b.logs()}`) })
    const run = await runBedJepsen({ bed: b, cluster, seed: SEED, durationMs: DURATION_MS })
    report = run.report
    console.log(report)
    await b.waitForReady(60_000)
    expect(run.splitTerms, 'terms with two leaders').toEqual([])
    expect(run.verdict.verdict, run.verdict.verdict === 'ok' ? '' : run.verdict.message).toBe('ok')
    // The run did what it claims: every fault kind came up, and the clients got work done.
    for (const k of FAULT_KINDS) expect(run.faultCounts[k], `faults of kind ${k}`).toBeGreaterThan(0)
    expect(run.workload.counts.cas.ok).toBeGreaterThan(50)
    expect(run.workload.counts.read.ok).toBeGreaterThan(200)
  }, 150_000)
})
