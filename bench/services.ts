/**
 * Services benchmark: how long a replicated service takes to converge, on one Docker engine, for
 *   - floor:     the engine alone: N containers created and started through dockerode at once
 *                (Promise.all of create → start), until every start has returned; scale 10 → 50 is 40
 *                more such containers next to 10 running, 50 → 10 is `rm -f` of 40 of them at once;
 *   - swarm:     Docker's own swarm mode on that engine (`swarm init --advertise-addr 127.0.0.1`, left
 *                with --force afterwards, always), the service created detached through the engine's API;
 *   - flotilla:  1 agent, and 3 agents (1 manager + 2 workers) sharing the engine, the service created
 *                with `POST /services/create` on the manager's socket;
 * with replicas 1, 10 and 50: from the create request until all N tasks are running, and from
 * scale 10 → 50 and 50 → 10 (`POST /services/{id}/update`) until the running count matches.
 * "Running" is what the system's own API says: tasks whose Status.State is running (and, growing, whose
 * DesiredState is running), polled every 50 ms with `GET /tasks?filters={"service":[name]}`.
 * Every service runs the same spec: image flotilla-test/busybox:2, `sleep 3600`, StopSignal SIGKILL
 * (busybox `sleep` as PID 1 ignores SIGTERM, so otherwise every scale-down waits out the 10 s grace
 * period in both systems), no published port (so swarm mode attaches no ingress network).
 * Each figure is the median of --reps repetitions; between runs, every service and container is removed
 * and the bench waits until the engine lists none of them. Then the scheduler alone: bench/scheduler.ts
 * (1,000 simulated nodes, 10,000 and 100,000 tasks), run as a child process.
 *
 * Usage: node dist/bench/services.js [--reps R] [--replicas 1,10,50] [--parts floor,swarm,flotilla1,flotilla3,scheduler]
 * Prints the tables to stdout and progress to stderr. Exits 0 when it ran, even if a target is missed
 * (marked MISSED); 1 on an error; 2 on bad flags. Targets (issue 4 §9): flotilla within 1.2× of the
 * floor, and no slower than swarm mode.
 */
import type Docker from 'dockerode'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { NODE, callSocket, repoRoot, runCommand } from '../test/support/agent-process.js'
import { requireEngine } from '../test/support/docker-engine.js'
import { SERVICE_LABEL, describeResult, engine, removeContainers, scaleThrough, serviceSpec, taskContainers, tasksOf, type TaskView } from '../test/support/services.js'
import { TEST_IMAGE, ensureTestImage } from '../test/support/test-image.js'
import { FlotillaAgents } from './flotilla-agents.js'
import { SwarmMode } from './swarm-mode.js'
import { UsageError, flagPairs, median, pollUntil, positiveInt, progress, runBench, type Live } from './support.js'

const POLL_MS = 50
const PARTS = ['floor', 'swarm', 'flotilla1', 'flotilla3', 'scheduler'] as const
type Part = typeof PARTS[number]
const SCALE_FROM = 10
const SCALE_TO = 50
const MAX_REPS = 20
const MAX_REPLICAS = 200
/** Deadline of one convergence: generous against the engine's ~2 starts/s on 2 cores. */
const convergeTimeoutMs = (n: number): number => 30_000 + 2_000 * n
const CALL_TIMEOUT_MS = 5_000
const TARGET_FLOOR_RATIO = 1.2
const TARGET_SWARM_RATIO = 1.0
/** The label on the floor's containers, so they are found and removed. */
const FLOOR_LABEL = 'flotilla-bench=floor'

interface BenchArgs {
  readonly reps: number
  readonly replicas: readonly number[]
  readonly parts: ReadonlySet<Part>
}

/** One system's medians (ms): create per N, and the two scale steps. */
interface SystemResult {
  readonly create: ReadonlyMap<number, number>
  readonly scaleUp: number
  readonly scaleDown: number
}

/** What a system under test must do; `start`/`stop` bracket all its runs. */
interface System {
  readonly name: string
  start: () => Promise<void>
  stop: () => Promise<void>
  /** Create a service of `n` replicas; resolve when all n run. */
  create: (name: string, n: number) => Promise<void>
  scale: (name: string, n: number) => Promise<void>
  remove: (name: string) => Promise<void>
}

function parse (argv: readonly string[]): BenchArgs {
  let reps = 3
  let replicas: number[] = [1, 10, 50]
  let parts = new Set<Part>(PARTS)
  for (const { flag, value, arg } of flagPairs(argv)) {
    if (flag === '--reps') reps = positiveInt(value, flag, MAX_REPS)
    else if (flag === '--replicas') replicas = (value ?? '').split(',').map(s => positiveInt(s.trim(), '--replicas (each)', MAX_REPLICAS))
    else if (flag === '--parts') {
      const names = (value ?? '').split(',').map(s => s.trim())
      for (const n of names) if (!(PARTS as readonly string[]).includes(n)) throw new UsageError(`--parts: unknown part "${n}" (known: ${PARTS.join(', ')})`)
      parts = new Set(names as Part[])
    } else throw new UsageError(`unknown argument "${arg}"; usage: services.js [--reps R] [--replicas 1,10,50] [--parts ${PARTS.join(',')}]`)
  }
  return { reps, replicas, parts }
}

const elapsed = async (f: () => Promise<void>): Promise<number> => {
  const t0 = performance.now()
  await f()
  return performance.now() - t0
}

/** Wait until the engine lists no container matching `labels` (after a removal). */
async function engineEmpty (docker: Docker, labels: readonly string[], what: string): Promise<void> {
  await pollUntil(`the engine to list no container of ${what}`, async () =>
    (await taskContainers(docker, labels)).length === 0 ? true : undefined, 120_000, 200)
}

/** The engine alone: create and start in parallel, remove in parallel. */
function floorSystem (docker: Docker): System {
  const names = new Map<string, string[]>()
  const run = async (service: string, from: number, to: number): Promise<void> => {
    const ids = names.get(service) ?? []
    names.set(service, ids)
    await Promise.all(Array.from({ length: to - from }, async (_, i) => {
      const c = await docker.createContainer({
        name: `${service}.${from + i + 1}`,
        Image: TEST_IMAGE,
        Cmd: ['sleep', '3600'],
        StopSignal: 'SIGKILL',
        Labels: { 'flotilla-bench': 'floor' },
        HostConfig: { RestartPolicy: { Name: 'no' } }
      })
      ids.push(c.id)
      await c.start()
    }))
  }
  return {
    name: 'floor',
    start: async () => { await removeContainers(docker, [FLOOR_LABEL]) },
    stop: async () => { await removeContainers(docker, [FLOOR_LABEL]) },
    create: async (service, n) => { await run(service, 0, n) },
    scale: async (service, n) => {
      const ids = names.get(service) ?? []
      if (n > ids.length) { await run(service, ids.length, n); return }
      const gone = ids.splice(n)
      await Promise.all(gone.map(async id => { await docker.getContainer(id).remove({ force: true }) }))
    },
    remove: async service => {
      const ids = names.get(service) ?? []
      names.delete(service)
      await Promise.all(ids.map(async id => { await docker.getContainer(id).remove({ force: true }) }))
    }
  }
}

/** Running tasks as counted while growing (desired running too) or shrinking (any desired state). */
function countRunning (tasks: ReadonlyArray<Pick<TaskView, 'DesiredState' | 'Status'>>, growing: boolean): number {
  return tasks.filter(t => t.Status.State === 'running' && (!growing || t.DesiredState === 'running')).length
}

/** Docker's swarm mode on the same engine, through the engine's API. */
function swarmSystem (docker: Docker): System {
  const swarm = new SwarmMode(docker)
  const waitRunning = async (service: string, n: number, growing: boolean): Promise<void> => {
    await pollUntil(`swarm: ${n} running tasks of ${service}`, async () => {
      const tasks = await docker.listTasks({ filters: { service: [service] } }) as TaskView[]
      return countRunning(tasks, growing) === n ? true : undefined
    }, convergeTimeoutMs(n), POLL_MS)
  }
  return {
    name: 'swarm',
    start: async () => { await swarm.start() },
    stop: async () => { await swarm.stop() },
    create: async (service, n) => {
      await docker.createService(serviceSpec(service, { replicas: n }))
      await waitRunning(service, n, true)
    },
    scale: async (service, n) => {
      const s = docker.getService(service)
      const cur = await s.inspect() as { Version: { Index: number }, Spec: Record<string, unknown> }
      await s.update({ ...cur.Spec, version: cur.Version.Index, Mode: { Replicated: { Replicas: n } } })
      const before = (await docker.listTasks({ filters: { service: [service] } }) as TaskView[])
      await waitRunning(service, n, before.filter(t => t.Status.State === 'running').length < n)
    },
    remove: async service => {
      await docker.getService(service).remove()
      await engineEmpty(docker, [`${SERVICE_LABEL}=${service}`], service)
    }
  }
}

/** flotilla agents sharing the engine; the service driven through the first agent's socket. */
function flotillaSystem (docker: Docker, size: number, live: Live): System {
  const agents = new FlotillaAgents(docker, size, `bench${size}`, live)
  const waitRunning = async (service: string, n: number, growing: boolean): Promise<void> => {
    await pollUntil(`flotilla: ${n} running tasks of ${service}`, async () =>
      countRunning(await tasksOf(agents.manager(), service, CALL_TIMEOUT_MS), growing) === n ? true : undefined,
    convergeTimeoutMs(n), POLL_MS)
  }
  return {
    name: `flotilla×${size}`,
    start: async () => { await agents.start() },
    stop: async () => { await agents.stop() },
    create: async (service, n) => {
      const r = await callSocket(agents.manager().socket, 'POST', '/services/create', serviceSpec(service, { replicas: n }), 30_000)
      if (r.status !== 201) throw new Error(`POST /services/create: ${describeResult(r)}`)
      await waitRunning(service, n, true)
    },
    scale: async (service, n) => {
      const before = await tasksOf(agents.manager(), service)
      const r = await scaleThrough(agents.manager(), service, n)
      if (r.status !== 200) throw new Error(`POST /services/${service}/update: ${describeResult(r)}`)
      await waitRunning(service, n, before.filter(t => t.Status.State === 'running').length < n)
    },
    remove: async service => {
      const r = await agents.manager().api('DELETE', `/services/${service}`)
      if (r.status !== 200 && r.status !== 204) throw new Error(`DELETE /services/${service}: ${describeResult(r)}`)
      await engineEmpty(docker, [`${SERVICE_LABEL}=${service}`], service)
    }
  }
}

/** Every run of one system: per repetition, create N for each N; then 10 → 50 → 10. Medians. */
async function measureSystem (system: System, args: BenchArgs): Promise<SystemResult> {
  const create = new Map<number, number[]>()
  const up: number[] = []
  const down: number[] = []
  try {
    await system.start()
    for (let rep = 1; rep <= args.reps; rep++) {
      for (const n of args.replicas) {
        const name = `bench-${system.name.replace(/\W/g, '')}-${n}-${rep}`
        const ms = await elapsed(async () => { await system.create(name, n) })
        create.set(n, [...(create.get(n) ?? []), ms])
        progress(`${system.name} rep ${rep}: create ${n} → running in ${ms.toFixed(0)} ms`)
        await system.remove(name)
      }
      const name = `bench-${system.name.replace(/\W/g, '')}-scale-${rep}`
      await system.create(name, SCALE_FROM)
      const upMs = await elapsed(async () => { await system.scale(name, SCALE_TO) })
      const downMs = await elapsed(async () => { await system.scale(name, SCALE_FROM) })
      up.push(upMs)
      down.push(downMs)
      progress(`${system.name} rep ${rep}: scale ${SCALE_FROM} → ${SCALE_TO} in ${upMs.toFixed(0)} ms, ${SCALE_TO} → ${SCALE_FROM} in ${downMs.toFixed(0)} ms`)
      await system.remove(name)
    }
  } finally {
    await system.stop()
  }
  return { create: new Map([...create].map(([n, xs]) => [n, median(xs)])), scaleUp: median(up), scaleDown: median(down) }
}

function printTables (args: BenchArgs, results: ReadonlyMap<string, SystemResult>, engineInfo: string): void {
  const systems = [...results.keys()]
  const flotillas = systems.filter(s => s.startsWith('flotilla'))
  const rows: Array<{ label: string, pick: (r: SystemResult) => number | undefined }> = [
    ...args.replicas.map(n => ({ label: `create ${n}`, pick: (r: SystemResult) => r.create.get(n) })),
    { label: `scale ${SCALE_FROM}→${SCALE_TO}`, pick: r => r.scaleUp },
    { label: `scale ${SCALE_TO}→${SCALE_FROM}`, pick: r => r.scaleDown }
  ]
  const ratioCols: Array<{ head: string, f: string, base: string, target: number }> = []
  for (const f of flotillas) {
    if (results.has('floor')) ratioCols.push({ head: `${f}/floor`, f, base: 'floor', target: TARGET_FLOOR_RATIO })
    if (results.has('swarm')) ratioCols.push({ head: `${f}/swarm`, f, base: 'swarm', target: TARGET_SWARM_RATIO })
  }
  const heads = ['', ...systems.map(s => `${s} ms`), ...ratioCols.map(c => c.head)]
  const cells = rows.map(row => [
    row.label,
    ...systems.map(s => { const v = row.pick(results.get(s)!); return v === undefined ? '-' : v.toFixed(0) }),
    ...ratioCols.map(c => {
      const a = row.pick(results.get(c.f)!)
      const b = row.pick(results.get(c.base)!)
      if (a === undefined || b === undefined) return '-'
      const ratio = a / b
      return `${ratio.toFixed(2)}${ratio <= c.target ? '' : ' MISSED'}`
    })
  ])
  const widths = heads.map((h, i) => Math.max(h.length, ...cells.map(r => r[i]!.length)))
  const line = (r: readonly string[]): string => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()
  console.log(`services benchmark on one engine (${engineInfo}); median of ${args.reps} repetition(s); ` +
    `image ${TEST_IMAGE} running sleep 3600; until the system's API reports the running count`)
  console.log(line(heads))
  for (const r of cells) console.log(line(r))
  if (ratioCols.length > 0) console.log(`targets: flotilla/floor ≤ ${TARGET_FLOOR_RATIO}, flotilla/swarm ≤ ${TARGET_SWARM_RATIO}`)
}

runBench('services', parse, async (args, live) => {
  const info = await requireEngine()
  await ensureTestImage()
  const docker = engine()
  const results = new Map<string, SystemResult>()
  const systems: Array<[Part, () => System]> = [
    ['floor', () => floorSystem(docker)],
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
  if (results.size > 0) printTables(args, results, `Docker ${info.version}, ${info.ncpu} CPUs`)
  if (args.parts.has('scheduler')) {
    progress('scheduler alone: dist/bench/scheduler.js --runs 3')
    const r = await runCommand(NODE, [join(repoRoot(), 'dist/bench/scheduler.js'), '--runs', '3'], 300_000)
    if (r.code !== 0) throw new Error(`bench/scheduler.js exited ${String(r.code)}: ${r.stderr}`)
    console.log('')
    process.stdout.write(r.stdout)
  }
})
