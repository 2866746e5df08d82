/**
 * Raft benchmark: real agents on loopback (test/support's harness), for each number of managers M, on
 * one fresh cluster of M managers + 1 worker:
 *   - leader failover, R times (none with --reps 0): from just before the SIGKILL of the leader's agent until the first write
 *     through the worker's socket answers 200, the writes issued back to back (a write = GET /swarm for
 *     Version.Index and Spec, then POST /swarm/update?version=N&rotateWorkerToken=true with that Spec).
 *     After each, the killed agent is started again and the bench waits until every agent lists M+1
 *     nodes ready, all agree on one leader, and every manager serves the same swarm Version.Index;
 *   - write latency through a follower's socket (a manager that is not the leader): K rounds (--rounds)
 *     of W sequential `POST /nodes/{id}/update?version=N` on the follower's own node, each setting the
 *     label bench=<i>; only the POST is timed. N is read before each with `GET /nodes/{id}` on the same
 *     socket (forwarded to the leader, so it sees the previous write; a read that does not is repeated,
 *     untimed, and counted as a "stale read" — there should be none). Percentiles are over all K×W
 *     writes; each round's p50 and p99 are printed too, to show the spread between rounds;
 *   - with --leader-rounds L, L such rounds through the leader's own socket (its own node): the write
 *     without the hop from the follower to the leader, to tell that hop from Raft's commit;
 *   - write throughput through the same follower's socket: min(4, M+1) concurrent writers for 5 s, each
 *     owning one node and doing GET-version then POST in a loop; successful POSTs per second overall.
 * Polls run every 20 ms under a deadline; every loop is bounded by a count and a time.
 *
 * Usage: node dist/bench/raft.js [--managers 3,5] [--reps R] [--writes W] [--rounds K] [--leader-rounds L]
 * Prints the summary table to stdout and progress to stderr. Exits 0 when it ran, even if a target is
 * missed (marked MISSED); 1 on an error (a timeout, an agent that died); 2 on bad flags.
 * Percentiles are nearest-rank.
 */
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { callSocket, type AgentProcess, type ApiResult } from '../test/support/agent-process.js'
import { TestCluster } from '../test/support/cluster.js'
import { AgentDiedError, UsageError, flagPairs, median, percentile, pollUntil, positiveInt, progress, runBench, type Live } from './support.js'

const POLL_MS = 20
/** Per-request timeout of a read the bench polls with (`GET /nodes`, `GET /swarm`). */
const CALL_TIMEOUT_MS = 2_000
/** Per-request timeout of a write: a write may wait up to 10 s for a leader before it fails. */
const WRITE_TIMEOUT_MS = 30_000
/** After TestCluster.start returns: how long the cluster may take to list every node ready. */
const CONVERGENCE_TIMEOUT_MS = 30_000
/** How long the bench waits for agreement on one leader (at start, and after each restart). */
const AGREEMENT_TIMEOUT_MS = 30_000
/** From the kill: how long the first successful write may take (a write attempt may overrun it by its own timeout). */
const FAILOVER_TIMEOUT_MS = 30_000
const MAX_FAILOVER_ATTEMPTS = 10_000
/** Pause after a failed write attempt that came back at once (e.g. a refused connection), so the loop does not spin. */
const FAILOVER_MIN_GAP_MS = 2
/** How long the sequential writes may take in all. */
const SEQUENTIAL_TIMEOUT_MS = 180_000
/** Per write: how long a follower may take to show the previous write in its own store. */
const CATCH_UP_TIMEOUT_MS = 5_000
const CATCH_UP_POLL_MS = 1
const THROUGHPUT_WRITERS = 4
const THROUGHPUT_WINDOW_MS = 5_000
/** Bound on one writer's GET+POST rounds in the window (far above what loopback allows). */
const MAX_ROUNDS_PER_WRITER = 100_000
const MAX_REPS = 100
const MAX_MANAGERS = 9
const MAX_WRITES = 100_000
const MAX_ROUNDS = 100

const TARGET_FAILOVER_MS = 1_500
const TARGET_P99_MS = 20
const TARGET_P99_AT_M = 3

interface BenchArgs {
  readonly managers: readonly number[]
  readonly reps: number
  readonly writes: number
  readonly rounds: number
  readonly leaderRounds: number
}


/** One node of `GET /nodes`, as far as the bench reads it. */
interface NodeView {
  readonly ID: string
  readonly hostname: string
  readonly state: string
  readonly leader: boolean
  /** Managers only: reachable, unreachable, or unknown while not yet a Raft voter. */
  readonly reachability: string | null
}

interface FailoverResult {
  readonly ms: number
  readonly attempts: number
  readonly oldLeader: string
  readonly newLeader: string
}

interface SequentialResult {
  /** Every round's latencies, in order. */
  readonly latencyMs: readonly number[]
  readonly rounds: ReadonlyArray<readonly number[]>
  readonly conflicts: number
  readonly failures: number
  readonly staleReads: number
}

interface ThroughputResult {
  readonly writers: number
  readonly ok: number
  readonly conflicts: number
  readonly failures: number
  readonly seconds: number
}

interface ManagersResult {
  readonly m: number
  readonly follower: string
  readonly failover: readonly FailoverResult[]
  readonly sequential: SequentialResult
  /** Rounds through the leader's own socket (--leader-rounds), else null. */
  readonly leaderSequential: { readonly leader: string, readonly result: SequentialResult } | null
  readonly throughput: ThroughputResult
}

function parseArgs (argv: readonly string[]): BenchArgs {
  let managers: number[] = [3, 5]
  let reps = 10
  let writes = 300
  let rounds = 1
  let leaderRounds = 0
  for (const { flag, value, arg } of flagPairs(argv)) {
    if (flag === '--managers') {
      // The leader is killed: the managers left must still be a majority, so at least 3.
      managers = (value ?? '').split(',').map(s => positiveInt(s.trim(), '--managers (each)', MAX_MANAGERS, 3))
    } else if (flag === '--reps') {
      reps = positiveInt(value, '--reps', MAX_REPS, 0)
    } else if (flag === '--writes') {
      writes = positiveInt(value, '--writes', MAX_WRITES)
    } else if (flag === '--rounds') {
      rounds = positiveInt(value, '--rounds', MAX_ROUNDS)
    } else if (flag === '--leader-rounds') {
      leaderRounds = positiveInt(value, '--leader-rounds', MAX_ROUNDS, 0)
    } else {
      throw new UsageError(`unknown argument "${arg}"; usage: raft.js [--managers 3,5] [--reps R] [--writes W] [--rounds K] [--leader-rounds L]`)
    }
  }
  return { managers, reps, writes, rounds, leaderRounds }
}

/** One call on an agent's socket; throws AgentDiedError if the process is gone. */
async function call (a: AgentProcess, method: string, path: string, body?: unknown, timeoutMs = CALL_TIMEOUT_MS): Promise<ApiResult> {
  if (!a.running) throw new AgentDiedError(`agent ${a.hostname} exited`)
  return await callSocket(a.socket, method, path, body, timeoutMs)
}

/** A short description of a non-200 answer, for progress lines and errors. */
function describe (r: ApiResult): string {
  const msg = typeof (r.body as { message?: unknown } | undefined)?.message === 'string' ? `: ${(r.body as { message: string }).message}` : ''
  return `${r.status}${msg}`
}

/** One agent's `GET /nodes`. */
async function nodesOf (a: AgentProcess): Promise<NodeView[]> {
  const r = await call(a, 'GET', '/nodes')
  if (r.status !== 200 || !Array.isArray(r.body)) throw new Error(`${a.hostname}: GET /nodes answered ${describe(r)}`)
  return (r.body as unknown[]).map(raw => {
    const n = raw as { ID?: unknown, Description?: { Hostname?: unknown }, Status?: { State?: unknown }, ManagerStatus?: { Leader?: unknown, Reachability?: unknown } }
    return {
      ID: String(n.ID),
      hostname: String(n.Description?.Hostname),
      state: String(n.Status?.State),
      leader: n.ManagerStatus?.Leader === true,
      reachability: n.ManagerStatus === undefined ? null : String(n.ManagerStatus.Reachability)
    }
  })
}

/**
 * Wait until every agent lists `count` nodes, all ready, with one and the same leader, every manager
 * reachable (a Raft voter that answers), and every manager serves the same swarm Version.Index.
 * Returns the leader's hostname.
 */
async function waitForAgreement (agents: readonly AgentProcess[], managers: readonly AgentProcess[], count: number): Promise<string> {
  return await pollUntil(`every agent to list ${count} ready nodes and agree on one leader`, async () => {
    const lists = await Promise.all(agents.map(nodesOf))
    if (!lists.every(l => l.length === count && l.every(x => x.state === 'ready' && (x.reachability === null || x.reachability === 'reachable')))) return undefined
    const leaders = lists.map(l => l.filter(x => x.leader).map(x => x.hostname))
    const first = leaders[0]?.[0]
    if (first === undefined || !leaders.every(l => l.length === 1 && l[0] === first)) return undefined
    const versions = await Promise.all(managers.map(async a => {
      const r = await call(a, 'GET', '/swarm')
      return r.status === 200 ? Number((r.body as { Version?: { Index?: unknown } }).Version?.Index) : NaN
    }))
    return versions.every(v => Number.isFinite(v) && v === versions[0]) ? first : undefined
  }, AGREEMENT_TIMEOUT_MS, POLL_MS)
}

/** A write through `agent`'s socket: rotate the worker token (read the version, then update). */
async function rotateThrough (agent: AgentProcess): Promise<ApiResult> {
  const sw = await call(agent, 'GET', '/swarm', undefined, WRITE_TIMEOUT_MS)
  if (sw.status !== 200) return sw
  const body = sw.body as { Version: { Index: number }, Spec: unknown }
  return await call(agent, 'POST', `/swarm/update?version=${body.Version.Index}&rotateWorkerToken=true`, body.Spec, WRITE_TIMEOUT_MS)
}

/** SIGKILL the leader's agent; return the ms until a write through `worker` first answers 200. */
async function measureFailover (byName: ReadonlyMap<string, AgentProcess>, worker: AgentProcess, leaderName: string): Promise<{ ms: number, attempts: number, failures: string[] }> {
  const leader = byName.get(leaderName)
  if (leader === undefined) throw new Error(`the leader ${leaderName} is not one of the bench's agents`)
  const killedAt = performance.now()
  await leader.kill('SIGKILL')
  const failures: string[] = []
  for (let attempt = 1; attempt <= MAX_FAILOVER_ATTEMPTS; attempt++) {
    const t0 = performance.now()
    try {
      const r = await rotateThrough(worker)
      if (r.status === 200) return { ms: performance.now() - killedAt, attempts: attempt, failures }
      failures.push(describe(r))
    } catch (err) {
      if (err instanceof AgentDiedError) throw err
      failures.push((err as Error).message)
    }
    const now = performance.now()
    if (now - killedAt >= FAILOVER_TIMEOUT_MS) break
    if (now - t0 < FAILOVER_MIN_GAP_MS) await sleep(FAILOVER_MIN_GAP_MS)
  }
  const tally = [...new Set(failures)].map(f => `${failures.filter(x => x === f).length}× ${f}`).join('; ')
  throw new Error(`no write through ${worker.hostname} succeeded within ${FAILOVER_TIMEOUT_MS} ms of killing the leader ${leaderName} ` +
    `(${failures.length} attempt(s) failed: ${tally})`)
}

/** A node's Version.Index and Spec as `agent` serves them. */
async function nodeVersion (agent: AgentProcess, id: string): Promise<{ version: number, role: string, availability: string }> {
  const r = await call(agent, 'GET', `/nodes/${id}`)
  if (r.status !== 200) throw new Error(`${agent.hostname}: GET /nodes/${id} answered ${describe(r)}`)
  const n = r.body as { Version: { Index: number }, Spec: { Role: string, Availability: string } }
  return { version: n.Version.Index, role: n.Spec.Role, availability: n.Spec.Availability }
}

/**
 * Read node `id`'s version through `agent` until it is past `after` (the version the previous write
 * on it was made against), so the write is not refused for a stale read; returns it and how many
 * reads came back stale.
 */
async function freshVersion (agent: AgentProcess, id: string, after: number): Promise<{ version: number, role: string, availability: string, stale: number }> {
  const start = performance.now()
  const maxReads = Math.ceil(CATCH_UP_TIMEOUT_MS / CATCH_UP_POLL_MS) + 1
  let last = after
  for (let stale = 0; stale < maxReads; stale++) {
    const v = await nodeVersion(agent, id)
    if (v.version > after) return { ...v, stale }
    last = v.version
    if (performance.now() - start > CATCH_UP_TIMEOUT_MS) break
    await sleep(CATCH_UP_POLL_MS)
  }
  throw new Error(`${agent.hostname} still serves node ${id} at version ${last} ${CATCH_UP_TIMEOUT_MS} ms after a write against version ${after} succeeded`)
}

async function postLabel (agent: AgentProcess, id: string, v: { version: number, role: string, availability: string }, label: string): Promise<ApiResult> {
  return await call(agent, 'POST', `/nodes/${id}/update?version=${v.version}`, { Role: v.role, Availability: v.availability, Labels: { bench: label } }, WRITE_TIMEOUT_MS)
}

/** `rounds` × `writes` label updates of `agent`'s own node through its socket, one after another; only the POSTs are timed. */
async function measureSequential (agent: AgentProcess, id: string, writes: number, rounds: number, what: string): Promise<SequentialResult> {
  const all: SequentialResult[] = []
  for (let round = 1; round <= rounds; round++) {
    const r = await measureRound(agent, id, writes)
    all.push(r)
    progress(`${what} round ${round}/${rounds}: p50 ${percentile(r.latencyMs, 50).toFixed(1)} ms, p99 ${percentile(r.latencyMs, 99).toFixed(1)} ms`)
  }
  return {
    latencyMs: all.flatMap(r => r.latencyMs),
    rounds: all.map(r => r.latencyMs),
    conflicts: all.reduce((n, r) => n + r.conflicts, 0),
    failures: all.reduce((n, r) => n + r.failures, 0),
    staleReads: all.reduce((n, r) => n + r.staleReads, 0)
  }
}

/** One round: `writes` label updates of node `id` through `follower`'s socket. */
async function measureRound (follower: AgentProcess, id: string, writes: number): Promise<SequentialResult> {
  const latencyMs: number[] = []
  let conflicts = 0
  let failures = 0
  let staleReads = 0
  let lastError = ''
  let after = -1
  const start = performance.now()
  const maxAttempts = writes * 3
  for (let attempt = 0; attempt < maxAttempts && latencyMs.length < writes; attempt++) {
    if (performance.now() - start > SEQUENTIAL_TIMEOUT_MS) break
    const v = await freshVersion(follower, id, after)
    staleReads += v.stale
    const t0 = performance.now()
    const r = await postLabel(follower, id, v, String(latencyMs.length))
    const ms = performance.now() - t0
    if (r.status === 200) {
      latencyMs.push(ms)
      after = v.version
    } else if (r.status === 409) {
      conflicts++
    } else {
      failures++
      lastError = describe(r)
    }
  }
  if (latencyMs.length < writes) {
    throw new Error(`only ${latencyMs.length} of ${writes} sequential writes through ${follower.hostname} succeeded ` +
      `(${conflicts} conflict(s), ${failures} other failure(s)${lastError === '' ? '' : `, last: ${lastError}`})`)
  }
  return { latencyMs, rounds: [latencyMs], conflicts, failures, staleReads }
}

/** Concurrent writers through the follower's socket for THROUGHPUT_WINDOW_MS, each on its own node. */
async function measureThroughput (follower: AgentProcess, ids: readonly string[]): Promise<ThroughputResult> {
  let ok = 0
  let conflicts = 0
  let failures = 0
  const start = performance.now()
  const deadline = start + THROUGHPUT_WINDOW_MS
  await Promise.all(ids.map(async (id, w) => {
    let after = -1
    for (let round = 0; round < MAX_ROUNDS_PER_WRITER && performance.now() < deadline; round++) {
      const v = await freshVersion(follower, id, after)
      const r = await postLabel(follower, id, v, `w${w}-${round}`)
      if (r.status === 200) {
        ok++
        after = v.version
      } else if (r.status === 409) {
        conflicts++
      } else {
        failures++
      }
    }
  }))
  return { writers: ids.length, ok, conflicts, failures, seconds: (performance.now() - start) / 1000 }
}

async function runManagers (m: number, args: BenchArgs, live: Live): Promise<ManagersResult> {
  const size = m + 1
  const cluster = await TestCluster.start({ size, managers: m, hostnamePrefix: `raft${m}`, logLevel: 'info' })
  live.cluster = cluster
  try {
    await cluster.waitForReady(size, CONVERGENCE_TIMEOUT_MS)
    const byName = new Map(cluster.agents.map(a => [a.hostname, a]))
    const managers = cluster.agents.slice(0, m)
    const worker = cluster.agents[m]!
    let leader = await waitForAgreement(cluster.agents, managers, size)
    progress(`M=${m}: ${size} agents ready, leader ${leader}`)
    const warm = await rotateThrough(worker)
    if (warm.status !== 200) throw new Error(`a write through ${worker.hostname} before any failover answered ${describe(warm)}`)

    const failover: FailoverResult[] = []
    for (let rep = 1; rep <= args.reps; rep++) {
      const oldLeader = leader
      const f = await measureFailover(byName, worker, oldLeader)
      await byName.get(oldLeader)!.start([])
      leader = await waitForAgreement(cluster.agents, managers, size)
      failover.push({ ms: f.ms, attempts: f.attempts, oldLeader, newLeader: leader })
      const failed = f.failures.length === 0 ? '' : ` (failed first: ${f.failures.join('; ')})`
      progress(`M=${m} failover ${rep}/${args.reps}: ${f.ms.toFixed(0)} ms, ${f.attempts} write attempt(s)${failed}; ` +
        `leader ${oldLeader} -> ${leader}`)
    }

    const followerAgent = managers.find(a => a.hostname !== leader)!
    const nodes = await nodesOf(followerAgent)
    const own = nodes.find(x => x.hostname === followerAgent.hostname)
    if (own === undefined) throw new Error(`${followerAgent.hostname} does not list its own node`)
    progress(`M=${m}: ${args.rounds} × ${args.writes} sequential writes through the follower ${followerAgent.hostname}`)
    const sequential = await measureSequential(followerAgent, own.ID, args.writes, args.rounds, `M=${m} follower`)
    progress(`M=${m} sequential: p50 ${percentile(sequential.latencyMs, 50).toFixed(1)} ms, p99 ${percentile(sequential.latencyMs, 99).toFixed(1)} ms, ` +
      `${sequential.conflicts} conflict(s), ${sequential.failures} other failure(s), ${sequential.staleReads} stale read(s)`)
    let leaderSequential: ManagersResult['leaderSequential'] = null
    if (args.leaderRounds > 0) {
      const leaderAgent = byName.get(leader)!
      const leaderNode = nodes.find(x => x.hostname === leader)
      if (leaderNode === undefined) throw new Error(`${followerAgent.hostname} does not list the leader ${leader}`)
      progress(`M=${m}: ${args.leaderRounds} × ${args.writes} sequential writes through the leader ${leader}`)
      leaderSequential = { leader, result: await measureSequential(leaderAgent, leaderNode.ID, args.writes, args.leaderRounds, `M=${m} leader`) }
    }

    const owners = [...nodes].sort((a, b) => a.hostname.localeCompare(b.hostname)).slice(0, Math.min(THROUGHPUT_WRITERS, size))
    progress(`M=${m}: ${owners.length} concurrent writers through ${followerAgent.hostname} for ${THROUGHPUT_WINDOW_MS} ms`)
    const throughput = await measureThroughput(followerAgent, owners.map(x => x.ID))
    progress(`M=${m} throughput: ${throughput.ok} writes in ${throughput.seconds.toFixed(2)} s, ` +
      `${throughput.conflicts} conflict(s), ${throughput.failures} other failure(s)`)
    return { m, follower: followerAgent.hostname, failover, sequential, leaderSequential, throughput }
  } catch (err) {
    progress(`M=${m} failed; agent logs (last 4000 characters):\n${cluster.logs().slice(-4000)}`)
    throw err
  } finally {
    await cluster.stop()
    live.cluster = null
  }
}

const mark = (ok: boolean): string => ok ? '' : ' MISSED'

function printSummary (args: BenchArgs, results: readonly ManagersResult[]): void {
  const table = (cols: ReadonlyArray<readonly [string, number]>, rows: ReadonlyArray<readonly string[]>): string[] => {
    const row = (cells: readonly string[]): string => cells.map((c, i) => c.padEnd(cols[i]![1])).join('  ').trimEnd()
    return [row(cols.map(c => c[0])), ...rows.map(row)]
  }
  const failoverCols = [['managers', 8], ['failover ms median', 18], ['min', 6], ['max', 6], ['p90', 6], ['write attempts (max)', 20]] as const
  const writeCols = [['managers', 8], ['follower', 10], ['p50 ms', 6], ['p90 ms', 6], ['p99 ms', 14], ['max ms', 6], ['409s', 4], ['stale reads', 11], ['writers', 7], ['writes/s', 8], ['409s', 4], ['other errors', 12]] as const
  const roundCols = [['managers', 8], ['through', 8], ['agent', 10], ['writes', 6], ['p50 ms', 6], ['p90 ms', 6], ['p99 ms', 6], ['per round: p50 / p99 ms', 0]] as const
  const perRound = (s: SequentialResult): string => s.rounds.map(l => `${percentile(l, 50).toFixed(1)}/${percentile(l, 99).toFixed(1)}`).join('  ')
  const roundRow = (m: number, through: string, agent: string, s: SequentialResult): string[] => [
    String(m), through, agent, String(s.latencyMs.length),
    percentile(s.latencyMs, 50).toFixed(1), percentile(s.latencyMs, 90).toFixed(1), percentile(s.latencyMs, 99).toFixed(1), perRound(s)
  ]
  const lines = [
    `flotilla Raft benchmark: M managers + 1 worker on loopback, agents at log level info; ${args.reps} failover(s) per M, ` +
      `${args.rounds} × ${args.writes} sequential writes through a follower` +
      (args.leaderRounds > 0 ? ` and ${args.leaderRounds} × ${args.writes} through the leader` : '') +
      `, ${THROUGHPUT_WINDOW_MS / 1000} s of concurrent writes`,
    '',
    'leader failover (SIGKILL of the leader until the first write through the worker answers 200):',
    ...(args.reps === 0 ? ['  not run (--reps 0)'] : table(failoverCols, results.map(r => {
      const ms = r.failover.map(f => f.ms)
      return [
        String(r.m),
        median(ms).toFixed(0) + mark(median(ms) < TARGET_FAILOVER_MS),
        Math.min(...ms).toFixed(0),
        Math.max(...ms).toFixed(0),
        percentile(ms, 90).toFixed(0),
        String(Math.max(...r.failover.map(f => f.attempts)))
      ]
    }))),
    '',
    'writes through a follower\'s socket (sequential: POST /nodes/{id}/update latency; then concurrent writers, one node each):',
    ...table(writeCols, results.map(r => {
      const l = r.sequential.latencyMs
      const p99 = percentile(l, 99)
      const t = r.throughput
      return [
        String(r.m),
        r.follower,
        percentile(l, 50).toFixed(1),
        percentile(l, 90).toFixed(1),
        p99.toFixed(1) + (r.m === TARGET_P99_AT_M ? mark(p99 < TARGET_P99_MS) : ''),
        Math.max(...l).toFixed(1),
        String(r.sequential.conflicts),
        String(r.sequential.staleReads),
        String(t.writers),
        (t.ok / t.seconds).toFixed(0),
        String(t.conflicts),
        String(t.failures + r.sequential.failures + (r.leaderSequential?.result.failures ?? 0))
      ]
    })),
    '',
    'sequential writes by round (a write through the leader\'s own socket skips the hop from the follower to the leader):',
    ...table(roundCols, results.flatMap(r => [
      roundRow(r.m, 'follower', r.follower, r.sequential),
      ...(r.leaderSequential === null ? [] : [roundRow(r.m, 'leader', r.leaderSequential.leader, r.leaderSequential.result)])
    ])),
    '',
    'targets:',
    `  failover median < ${TARGET_FAILOVER_MS} ms (Docker's swarm mode: 10-19 s with its defaults, 1 s tick and election tick 10)`,
    `  sequential write p99 < ${TARGET_P99_MS} ms through a follower with ${TARGET_P99_AT_M} managers` +
      (results.some(r => r.m === TARGET_P99_AT_M) ? '' : ' (not run)')
  ]
  process.stdout.write(lines.join('\n') + '\n')
}

runBench('raft', parseArgs, async (args: BenchArgs, live: Live) => {
  const results: ManagersResult[] = []
  for (const m of args.managers) {
    progress(`M=${m}: starting ${m} managers + 1 worker`)
    results.push(await runManagers(m, args, live))
  }
  printSummary(args, results)
})
