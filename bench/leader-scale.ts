/**
 * Leader-at-scale benchmark (issue 15): the leader's real dispatcher, orchestrator, scheduler and
 * allocator (LeaderServices) over a ClusterStore whose proposals apply at once in this process — no
 * Raft, no network, no frame encoding (bench/leader-sim.ts) — with `--nodes` (1,000) simulated nodes as
 * in-process sessions of the real dispatcher (connectLocal). Every service is on one overlay network
 * (so the dispatcher's network views carry every task's address) and has a VIP on it. Each repetition
 * builds a fresh cluster and measures:
 *   1. node side alone: CPU of the simulated nodes on links that reach no leader, over `--idle-s`;
 *   2. idle leader, no tasks: process CPU over `--idle-s` with every node heartbeating, minus (1);
 *   3. one service of `--replicas` (1,000) created: time to all tasks assigned, and to all running;
 *   4. `--services` − 1 more such services at once (20,000 tasks in all): time to all running;
 *   5. idle leader with those tasks, as (2);
 *   6. `--down` (100) nodes stop heartbeating: detection (silence → the last of them marked down) and
 *      re-placement (the last marked down → every service has all its replicas assigned on live nodes,
 *      then running).
 * CPU is process.cpuUsage (user + system) over the window as a fraction of one core. The simulated
 * nodes' own time is also summed inline (performance.now around their callbacks) as a check on (1).
 * Medians over `--reps` (3). Targets: idle ≤ 10 % of a core; 1,000 assigned ≤ 1 s; re-placement ≤ 1 s
 * after detection. "false downs" counts live nodes marked down (the loop was too busy to take their
 * heartbeats); "loop max" is the longest event-loop block seen in a phase.
 *
 * Usage: node dist/bench/leader-scale.js [--reps N] [--idle-s S] [--nodes N] [--replicas N] [--services N] [--down N] [--report-ms MS]
 * Prints the table to stdout and progress to stderr; exit 0 when it ran (targets missed or not), 1 on an error, 2 on bad flags.
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { NODE_DOWN_AFTER_MS } from '../src/tasks/index.js'
import { InProcessLeader, SimNodes, Tracker, dispatcherLinks, nodeId, nullLinks } from './leader-sim.js'
import { UsageError, flagPairs, median, positiveInt, progress, runBench } from './support.js'

interface Args { reps: number, idleS: number, nodes: number, replicas: number, services: number, down: number, reportMs: number }

function parse (argv: readonly string[]): Args {
  const a: Args = { reps: 3, idleS: 30, nodes: 1000, replicas: 1000, services: 20, down: 100, reportMs: 50 }
  for (const { flag, value } of flagPairs(argv)) {
    if (flag === '--reps') a.reps = positiveInt(value, flag, 20)
    else if (flag === '--idle-s') a.idleS = positiveInt(value, flag, 600)
    else if (flag === '--nodes') a.nodes = positiveInt(value, flag, 10_000, 2)
    else if (flag === '--replicas') a.replicas = positiveInt(value, flag, 10_000)
    else if (flag === '--services') a.services = positiveInt(value, flag, 50)
    else if (flag === '--down') a.down = positiveInt(value, flag, 10_000)
    else if (flag === '--report-ms') a.reportMs = positiveInt(value, flag, 10_000, 0)
    else throw new UsageError(`unknown flag ${flag}`)
  }
  if (a.down >= a.nodes) throw new UsageError(`--down ${a.down} must be below --nodes ${a.nodes}`)
  return a
}

/** How long a phase may take before it is reported as timed out (the bench goes on with the next). */
const TIMEOUT_MS = 120_000
/** The leader is quiet when no entry has been applied for this long; an idle window starts only then (or after SETTLE_MS). */
const QUIET_MS = 1000
const SETTLE_MS = 60_000

/** Figures of one repetition (ms, or fractions of a core); NaN where a phase timed out. */
interface Rep {
  nodeSideCpu: number
  idleEmptyCpu: number
  idleEmptyClientCpu: number
  idleEmptyEntries: number
  idleFullCpu: number
  idleFullClientCpu: number
  idleFullEntries: number
  createAssignedMs: number
  createRunningMs: number
  createLoopMaxMs: number
  fillRunningMs: number
  fillSettledMs: number
  fillLoopMaxMs: number
  fillFalseDowns: number
  detectMs: number
  detectPerNodeMs: number
  replacedMs: number
  replacedRunningMs: number
  failLoopMaxMs: number
  failFalseDowns: number
}

/** Process CPU over `seconds` as a fraction of one core, and the nodes' own share of it. */
async function cpuWindow (seconds: number, nodes: SimNodes): Promise<{ cpu: number, client: number }> {
  const clientBefore = nodes.clientMs
  const before = process.cpuUsage()
  const t0 = performance.now()
  await sleep(seconds * 1000)
  const used = process.cpuUsage(before)
  const wallMs = performance.now() - t0
  return { cpu: (used.user + used.system) / 1000 / wallMs, client: (nodes.clientMs - clientBefore) / wallMs }
}

/** When no entry has been applied for QUIET_MS (performance.now ms), or NaN when that did not happen within SETTLE_MS. */
async function quiet (leader: InProcessLeader): Promise<number> {
  const deadline = performance.now() + SETTLE_MS
  while (performance.now() - leader.lastApplyMs < QUIET_MS) {
    if (performance.now() > deadline) return NaN
    await sleep(50)
  }
  return leader.lastApplyMs
}

/** When `until` resolved (performance.now ms), or NaN when it timed out. */
async function at (until: Promise<number>, say: (s: string) => void): Promise<number> {
  try {
    return await until
  } catch (err) {
    say((err as Error).message)
    return NaN
  }
}

function loopMonitor (): { maxMs: () => number, stop: () => void } {
  const h = monitorEventLoopDelay({ resolution: 10 })
  h.enable()
  return { maxMs: () => h.max / 1e6, stop: () => { h.disable() } }
}

async function rep (a: Args, r: number): Promise<Rep> {
  const say = (s: string): void => { progress(`rep ${r}: ${s}`) }

  say(`node side alone: ${a.nodes} nodes on null links, ${a.idleS} s`)
  const alone = new SimNodes(a.nodes, nullLinks, a.reportMs)
  alone.start()
  await sleep(1000)
  const nodeSide = await cpuWindow(a.idleS, alone)
  alone.stop()

  say('building the cluster')
  const leader = new InProcessLeader(a.nodes)
  const services = leader.start()
  const tracker = new Tracker(leader.store)
  const nodes = new SimNodes(a.nodes, dispatcherLinks(services), a.reportMs)
  nodes.start()
  try {
    await tracker.until(() => {
      for (const n of leader.state.nodes.values()) if (n.status.state !== 'ready' || n.networkAddresses.length === 0) return false
      return true
    }, 'every node ready with its ingress address', TIMEOUT_MS)
    if (Number.isNaN(await quiet(leader))) say('the leader did not go quiet; measuring anyway')

    say(`idle, no tasks, ${a.idleS} s`)
    let entries = leader.applied
    const idleEmpty = await cpuWindow(a.idleS, nodes)
    const idleEmptyEntries = leader.applied - entries

    say(`one service of ${a.replicas} replicas`)
    let loop = loopMonitor()
    const createAt = performance.now()
    const first = leader.createService('svc0', a.replicas)
    const assignedAt = await at(tracker.until(() => tracker.count(first).placed === a.replicas, 'the first service assigned', TIMEOUT_MS), say)
    const runningAt = await at(tracker.until(() => tracker.count(first).running === a.replicas, 'the first service running', TIMEOUT_MS), say)
    const createLoopMaxMs = loop.maxMs()
    loop.stop()

    say(`${a.services - 1} more services at once`)
    let falseBefore = tracker.falseDowns
    loop = loopMonitor()
    const fillAt = performance.now()
    const ids = [first]
    for (let s = 1; s < a.services; s++) ids.push(leader.createService(`svc${s}`, a.replicas))
    const allRunning = (): boolean => ids.every(id => tracker.count(id).running === a.replicas)
    const filledAt = await at(tracker.until(allRunning, 'every service running', TIMEOUT_MS), say)
    const settledAt = await quiet(leader)
    if (Number.isNaN(settledAt)) say(`the leader did not go quiet within ${SETTLE_MS / 1000} s; measuring anyway`)
    const fillLoopMaxMs = loop.maxMs()
    loop.stop()
    const fillFalseDowns = tracker.falseDowns - falseBefore

    say(`idle, ${a.services * a.replicas} tasks, ${a.idleS} s`)
    entries = leader.applied
    const idleFull = await cpuWindow(a.idleS, nodes)
    const idleFullEntries = leader.applied - entries

    // Every k-th node but the manager's own (node 0).
    const step = Math.floor((a.nodes - 1) / a.down)
    const victims = Array.from({ length: a.down }, (_, i) => 1 + i * step)
    say(`${a.down} nodes stop heartbeating`)
    tracker.setDead(victims.map(nodeId))
    falseBefore = tracker.falseDowns
    loop = loopMonitor()
    const silenceAt = performance.now()
    nodes.silence(victims)
    const downAt = await at(tracker.until(() => tracker.downAtMs.size === a.down, 'the silent nodes marked down', TIMEOUT_MS), say)
    const allPlaced = (): boolean => ids.every(id => tracker.count(id).placed === a.replicas)
    const replacedAt = await at(tracker.until(allPlaced, 'every replica placed on a live node', TIMEOUT_MS), say)
    const replacedRunningAt = await at(tracker.until(allRunning, 'every replica running on a live node', TIMEOUT_MS), say)
    const failLoopMaxMs = loop.maxMs()
    loop.stop()
    const perNode = victims.flatMap(i => {
      const down = tracker.downAtMs.get(nodeId(i))
      const beat = nodes.lastBeatMs.get(nodeId(i))
      return down === undefined || beat === undefined ? [] : [down - beat]
    })

    return {
      nodeSideCpu: nodeSide.cpu,
      idleEmptyCpu: idleEmpty.cpu,
      idleEmptyClientCpu: idleEmpty.client,
      idleEmptyEntries,
      idleFullCpu: idleFull.cpu,
      idleFullClientCpu: idleFull.client,
      idleFullEntries,
      createAssignedMs: assignedAt - createAt,
      createRunningMs: runningAt - createAt,
      createLoopMaxMs,
      fillRunningMs: filledAt - fillAt,
      fillSettledMs: settledAt - fillAt,
      fillLoopMaxMs,
      fillFalseDowns,
      detectMs: downAt - silenceAt,
      detectPerNodeMs: median(perNode),
      replacedMs: replacedAt - downAt,
      replacedRunningMs: replacedRunningAt - downAt,
      failLoopMaxMs,
      failFalseDowns: tracker.falseDowns - falseBefore
    }
  } finally {
    nodes.stop()
    tracker.stop()
    leader.stop()
  }
}

const pct = (x: number): string => `${(x * 100).toFixed(1)} %`
const ms = (x: number): string => Number.isFinite(x) ? `${Math.round(x)} ms` : 'timeout'
/** The median, a timed-out (NaN) figure counting as the largest. */
const mid = (xs: readonly number[]): number => median(xs.map(x => Number.isNaN(x) ? Infinity : x))

runBench('leader-scale', parse, async a => {
  const reps: Rep[] = []
  for (let r = 1; r <= a.reps; r++) reps.push(await rep(a, r))
  const m = (f: (x: Rep) => number): number => mid(reps.map(f))
  const all = (f: (x: Rep) => number, fmt: (x: number) => string): string => reps.map(x => fmt(f(x))).join(', ')
  const verdict = (ok: boolean): string => ok ? 'ok' : 'MISSED'
  const tasks = a.services * a.replicas
  const leaderIdle = (x: Rep): number => x.idleEmptyCpu - x.nodeSideCpu
  const leaderIdleFull = (x: Rep): number => x.idleFullCpu - x.nodeSideCpu
  const rows: Array<[string, string, string, string]> = [
    ['node side alone (null links)', pct(m(x => x.nodeSideCpu)), all(x => x.nodeSideCpu, pct), ''],
    ['idle, no tasks: process', pct(m(x => x.idleEmptyCpu)), all(x => x.idleEmptyCpu, pct), ''],
    ['  nodes\' own code (inline)', pct(m(x => x.idleEmptyClientCpu)), all(x => x.idleEmptyClientCpu, pct), ''],
    ['  leader (process − node side)', pct(m(leaderIdle)), all(leaderIdle, pct), `${verdict(m(leaderIdle) <= 0.1)} (≤ 10 %)`],
    [`idle, ${tasks} tasks: process`, pct(m(x => x.idleFullCpu)), all(x => x.idleFullCpu, pct), ''],
    ['  nodes\' own code (inline)', pct(m(x => x.idleFullClientCpu)), all(x => x.idleFullClientCpu, pct), ''],
    ['  leader (process − node side)', pct(m(leaderIdleFull)), all(leaderIdleFull, pct), `${verdict(m(leaderIdleFull) <= 0.1)} (≤ 10 %)`],
    [`create ${a.replicas} replicas → all assigned`, ms(m(x => x.createAssignedMs)), all(x => x.createAssignedMs, ms), `${verdict(m(x => x.createAssignedMs) <= 1000)} (≤ 1 s)`],
    ['  → all running', ms(m(x => x.createRunningMs)), all(x => x.createRunningMs, ms), `(nodes report ${a.reportMs} ms after hearing)`],
    [`${a.services - 1} more services at once → all ${tasks} running`, ms(m(x => x.fillRunningMs)), all(x => x.fillRunningMs, ms), ''],
    [`  → no entry for ${QUIET_MS / 1000} s (settled)`, ms(m(x => x.fillSettledMs)), all(x => x.fillSettledMs, ms), `(timeout: not within ${SETTLE_MS / 1000} s)`],
    [`${a.down} nodes silent → last marked down (detection)`, ms(m(x => x.detectMs)), all(x => x.detectMs, ms), `(NODE_DOWN_AFTER_MS ${NODE_DOWN_AFTER_MS})`],
    ['  per node: last heartbeat → down, median', ms(m(x => x.detectPerNodeMs)), all(x => x.detectPerNodeMs, ms), ''],
    ['last down → all replicas re-placed', ms(m(x => x.replacedMs)), all(x => x.replacedMs, ms), `${verdict(m(x => x.replacedMs) <= 1000)} (≤ detection + 1 s)`],
    ['last down → all running again', ms(m(x => x.replacedRunningMs)), all(x => x.replacedRunningMs, ms), ''],
    ['loop max: create / fill / failure', `${ms(m(x => x.createLoopMaxMs))} / ${ms(m(x => x.fillLoopMaxMs))} / ${ms(m(x => x.failLoopMaxMs))}`, '', ''],
    ['false downs (live nodes marked down): fill', String(m(x => x.fillFalseDowns)), all(x => x.fillFalseDowns, String), ''],
    ['  failure', String(m(x => x.failFalseDowns)), all(x => x.failFalseDowns, String), ''],
    ['entries applied in idle windows', `${m(x => x.idleEmptyEntries)} / ${m(x => x.idleFullEntries)}`, '', '']
  ]
  console.log(`leader at scale: ${a.nodes} nodes in-process (no Raft, no network), ${a.services} × ${a.replicas} replicas on one overlay network, ` +
    `idle windows ${a.idleS} s, median of ${a.reps} reps; CPU as a fraction of one core`)
  const w = [Math.max(...rows.map(x => x[0].length)) + 2, 16, Math.max(12, ...rows.map(x => x[2].length)) + 2]
  console.log(`${'measure'.padEnd(w[0]!)}${'median'.padEnd(w[1]!)}${'reps'.padEnd(w[2]!)}target`)
  for (const [name, med, each, target] of rows) console.log(`${name.padEnd(w[0]!)}${med.padEnd(w[1]!)}${each.padEnd(w[2]!)}${target}`)
})
