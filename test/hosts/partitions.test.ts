import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { waitFor } from '../support/agent-process.js'
import { TEST_IMAGE, TestBed, type BedCluster } from '../support/bed/index.js'
import {
  addLabels, createService, holdFor, hostsByNodeId, leaderChanges, leaderHostname, listNodes, logMarks, ms, runningPerSlot,
  serviceContainers, serviceLabels, termsWithTwoLeaders, waitForAgreedLeader
} from '../support/bed-cluster.js'

// Partitions on the 5-host bed (3 managers h1–h3, 2 workers h4–h5, each host its own netns, engine and
// agent): the leader cut off from everyone, a worker cut off, a follower manager paused.

const CALL_MS = 15_000
/** CheckQuorum runs once per election timeout (5 ticks of 100 ms): a cut-off leader steps down within two. */
const STEP_DOWN_BOUND_MS = 2_000
/** A follower's randomized election timeout is at most 1.0 s; a new leader, PreVote round included, well within this. */
const REELECTION_BOUND_MS = 5_000
/** A write waits at most 10 s for a leader (README, "Failover"); and a margin. */
const WRITE_BOUND_MS = 12_000
/** After an election, the dispatcher's grace (5 s) plus a node's 1.8 s of allowed silence, and a margin. */
const DISPATCHER_SETTLE_MS = 7_500

describe('partitions on the bed (3 managers + 2 workers)', () => {
  let bed: TestBed | undefined
  let cluster: BedCluster
  const theBed = (): TestBed => { if (bed === undefined) throw new Error('the bed did not start'); return bed }

  beforeAll(async () => {
    const t0 = Date.now()
    bed = await TestBed.start({ hosts: 5 })
    cluster = await bed.formCluster({ managers: 3 })
    await waitForAgreedLeader(bed, cluster.managers, 30_000)
    console.log(`bed ${bed.runId}: cluster formed in ${ms(Date.now() - t0)}`)
  }, 180_000)

  beforeEach(ctx => {
    ctx.onTestFailed(() => { if (bed !== undefined) console.log(bed.logs()) })
  })

  afterEach(async () => {
    if (bed === undefined) return
    await bed.heal()
    await bed.waitForReady(60_000)
  }, 90_000)

  afterAll(async () => {
    if (bed !== undefined) expect(termsWithTwoLeaders(leaderChanges(bed)), 'terms with two leaders over the whole file').toEqual([])
    await bed?.teardown()
  }, 60_000)

  it('the cut-off leader steps down (answering its in-flight write), refuses writes naming the quorum; the majority elects a new leader, keeps what it acknowledged, and takes writes; on heal the old leader follows', async () => {
    const b = theBed()
    const { host: old, term: oldTerm } = await waitForAgreedLeader(b, cluster.managers, 20_000)
    const others = cluster.managers.filter(h => h !== old)
    const oldId = cluster.nodeIds.get(old.name)!

    // Acknowledged by the leader just before the cut: must survive it.
    const created = await createService(old, 'before-cut', 0, TEST_IMAGE, { acked: 'create' }, CALL_MS)
    expect(created.status, JSON.stringify(created.body)).toBe(201)
    const updated = await addLabels(old.agent.socket, 'before-cut', { last: 'update' }, CALL_MS)
    expect(updated.status, JSON.stringify(updated.body)).toBe(200)

    const current = await old.agent.api('GET', '/services/before-cut', undefined, CALL_MS)
    expect(current.status).toBe(200)

    const marks = logMarks(b)
    await b.isolate(old)
    const cutAt = Date.now()
    // A write the old leader takes after the cut: it cannot commit, and is answered when the leader steps down.
    const inFlight = old.agent.api('POST', `/services/${current.body.ID as string}/update?version=${current.body.Version.Index as number}`,
      { ...current.body.Spec, Labels: { ...current.body.Spec.Labels, inflight: 'after-cut' } }, CALL_MS)
      .then(r => ({ ...r, afterMs: Date.now() - cutAt }))

    // The old leader steps down by itself (CheckQuorum), as its own log says.
    const stepDown = await waitFor(`${old.name} to log that it stepped down`, () =>
      leaderChanges(b, marks).find(c => c.host === old.name && c.role !== 'leader'), 10_000, 50)
    const stepDownMs = stepDown.atMs - cutAt
    // The majority elects another leader in a later term.
    const elected = await waitFor('the majority to elect a new leader', () => {
      const views = others.map(h => leaderChanges(b, marks).filter(c => c.host === h.name && c.leader !== 'none' && c.leader !== oldId).at(-1))
      const [a, c] = views
      return a !== undefined && c !== undefined && a.leader === c.leader && a.term === c.term ? { leader: a.leader, term: a.term, atMs: Math.max(a.atMs, c.atMs) } : undefined
    }, 15_000, 50)
    const reelectionMs = elected.atMs - cutAt
    // Writes through every other host's socket as soon as the new leader is seen: each must be served by
    // it, or fail, within the 10 s a write may wait for a leader (README), not hang on the cut-off one.
    const firstWrites = b.hosts.filter(h => h !== old).map(async h => {
      const s0 = Date.now()
      const r = await createService(h, `first-${h.name}`, 0, TEST_IMAGE, {}, CALL_MS).catch((err: unknown) => ({ status: 0, body: { message: (err as Error).message } }))
      return { host: h.name, status: r.status, message: JSON.stringify(r.body).slice(0, 200), tookMs: Date.now() - s0 }
    })
    const byId = await hostsByNodeId(others[0]!)
    const newLeader = b.host(byId.get(elected.leader)!)
    console.log(`leader ${old.name} (term ${oldTerm}) cut off: stepped down after ${ms(stepDownMs)} (log: leader=${stepDown.leader} term=${stepDown.term} role=${stepDown.role}); ` +
      `${newLeader.name} elected in term ${elected.term} after ${ms(reelectionMs)}`)
    expect(stepDownMs).toBeLessThanOrEqual(STEP_DOWN_BOUND_MS)
    expect(reelectionMs).toBeLessThanOrEqual(REELECTION_BOUND_MS)
    expect(elected.term).toBeGreaterThan(oldTerm)
    expect(others).toContain(newLeader)

    const lost = await inFlight
    console.log(`write in flight on ${old.name} at the cut: ${lost.status} after ${ms(lost.afterMs)}: ${JSON.stringify(lost.body)}`)
    expect(lost.status).toBe(503)
    expect(lost.body.message).toMatch(/lost its leadership before the write committed/)
    expect(lost.afterMs).toBeLessThanOrEqual(STEP_DOWN_BOUND_MS + 1_000)

    const first = await Promise.all(firstWrites)
    console.log(`writes through the other sockets right after the election: ${first.map(w => `${w.host} ${w.status} in ${ms(w.tookMs)}`).join(', ')}`)
    expect.soft(first.filter(w => w.status !== 201 || w.tookMs > WRITE_BOUND_MS), `writes not served by the new leader within ${WRITE_BOUND_MS} ms`).toEqual([])

    // The majority takes writes: a create through a worker's socket, an update through the other manager's.
    const worker = cluster.workers[0]!
    const follower = others.find(h => h !== newLeader)!
    const t0 = Date.now()
    const during = await createService(worker, 'during-cut', 0, TEST_IMAGE, {}, CALL_MS)
    expect(during.status, JSON.stringify(during.body)).toBe(201)
    const during2 = await addLabels(follower.agent.socket, 'during-cut', { by: follower.name }, CALL_MS)
    expect(during2.status, JSON.stringify(during2.body)).toBe(200)
    console.log(`writes through ${worker.name} and ${follower.name} accepted ${ms(Date.now() - t0)} after the new leader was seen`)
    // Nothing the old leader acknowledged is lost.
    expect(await serviceLabels(newLeader.agent.socket, 'before-cut')).toMatchObject({ acked: 'create', last: 'update' })
    // Every node but the cut-off one opens its dispatcher session with the new leader: past the leader's
    // grace after an election (5 s) and the 2 s a silent node is allowed, none of them is marked down.
    await holdFor(Math.max(0, elected.atMs + DISPATCHER_SETTLE_MS - Date.now()))
    const states = (await listNodes(newLeader)).map(n => `${n.Description.Hostname}:${n.Status.State}`).sort()
    console.log(`nodes as the new leader ${newLeader.name} sees them ${ms(Date.now() - elected.atMs)} after its election: ${states.join(' ')}`)
    // Soft: the checks after it (the refusal, the heal) still run and report.
    expect.soft(states.filter(x => !x.startsWith(`${old.name}:`)), 'live nodes marked down by the new leader').toEqual(
      b.hosts.filter(h => h !== old).map(h => `${h.name}:ready`))

    // The cut-off node refuses a write, naming the quorum it cannot reach, and changes nothing.
    const w0 = Date.now()
    const refused = await createService(old, 'on-cut-off-leader', 0, TEST_IMAGE, {}, CALL_MS)
    const refusedMs = Date.now() - w0
    console.log(`write on ${old.name}'s socket: ${refused.status} after ${ms(refusedMs)}: ${JSON.stringify(refused.body)}`)
    expect(refused.status).toBe(503)
    expect(refused.body.message).toMatch(/1 of 3 managers/)
    expect(refused.body.message).toMatch(/quorum/)
    expect(refused.body.message).toMatch(/nothing was changed/)
    // A read there is refused too (its read barrier needs a leader): no stale answer.
    const staleRead = await old.agent.api('GET', '/services/during-cut', undefined, CALL_MS)
    expect(staleRead.status, JSON.stringify(staleRead.body)).toBe(503)

    // Heal: the old leader follows the new one with no manual step; the new one keeps leading (PreVote).
    const healMarks = logMarks(b)
    await b.heal()
    const healedAt = Date.now()
    const follows = await waitFor(`${old.name} to follow ${newLeader.name}`, () =>
      leaderChanges(b, healMarks).find(c => c.host === old.name && c.leader === elected.leader), 20_000, 50)
    console.log(`${old.name} follows ${newLeader.name} (term ${follows.term}) ${ms(follows.atMs - healedAt)} after the heal`)
    const back = await waitFor(`${old.name}'s socket to serve reads and writes again`, async () => {
      const read = await old.agent.api('GET', '/services/during-cut', undefined, CALL_MS)
      if (read.status !== 200) throw new Error(`read: ${read.status} ${JSON.stringify(read.body)}`)
      const write = await addLabels(old.agent.socket, 'during-cut', { healed: old.name }, CALL_MS)
      if (write.status !== 200) throw new Error(`write: ${write.status} ${JSON.stringify(write.body)}`)
      return Date.now() - healedAt
    }, 30_000, 200)
    console.log(`${old.name}'s socket takes writes ${ms(back)} after the heal`)
    await waitFor(`${old.name} listed as a reachable manager`, async () => {
      const me = (await listNodes(old)).find(n => n.Description.Hostname === old.name)
      return me?.Spec.Role === 'manager' && me.ManagerStatus?.Reachability === 'reachable' && me.ManagerStatus.Leader === false && me.Status.State === 'ready'
    }, 30_000, 200)
    expect(await leaderHostname(old)).toBe(newLeader.name)
    expect(leaderChanges(b, healMarks).filter(c => c.term > elected.term), 'no election after the heal').toEqual([])
    // The refused create changed nothing.
    expect((await newLeader.agent.api('GET', '/services/on-cut-off-leader', undefined, CALL_MS)).status).toBe(404)
    const labels = await serviceLabels(old.agent.socket, 'before-cut')
    expect(labels).toMatchObject({ acked: 'create', last: 'update' })
    // The write the cut-off leader could not commit was dropped with its term, on every node.
    expect(labels.inflight).toBeUndefined()
    expect((await serviceLabels(newLeader.agent.socket, 'before-cut')).inflight).toBeUndefined()
  }, 120_000)

  it('a cut-off worker is marked down, its tasks run elsewhere (each in its own host\'s engine), and on heal its stale containers go: one container per slot', async () => {
    const b = theBed()
    const via = cluster.managers[0]!
    const replicas = 5
    const created = await createService(via, 'slots', replicas, TEST_IMAGE, {}, CALL_MS)
    expect(created.status, JSON.stringify(created.body)).toBe(201)
    const worker = cluster.workers[1]!
    const workerId = cluster.nodeIds.get(worker.name)!
    const hostOfNode = new Map([...cluster.nodeIds].map(([host, id]) => [id, host]))

    /** The running tasks of `slots`, by the cluster's view. */
    const tasks = async (): Promise<Array<{ ID: string, NodeID: string, Slot: number, Status: { State: string } }>> => {
      const filters = encodeURIComponent(JSON.stringify({ service: ['slots'], 'desired-state': ['running'] }))
      const r = await via.agent.api('GET', `/tasks?filters=${filters}`, undefined, CALL_MS)
      if (r.status !== 200) throw new Error(`GET /tasks: ${r.status}`)
      return r.body
    }
    const before = await waitFor(`${replicas} running tasks, one on ${worker.name}`, async () => {
      const t = await tasks()
      return t.length === replicas && t.every(x => x.Status.State === 'running') && t.some(x => x.NodeID === workerId) ? t : undefined
    }, 60_000, 250)
    const stale = before.filter(t => t.NodeID === workerId)

    await b.isolate(worker)
    const cutAt = Date.now()
    await waitFor(`${worker.name} to be down`, async () => (await listNodes(via)).find(n => n.ID === workerId)?.Status.State === 'down', 30_000, 200)
    const downMs = Date.now() - cutAt
    const moved = await waitFor(`${replicas} tasks running off ${worker.name}`, async () => {
      const t = await tasks()
      return t.length === replicas && t.every(x => x.Status.State === 'running' && x.NodeID !== workerId) ? t : undefined
    }, 60_000, 250)
    const movedMs = Date.now() - cutAt
    console.log(`${worker.name} cut off: down after ${ms(downMs)}, its ${stale.length} task(s) replaced and running elsewhere after ${ms(movedMs)}`)
    // Each replacement runs in its own node's engine, and nowhere else (the cut-off engine aside).
    const reachable = b.hosts.filter(h => h !== worker)
    const seen = await serviceContainers(b, 'slots', reachable)
    for (const t of moved) {
      const where = seen.filter(c => c.taskId === t.ID)
      expect(where.map(c => `${c.host}:${c.state}`), `task ${t.ID}`).toEqual([`${hostOfNode.get(t.NodeID)}:running`])
      expect(where[0]!.nodeId).toBe(t.NodeID)
    }
    // Only the cut-off engine still runs the stale ones.
    const inWorker = await serviceContainers(b, 'slots', [worker])
    console.log(`${worker.name}'s engine while cut off: ${JSON.stringify(inWorker.map(c => `${c.slot}:${c.state}`))}`)

    await b.heal()
    const healedAt = Date.now()
    const settled = await waitFor('exactly one running container per slot, and none of the stale ones running', async () => {
      const all = await serviceContainers(b, 'slots')
      const perSlot = runningPerSlot(all)
      const staleRunning = all.filter(c => stale.some(t => t.ID === c.taskId) && c.state === 'running')
      if (staleRunning.length > 0 || perSlot.size !== replicas || [...perSlot.values()].some(l => l.length !== 1)) {
        throw new Error(`running per slot: ${JSON.stringify([...perSlot].map(([s, l]) => `${s}:${l.map(c => c.host).join('+')}`))}`)
      }
      return all
    }, 60_000, 250)
    console.log(`after the heal, one container per slot after ${ms(Date.now() - healedAt)}; ${worker.name}'s stale containers: ` +
      JSON.stringify(settled.filter(c => stale.some(t => t.ID === c.taskId)).map(c => c.state)))
    await b.waitForReady(30_000)
    // Settled: it stays so, and matches the cluster's tasks.
    for (let i = 0; i < 3; i++) {
      await new Promise(resolve => setTimeout(resolve, 500))
      const perSlot = runningPerSlot(await serviceContainers(b, 'slots'))
      expect([...perSlot.values()].map(l => l.length)).toEqual(Array(replicas).fill(1))
      const t = await tasks()
      expect(new Set([...perSlot.values()].map(l => l[0]!.taskId))).toEqual(new Set(t.map(x => x.ID)))
    }
    expect((await via.agent.api('DELETE', '/services/slots', undefined, CALL_MS)).status).toBe(200)
  }, 180_000)

  it('a follower manager paused for 3 s (longer than the election timeout) changes neither the leader nor the term', async () => {
    const b = theBed()
    const { host: leader, term } = await waitForAgreedLeader(b, cluster.managers, 20_000)
    const follower = cluster.managers.find(h => h !== leader)!
    const marks = logMarks(b)
    await b.pauseAgent(follower)
    const pausedAt = Date.now()
    // Writes go on meanwhile (leader + the other follower are a majority).
    const write = await addLabels(cluster.workers[0]!.agent.socket, 'before-cut', { paused: follower.name }, CALL_MS)
    expect(write.status, JSON.stringify(write.body)).toBe(200)
    await waitFor('3 s of pause', () => Date.now() - pausedAt >= 3_000, 5_000, 50)
    await b.resumeAgent(follower)
    await b.waitForReady(30_000)
    // Give the resumed node its chance to disrupt: two full election timeouts after it answers again.
    const resumed = Date.now()
    await waitFor(`${follower.name} to serve a read again`, async () => (await follower.agent.api('GET', '/services/before-cut', undefined, CALL_MS)).status === 200, 20_000, 100)
    await waitFor('2.4 s after the resume', () => Date.now() - resumed >= 2_400, 5_000, 50)
    const after = await waitForAgreedLeader(b, cluster.managers, 20_000)
    const changes = leaderChanges(b, marks)
    console.log(`${follower.name} paused 3 s: leader ${leader.name} term ${term} before, ${after.host.name} term ${after.term} after; ` +
      `log lines since: ${JSON.stringify(changes.map(c => `${c.host}:${c.leader.slice(0, 8)}@${c.term}/${c.role}`))}`)
    expect(after.host).toBe(leader)
    expect(after.term).toBe(term)
    expect(changes.filter(c => c.term > term), 'no agent logged a newer term').toEqual([])
    expect(changes.filter(c => c.host !== follower.name), 'the other managers saw no leader change').toEqual([])
  }, 90_000)
})
