/**
 * Scheduler benchmark: `scheduleBatch` alone (no store, no agents) on 1,000 simulated nodes, with
 * batches of 10,000 and 100,000 tasks. The cluster: 3 zones, 50 managers, 20 drained nodes, 2,000 tasks
 * already placed; each batch is 1,000 global tasks (one per node) and four replicated services:
 *   web   40%  spread over node.labels.zone, reserves 0.05 CPU / 64 MiB
 *   api   30%  node.role==worker, reserves 0.1 CPU / 128 MiB
 *   batch 20%  no constraint, no reservation
 *   edge  rest node.labels.zone!=z3, at most 100 per node
 * Inputs come from a seeded generator and are built outside the timing; each size is run once to warm
 * up, then `--runs` times (default 5), and the median is reported. Placements per second = tasks
 * assigned / seconds in scheduleBatch; the target is ≥ 100,000 (marked MISSED otherwise).
 *
 * Usage: node dist/bench/scheduler.js [--runs N]
 * Prints the table to stdout and progress to stderr. Exits 0 when it ran, even if the target is missed;
 * 1 on an error; 2 on bad flags.
 */
import { performance } from 'node:perf_hooks'
import { scheduleBatch, type PlacedTask, type SchedulerNode, type TaskToPlace } from '../src/tasks/scheduler/index.js'
import { UsageError, flagPairs, median, positiveInt, progress, runBench } from './support.js'
import { rng } from '../test/support/rng.js'

const NODES = 1_000
const MANAGERS = 50
const DRAINED = 20
const ZONES = ['z1', 'z2', 'z3'] as const
const PLACED = 2_000
const SIZES = [10_000, 100_000] as const
const TARGET_PER_SECOND = 100_000
const MAX_RUNS = 50
const CPU = 1_000_000_000
const MIB = 1024 ** 2

interface BenchArgs { readonly runs: number }

function parse (argv: readonly string[]): BenchArgs {
  let runs = 5
  for (const { flag, value } of flagPairs(argv)) {
    if (flag === '--runs') runs = positiveInt(value, flag, MAX_RUNS)
    else throw new UsageError(`unknown flag ${flag}`)
  }
  return { runs }
}


interface Input { nodes: SchedulerNode[], placed: PlacedTask[], tasks: TaskToPlace[] }

function buildInput (size: number): Input {
  const next = rng(42)
  const nodes: SchedulerNode[] = Array.from({ length: NODES }, (_, i) => ({
    id: `node-${String(i).padStart(4, '0')}`,
    hostname: `host-${i}`,
    role: i < MANAGERS ? 'manager' : 'worker',
    availability: i >= NODES - DRAINED ? 'drain' : 'active',
    ready: true,
    labels: { zone: ZONES[i % ZONES.length]! },
    engineLabels: {},
    platform: { os: 'linux', arch: 'x86_64' },
    resources: { nanoCpus: 32 * CPU, memoryBytes: 128 * 1024 * MIB }
  }))
  const placed: PlacedTask[] = Array.from({ length: PLACED }, () => ({
    nodeId: nodes[Math.floor(next() * NODES)]!.id,
    serviceId: `old-${Math.floor(next() * 10)}`,
    reservations: { nanoCpus: CPU / 4, memoryBytes: 256 * MIB },
    hostPorts: []
  }))
  const base = { slot: null, constraints: [], preferences: [], maxReplicas: 0, hostPorts: [], platforms: [], nodeId: null } as const
  const none = { nanoCpus: 0, memoryBytes: 0 }
  const tasks: TaskToPlace[] = nodes.map(n => ({ ...base, id: `agent-${n.id}`, serviceId: 'agent', reservations: { nanoCpus: CPU / 10, memoryBytes: 64 * MIB }, nodeId: n.id }))
  const replicated = size - tasks.length
  const services: Array<{ share: number, spec: Omit<TaskToPlace, 'id' | 'slot' | 'nodeId'> }> = [
    { share: 0.4, spec: { ...base, serviceId: 'web', reservations: { nanoCpus: CPU / 20, memoryBytes: 64 * MIB }, preferences: [{ Spread: { SpreadDescriptor: 'node.labels.zone' } }] } },
    { share: 0.3, spec: { ...base, serviceId: 'api', reservations: { nanoCpus: CPU / 10, memoryBytes: 128 * MIB }, constraints: ['node.role==worker'] } },
    { share: 0.2, spec: { ...base, serviceId: 'batch', reservations: none } },
    { share: 0.1, spec: { ...base, serviceId: 'edge', reservations: none, constraints: ['node.labels.zone!=z3'], maxReplicas: 100 } }
  ]
  let left = replicated
  services.forEach(({ share, spec }, s) => {
    const n = s === services.length - 1 ? left : Math.round(replicated * share)
    left -= n
    for (let slot = 1; slot <= n; slot++) tasks.push({ ...spec, id: `${spec.serviceId}-${slot}`, slot, nodeId: null })
  })
  return { nodes, placed, tasks }
}

interface Row { size: number, assigned: number, unschedulable: number, medianMs: number, perSecond: number }

function measure (size: number, runs: number): Row {
  const input = buildInput(size)
  const once = (): { ms: number, assigned: number, unschedulable: number } => {
    const start = performance.now()
    const result = scheduleBatch(input.nodes, input.placed, input.tasks)
    const ms = performance.now() - start
    return { ms, assigned: result.assignments.length, unschedulable: result.unschedulable.length }
  }
  once()
  const times: number[] = []
  let last = { ms: 0, assigned: 0, unschedulable: 0 }
  for (let r = 0; r < runs; r++) {
    last = once()
    times.push(last.ms)
    progress(`${size} tasks, run ${r + 1}/${runs}: ${last.ms.toFixed(1)} ms`)
  }
  const medianMs = median(times)
  return { size, assigned: last.assigned, unschedulable: last.unschedulable, medianMs, perSecond: last.assigned / (medianMs / 1000) }
}

runBench('scheduler', parse, async ({ runs }) => {
  const rows = SIZES.map(size => measure(size, runs))
  console.log(`scheduleBatch on ${NODES} nodes (${PLACED} tasks already placed), median of ${runs} runs`)
  console.log('tasks     assigned  unschedulable  median ms  placements/s  target')
  for (const r of rows) {
    const verdict = r.perSecond >= TARGET_PER_SECOND ? 'ok' : 'MISSED'
    console.log(`${String(r.size).padEnd(10)}${String(r.assigned).padEnd(10)}${String(r.unschedulable).padEnd(15)}` +
      `${r.medianMs.toFixed(1).padEnd(11)}${Math.round(r.perSecond).toLocaleString('en-US').padEnd(14)}${verdict} (≥ ${TARGET_PER_SECOND.toLocaleString('en-US')})`)
  }
  await Promise.resolve()
})
