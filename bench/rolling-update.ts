/**
 * Rolling-update benchmark: how long a rolling update of a replicated service takes to converge, on one
 * Docker engine, for
 *   - swarm:     Docker's own swarm mode on that engine (`swarm init --advertise-addr 127.0.0.1`, left
 *                with --force afterwards, always; an engine already in swarm mode is refused, not left),
 *                driven through the engine's API;
 *   - flotilla:  1 agent, and 3 agents (1 manager + 2 workers) sharing the engine, driven through the
 *                manager's socket.
 * Per system and repetition, a fresh service of --replicas N (default 20) is created with the spec of
 * test/support/services.ts (image flotilla-test/busybox:2, `sleep 3600`, StopSignal SIGKILL, no
 * published port) and UpdateConfig {Parallelism: --parallelism P (default 2), Delay: 0, Order:
 * stop-first}, FailureAction and Monitor left at their defaults (pause, 5 s); the bench waits until all N
 * run. It then reads the service (`GET /services/{name}`, outside the clock), starts the clock, and sends
 * `POST /services/{id}/update?version=V` with the same spec but for `Env: ["BENCH_ROUND=<rep>"]` in
 * TaskTemplate.ContainerSpec, so that every task is out of date (no new image is needed).
 * Measured, from just before that request:
 *   - update (the figure the ratio is on): until the system's own API shows convergence, polled every
 *     50 ms: `GET /tasks?filters={"service":[name],"desired-state":["running"]}` lists exactly N tasks,
 *     each with Status.State running and Spec.ContainerSpec.Env the new one; then, in the same poll,
 *     `GET /tasks?filters={"service":[name]}` lists no task of the old Env whose Status.State is running;
 *   - completed (information only): until `GET /services/{name}` reports UpdateStatus.State
 *     "completed", polled every 50 ms after convergence. dockerd says so only once the Monitor period has
 *     passed after the last replacement ran; a system that reports no UpdateStatus at all by Monitor + 2 s
 *     after convergence is printed as "n/a".
 *   - fewest running (information only): the fewest tasks, of any spec, with desired and observed state
 *     running that any update poll saw (stop-first with P in flight: N − P at best).
 * Each figure is the median of --reps repetitions; between runs the service is removed and the bench
 * waits until the engine lists none of its containers.
 *
 * Usage: node dist/bench/rolling-update.js [--reps R] [--replicas N] [--parallelism P] [--parts swarm,flotilla1,flotilla3]
 * Prints the table to stdout and progress to stderr. Exits 0 when it ran, even if the target is missed
 * (marked MISSED); 1 on an error; 2 on bad flags. Target: flotilla no slower than swarm mode
 * (flotilla/swarm ≤ 1.0 on the update figure).
 */
import type Docker from 'dockerode'
import { performance } from 'node:perf_hooks'
import { callSocket } from '../test/support/agent-process.js'
import { requireEngine } from '../test/support/docker-engine.js'
import { SERVICE_LABEL, describeResult, engine, serviceSpec, taskContainers, type TaskView } from '../test/support/services.js'
import { TEST_IMAGE, ensureTestImage } from '../test/support/test-image.js'
import { FlotillaAgents } from './flotilla-agents.js'
import { SwarmMode } from './swarm-mode.js'
import { UsageError, flagPairs, median, pollUntil, positiveInt, progress, runBench, type Live } from './support.js'

const POLL_MS = 50
const PARTS = ['swarm', 'flotilla1', 'flotilla3'] as const
type Part = typeof PARTS[number]
const MAX_REPS = 20
const MAX_REPLICAS = 200
/** Deadline of one create or one update: generous against the engine's ~2 starts/s on 2 cores. */
const convergeTimeoutMs = (n: number): number => 60_000 + 3_000 * n
/** Docker's default UpdateConfig.Monitor; the bench leaves it unset. */
const DEFAULT_MONITOR_MS = 5_000
/** How long past convergence + Monitor a system may take to report UpdateStatus at all. */
const STATUS_GRACE_MS = 2_000
/** How long past convergence + Monitor a reported update may take to say completed. */
const COMPLETED_TIMEOUT_MS = 30_000
const CALL_TIMEOUT_MS = 5_000
const TARGET_SWARM_RATIO = 1.0

interface BenchArgs {
  readonly reps: number
  readonly replicas: number
  readonly parallelism: number
  readonly parts: ReadonlySet<Part>
}

/** A task as the bench reads it: TaskView with the ContainerSpec's Env. */
type EnvTask = TaskView & { readonly Spec?: { readonly ContainerSpec: { readonly Env?: readonly string[] } } }

/** A service as `GET /services/{id}` returns it, as far as the bench reads it. */
interface ServiceView {
  readonly ID: string
  readonly Version: { readonly Index: number }
  readonly Spec: { readonly TaskTemplate: { readonly ContainerSpec: Record<string, unknown> } & Record<string, unknown> } & Record<string, unknown>
  readonly UpdateStatus?: { readonly State?: string, readonly Message?: string }
}

/** One repetition's figures (ms from just before the update request); `completedMs` undefined: not reported. */
interface RunResult {
  readonly updateMs: number
  readonly completedMs: number | undefined
  readonly fewestRunning: number
}

/** What a system under test must do; `start`/`stop` bracket all its runs. */
interface System {
  readonly name: string
  start: () => Promise<void>
  stop: () => Promise<void>
  /** Create the service from `spec`; resolve when `n` tasks run. */
  create: (spec: Record<string, unknown>, n: number) => Promise<void>
  inspect: (name: string) => Promise<ServiceView>
  /** `POST /services/{id}/update?version=V` with `spec`. */
  update: (service: ServiceView, spec: Record<string, unknown>) => Promise<void>
  /** `GET /tasks` of the service, with `desired-state` running when `desiredRunning`. */
  tasks: (name: string, desiredRunning: boolean) => Promise<EnvTask[]>
  remove: (name: string) => Promise<void>
}

function parse (argv: readonly string[]): BenchArgs {
  let reps = 3
  let replicas = 20
  let parallelism = 2
  let parts = new Set<Part>(PARTS)
  for (const { flag, value, arg } of flagPairs(argv)) {
    if (flag === '--reps') reps = positiveInt(value, flag, MAX_REPS)
    else if (flag === '--replicas') replicas = positiveInt(value, flag, MAX_REPLICAS)
    else if (flag === '--parallelism') parallelism = positiveInt(value, flag, MAX_REPLICAS)
    else if (flag === '--parts') {
      const names = (value ?? '').split(',').map(s => s.trim())
      for (const n of names) if (!(PARTS as readonly string[]).includes(n)) throw new UsageError(`--parts: unknown part "${n}" (known: ${PARTS.join(', ')})`)
      parts = new Set(names as Part[])
    } else throw new UsageError(`unknown argument "${arg}"; usage: rolling-update.js [--reps R] [--replicas N] [--parallelism P] [--parts ${PARTS.join(',')}]`)
  }
  return { reps, replicas, parallelism, parts }
}

const taskFilters = (name: string, desiredRunning: boolean): Record<string, string[]> =>
  desiredRunning ? { service: [name], 'desired-state': ['running'] } : { service: [name] }

/** Wait until the engine lists no container of the service (after its removal). */
async function engineEmpty (docker: Docker, service: string): Promise<void> {
  await pollUntil(`the engine to list no container of ${service}`, async () =>
    (await taskContainers(docker, [`${SERVICE_LABEL}=${service}`])).length === 0 ? true : undefined, 120_000, 200)
}

/** Docker's swarm mode on the same engine, through the engine's API. */
function swarmSystem (docker: Docker): System {
  const swarm = new SwarmMode(docker)
  const tasks = async (name: string, desiredRunning: boolean): Promise<EnvTask[]> =>
    await docker.listTasks({ filters: taskFilters(name, desiredRunning) }) as EnvTask[]
  return {
    name: 'swarm',
    start: async () => { await swarm.start() },
    stop: async () => { await swarm.stop() },
    create: async (spec, n) => {
      await docker.createService(spec)
      await waitRunning('swarm', async () => await tasks(String(spec.Name), true), String(spec.Name), n)
    },
    inspect: async name => await docker.getService(name).inspect() as ServiceView,
    update: async (service, spec) => {
      await docker.getService(service.ID).update({ ...spec, version: service.Version.Index })
    },
    tasks,
    remove: async name => {
      await docker.getService(name).remove()
      await engineEmpty(docker, name)
    }
  }
}

/** flotilla agents sharing the engine; the service driven through the first agent's socket. */
function flotillaSystem (docker: Docker, size: number, live: Live): System {
  const agents = new FlotillaAgents(docker, size, `benchupd${size}`, live)
  const tasks = async (name: string, desiredRunning: boolean): Promise<EnvTask[]> => {
    const path = `/tasks?filters=${encodeURIComponent(JSON.stringify(taskFilters(name, desiredRunning)))}`
    const r = await callSocket(agents.manager().socket, 'GET', path, undefined, CALL_TIMEOUT_MS)
    if (r.status !== 200 || !Array.isArray(r.body)) throw new Error(`GET ${path}: ${describeResult(r)}`)
    return r.body as EnvTask[]
  }
  return {
    name: `flotilla×${size}`,
    start: async () => { await agents.start() },
    stop: async () => { await agents.stop() },
    create: async (spec, n) => {
      const r = await callSocket(agents.manager().socket, 'POST', '/services/create', spec, 30_000)
      if (r.status !== 201) throw new Error(`POST /services/create: ${describeResult(r)}`)
      await waitRunning(`flotilla×${size}`, async () => await tasks(String(spec.Name), true), String(spec.Name), n)
    },
    inspect: async name => {
      const r = await callSocket(agents.manager().socket, 'GET', `/services/${encodeURIComponent(name)}`, undefined, CALL_TIMEOUT_MS)
      if (r.status !== 200) throw new Error(`GET /services/${name}: ${describeResult(r)}`)
      return r.body as ServiceView
    },
    update: async (service, spec) => {
      const r = await callSocket(agents.manager().socket, 'POST', `/services/${service.ID}/update?version=${service.Version.Index}`, spec, 30_000)
      if (r.status !== 200) throw new Error(`POST /services/${service.ID}/update: ${describeResult(r)}`)
    },
    tasks,
    remove: async name => {
      const r = await agents.manager().api('DELETE', `/services/${encodeURIComponent(name)}`)
      if (r.status !== 200 && r.status !== 204) throw new Error(`DELETE /services/${name}: ${describeResult(r)}`)
      await engineEmpty(docker, name)
    }
  }
}

/** Poll `list` (tasks meant to run) until `n` of them run. */
async function waitRunning (system: string, list: () => Promise<EnvTask[]>, name: string, n: number): Promise<void> {
  await pollUntil(`${system}: ${n} running tasks of ${name}`, async () =>
    (await list()).filter(t => t.Status.State === 'running' && t.DesiredState === 'running').length === n ? true : undefined,
  convergeTimeoutMs(n), POLL_MS)
}

const sameEnv = (t: EnvTask, env: readonly string[]): boolean =>
  JSON.stringify(t.Spec?.ContainerSpec.Env ?? []) === JSON.stringify(env)

/** The service's spec with ContainerSpec.Env set to `env`: every task out of date. */
function withEnv (spec: ServiceView['Spec'], env: readonly string[]): Record<string, unknown> {
  const template = spec.TaskTemplate
  return { ...spec, TaskTemplate: { ...template, ContainerSpec: { ...template.ContainerSpec, Env: [...env] } } }
}

/** One repetition: create, wait for N running, update, time convergence and UpdateStatus completed. */
async function runOnce (system: System, args: BenchArgs, rep: number): Promise<RunResult> {
  const name = `bench-upd-${system.name.replace(/\W/g, '')}-${rep}`
  const n = args.replicas
  const spec = serviceSpec(name, { replicas: n })
  await system.create({ ...spec, UpdateConfig: { Parallelism: args.parallelism, Delay: 0, Order: 'stop-first' } }, n)
  try {
    const before = await system.inspect(name)
    const env = [`BENCH_ROUND=${rep}`]
    const next = withEnv(before.Spec, env)
    let fewestRunning = n
    const t0 = performance.now()
    await system.update(before, next)
    const updateMs = await pollUntil(`${system.name}: ${n} running tasks of ${name} with ${env[0]!}`, async () => {
      const meant = await system.tasks(name, true)
      const runningNow = meant.filter(t => t.Status.State === 'running')
      fewestRunning = Math.min(fewestRunning, runningNow.length)
      if (meant.length !== n || runningNow.length !== n || !runningNow.every(t => sameEnv(t, env))) return undefined
      const at = performance.now() - t0
      const all = await system.tasks(name, false)
      return all.some(t => t.Status.State === 'running' && !sameEnv(t, env)) ? undefined : at
    }, convergeTimeoutMs(n), POLL_MS)
    const monitorMs = DEFAULT_MONITOR_MS
    let seenStatus = false
    const completed = await pollUntil<number | string | null>(`${system.name}: UpdateStatus completed of ${name}`, async () => {
      const s = await system.inspect(name)
      const state = s.UpdateStatus?.State
      if (state === 'completed') return performance.now() - t0
      if (state === 'paused' || state?.startsWith('rollback') === true) return `${state}: ${s.UpdateStatus?.Message ?? ''}`
      if (state !== undefined) seenStatus = true
      // Nothing reported well after dockerd would have said completed: this system does not report it.
      if (!seenStatus && performance.now() - t0 > updateMs + monitorMs + STATUS_GRACE_MS) return null
      return undefined
    }, monitorMs + COMPLETED_TIMEOUT_MS, POLL_MS)
    if (typeof completed === 'string') throw new Error(`${system.name}: the update of ${name} is ${completed}`)
    return { updateMs, completedMs: completed ?? undefined, fewestRunning }
  } finally {
    await system.remove(name)
  }
}

/** Every run of one system, in order. */
async function measureSystem (system: System, args: BenchArgs): Promise<RunResult[]> {
  const runs: RunResult[] = []
  try {
    await system.start()
    for (let rep = 1; rep <= args.reps; rep++) {
      const r = await runOnce(system, args, rep)
      runs.push(r)
      progress(`${system.name} rep ${rep}: update of ${args.replicas} converged in ${r.updateMs.toFixed(0)} ms, ` +
        `UpdateStatus completed ${r.completedMs === undefined ? 'not reported' : `at ${r.completedMs.toFixed(0)} ms`}, ` +
        `fewest running ${r.fewestRunning}`)
    }
  } finally {
    await system.stop()
  }
  return runs
}

function printTable (args: BenchArgs, results: ReadonlyMap<string, readonly RunResult[]>, engineInfo: string): void {
  const swarm = results.get('swarm')
  const swarmMs = swarm === undefined ? undefined : median(swarm.map(r => r.updateMs))
  const heads = ['system', 'update ms', 'min–max ms', 'completed ms', 'fewest running', 'ratio /swarm']
  const cells = [...results].map(([system, runs]) => {
    const ms = runs.map(r => r.updateMs)
    const updateMs = median(ms)
    const completed = runs.map(r => r.completedMs).filter((x): x is number => x !== undefined)
    let ratio = '-'
    if (system !== 'swarm' && swarmMs !== undefined) {
      const x = updateMs / swarmMs
      ratio = `${x.toFixed(2)}${x <= TARGET_SWARM_RATIO ? '' : ' MISSED'}`
    }
    return [
      system,
      updateMs.toFixed(0),
      `${Math.min(...ms).toFixed(0)}–${Math.max(...ms).toFixed(0)}`,
      completed.length === runs.length ? median(completed).toFixed(0) : completed.length === 0 ? 'n/a' : `${median(completed).toFixed(0)} (${completed.length}/${runs.length})`,
      String(Math.min(...runs.map(r => r.fewestRunning))),
      ratio
    ]
  })
  const widths = heads.map((h, i) => Math.max(h.length, ...cells.map(r => r[i]!.length)))
  const line = (r: readonly string[]): string => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()
  console.log(`rolling-update benchmark on one engine (${engineInfo}); median of ${args.reps} repetition(s); ` +
    `${args.replicas} tasks of ${TEST_IMAGE} (sleep 3600), UpdateConfig Parallelism ${args.parallelism}, Delay 0, stop-first; ` +
    'update: until the API lists every task meant to run as running with the new Env; completed: UpdateStatus.State (information)')
  console.log(line(heads))
  for (const r of cells) console.log(line(r))
  if (swarmMs !== undefined && results.size > 1) console.log(`target: flotilla/swarm ≤ ${TARGET_SWARM_RATIO.toFixed(1)} on the update figure`)
}

runBench('rolling-update', parse, async (args, live) => {
  const info = await requireEngine()
  await ensureTestImage()
  const docker = engine()
  const results = new Map<string, RunResult[]>()
  const systems: Array<[Part, () => System]> = [
    ['swarm', () => swarmSystem(docker)],
    ['flotilla1', () => flotillaSystem(docker, 1, live)],
    ['flotilla3', () => flotillaSystem(docker, 3, live)]
  ]
  for (const [part, make] of systems) {
    if (!args.parts.has(part)) continue
    const system = make()
    progress(`${system.name}: ${args.reps} repetition(s)`)
    results.set(system.name, await measureSystem(system, args))
  }
  if (results.size > 0) printTable(args, results, `Docker ${info.version}, ${info.ncpu} CPUs`)
})
