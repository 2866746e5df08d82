/**
 * Hosts benchmark: node loss and partitions on the multi-host test bed (test/support/bed: 5 network
 * namespaces, each with its own dockerd), against Docker's own swarm mode on the same hosts. The same bed
 * runs first Docker's swarm mode (the flotilla agents stopped meanwhile), then flotilla (the agents, the
 * engines out of swarm mode); each as 3 managers (h1–h3) and 2 workers (h4, h5), see hosts-systems.ts.
 * Swarm mode runs with Docker's defaults, which is what its users get: dispatcher heartbeat 5 s, Raft
 * tick 1 s and election tick 10. Both systems run every service with the same spec (test/support/
 * services.ts: flotilla-test/busybox:2 running `sleep 3600`, StopSignal SIGKILL, RestartPolicy
 * any with a 0.5 s delay, no published port). The engines run with DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1
 * so that swarm mode's executor does not try to pull the local-only image from a registry the bed
 * cannot reach (flotilla's executor pulls no image present on the engine).
 *
 * Per system, --reps repetitions of three experiments, each from a healthy, settled cluster (every
 * manager lists 5 nodes ready, every manager reachable, one and the same leader, for 2 s; probe services
 * removed):
 *   - failover (kill): SIGKILL of the leader's process (swarm mode: its dockerd, with its containerd,
 *     shims and containers, as a crash would; flotilla: its agent) → the first write accepted through
 *     another manager's socket. A write is `POST /services/create` of a probe service of 0 replicas with
 *     a name of its own; attempts start every 50 ms from just after the kill, each with a 3 s timeout
 *     (at most 60 in flight), so that an attempt hung on a dead or cut-off leader delays none of the
 *     next; the figure is when the first 201 arrives, from just before the kill. Then the process is
 *     started again and the bench waits until the cluster has settled;
 *   - worker cut off: a fresh service of 6 replicas is created and runs spread over the 5 hosts; the
 *     worker with the most of its tasks is isolated (bed.isolate: every packet of its veth dropped).
 *     From just before the isolation, polled every 50 ms through the leader's socket: down = until
 *     `GET /nodes/{id}` shows Status.State down; replaced = until `GET /tasks` of the service lists 6
 *     tasks desired and observed running on the other nodes. Then the network is healed, the cluster
 *     settles, the service is removed and the bench waits until no engine holds a container of it;
 *   - failover (leader cut off): the leader's host is isolated (its process keeps running) → the first
 *     write accepted through another manager's socket, as above; then healed and settled.
 * Isolation is bed.isolate. When the bed kept its fault chains in the filter table, they were found gone
 * in swarm-mode runs after a few repetitions (iptables-nft then refused that netns' filter table as
 * incompatible); they now live in the raw table, and should they break again the bench drops the same
 * packets with an nft table of its own (see `isolate`), saying so.
 * And once, before the systems: a container start on h5's engine alone (create + start through its
 * socket, median of 3), the "one container start" of the tasks-replaced target.
 *
 * Usage: node dist/bench/hosts.js [--reps N] [--parts swarm,flotilla] [--logs DIR] [--log-level info]
 * Prints markdown tables to stdout (per system: median, min–max and raw figures; then flotilla/swarm with
 * the targets) and a progress line per step to stderr. --logs DIR writes every agent's and engine's
 * output there before the bed is torn down (the agents log at --log-level, default info). Exits 0 when
 * it ran, even if a target is missed (marked MISSED); 1 on an error; 2 on bad flags. The bed is torn
 * down at the end, on error, and (by the bed's own handlers) on SIGINT/SIGTERM. Targets for flotilla: failover median ≤ 1 s (both kinds), down ≤ 2 s,
 * replaced ≤ 3 s + one container start; each below swarm mode's figure.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { callSocket, runCommand } from '../test/support/agent-process.js'
import { TestBed, type BedHost } from '../test/support/bed/index.js'
import { SERVICE_LABEL, serviceSpec, type TaskView } from '../test/support/services.js'
import { TEST_IMAGE } from '../test/support/test-image.js'
import { CALL_TIMEOUT_MS, describe, formFlotilla, formSwarmMode, leaveSwarmMode, settle, type System } from './hosts-systems.js'
import { UsageError, flagPairs, median, pollUntil, positiveInt, progress, runBench } from './support.js'

const HOSTS = 5
const MANAGERS = 3
const REPLICAS = 6
const PARTS = ['swarm', 'flotilla'] as const
type Part = typeof PARTS[number]
const MAX_REPS = 20
const POLL_MS = 50
/** Write attempts during a failover: one every ATTEMPT_GAP_MS, each with its own timeout, a bounded number in flight. */
const ATTEMPT_GAP_MS = 50
const ATTEMPT_TIMEOUT_MS = 3_000
const MAX_IN_FLIGHT = 60
/** From the fault: how long the first accepted write may take. */
const FAILOVER_DEADLINE_MS = 90_000
/** From the isolation: how long down and replaced may take. */
const WORKER_DEADLINE_MS = 120_000
const SETTLE_STABLE_MS = 2_000
const SETTLE_TIMEOUT_MS = 120_000
const RUNNING_TIMEOUT_MS = 120_000
const CLEAN_TIMEOUT_MS = 60_000
const PROBE_PREFIX = 'probe-'
const CONTAINER_STARTS = 3

const TARGET_FAILOVER_MS = 1_000
const TARGET_DOWN_MS = 2_000
/** Plus one container start, measured. */
const TARGET_REPLACED_MS = 3_000

interface BenchArgs {
  readonly reps: number
  readonly parts: ReadonlySet<Part>
  readonly logsDir: string | undefined
  /** The agents' --log-level. */
  readonly logLevel: string
}

const MEASURES = ['failoverKill', 'down', 'replaced', 'failoverCut'] as const
type Measure = typeof MEASURES[number]
const LABELS: Record<Measure, string> = {
  failoverKill: 'failover: leader\'s process SIGKILLed → first write accepted',
  down: 'worker cut off → marked down',
  replaced: `worker cut off → its tasks running elsewhere (${REPLICAS} running on the other hosts)`,
  failoverCut: 'failover: leader cut off → first write accepted'
}

type Figures = Record<Measure, number[]>

function parse (argv: readonly string[]): BenchArgs {
  let reps = 5
  let parts = new Set<Part>(PARTS)
  let logsDir: string | undefined
  let logLevel = 'info'
  for (const { flag, value, arg } of flagPairs(argv)) {
    if (flag === '--reps') reps = positiveInt(value, flag, MAX_REPS)
    else if (flag === '--parts') {
      const names = (value ?? '').split(',').map(s => s.trim())
      for (const n of names) if (!(PARTS as readonly string[]).includes(n)) throw new UsageError(`--parts: unknown part "${n}" (known: ${PARTS.join(', ')})`)
      parts = new Set(names as Part[])
    } else if (flag === '--logs') {
      if (value === undefined || value === '') throw new UsageError('--logs needs a directory')
      logsDir = value
    } else if (flag === '--log-level') {
      if (value === undefined || !['debug', 'info', 'warn', 'error'].includes(value)) throw new UsageError('--log-level needs debug, info, warn or error')
      logLevel = value
    } else throw new UsageError(`unknown argument "${arg}"; usage: hosts.js [--reps N] [--parts ${PARTS.join(',')}] [--logs DIR] [--log-level info]`)
  }
  return { reps, parts, logsDir, logLevel }
}

/** Wall-clock time of day (UTC, ms), to find a fault in the agents' and engines' logs. */
const wall = (): string => new Date().toISOString().slice(11, 23)

const tally = (m: Map<string, number>, s: string): void => { m.set(s, (m.get(s) ?? 0) + 1) }
const tallyText = (m: ReadonlyMap<string, number>): string => [...m].map(([s, n]) => `${n}× ${s}`).join('; ')

/** Every `GET /tasks` of `service` through `socket`. */
async function tasksVia (socket: string, service: string): Promise<TaskView[]> {
  const r = await callSocket(socket, 'GET', `/tasks?filters=${encodeURIComponent(JSON.stringify({ service: [service] }))}`, undefined, CALL_TIMEOUT_MS)
  if (r.status !== 200 || !Array.isArray(r.body)) throw new Error(`GET /tasks of ${service} answered ${describe(r)}`)
  return r.body as TaskView[]
}

const runningTasks = (tasks: readonly TaskView[]): TaskView[] => tasks.filter(t => t.DesiredState === 'running' && t.Status.State === 'running')

/** The IDs of the containers of `service` (any state) on an engine. */
async function serviceContainers (engineSocket: string, service: string): Promise<string[]> {
  const filters = encodeURIComponent(JSON.stringify({ label: [`${SERVICE_LABEL}=${service}`] }))
  const r = await callSocket(engineSocket, 'GET', `/containers/json?all=1&filters=${filters}`, undefined, CALL_TIMEOUT_MS)
  if (r.status !== 200 || !Array.isArray(r.body)) throw new Error(`GET /containers/json answered ${describe(r)}`)
  return (r.body as Array<{ Id: string }>).map(c => c.Id)
}

/**
 * The first write accepted through `socket` after a fault made at `t0`: probe creates started every
 * ATTEMPT_GAP_MS, each with its own timeout; returns the ms from t0 to the first success's answer.
 */
async function firstAcceptedWrite (socket: string, prefix: string, t0: number): Promise<{ ms: number, attempts: number, failures: string }> {
  const inFlight = new Set<Promise<void>>()
  const failures = new Map<string, number>()
  let acceptedAt: number | undefined
  let attempts = 0
  const start = performance.now()
  const maxAttempts = Math.ceil(FAILOVER_DEADLINE_MS / ATTEMPT_GAP_MS) + 1
  for (let i = 0; i < maxAttempts && acceptedAt === undefined; i++) {
    if (performance.now() - t0 > FAILOVER_DEADLINE_MS) break
    if (inFlight.size < MAX_IN_FLIGHT) {
      attempts++
      const spec = serviceSpec(`${prefix}-${i}`, { replicas: 0 })
      const p: Promise<void> = callSocket(socket, 'POST', '/services/create', spec, ATTEMPT_TIMEOUT_MS).then(r => {
        if (r.status === 201 || r.status === 200) acceptedAt ??= performance.now()
        else tally(failures, describe(r))
      }, (err: unknown) => { tally(failures, (err as Error).message) }).finally(() => { inFlight.delete(p) })
      inFlight.add(p)
    }
    const next = start + (i + 1) * ATTEMPT_GAP_MS
    const now = performance.now()
    if (next > now) await sleep(next - now)
  }
  await Promise.allSettled([...inFlight])
  if (acceptedAt === undefined) throw new Error(`no write through ${socket} accepted within ${FAILOVER_DEADLINE_MS} ms (${attempts} attempts: ${tallyText(failures)})`)
  return { ms: acceptedAt - t0, attempts, failures: tallyText(failures) }
}

/** Remove every service through `socket` whose name starts with `prefix` (the failover probes). */
async function removeServices (socket: string, prefix: string): Promise<number> {
  const r = await callSocket(socket, 'GET', '/services', undefined, CALL_TIMEOUT_MS)
  if (r.status !== 200 || !Array.isArray(r.body)) throw new Error(`GET /services answered ${describe(r)}`)
  const ids = (r.body as Array<{ ID: string, Spec: { Name: string } }>).filter(s => s.Spec.Name.startsWith(prefix)).map(s => s.ID)
  for (const id of ids) {
    const d = await callSocket(socket, 'DELETE', `/services/${id}`, undefined, 30_000)
    if (d.status !== 200 && d.status !== 204 && d.status !== 404) throw new Error(`DELETE /services/${id} answered ${describe(d)}`)
  }
  return ids.length
}

/** Wait for a settled cluster, then remove the probes left by failover writes; returns the leader. */
async function ready (sys: System, what: string): Promise<BedHost> {
  const leader = await settle(sys, HOSTS, what, SETTLE_STABLE_MS, SETTLE_TIMEOUT_MS)
  const removed = await removeServices(sys.socket(leader), PROBE_PREFIX)
  if (removed > 0) progress(`${sys.name}: removed ${removed} probe service(s)`)
  return leader
}

/** The bench's own nft table, used to isolate a host only when the bed's iptables chains are broken (see `isolate`). */
const NFT_TABLE = 'flotilla-bench-isolate'

/** `nft` in a host's netns; throws with its stderr on failure. */
async function nft (h: BedHost, args: readonly string[]): Promise<string> {
  const r = await runCommand('ip', ['netns', 'exec', h.netns, 'nft', ...args], 10_000)
  if (r.code !== 0) throw new Error(`nft ${args.join(' ')} in ${h.netns} exited ${String(r.code)}: ${r.stderr.trim()}`)
  return r.stdout.trim()
}

/** Whether iptables can still read the bed's fault chains of `h`. */
async function faultChainsReadable (bed: TestBed, h: BedHost): Promise<boolean> {
  try {
    await bed.faultRules(h)
    return true
  } catch {
    return false
  }
}

/**
 * Isolate `h` (every packet in or out of its veth dropped); returns the performance.now() just before
 * the fault was made. Normally bed.isolate. In swarm-mode runs, after a few repetitions, a host's bed
 * fault chains have been found gone and its iptables filter table refused by iptables-nft ("chain
 * `FLB-FAULT-IN' in table `filter' is incompatible, use 'nft' tool", then "No chain/target/match by that
 * name" for every `-A`): then the same DROP rules go into an nft table of the bench's own, hooked
 * before iptables' filter chains, which `heal` deletes.
 */
async function isolate (bed: TestBed, h: BedHost, nftIsolated: Set<string>): Promise<number> {
  const t0 = performance.now()
  try {
    await bed.isolate(h)
    return t0
  } catch (err) {
    if (await faultChainsReadable(bed, h)) throw err
    let tables: string
    try { tables = (await nft(h, ['list', 'tables'])).replace(/\n/g, ', ') } catch (e) { tables = (e as Error).message }
    progress(`${h.name}: bed.isolate failed (${(err as Error).message.split('\n')[0]}) and iptables cannot read the bed's fault chains; ` +
      `nft lists the tables: ${tables}; isolating with nft table ${NFT_TABLE} instead`)
  }
  const hooks = ['{', 'type', 'filter', 'hook', '<hook>', 'priority', '-150', ';', 'policy', 'accept', ';', '}']
  nftIsolated.add(h.name)
  await nft(h, ['add', 'table', 'inet', NFT_TABLE])
  await nft(h, ['add', 'chain', 'inet', NFT_TABLE, 'in', ...hooks.map(x => x === '<hook>' ? 'input' : x)])
  await nft(h, ['add', 'chain', 'inet', NFT_TABLE, 'out', ...hooks.map(x => x === '<hook>' ? 'output' : x)])
  const t1 = performance.now()
  await nft(h, ['add', 'rule', 'inet', NFT_TABLE, 'in', 'iifname', h.veth, 'drop'])
  await nft(h, ['add', 'rule', 'inet', NFT_TABLE, 'out', 'oifname', h.veth, 'drop'])
  return t1
}

/** Undo `isolate` of `h` (the bed's rules, or the bench's nft table), and check nothing is left. */
async function heal (bed: TestBed, h: BedHost, nftIsolated: Set<string>): Promise<void> {
  await bed.healNetwork(h)
  if (nftIsolated.has(h.name)) {
    await nft(h, ['delete', 'table', 'inet', NFT_TABLE])
    nftIsolated.delete(h.name)
  }
  if (await faultChainsReadable(bed, h)) {
    const left = await bed.faultRules(h)
    if (left.length > 0) throw new Error(`${h.name}: rules left in the bed's fault chains after heal: ${left.join('; ')}`)
  }
}

/** A follower manager (not `leader`), the socket writes go through. */
function follower (sys: System, leader: BedHost): BedHost {
  const f = sys.managers.find(h => h.name !== leader.name)
  if (f === undefined) throw new Error(`${sys.name} has no manager but the leader`)
  return f
}

async function failoverByKill (sys: System, rep: number): Promise<number> {
  const leader = await ready(sys, `before failover (kill) ${rep}`)
  const via = follower(sys, leader)
  const at = wall()
  const t0 = performance.now()
  await sys.killLeader(leader)
  const w = await firstAcceptedWrite(sys.socket(via), `${PROBE_PREFIX}kill-${rep}`, t0)
  progress(`${sys.name} rep ${rep}: failover (kill of ${leader.name}'s process at ${at}) → write through ${via.name} accepted in ${w.ms.toFixed(0)} ms, ` +
    `${w.attempts} attempt(s)${w.failures === '' ? '' : ` (failed: ${w.failures})`}`)
  await sys.restartLeader(leader)
  return w.ms
}

async function failoverByCut (bed: TestBed, sys: System, rep: number, nftIsolated: Set<string>): Promise<number> {
  const leader = await ready(sys, `before failover (cut) ${rep}`)
  const via = follower(sys, leader)
  const at = wall()
  const t0 = await isolate(bed, leader, nftIsolated)
  try {
    const w = await firstAcceptedWrite(sys.socket(via), `${PROBE_PREFIX}cut-${rep}`, t0)
    progress(`${sys.name} rep ${rep}: failover (${leader.name} cut off at ${at}) → write through ${via.name} accepted in ${w.ms.toFixed(0)} ms, ` +
      `${w.attempts} attempt(s)${w.failures === '' ? '' : ` (failed: ${w.failures})`}`)
    return w.ms
  } finally {
    await heal(bed, leader, nftIsolated)
  }
}

async function workerLoss (bed: TestBed, sys: System, rep: number, nftIsolated: Set<string>): Promise<{ down: number, replaced: number }> {
  const leader = await ready(sys, `before worker loss ${rep}`)
  const via = sys.socket(leader)
  const service = `spread-${rep}`
  const created = await callSocket(via, 'POST', '/services/create', serviceSpec(service, { replicas: REPLICAS }), 30_000)
  if (created.status !== 201 && created.status !== 200) throw new Error(`POST /services/create ${service} answered ${describe(created)}`)
  const tasks = await pollUntil(`${sys.name}: ${REPLICAS} running tasks of ${service}`, async () => {
    const run = runningTasks(await tasksVia(via, service))
    return run.length === REPLICAS ? run : undefined
  }, RUNNING_TIMEOUT_MS, POLL_MS)
  const onWorker = (h: BedHost): number => tasks.filter(t => t.NodeID === sys.nodeId(h)).length
  const worker = [...sys.workers].sort((a, b) => onWorker(b) - onWorker(a) || (a.index % 2 === rep % 2 ? -1 : 1))[0]!
  const moved = onWorker(worker)
  if (moved === 0) throw new Error(`${sys.name}: no task of ${service} runs on a worker (placement: ${tasks.map(t => sys.hostOf(t.NodeID ?? '').name).join(', ')})`)
  const workerId = sys.nodeId(worker)
  let down: number | undefined
  let replaced: number | undefined
  const at = wall()
  const t0 = await isolate(bed, worker, nftIsolated)
  try {
    const maxPolls = Math.ceil(WORKER_DEADLINE_MS / POLL_MS) + 1
    let last = ''
    for (let i = 0; i < maxPolls && (down === undefined || replaced === undefined); i++) {
      if (performance.now() - t0 > WORKER_DEADLINE_MS) break
      const [node, ts] = await Promise.allSettled([
        callSocket(via, 'GET', `/nodes/${workerId}`, undefined, CALL_TIMEOUT_MS),
        tasksVia(via, service)
      ])
      const now = performance.now()
      if (node.status === 'fulfilled' && node.value.status === 200 && (node.value.body as { Status?: { State?: unknown } }).Status?.State === 'down') down ??= now - t0
      if (ts.status === 'fulfilled') {
        const elsewhere = runningTasks(ts.value).filter(t => t.NodeID !== workerId).length
        if (elsewhere >= REPLICAS) replaced ??= now - t0
        last = `${elsewhere} running elsewhere`
      } else last = (ts.reason as Error).message
      const next = t0 + (i + 1) * POLL_MS
      if (next > performance.now()) await sleep(next - performance.now())
    }
    if (down === undefined || replaced === undefined) {
      throw new Error(`${sys.name}: after isolating ${worker.name} for ${WORKER_DEADLINE_MS} ms: down ${down === undefined ? 'never seen' : `at ${down.toFixed(0)} ms`}, replaced ${replaced === undefined ? `not yet (${last})` : `at ${replaced.toFixed(0)} ms`}`)
    }
    progress(`${sys.name} rep ${rep}: ${worker.name} (${moved} of ${REPLICAS} tasks) cut off at ${at} → down in ${down.toFixed(0)} ms, ` +
      `${REPLICAS} running elsewhere in ${replaced.toFixed(0)} ms`)
  } finally {
    await heal(bed, worker, nftIsolated)
  }
  const after = await ready(sys, `after worker loss ${rep}`)
  await removeServices(sys.socket(after), service)
  await pollUntil(`no engine to hold a container of ${service}`, async () => {
    for (const h of sys.managers.concat(sys.workers)) if ((await serviceContainers(h.engine.socket, service)).length > 0) return undefined
    return true
  }, CLEAN_TIMEOUT_MS, 200)
  return { down, replaced }
}

/** Create + start of one container on the engine alone, CONTAINER_STARTS times; the median in ms. */
async function containerStart (h: BedHost): Promise<number> {
  const times: number[] = []
  for (let i = 0; i < CONTAINER_STARTS; i++) {
    const t0 = performance.now()
    const c = await callSocket(h.engine.socket, 'POST', `/containers/create?name=bench-start-${i}`, { Image: TEST_IMAGE, Cmd: ['sleep', '3600'], StopSignal: 'SIGKILL' }, 30_000)
    if (c.status !== 201) throw new Error(`container create on ${h.name}'s engine answered ${describe(c)}`)
    const id = (c.body as { Id: string }).Id
    const s = await callSocket(h.engine.socket, 'POST', `/containers/${id}/start`, undefined, 30_000)
    if (s.status !== 204) throw new Error(`container start on ${h.name}'s engine answered ${describe(s)}`)
    times.push(performance.now() - t0)
    await callSocket(h.engine.socket, 'DELETE', `/containers/${id}?force=true`, undefined, 30_000)
  }
  progress(`container create + start on ${h.name}'s engine: ${times.map(t => t.toFixed(0)).join(', ')} ms`)
  return median(times)
}

async function measure (bed: TestBed, sys: System, reps: number): Promise<Figures> {
  const nftIsolated = new Set<string>()
  const f: Figures = { failoverKill: [], down: [], replaced: [], failoverCut: [] }
  for (let rep = 1; rep <= reps; rep++) {
    f.failoverKill.push(await failoverByKill(sys, rep))
    const w = await workerLoss(bed, sys, rep, nftIsolated)
    f.down.push(w.down)
    f.replaced.push(w.replaced)
    f.failoverCut.push(await failoverByCut(bed, sys, rep, nftIsolated))
  }
  await ready(sys, 'at the end')
  return f
}

async function runSwarmMode (bed: TestBed, reps: number): Promise<Figures> {
  progress('swarm mode: stopping the flotilla agents, forming swarm mode on the engines')
  await Promise.all(bed.hosts.map(async h => { await h.agent.stop() }))
  try {
    const sys = await formSwarmMode(bed, MANAGERS)
    const leader = await settle(sys, HOSTS, 'formed', SETTLE_STABLE_MS, SETTLE_TIMEOUT_MS)
    progress(`swarm mode: ${HOSTS} nodes ready, leader ${leader.name}`)
    return await measure(bed, sys, reps)
  } finally {
    await bed.healNetwork()
    for (const h of bed.hosts) if (!h.engine.running) await h.engine.start()
    await leaveSwarmMode(bed)
  }
}

async function runFlotilla (bed: TestBed, reps: number): Promise<Figures> {
  progress('flotilla: forming the cluster of the agents')
  const sys = await formFlotilla(bed, MANAGERS)
  const leader = await settle(sys, HOSTS, 'formed', SETTLE_STABLE_MS, SETTLE_TIMEOUT_MS)
  progress(`flotilla: ${HOSTS} nodes ready, leader ${leader.name}`)
  return await measure(bed, sys, reps)
}

const ms = (x: number): string => Number.isFinite(x) ? x.toFixed(0) : '-'

function printSystem (name: string, f: Figures): void {
  console.log(`\n### ${name}\n`)
  console.log('| measure | median ms | min–max ms | raw ms |')
  console.log('|---|---|---|---|')
  for (const m of MEASURES) {
    const xs = f[m]
    console.log(`| ${LABELS[m]} | ${ms(median(xs))} | ${ms(Math.min(...xs))}–${ms(Math.max(...xs))} | ${xs.map(ms).join(', ')} |`)
  }
}

function printComparison (results: ReadonlyMap<Part, Figures>, startMs: number): void {
  const fl = results.get('flotilla')
  if (fl === undefined) return
  const sw = results.get('swarm')
  const targets: Record<Measure, number> = {
    failoverKill: TARGET_FAILOVER_MS,
    down: TARGET_DOWN_MS,
    replaced: TARGET_REPLACED_MS + startMs,
    failoverCut: TARGET_FAILOVER_MS
  }
  console.log('\n### flotilla against swarm mode (medians)\n')
  console.log('| measure | swarm mode ms | flotilla ms | flotilla/swarm | flotilla target | met |')
  console.log('|---|---|---|---|---|---|')
  for (const m of MEASURES) {
    const a = median(fl[m])
    const b = sw === undefined ? NaN : median(sw[m])
    const absolute = a <= targets[m]
    const relative = sw === undefined ? undefined : a < b
    const target = `≤ ${ms(targets[m])}${m === 'replaced' ? ` (3000 + ${ms(startMs)} start)` : ''}${sw === undefined ? '' : ' and < swarm'}`
    const met = absolute && relative !== false ? 'yes' : `MISSED${absolute ? '' : ' (absolute)'}${relative === false ? ' (vs swarm)' : ''}`
    console.log(`| ${LABELS[m]} | ${ms(b)} | ${ms(a)} | ${Number.isFinite(b) ? (a / b).toFixed(3) : '-'} | ${target} | ${met} |`)
  }
}

function saveLogs (bed: TestBed, dir: string): void {
  mkdirSync(dir, { recursive: true })
  for (const h of bed.hosts) {
    writeFileSync(join(dir, `${h.name}-agent.log`), h.agent.logs)
    writeFileSync(join(dir, `${h.name}-engine.log`), h.engine.logs)
  }
  progress(`logs written to ${dir}`)
}

runBench('hosts', parse, async args => {
  // Inherited by every dockerd the bed starts (see the header).
  process.env.DOCKER_SERVICE_PREFER_OFFLINE_IMAGE = '1'
  progress(`starting a bed of ${HOSTS} hosts`)
  const bed = await TestBed.start({ hosts: HOSTS, logLevel: args.logLevel })
  const results = new Map<Part, Figures>()
  let startMs = NaN
  try {
    progress(`bed ${bed.runId} up in ${bed.timings.total} ms (subnet ${bed.subnet}.0/24)`)
    startMs = await containerStart(bed.host(HOSTS))
    if (args.parts.has('swarm')) results.set('swarm', await runSwarmMode(bed, args.reps))
    if (args.parts.has('flotilla')) results.set('flotilla', await runFlotilla(bed, args.reps))
  } catch (err) {
    progress(`failed; bed logs (last 8000 characters):\n${bed.logs().slice(-8000)}`)
    throw err
  } finally {
    if (args.logsDir !== undefined) saveLogs(bed, args.logsDir)
    progress('tearing the bed down')
    await bed.teardown()
  }
  console.log(`## hosts benchmark: ${HOSTS} hosts (network namespaces, one dockerd each) on one machine, ${MANAGERS} managers + ${HOSTS - MANAGERS} workers; ` +
    `median of ${args.reps} repetition(s)\n`)
  console.log('Swarm mode runs with Docker\'s defaults (dispatcher heartbeat 5 s, Raft tick 1 s, election tick 10): what its users get. ' +
    `Services: ${REPLICAS} replicas of ${TEST_IMAGE} running sleep 3600, restart delay 0.5 s on both systems. ` +
    `One container create + start on an engine alone: ${ms(startMs)} ms (median of ${CONTAINER_STARTS}).`)
  for (const [part, f] of results) printSystem(part === 'swarm' ? 'Docker swarm mode' : 'flotilla', f)
  printComparison(results, startMs)
})
