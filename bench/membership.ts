/**
 * Membership benchmark: real agents on loopback (test/support's harness), for each cluster size N:
 *   - process start-up: from spawning the N agents (the first with `--init`, the others waiting for a
 *     join, as dockerd does; ten at a time) until every socket answers;
 *   - admission: from issuing the joins until every `swarm join` answered (the leader's Raft commits);
 *   - join convergence: from issuing `POST /swarm/join` (worker token) on the N−1 others at once until
 *     every agent's membership lists the N−1 others ready — read from each agent's own log (`member
 *     joined`/`member up`, with the agent's timestamps; no polling of N sockets, which would load the
 *     very machine being measured; a suspicion, logged at debug, is not seen) — and, for comparison,
 *     until the leader's store (`GET /nodes` on the first agent) lists N nodes ready (the dispatcher's
 *     view, which `docker node ls` shows);
 *   - idle RSS and CPU per agent (first repetition only): SETTLE_MS after convergence, over a window of
 *     `--idle-seconds` (default 30), from /proc/<pid>/stat (utime + stime, 100 ticks/s) and
 *     /proc/<pid>/status (VmRSS, sampled every second), and PSS with its anonymous part from
 *     /proc/<pid>/smaps_rollup at the end; the figure is the median agent;
 *   - failure detection: from the SIGKILL of the last agent (a worker) until every other agent has logged
 *     it down (SWIM: `member down`), and until the leader's store shows it down;
 *   - false downs: `member down` lines between convergence and the kill (must be 0).
 * Old (heartbeat) figures are not printed: that membership is gone (README keeps its measurements).
 *
 * Usage: node dist/bench/membership.js [--sizes 50] [--reps 1] [--idle-seconds 30]
 * Prints the summary table to stdout and progress to stderr. Exits 0 when it ran, even if a target is
 * missed (marked MISSED); 1 on an error (a timeout, an agent that died); 2 on bad flags.
 * MB here is 2^20 bytes; CPU % is of one core.
 */
import { readFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { callSocket, type AgentProcess } from '../test/support/agent-process.js'
import { TestCluster } from '../test/support/cluster.js'
import { AgentDiedError, UsageError, flagPairs, median, pollUntil, positiveInt, progress, runBench, vmRssKb, type Live } from './support.js'

const POLL_MS = 100
const START_BATCH = 10
const STORE_POLL_MS = 200
const CALL_TIMEOUT_MS = 5_000
/** Joins and convergence of 50 agents on two cores. */
const JOIN_TIMEOUT_MS = 120_000
const JOIN_ATTEMPTS = 10
const JOIN_RETRY_PAUSE_MS = 2_000
const CONVERGENCE_TIMEOUT_MS = 180_000
const DETECTION_TIMEOUT_MS = 30_000
const SETTLE_MS = 15_000
/** Linux USER_HZ (`getconf CLK_TCK`): the unit of utime and stime in /proc/<pid>/stat. */
const CLK_TCK = 100
const MAX_REPS = 20
const MAX_SIZE = 100

const TARGET_CONVERGENCE_MS = 10_000
const TARGET_DETECTION_MS = 3_000
const TARGET_RSS_MB = 80
const TARGET_CPU_PCT = 1

interface BenchArgs {
  readonly reps: number
  readonly sizes: readonly number[]
  readonly idleSeconds: number
}

interface IdleFigures {
  /** Per agent, in agent order (the first is the leader). */
  readonly rssMb: readonly number[]
  /**
   * Proportional set size and its anonymous part, read once at the end of the window: RSS counts the
   * pages of the node binary in full in every agent (about 52 MB here), PSS shares them out among the
   * processes that map them; the anonymous part (heap, buffers) is what one more agent costs.
   */
  readonly pssMb: readonly number[]
  readonly anonMb: readonly number[]
  readonly cpuPct: readonly number[]
}

interface RepResult {
  readonly startupMs: number
  /** From the joins issued until every `swarm join` answered (the leader admitted them all). */
  readonly admissionMs: number
  /** Joins that had to be asked again (see runRepetition). */
  readonly retriedJoins: number
  /** Null: not reached in time. */
  readonly convergenceMs: number | null
  /** From the last join answered until membership converged. */
  readonly afterAdmissionMs: number | null
  /** Null: not reached in time. */
  readonly storeConvergenceMs: number | null
  readonly detectionMs: number
  readonly detectionMedianMs: number
  readonly storeDetectionMs: number | null
  readonly falseDowns: number
  readonly idle: IdleFigures | null
}

function parseArgs (argv: readonly string[]): BenchArgs {
  let reps = 1
  let sizes: number[] = [50]
  let idleSeconds = 30
  for (const { flag, value, arg } of flagPairs(argv)) {
    if (flag === '--reps') {
      reps = positiveInt(value, '--reps', MAX_REPS)
    } else if (flag === '--sizes') {
      sizes = (value ?? '').split(',').map(s => positiveInt(s.trim(), '--sizes', MAX_SIZE))
      // One agent is killed to measure detection, and at least one must remain to see it.
      if (sizes.some(n => n < 2)) throw new UsageError('--sizes: every size must be at least 2')
    } else if (flag === '--idle-seconds') {
      idleSeconds = positiveInt(value, '--idle-seconds', 600)
    } else {
      throw new UsageError(`unknown argument "${arg}"; usage: membership.js [--sizes 50] [--reps 1] [--idle-seconds 30]`)
    }
  }
  return { reps, sizes, idleSeconds }
}

type LoggedState = 'ready' | 'down'
const MEMBER_LINE = /^(\S+) +\S+ +\[membership\] member (joined|up|down|left) node=(\S+)/gm
const SELF_LINE = /\[membership\] member of cluster .* node=(\S+)/

/**
 * Each agent's membership as its log tells it: the last ready/down event per node, with the agent's own
 * time. Logs are read incrementally (complete lines only): rescanning fifty growing logs every poll would
 * load the very machine being measured.
 */
class LoggedViews {
  private readonly offsets = new Map<AgentProcess, number>()
  private readonly views = new Map<AgentProcess, Map<string, { state: LoggedState, atMs: number }>>()
  /** `member down` lines seen, with the agent's time. */
  readonly downs: number[] = []

  of (a: AgentProcess): ReadonlyMap<string, { state: LoggedState, atMs: number }> {
    const logs = alive(a).logs
    const from = this.offsets.get(a) ?? 0
    const end = logs.lastIndexOf('\n') + 1
    let view = this.views.get(a)
    if (view === undefined) this.views.set(a, view = new Map<string, { state: LoggedState, atMs: number }>())
    if (end > from) {
      for (const m of logs.slice(from, end).matchAll(MEMBER_LINE)) {
        const atMs = Date.parse(m[1]!)
        view.set(m[3]!, { state: m[2] === 'joined' || m[2] === 'up' ? 'ready' : 'down', atMs })
        if (m[2] === 'down') this.downs.push(atMs)
      }
      this.offsets.set(a, end)
    }
    return view
  }
}

function nodeIdOf (a: AgentProcess): string {
  const m = SELF_LINE.exec(a.logs)
  if (m === null) throw new Error(`${a.hostname} has not logged its membership`)
  return m[1]!
}

function alive (a: AgentProcess): AgentProcess {
  if (!a.running) throw new AgentDiedError(`agent ${a.hostname} exited:\n${a.logs.slice(-4000)}`)
  return a
}

/** The leader's store: how many nodes it lists, and how many of them ready. */
async function storeNodes (leader: AgentProcess): Promise<Array<{ ID: string, state: string }>> {
  const r = await callSocket(alive(leader).socket, 'GET', '/nodes', undefined, CALL_TIMEOUT_MS)
  if (r.status !== 200 || !Array.isArray(r.body)) throw new Error(`${leader.hostname}: GET /nodes answered ${r.status}`)
  return (r.body as Array<{ ID?: unknown, Status?: { State?: unknown } }>).map(n => ({ ID: String(n.ID), state: String(n.Status?.State) }))
}

/** Until every agent's log shows the N−1 others ready; returns when the last of them did (agents' clocks). */
async function membershipConvergence (agents: readonly AgentProcess[], ids: readonly string[], logs: LoggedViews): Promise<number> {
  return await pollUntil(`every agent to log ${agents.length - 1} members ready`, async () => {
    let last = 0
    for (const [i, a] of agents.entries()) {
      const view = logs.of(a)
      for (const [j, id] of ids.entries()) {
        if (i === j) continue
        const e = view.get(id)
        if (e?.state !== 'ready') return undefined
        last = Math.max(last, e.atMs)
      }
    }
    return last
  }, CONVERGENCE_TIMEOUT_MS, POLL_MS)
}

/** utime + stime in clock ticks, and VmRSS in kB, of one process. */
function readProc (pid: number): { ticks: number, rssKb: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // Fields after the command name, which is in parentheses and may hold spaces: utime is field 14 and
  // stime field 15 (proc(5)).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const ticks = Number(fields[11]) + Number(fields[12])
  if (!Number.isFinite(ticks)) throw new Error(`cannot read /proc/${pid}/stat`)
  return { ticks, rssKb: vmRssKb(pid) }
}

/** Pss and Pss_Anon of one process, in kB (smaps_rollup, Linux 4.14 and later). */
function readPss (pid: number): { pssKb: number, anonKb: number } {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8')
  const pss = /^Pss:\s+(\d+) kB$/m.exec(text)
  const anon = /^Pss_Anon:\s+(\d+) kB$/m.exec(text)
  if (pss === null || anon === null) throw new Error(`cannot read /proc/${pid}/smaps_rollup`)
  return { pssKb: Number(pss[1]), anonKb: Number(anon[1]) }
}

/** Each agent's CPU % over the window and its median RSS, sampled every second; PSS at the end. */
async function measureIdle (agents: readonly AgentProcess[], seconds: number): Promise<IdleFigures> {
  const pids = agents.map(a => {
    if (!a.running || a.pid === undefined) throw new AgentDiedError(`agent ${a.hostname} exited before the idle window`)
    return a.pid
  })
  const start = performance.now()
  const first = pids.map(readProc)
  const rssKb: number[][] = pids.map(() => [])
  let last = first
  for (let k = 1; k <= seconds; k++) {
    const wait = start + k * 1000 - performance.now()
    if (wait > 0) await sleep(wait)
    last = pids.map(readProc)
    last.forEach((s, i) => { rssKb[i]!.push(s.rssKb) })
  }
  const elapsed = (performance.now() - start) / 1000
  const pss = pids.map(readPss)
  return {
    rssMb: rssKb.map(xs => median(xs) / 1024),
    pssMb: pss.map(p => p.pssKb / 1024),
    anonMb: pss.map(p => p.anonKb / 1024),
    cpuPct: last.map((s, i) => (s.ticks - first[i]!.ticks) / CLK_TCK / elapsed * 100)
  }
}

/** SIGKILL the last agent: ms until every other agent logged it down (max and median), and until the leader's store did. */
async function measureDetection (agents: readonly AgentProcess[], ids: readonly string[], logs: LoggedViews): Promise<{ maxMs: number, medianMs: number, storeMs: number | null }> {
  const victim = agents[agents.length - 1]!
  const victimId = ids[ids.length - 1]!
  const others = agents.slice(0, -1)
  const killedAt = Date.now()
  await victim.kill('SIGKILL')
  const seen = await pollUntil(`every agent to log ${victim.hostname} down`, async () => {
    const at = others.map(a => {
      const e = logs.of(a).get(victimId)
      return e?.state === 'down' && e.atMs >= killedAt ? e.atMs - killedAt : undefined
    })
    return at.every(t => t !== undefined) ? at : undefined
  }, DETECTION_TIMEOUT_MS, POLL_MS)
  const storeMs = await orNull(pollUntil('the leader\'s store to show it down', async () =>
    (await storeNodes(agents[0]!)).some(n => n.ID === victimId && n.state === 'down') ? Date.now() - killedAt : undefined,
  DETECTION_TIMEOUT_MS, STORE_POLL_MS))
  return { maxMs: Math.max(...seen), medianMs: median(seen), storeMs }
}

/** A figure the cluster did not reach in time (the store's view, under a burst) is printed as such, not fatal. */
async function orNull<T> (p: Promise<T>): Promise<T | null> {
  return await p.catch((err: unknown) => {
    if (err instanceof AgentDiedError) throw err
    progress(`not reached: ${(err as Error).message}`)
    return null
  })
}

async function runRepetition (n: number, rep: number, args: BenchArgs, live: Live): Promise<RepResult> {
  const cluster = TestCluster.empty(`bench${n}`)
  live.cluster = cluster
  try {
    const startedAt = performance.now()
    const agents: AgentProcess[] = []
    for (let i = 1; i <= n; i++) agents.push(await cluster.addAgent(`bench${n}-${i}`, 'info'))
    const [first, ...rest] = agents as [AgentProcess, ...AgentProcess[]]
    await first.start(['--init'])
    // In batches: fifty Node processes loading at once on two cores would outlast a socket's start-up
    // deadline (test/support); start-up is reported, not judged.
    for (let i = 0; i < rest.length; i += START_BATCH) await Promise.all(rest.slice(i, i + START_BATCH).map(async a => { await a.start([]) }))
    const startupMs = performance.now() - startedAt
    progress(`N=${n} rep ${rep}: ${n} agents up in ${startupMs.toFixed(0)} ms; joining ${n - 1} at once`)
    const token = ((await first.api('GET', '/swarm')).body as { JoinTokens: { Worker: string } }).JoinTokens.Worker
    const joinAt = Date.now()
    let retried = 0
    await Promise.all(rest.map(async a => {
      // A join the leader could not admit within the handshake's deadline (a burst on a busy leader: from
      // about 20 agents at once on two cores, with the heartbeat membership as with SWIM) is asked again
      // after a pause, as an operator would; it is counted and printed. (The first attempt may have been
      // admitted without its joiner learning it: the store then holds a node that never comes up.)
      for (let attempt = 1; ; attempt++) {
        const r = await a.api('POST', '/swarm/join', { RemoteAddrs: [first.addr], JoinToken: token, ListenAddr: a.addr }, JOIN_TIMEOUT_MS)
        if (r.status === 200) return
        if (attempt >= JOIN_ATTEMPTS || r.status < 500) throw new Error(`${a.hostname}: swarm join answered ${r.status}: ${JSON.stringify(r.body)}`)
        retried++
        progress(`${a.hostname}: swarm join answered ${r.status} (${JSON.stringify(r.body)}); asking again`)
        await sleep(JOIN_RETRY_PAUSE_MS)
      }
    }))
    // Admission (the leader's Raft commits) ends here; what follows is membership alone.
    const joinedAt = Date.now()
    const ids = agents.map(nodeIdOf)
    const logs = new LoggedViews()
    const storeReady = orNull(pollUntil(`the leader's store to list ${n} ready nodes`, async () => {
      const nodes = await storeNodes(first)
      const running = new Set(ids)
      return nodes.filter(x => running.has(x.ID) && x.state === 'ready').length === n ? Date.now() - joinAt : undefined
    }, CONVERGENCE_TIMEOUT_MS, STORE_POLL_MS))
    const convergedAt = await orNull(membershipConvergence(agents, ids, logs))
    const storeConvergenceMs = await storeReady
    const convergenceMs = convergedAt === null ? null : convergedAt - joinAt
    const afterAdmissionMs = convergedAt === null ? null : Math.max(0, convergedAt - joinedAt)
    progress(`N=${n} rep ${rep}: every join answered after ${joinedAt - joinAt} ms (${retried} asked again); membership converged ${convergenceMs ?? 'never'} ms ` +
      `after the joins (${afterAdmissionMs ?? '-'} ms after the last answer), the leader's store ${storeConvergenceMs ?? 'never'} ms`)
    const quietFrom = Date.now()
    let idle: IdleFigures | null = null
    if (rep === 1) {
      await sleep(SETTLE_MS)
      idle = await measureIdle(agents, args.idleSeconds)
    }
    for (const a of agents) logs.of(a)
    const falseDowns = logs.downs.filter(t => t >= quietFrom).length
    const detection = await measureDetection(agents, ids, logs)
    return {
      startupMs,
      retriedJoins: retried,
      admissionMs: joinedAt - joinAt,
      convergenceMs,
      afterAdmissionMs,
      storeConvergenceMs,
      detectionMs: detection.maxMs,
      detectionMedianMs: detection.medianMs,
      storeDetectionMs: detection.storeMs,
      falseDowns,
      idle
    }
  } catch (err) {
    progress(`N=${n} rep ${rep} failed; agent logs (last 4000 characters):\n${cluster.logs().slice(-4000)}`)
    throw err
  } finally {
    await cluster.stop()
    live.cluster = null
  }
}

function spread (all: ReadonlyArray<number | null>): string {
  const xs = all.filter((x): x is number => x !== null)
  const missed = all.length - xs.length
  if (xs.length === 0) return 'not reached'
  const s = xs.length === 1 ? xs[0]!.toFixed(0) : `${median(xs).toFixed(0)} (${Math.min(...xs).toFixed(0)}-${Math.max(...xs).toFixed(0)})`
  return missed === 0 ? s : `${s}, ${missed} not reached`
}

const mark = (ok: boolean): string => ok ? '' : ' MISSED'
/** Whether the median of the figures reached is within `target` (none reached: missed). */
const within = (all: ReadonlyArray<number | null>, target: number): boolean => {
  const xs = all.filter((x): x is number => x !== null)
  return xs.length === all.length && median(xs) <= target
}

function printSummary (args: BenchArgs, results: ReadonlyArray<{ n: number, reps: readonly RepResult[] }>): void {
  const cols = [
    ['agents', 6],
    ['start-up ms', 12],
    ['joins answered ms', 17],
    ['convergence ms: members (after last join) / store', 50],
    ['detection ms: all / median / store', 36],
    ['false downs', 11],
    ['idle RSS MB/agent (max)', 23],
    ['idle PSS MB/agent (anon)', 24],
    ['idle CPU %/agent (max, leader)', 30]
  ] as const
  const row = (cells: readonly string[]): string => cells.map((c, i) => c.padEnd(cols[i]![1])).join('  ').trimEnd()
  const lines = [
    `flotilla membership benchmark (SWIM): ${args.reps} repetition(s) per size on loopback, agents at log level info, idle window ${args.idleSeconds} s`,
    '',
    row(cols.map(c => c[0]))
  ]
  for (const { n, reps } of results) {
    const conv = reps.map(r => r.convergenceMs)
    const det = reps.map(r => r.detectionMs)
    const idle = reps[0]!.idle!
    const rss = median(idle.rssMb)
    const cpu = median(idle.cpuPct)
    lines.push(row([
      String(n),
      spread(reps.map(r => r.startupMs)),
      `${spread(reps.map(r => r.admissionMs))}${reps.some(r => r.retriedJoins > 0) ? ` (${reps.reduce((x, r) => x + r.retriedJoins, 0)} again)` : ''}`,
      `${spread(conv)}${mark(within(conv, TARGET_CONVERGENCE_MS))} (${spread(reps.map(r => r.afterAdmissionMs))}) / ${spread(reps.map(r => r.storeConvergenceMs))}`,
      `${spread(det)}${mark(median(det) <= TARGET_DETECTION_MS)} / ${spread(reps.map(r => r.detectionMedianMs))} / ${spread(reps.map(r => r.storeDetectionMs))}`,
      String(reps.reduce((s, r) => s + r.falseDowns, 0)),
      `${rss.toFixed(1)}${mark(rss <= TARGET_RSS_MB)} (${Math.max(...idle.rssMb).toFixed(1)})`,
      `${median(idle.pssMb).toFixed(1)} (${median(idle.anonMb).toFixed(1)})`,
      `${cpu.toFixed(2)}${mark(cpu <= TARGET_CPU_PCT)} (${Math.max(...idle.cpuPct).toFixed(2)}, ${idle.cpuPct[0]!.toFixed(2)})`
    ]))
  }
  lines.push(
    '',
    'targets (judged on the median):',
    `  convergence ≤ ${TARGET_CONVERGENCE_MS} ms (every agent lists every other ready), detection ≤ ${TARGET_DETECTION_MS} ms (every agent logged the killed one down),`,
    `  idle RSS ≤ ${TARGET_RSS_MB} MB and idle CPU ≤ ${TARGET_CPU_PCT} % of one core for the median agent (PSS, anon: not judged, shown for what an agent costs)`,
    'old (heartbeat) membership: not runnable any more; see README for its figures at 3, 5 and 10 agents'
  )
  process.stdout.write(lines.join('\n') + '\n')
}

runBench('membership', parseArgs, async (args: BenchArgs, live: Live) => {
  const results: Array<{ n: number, reps: RepResult[] }> = []
  for (const n of args.sizes) {
    const reps: RepResult[] = []
    for (let rep = 1; rep <= args.reps; rep++) {
      progress(`N=${n} rep ${rep}/${args.reps}: starting${rep === 1 ? ' (with idle sampling)' : ''}`)
      const r = await runRepetition(n, rep, args, live)
      reps.push(r)
      const idle = r.idle === null
        ? ''
        : `, idle RSS median ${median(r.idle.rssMb).toFixed(1)} MB (max ${Math.max(...r.idle.rssMb).toFixed(1)}), ` +
          `CPU median ${median(r.idle.cpuPct).toFixed(2)} % (max ${Math.max(...r.idle.cpuPct).toFixed(2)})`
      progress(`N=${n} rep ${rep}/${args.reps}: convergence ${r.convergenceMs} ms, detection ${r.detectionMs} ms ` +
        `(median ${r.detectionMedianMs} ms), false downs ${r.falseDowns}${idle}`)
    }
    results.push({ n, reps })
  }
  printSummary(args, results)
})
