/**
 * Membership benchmark: real agents on loopback (test/support's harness), for each cluster size N:
 *   - process start-up: from spawning all N agents at once (the first with `--init`, the others
 *     waiting for a join, as dockerd does) until every socket answers;
 *   - join convergence: from issuing `POST /swarm/join` (worker token) on the N−1 others at once until
 *     every agent's `GET /nodes` lists N nodes, all `Status.State === 'ready'`;
 *   - failure detection: from the SIGKILL of the last agent until every other agent shows it `down`;
 *   - idle RSS and CPU per agent (first repetition only): 3 s after convergence, over a 10 s window,
 *     from /proc/<pid>/stat (utime + stime, 100 ticks/s) and /proc/<pid>/status (VmRSS).
 * Polls run every 20 ms under a deadline; each poll asks every agent concurrently.
 *
 * Usage: node dist/bench/membership.js [--reps R] [--sizes 3,5,10]
 * Prints the summary table to stdout and progress to stderr. Exits 0 when it ran, even if a target is
 * missed (marked MISSED); 1 on an error (a timeout, an agent that died); 2 on bad flags.
 * MB here is 2^20 bytes; CPU % is of one core.
 */
import { readFileSync } from 'node:fs'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { callSocket, type AgentProcess } from '../test/support/agent-process.js'
import { TestCluster } from '../test/support/cluster.js'
import { AgentDiedError, UsageError, flagPairs, median, pollUntil, positiveInt, progress, runBench, type Live } from './support.js'

const POLL_MS = 20
/** Per-request timeout of one `GET /nodes`. */
const CALL_TIMEOUT_MS = 2_000
/** After TestCluster.start returns: how long the cluster may take to list every node ready. */
const CONVERGENCE_TIMEOUT_MS = 30_000
const DETECTION_TIMEOUT_MS = 15_000
const SETTLE_MS = 3_000
const IDLE_WINDOW_MS = 10_000
const IDLE_SAMPLES = 10
/** Linux USER_HZ (`getconf CLK_TCK`): the unit of utime and stime in /proc/<pid>/stat. */
const CLK_TCK = 100
const MAX_REPS = 100
const MAX_SIZE = 50

const TARGET_CONVERGENCE_MS = 2_000
const TARGET_CONVERGENCE_AT_N = 10
const TARGET_DETECTION_MS = 3_000
const TARGET_RSS_MB = 100
const TARGET_CPU_PCT = 2

interface BenchArgs {
  readonly reps: number
  readonly sizes: readonly number[]
}

/** One node of `GET /nodes`, as far as the bench reads it. */
interface NodeView {
  readonly ID: string
  readonly hostname: string
  readonly state: string
}

interface IdleFigures {
  /** Per agent, in agent order. */
  readonly rssMb: readonly number[]
  readonly cpuPct: readonly number[]
}

interface RepResult {
  readonly convergenceMs: number
  readonly startupMs: number
  readonly detectionMs: number
  readonly idle: IdleFigures | null
}

interface SizeResult {
  readonly n: number
  readonly convergenceMs: readonly number[]
  readonly startupMs: readonly number[]
  readonly detectionMs: readonly number[]
  readonly idle: IdleFigures | null
}

function parseArgs (argv: readonly string[]): BenchArgs {
  let reps = 5
  let sizes: number[] = [3, 5, 10]
  for (const { flag, value, arg } of flagPairs(argv)) {
    if (flag === '--reps') {
      reps = positiveInt(value, '--reps', MAX_REPS)
    } else if (flag === '--sizes') {
      sizes = (value ?? '').split(',').map(s => positiveInt(s.trim(), '--sizes', MAX_SIZE))
      // One agent is killed to measure detection, and at least one must remain to see it.
      if (sizes.some(n => n < 2)) throw new UsageError('--sizes: every size must be at least 2')
    } else {
      throw new UsageError(`unknown argument "${arg}"; usage: membership.js [--reps R] [--sizes 3,5,10]`)
    }
  }
  return { reps, sizes }
}

/** One agent's `GET /nodes`; throws AgentDiedError if the process is gone. */
async function nodesOf (a: AgentProcess): Promise<NodeView[]> {
  if (!a.running) throw new AgentDiedError(`agent ${a.hostname} exited`)
  const r = await callSocket(a.socket, 'GET', '/nodes', undefined, CALL_TIMEOUT_MS)
  if (r.status !== 200 || !Array.isArray(r.body)) throw new Error(`${a.hostname}: GET /nodes answered ${r.status}`)
  return (r.body as unknown[]).map(raw => {
    const n = raw as { ID?: unknown, Description?: { Hostname?: unknown }, Status?: { State?: unknown } }
    return { ID: String(n.ID), hostname: String(n.Description?.Hostname), state: String(n.Status?.State) }
  })
}

async function waitForConvergence (agents: readonly AgentProcess[]): Promise<number> {
  const n = agents.length
  return await pollUntil(`every agent to list ${n} ready nodes`, async () => {
    const lists = await Promise.all(agents.map(nodesOf))
    return lists.every(l => l.length === n && l.every(x => x.state === 'ready')) ? performance.now() : undefined
  }, CONVERGENCE_TIMEOUT_MS, POLL_MS)
}

/** SIGKILL the last agent and return the ms until every other agent lists it as down. */
async function measureDetection (agents: readonly AgentProcess[]): Promise<number> {
  const victim = agents[agents.length - 1]!
  const others = agents.slice(0, -1)
  const matches = (await nodesOf(others[0]!)).filter(x => x.hostname === victim.hostname)
  if (matches.length !== 1) throw new Error(`expected one node named ${victim.hostname}, found ${matches.length}`)
  const victimId = matches[0]!.ID
  const killedAt = performance.now()
  await victim.kill('SIGKILL')
  const seenAt = await pollUntil(`every agent to list ${victim.hostname} as down`, async () => {
    const lists = await Promise.all(others.map(nodesOf))
    return lists.every(l => l.some(x => x.ID === victimId && x.state === 'down')) ? performance.now() : undefined
  }, DETECTION_TIMEOUT_MS, POLL_MS)
  return seenAt - killedAt
}

/** utime + stime in clock ticks, and VmRSS in kB, of one process. */
function readProc (pid: number): { ticks: number, rssKb: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // Fields after the command name, which is in parentheses and may hold spaces: state is field 3,
  // utime field 14 and stime field 15 (proc(5)).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const ticks = Number(fields[11]) + Number(fields[12])
  const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  if (!Number.isFinite(ticks) || m === null) throw new Error(`cannot read /proc/${pid}`)
  return { ticks, rssKb: Number(m[1]) }
}

/** After SETTLE_MS, each agent's median RSS over IDLE_SAMPLES samples and its CPU % over IDLE_WINDOW_MS. */
async function measureIdle (agents: readonly AgentProcess[]): Promise<IdleFigures> {
  await sleep(SETTLE_MS)
  const pids = agents.map(a => {
    if (!a.running || a.pid === undefined) throw new AgentDiedError(`agent ${a.hostname} exited before the idle window`)
    return a.pid
  })
  const start = performance.now()
  const first = pids.map(readProc)
  const rssKb: number[][] = pids.map(() => [])
  let last = first
  for (let k = 1; k <= IDLE_SAMPLES; k++) {
    const wait = start + k * (IDLE_WINDOW_MS / IDLE_SAMPLES) - performance.now()
    if (wait > 0) await sleep(wait)
    last = pids.map(readProc)
    last.forEach((s, i) => { rssKb[i]!.push(s.rssKb) })
  }
  const seconds = (performance.now() - start) / 1000
  return {
    rssMb: rssKb.map(xs => median(xs) / 1024),
    cpuPct: last.map((s, i) => (s.ticks - first[i]!.ticks) / CLK_TCK / seconds * 100)
  }
}

/**
 * One repetition: spawn N agents at once (the first with --init, the others waiting, as dockerd does,
 * for a join) and time until every socket answers (process start-up); then issue `swarm join` on
 * the N−1 others at once and time until every agent lists N ready nodes (join convergence).
 */
async function runRepetition (n: number, rep: number, withIdle: boolean, live: Live): Promise<RepResult> {
  const cluster = TestCluster.empty(`bench${n}`)
  live.cluster = cluster
  try {
    const startedAt = performance.now()
    const agents: AgentProcess[] = []
    for (let i = 1; i <= n; i++) agents.push(await cluster.addAgent(`bench${n}-${i}`, 'info'))
    const [first, ...rest] = agents as [AgentProcess, ...AgentProcess[]]
    await Promise.all([first.start(['--init']), ...rest.map(async a => { await a.start([]) })])
    const upAt = performance.now()
    const token = ((await first.api('GET', '/swarm')).body as { JoinTokens: { Worker: string } }).JoinTokens.Worker
    const joinAt = performance.now()
    await Promise.all(rest.map(async a => {
      const r = await a.api('POST', '/swarm/join', { RemoteAddrs: [first.addr], JoinToken: token, ListenAddr: a.addr }, 30_000)
      if (r.status !== 200) throw new Error(`${a.hostname}: swarm join answered ${r.status}: ${JSON.stringify(r.body)}`)
    }))
    const convergedAt = await waitForConvergence(agents)
    const idle = withIdle ? await measureIdle(agents) : null
    const detectionMs = await measureDetection(agents)
    return { startupMs: upAt - startedAt, convergenceMs: convergedAt - joinAt, detectionMs, idle }
  } catch (err) {
    progress(`N=${n} rep ${rep} failed; agent logs (last 4000 characters):\n${cluster.logs().slice(-4000)}`)
    throw err
  } finally {
    await cluster.stop()
    live.cluster = null
  }
}

function spread (xs: readonly number[]): string {
  return `${median(xs).toFixed(0)} (${Math.min(...xs).toFixed(0)}-${Math.max(...xs).toFixed(0)})`
}

const mark = (ok: boolean): string => ok ? '' : ' MISSED'

function printSummary (args: BenchArgs, results: readonly SizeResult[]): void {
  const cols = [
    ['agents', 6],
    ['process start-up ms (median, min-max)', 37],
    ['join convergence ms (median, min-max)', 37],
    ['detection ms (median, min-max)', 30],
    ['idle RSS MB/agent', 17],
    ['idle CPU %/agent', 16]
  ] as const
  const row = (cells: readonly string[]): string => cells.map((c, i) => c.padEnd(cols[i]![1])).join('  ').trimEnd()
  const lines = [
    `flotilla membership benchmark: ${args.reps} repetition(s) per size on loopback, agents at log level info`,
    '',
    row(cols.map(c => c[0]))
  ]
  for (const r of results) {
    const conv = r.n === TARGET_CONVERGENCE_AT_N ? mark(median(r.convergenceMs) < TARGET_CONVERGENCE_MS) : ''
    const rss = r.idle === null ? NaN : median(r.idle.rssMb)
    const cpu = r.idle === null ? NaN : median(r.idle.cpuPct)
    lines.push(row([
      String(r.n),
      spread(r.startupMs),
      spread(r.convergenceMs) + conv,
      spread(r.detectionMs) + mark(median(r.detectionMs) < TARGET_DETECTION_MS),
      rss.toFixed(1) + mark(rss < TARGET_RSS_MB),
      cpu.toFixed(2) + mark(cpu < TARGET_CPU_PCT)
    ]))
  }
  const at10 = results.find(r => r.n === TARGET_CONVERGENCE_AT_N)
  lines.push(
    '',
    'targets (judged on the median; RSS and CPU are the median agent of the first repetition):',
    `  convergence < ${TARGET_CONVERGENCE_MS} ms at N=${TARGET_CONVERGENCE_AT_N}` +
      (at10 === undefined ? ' (not run)' : `: ${median(at10.convergenceMs).toFixed(0)} ms${mark(median(at10.convergenceMs) < TARGET_CONVERGENCE_MS)}`),
    `  detection < ${TARGET_DETECTION_MS} ms`,
    `  idle RSS < ${TARGET_RSS_MB} MB per agent`,
    `  idle CPU < ${TARGET_CPU_PCT} % of one core per agent`
  )
  process.stdout.write(lines.join('\n') + '\n')
}

runBench('membership', parseArgs, async (args: BenchArgs, live: Live) => {
  const results: SizeResult[] = []
  for (const n of args.sizes) {
    const reps: RepResult[] = []
    for (let rep = 1; rep <= args.reps; rep++) {
      progress(`N=${n} rep ${rep}/${args.reps}: starting${rep === 1 ? ' (with idle sampling)' : ''}`)
      const r = await runRepetition(n, rep, rep === 1, live)
      reps.push(r)
      const idle = r.idle === null
        ? ''
        : `, idle RSS median ${median(r.idle.rssMb).toFixed(1)} MB (max ${Math.max(...r.idle.rssMb).toFixed(1)}), ` +
          `CPU median ${median(r.idle.cpuPct).toFixed(2)} % (max ${Math.max(...r.idle.cpuPct).toFixed(2)})`
      progress(`N=${n} rep ${rep}/${args.reps}: join convergence ${r.convergenceMs.toFixed(0)} ms ` +
        `(process start-up ${r.startupMs.toFixed(0)} ms), detection ${r.detectionMs.toFixed(0)} ms${idle}`)
    }
    results.push({
      n,
      convergenceMs: reps.map(r => r.convergenceMs),
      startupMs: reps.map(r => r.startupMs),
      detectionMs: reps.map(r => r.detectionMs),
      idle: reps[0]?.idle ?? null
    })
  }
  printSummary(args, results)
})
