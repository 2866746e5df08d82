import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { TEST_IMAGE, TestBed, type BedCluster, type BedHost } from '../support/bed/index.js'
import {
  createService, holdFor, leaderChanges, LabelWriter, logMarks, ms, settleTime, termsWithTwoLeaders, waitForAgreedLeader, type LeaderChange
} from '../support/bed-cluster.js'
import { Rng } from '../support/rng.js'

// One-way partitions, a flapping link and lossy links on the 5-host bed (3 managers h1–h3, 2 workers):
// Raft's Election Safety (at most one leader per term, across every agent's log), no acknowledged
// write lost (five writers, one per host's socket, each adding unique labels to its own service), and
// the time the cluster takes to settle once the fault is gone.

const CALL_MS = 15_000
/** Settled = every manager names one leader in one term and a write is accepted; within this of the heal. */
const SETTLE_BOUND_MS = 10_000
const SETTLE_SERVICE = 'settle-probe'
const FLAP_SEED = Number(process.env.FLOTILLA_FLAP_SEED ?? 20_261_203)
const FLAP_MS = 10_000
const LOSS = 0.1
const LOSS_MS = 10_000
/** Under 10 % loss on every link, at most this many elections, and at least this many acknowledged writes in 10 s. */
const LOSS_MAX_NEW_TERMS = 1
const LOSS_MIN_WRITES = 50

describe('one-way partitions, a flapping link and lossy links (3 managers + 2 workers)', () => {
  let bed: TestBed | undefined
  let cluster: BedCluster
  const theBed = (): TestBed => { if (bed === undefined) throw new Error('the bed did not start'); return bed }

  beforeAll(async () => {
    bed = await TestBed.start({ hosts: 5 })
    cluster = await bed.formCluster({ managers: 3 })
    await waitForAgreedLeader(bed, cluster.managers, 30_000)
    // The settle probe's own service: no writer races it into a 409.
    const r = await createService(cluster.workers[0]!, SETTLE_SERVICE, 0, TEST_IMAGE, {}, CALL_MS)
    expect(r.status, JSON.stringify(r.body)).toBe(201)
  }, 180_000)

  beforeEach(ctx => {
    ctx.onTestFailed(() => { if (bed !== undefined) console.log(`flap seed ${FLAP_SEED}\n${bed.logs()}`) })
  })

  afterEach(async () => {
    if (bed === undefined) return
    await bed.heal()
    await bed.waitForReady(60_000)
  }, 90_000)

  afterAll(async () => { await bed?.teardown() }, 60_000)

  /** One writer per host's socket, each on its own new service `<tag>-<host>`. */
  const startWriters = async (tag: string): Promise<LabelWriter[]> => {
    const b = theBed()
    return await Promise.all(b.hosts.map(async h => {
      const name = `${tag}-${h.name}`
      const r = await createService(cluster.workers[0]!, name, 0, TEST_IMAGE, {}, CALL_MS)
      expect(r.status, JSON.stringify(r.body)).toBe(201)
      return new LabelWriter(h.agent.socket, name, tag, { callMs: CALL_MS }).start()
    }))
  }

  /** Stop the writers and check, through `via`, that every acknowledged label is there. */
  const stopAndCheck = async (writers: LabelWriter[], via: BedHost): Promise<string> => {
    await Promise.all(writers.map(async w => { await w.stop() }))
    for (const w of writers) expect(await w.missing(via.agent.socket), `acknowledged labels missing from ${w.service}`).toEqual([])
    return writers.map(w => `${w.service}: ${JSON.stringify(w.counts)}`).join('; ')
  }

  const describeChanges = (changes: readonly LeaderChange[]): string =>
    JSON.stringify(changes.map(c => `${c.host}:${c.leader.slice(0, 6)}@${c.term}/${c.role}`))

  it(`one-way cuts (leader→follower, follower→leader, follower→follower): one leader per term, no acknowledged write lost, settled within ${SETTLE_BOUND_MS} ms of each heal`, async () => {
    const b = theBed()
    const writers = await startWriters('oneway')
    const figures: string[] = []
    for (const shape of ['leader→follower', 'follower→leader', 'follower→follower'] as const) {
      const { host: leader, term } = await waitForAgreedLeader(b, cluster.managers, 20_000)
      const [f1, f2] = cluster.managers.filter(h => h !== leader) as [BedHost, BedHost]
      const [from, to] = shape === 'leader→follower' ? [leader, f1] : shape === 'follower→leader' ? [f1, leader] : [f1, f2]
      const marks = logMarks(b)
      const okBefore = writers.reduce((n, w) => n + w.counts.ok, 0)
      await b.cut(from, to)
      await holdFor(4_000)
      const okDuring = writers.reduce((n, w) => n + w.counts.ok, 0) - okBefore
      await b.heal()
      const settled = await settleTime(b, cluster.managers, cluster.workers[1]!, SETTLE_SERVICE, 30_000)
      const changes = leaderChanges(b, marks)
      figures.push(`${shape} (${from.name}→${to.name}, leader ${leader.name}@${term}): ${okDuring} writes acknowledged during the 4 s cut, ` +
        `settled ${ms(settled.ms)} after the heal on ${settled.leader.name}@${settled.term}; leader changes: ${describeChanges(changes)}`)
      expect(settled.ms).toBeLessThanOrEqual(SETTLE_BOUND_MS)
      expect(termsWithTwoLeaders(leaderChanges(b))).toEqual([])
    }
    const counts = await stopAndCheck(writers, cluster.managers[0]!)
    console.log(`${figures.join('\n')}\nwriters: ${counts}`)
    expect(termsWithTwoLeaders(leaderChanges(b))).toEqual([])
  }, 150_000)

  it(`a flapping link (the leader's host isolated and healed every 150–600 ms for ${FLAP_MS / 1000} s, seed ${FLAP_SEED}): one leader per term, no acknowledged write lost, settled within ${SETTLE_BOUND_MS} ms`, async () => {
    const b = theBed()
    const rng = new Rng(FLAP_SEED)
    const { host: target, term } = await waitForAgreedLeader(b, cluster.managers, 20_000)
    const writers = await startWriters('flap')
    const marks = logMarks(b)
    const t0 = Date.now()
    let flips = 0
    for (let i = 0; i < 200 && Date.now() - t0 < FLAP_MS; i++) {
      await b.isolate(target)
      await holdFor(rng.int(150, 600))
      await b.heal()
      flips++
      await holdFor(rng.int(150, 600))
    }
    const settled = await settleTime(b, cluster.managers, cluster.workers[0]!, SETTLE_SERVICE, 60_000)
    const counts = await stopAndCheck(writers, settled.leader)
    const changes = leaderChanges(b, marks)
    const terms = new Set(changes.map(c => c.term))
    console.log(`flapping ${target.name} (leader at term ${term}), seed ${FLAP_SEED}: ${flips} isolate/heal cycles in ${ms(Date.now() - t0 - settled.ms)}; ` +
      `terms seen ${[...terms].sort((a, c) => a - c).join(',')}; settled ${ms(settled.ms)} after the last heal on ${settled.leader.name}@${settled.term}\n` +
      `leader changes: ${describeChanges(changes)}\nwriters: ${counts}`)
    expect(termsWithTwoLeaders(leaderChanges(b)), 'terms with two leaders').toEqual([])
    expect(settled.ms).toBeLessThanOrEqual(SETTLE_BOUND_MS)
  }, 150_000)

  it(`${LOSS * 100} % loss on every link for ${LOSS_MS / 1000} s: at most ${LOSS_MAX_NEW_TERMS} new term, at least ${LOSS_MIN_WRITES} acknowledged writes, none lost`, async () => {
    const b = theBed()
    const { host: leader, term } = await waitForAgreedLeader(b, cluster.managers, 20_000)
    const marks = logMarks(b)
    for (const h of b.hosts) await b.loss(h, LOSS)
    const t0 = Date.now()
    const writers = await startWriters('loss')
    await holdFor(LOSS_MS - (Date.now() - t0))
    await Promise.all(writers.map(async w => { await w.stop() }))
    const lossMs = Date.now() - t0
    const acked = writers.reduce((n, w) => n + w.counts.ok, 0)
    await b.heal()
    const settled = await settleTime(b, cluster.managers, cluster.workers[0]!, SETTLE_SERVICE, 30_000)
    const counts = await stopAndCheck(writers, settled.leader)
    const changes = leaderChanges(b, marks)
    const newTerms = new Set(changes.filter(c => c.term > term).map(c => c.term))
    console.log(`${LOSS * 100} % loss on all ${b.hosts.length} links for ${ms(lossMs)} (leader ${leader.name}@${term}): ${acked} writes acknowledged ` +
      `(${(acked / (lossMs / 1000)).toFixed(1)}/s), ${newTerms.size} new term(s); leader changes: ${describeChanges(changes)}\nwriters: ${counts}`)
    expect(termsWithTwoLeaders(leaderChanges(b))).toEqual([])
    expect(newTerms.size).toBeLessThanOrEqual(LOSS_MAX_NEW_TERMS)
    expect(acked).toBeGreaterThanOrEqual(LOSS_MIN_WRITES)
  }, 120_000)
})
