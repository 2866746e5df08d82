/**
 * A Jepsen-style run on the multi-host bed: one CAS client per host's socket (the linearizability
 * workload: a service label read and updated with ?version=) while a seeded fault schedule injects the
 * bed's faults, then the WGL checker on the history. Shared by test/hosts/jepsen.test.ts (a short run)
 * and bench/jepsen.ts (`node dist/bench/jepsen.js --seed S --duration 120`).
 *
 * The schedule cycles through a seeded permutation of the fault kinds, so that every kind comes up in
 * the first `FAULT_KINDS.length` faults: inject one, hold it for 1.2–2 s (longer than the largest
 * election timeout) on a host that is the current leader 40 % of the time (else any host), heal everything (killed agents restarted, paused ones resumed, rules removed),
 * rest 0.5–1 s. No fault starts that could not be held for its whole time before the last `quietMs`
 * of the run, so the clients' last operations and reads see a healed cluster.
 * Every choice comes from the workload's fault generator, itself from the seed: a seed replays the same
 * schedule (the times it lands at vary with the machine).
 */
import { writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { BedCluster, BedHost, TestBed } from './bed/index.js'
import { leaderChanges, termsWithTwoLeaders } from './bed-cluster.js'
import { checkLinearizable, type CheckResult } from './linearizability/checker.js'
import { casRegister, type RegisterInput, type RegisterOutput, type RegisterValue } from './linearizability/cas-register.js'
import { createRegisterService, runCasWorkload, type CasWorkloadResult, type WorkloadTick } from './linearizability/workload.js'

export const FAULT_KINDS = ['isolate', 'cut', 'pause', 'kill', 'kill-leader', 'loss'] as const
export type JepsenFaultKind = typeof FAULT_KINDS[number]

export interface JepsenRunInit {
  readonly bed: TestBed
  readonly cluster: BedCluster
  readonly seed: number
  /** How long clients invoke operations, ms. */
  readonly durationMs: number
  /** No fault in the last `quietMs` of the run (default 3 000). */
  readonly quietMs?: number
  /** The register service's name (default `jepsen-register`). */
  readonly serviceName?: string
  /** Checker budget (default 4 000 000 configurations). */
  readonly maxStates?: number
  /** Progress lines (default: none). */
  readonly progress?: (line: string) => void
}

export interface JepsenRunResult {
  readonly seed: number
  readonly workload: CasWorkloadResult
  readonly verdict: CheckResult<RegisterValue, RegisterInput, RegisterOutput>
  /** Faults injected, by kind (heals not counted). */
  readonly faultCounts: Record<JepsenFaultKind, number>
  /** Terms in which the agents' logs name two leaders (must be none). */
  readonly splitTerms: Array<{ term: number, leaders: string[] }>
  /** Distinct Raft terms the agents logged during the run. */
  readonly terms: number[]
  /** A readable report: counts, faults with times, error kinds, the checker's figures. */
  readonly report: string
  /** Where the history went when the verdict was not `ok`. */
  readonly historyFile?: string
}

const INITIAL = 'initial'

/** The host the latest `role=leader` line of any manager names, if any. */
function currentLeader (bed: TestBed, cluster: BedCluster): BedHost | undefined {
  const lines = leaderChanges(bed).filter(c => c.role === 'leader' && cluster.managers.some(m => m.name === c.host))
  const newest = lines.sort((a, b) => a.term - b.term || a.atMs - b.atMs).at(-1)
  return newest === undefined ? undefined : bed.host(newest.host)
}

/** Run the workload under the fault schedule, check the history, and report. */
export async function runBedJepsen (init: JepsenRunInit): Promise<JepsenRunResult> {
  const { bed, cluster, seed } = init
  const quietMs = init.quietMs ?? 3_000
  const service = init.serviceName ?? 'jepsen-register'
  const say = init.progress ?? (() => {})
  await createRegisterService(bed.hosts[0]!.agent.socket, service, INITIAL, 15_000)

  const faultCounts = Object.fromEntries(FAULT_KINDS.map(k => [k, 0])) as Record<JepsenFaultKind, number>
  let order: JepsenFaultKind[] = []
  let next = 0
  let active = false
  let nextAtMs = -1
  const onTick = async (tick: WorkloadTick): Promise<void> => {
    const rng = tick.rng
    if (nextAtMs < 0) nextAtMs = rng.int(800, 1_500)
    const quiet = tick.elapsedMs >= init.durationMs - quietMs
    if (active && (quiet || tick.elapsedMs >= nextAtMs)) {
      const healStart = performance.now()
      const undone = await bed.heal()
      active = false
      tick.mark(`heal (${undone.map(f => f.kind).join(', ')}) in ${(performance.now() - healStart).toFixed(0)} ms`)
      nextAtMs = tick.elapsedMs + (performance.now() - healStart) + rng.int(500, 1_000)
      return
    }
    if (active || quiet || tick.elapsedMs < nextAtMs) return
    // Every fault is held for its whole time, before the quiet end.
    const holdMs = rng.int(1_200, 2_000)
    if (tick.elapsedMs + holdMs > init.durationMs - quietMs) { nextAtMs = Number.POSITIVE_INFINITY; return }
    if (next % FAULT_KINDS.length === 0) order = rng.shuffle(FAULT_KINDS)
    const kind = order[next++ % FAULT_KINDS.length]!
    const hosts = bed.hosts
    const leaderNow = currentLeader(bed, cluster)
    const describe = (h: BedHost): string => h === leaderNow ? `${h.name} (the leader)` : h.name
    // The leader is the host whose faults test Raft the most: it is the target 40 % of the time.
    const pickHost = (): BedHost => {
      const leader = currentLeader(bed, cluster)
      return rng.chance(0.4) && leader !== undefined ? leader : rng.pick(hosts)
    }
    let note: string
    switch (kind) {
      case 'isolate': { const h = pickHost(); await bed.isolate(h); note = `isolate ${describe(h)}`; break }
      case 'cut': {
        const from = pickHost()
        const to = rng.pick(hosts.filter(h => h !== from))
        await bed.cut(from, to)
        note = `cut ${describe(from)}→${describe(to)}`
        break
      }
      case 'pause': { const h = pickHost(); await bed.pauseAgent(h); note = `pause agent ${describe(h)}`; break }
      case 'kill': { const h = pickHost(); await bed.killAgent(h); note = `kill -9 agent ${describe(h)}`; break }
      case 'kill-leader': {
        const h = currentLeader(bed, cluster) ?? rng.pick(cluster.managers)
        await bed.killAgent(h)
        note = `kill -9 agent ${describe(h)}`
        break
      }
      case 'loss': {
        const h = pickHost()
        const p = rng.pick([0.1, 0.2, 0.3])
        await bed.loss(h, p)
        note = `loss ${p * 100} % on ${describe(h)}`
        break
      }
    }
    faultCounts[kind]++
    active = true
    nextAtMs = tick.elapsedMs + holdMs
    tick.mark(note)
    say(`  +${(tick.elapsedMs / 1000).toFixed(1)} s ${note}`)
  }

  const startedAtMs = Date.now()
  const workload = await runCasWorkload({
    sockets: bed.hosts.map(h => h.agent.socket),
    serviceName: service,
    durationMs: init.durationMs,
    maxOps: 1_000_000,
    seed,
    onTick,
    tickMs: 50
  })
  if (bed.faults.length > 0) await bed.heal()

  const checkStart = performance.now()
  const verdict = checkLinearizable(casRegister(INITIAL), workload.history, { maxStates: init.maxStates ?? 4_000_000 })
  const checkMs = performance.now() - checkStart
  const changes = leaderChanges(bed).filter(c => c.atMs >= startedAtMs)
  const terms = [...new Set(changes.map(c => c.term))].sort((a, b) => a - b)
  const splitTerms = termsWithTwoLeaders(leaderChanges(bed))

  const t0 = workload.history[0]?.invokedMs ?? 0
  const lines: string[] = []
  lines.push(`jepsen on bed ${bed.runId}, seed ${seed}: ${workload.history.length} operations in ${(workload.durationMs / 1000).toFixed(1)} s over ${bed.hosts.length} clients`)
  lines.push(`  operations: read ${JSON.stringify(workload.counts.read)}, cas ${JSON.stringify(workload.counts.cas)}`)
  lines.push(`  faults: ${JSON.stringify(faultCounts)} (${Object.values(faultCounts).reduce((a, b) => a + b, 0)} in all); Raft terms during the run: ${terms.join(', ') || 'none new'}`)
  for (const e of workload.events) lines.push(`    +${((e.atMs - t0) / 1000).toFixed(2)} s ${e.note}`)
  const notes = new Map<string, number>()
  for (const op of workload.history) {
    if (op.result === 'ok') continue
    const key = `${op.input.kind} ${op.result}${op.failure === undefined ? '' : `/${op.failure}`}: ${(op.note ?? '').replace(/\d+/g, 'N').slice(0, 110)}`
    notes.set(key, (notes.get(key) ?? 0) + 1)
  }
  for (const [k, n] of [...notes].sort((a, b) => b[1] - a[1])) lines.push(`    ${n} × ${k}`)
  const oks = workload.history.filter(op => op.result === 'ok' && op.input.kind === 'cas').map(op => op.completedMs).sort((a, b) => a - b)
  const gap = oks.reduce((g, t, i) => i === 0 ? g : Math.max(g, t - oks[i - 1]!), 0)
  lines.push(`  longest time without an acknowledged CAS: ${(gap / 1000).toFixed(2)} s`)
  lines.push(`  checker: ${verdict.verdict}, ${verdict.opsChecked} ops searched, ${verdict.statesExplored} states, ${checkMs.toFixed(0)} ms`)
  if (splitTerms.length > 0) lines.push(`  TWO LEADERS IN ONE TERM: ${JSON.stringify(splitTerms)}`)
  let historyFile: string | undefined
  if (verdict.verdict !== 'ok') {
    historyFile = join(tmpdir(), `jepsen-bed-history-${seed}-${Date.now()}.json`)
    writeFileSync(historyFile, JSON.stringify({ seed, events: workload.events, history: workload.history }, (_k, v: unknown) => v === Number.POSITIVE_INFINITY ? 'Infinity' : v, 1))
    lines.push(`  ${verdict.message}`)
    lines.push(`  history written to ${historyFile}; replay the schedule with seed ${seed}`)
  }
  return { seed, workload, verdict, faultCounts, splitTerms, terms, report: lines.join('\n'), ...(historyFile === undefined ? {} : { historyFile }) }
}
