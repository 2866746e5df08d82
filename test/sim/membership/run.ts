import { DEFAULT_SWIM_CONFIG, type SwimConfig } from '../../../src/membership/swim/index.js'
import { mergeTraffic, newTraffic, percentile, type Traffic } from './metrics.js'
import { simulateMembership, type MembershipSimOptions, type MembershipSimResult } from './world.js'

/**
 * `npm run sim:membership [-- --nodes 100,1000,5000] [--seeds K] [--seconds S] [--quick] [--seed S]`
 *
 * For each cluster size and each loss rate (1 %, 5 %): seeded runs of the SWIM/Lifeguard core over a LAN
 * model (sub-ms delay, 1 % of messages up to 40 ms late), a crash every 3 s (each crashed node restarts
 * and rejoins 5 s after everyone saw it dead) and a fresh join every 6 s, measured over the window; then
 * (not with --quick) slow nodes with and without Lifeguard. Prints the figures; exits 1 on a broken
 * invariant. `--seed S` replays one seed (first size, 1 % loss) and prints its violations.
 */
function arg (name: string): string | undefined {
  const i = process.argv.indexOf(name)
  return i === -1 ? undefined : process.argv[i + 1]
}

function intArg (name: string): number | undefined {
  const v = arg(name)
  if (v === undefined) return undefined
  const n = Number(v)
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`${name} needs a positive integer`)
  return n
}

const quick = process.argv.includes('--quick')
const sizes = (arg('--nodes') ?? (quick ? '100,1000' : '100,1000,5000')).split(',').map(Number)
if (sizes.some(n => !Number.isSafeInteger(n) || n < 3)) throw new Error('--nodes needs sizes of at least 3, comma-separated')
const seedsArg = intArg('--seeds')
const secondsArg = intArg('--seconds')
const oneSeed = intArg('--seed')

/** Defaults per size: enough crashes for percentiles at 100 nodes, a short window at 5,000 to keep it to minutes. */
function plan (nodes: number): { seeds: number, seconds: number } {
  if (quick) return { seeds: seedsArg ?? 1, seconds: secondsArg ?? 30 }
  if (nodes <= 100) return { seeds: seedsArg ?? 3, seconds: secondsArg ?? 120 }
  if (nodes <= 1000) return { seeds: seedsArg ?? 2, seconds: secondsArg ?? 60 }
  return { seeds: seedsArg ?? 1, seconds: secondsArg ?? 40 }
}

function scenario (seed: number, nodes: number, seconds: number, lossRate: number, config?: Partial<SwimConfig>): MembershipSimOptions {
  return { seed, nodes, windowMs: seconds * 1000, network: { lossRate }, crashEveryMs: 3000, restartAfterMs: 5000, joinEveryMs: 6000, config }
}

interface Row {
  nodes: number
  loss: number
  runs: MembershipSimResult[]
}

function fmt (ms: number | null): string {
  return ms === null ? '   –' : (ms / 1000).toFixed(2).padStart(5)
}

function rate (count: number, nodeSeconds: number): string {
  return (count / (nodeSeconds / 3600)).toFixed(2)
}

function summarize (row: Row): string[] {
  const crashes = row.runs.flatMap(r => r.crashes)
  const suspect = crashes.map(c => c.suspectMs).filter((x): x is number => x !== null)
  const dead = crashes.map(c => c.doneMs).filter((x): x is number => x !== null)
  const joins = row.runs.flatMap(r => r.joins)
  const joined = joins.map(j => j.doneMs).filter((x): x is number => x !== null)
  const nodeSeconds = row.runs.reduce((a, r) => a + r.nodeSeconds, 0)
  const traffic = newTraffic()
  for (const r of row.runs) mergeTraffic(traffic, r.traffic)
  const wall = row.runs.reduce((a, r) => a + r.wallMs, 0) / 1000
  return [
    String(row.nodes).padStart(5),
    `${(row.loss * 100).toFixed(0)}%`.padStart(4),
    `${fmt(percentile(suspect, 50))} ${fmt(percentile(suspect, 99))}`,
    `${fmt(percentile(dead, 50))} ${fmt(percentile(dead, 99))} (${dead.length}/${crashes.length})`.padEnd(20),
    rate(row.runs.reduce((a, r) => a + r.falseSuspicions, 0), nodeSeconds).padStart(6),
    rate(row.runs.reduce((a, r) => a + r.falseDeaths, 0), nodeSeconds).padStart(6),
    `${fmt(percentile(joined, 50))} ${fmt(percentile(joined, 99))} (${joined.length}/${joins.length})`.padEnd(20),
    (traffic.messages / nodeSeconds).toFixed(1).padStart(6),
    (traffic.bytes / nodeSeconds).toFixed(0).padStart(6),
    `${wall.toFixed(0)} s`.padStart(6)
  ]
}

function breakdown (traffic: Traffic, nodeSeconds: number): string {
  return Object.entries(traffic.byType)
    .sort((a, b) => b[1].bytes - a[1].bytes)
    .map(([t, v]) => `${t} ${(v.messages / nodeSeconds).toFixed(1)}/s ${(v.bytes / nodeSeconds).toFixed(0)} B/s`)
    .join(', ')
}

function reportViolations (runs: readonly MembershipSimResult[]): number {
  let bad = 0
  for (const r of runs) {
    if (r.violations.length === 0) continue
    bad++
    console.log(`seed ${r.seed} (${r.nodes} nodes) broke invariants:`)
    for (const v of r.violations) console.log(`  ${v}`)
    console.log(`  replay: npm run sim:membership -- --seed ${r.seed} --nodes ${r.nodes}`)
  }
  return bad
}

function main (): number {
  const c = DEFAULT_SWIM_CONFIG
  console.log(`SWIM/Lifeguard core: probe ${c.probeIntervalMs} ms, timeout ${c.probeTimeoutMs} ms, k=${c.indirectChecks}, suspicion ${c.suspicionMult}×log10(N)×period ` +
    `(max ×${c.suspicionMaxMult}, ${c.suspicionConfirmations} confirmations), retransmit ${c.retransmitMult}×ceil(log10(N+1)), gossip ${c.gossipNodes} nodes/${c.gossipIntervalMs} ms, ` +
    `push-pull ${c.pushPullIntervalMs / 1000} s (scaled), awareness max ${c.awarenessMax}`)
  console.log('LAN model: delay 0.2 ms + exp(0.5 ms), 1 % of messages up to 40 ms late; a crash every 3 s (restart 5 s after detection), a join every 6 s\n')
  if (oneSeed !== undefined) {
    const nodes = sizes[0] ?? 100
    const r = simulateMembership({ ...scenario(oneSeed, nodes, plan(nodes).seconds, 0.01), checks: true })
    console.log(summarize({ nodes, loss: 0.01, runs: [r] }).join(' | '))
    return reportViolations([r]) === 0 ? 0 : 1
  }
  const header = ['nodes', 'loss', 'suspect p50/p99 s', 'all-dead p50/p99 s (n)', 'FS/n·h', 'FD/n·h', 'join p50/p99 s (n)', 'msg/n·s', 'B/n·s', 'wall']
  console.log(header.join(' | '))
  const rows: Row[] = []
  let bad = 0
  for (const nodes of sizes) {
    const { seeds, seconds } = plan(nodes)
    for (const loss of [0.01, 0.05]) {
      const row: Row = { nodes, loss, runs: [] }
      for (let seed = 1; seed <= seeds; seed++) row.runs.push(simulateMembership(scenario(seed, nodes, seconds, loss)))
      rows.push(row)
      console.log(summarize(row).join(' | '))
      bad += reportViolations(row.runs)
    }
  }
  console.log('\nper-node traffic by message type (msgpack bodies, no framing):')
  for (const row of rows) {
    const t = newTraffic()
    for (const r of row.runs) mergeTraffic(t, r.traffic)
    console.log(`  ${row.nodes} nodes, ${row.loss * 100} % loss: ${breakdown(t, row.runs.reduce((a, r) => a + r.nodeSeconds, 0))}`)
  }
  if (!quick) bad += lifeguard()
  return bad === 0 ? 0 : 1
}

/** Slow nodes (timers and message handling up to 300 ms late) among healthy ones, with Lifeguard's LHA-Probe on and off. */
function lifeguard (): number {
  const nodes = Math.min(sizes[0] ?? 100, 1000)
  console.log(`\nslow nodes: ${nodes} nodes, 10 % of them up to 300 ms late, 1 % loss, 120 s, 3 seeds; false accusations of the healthy nodes`)
  console.log('lifeguard | FS/n·h (healthy) | FD/n·h (healthy) | slow nodes: suspected, dead (/slow n·h) | mean health score healthy/slow')
  let bad = 0
  for (const on of [true, false]) {
    const runs = [1, 2, 3].map(seed => simulateMembership({
      seed, nodes, windowMs: 120_000, network: { lossRate: 0.01 }, slowFraction: 0.1, slowLagMs: 300, config: on ? undefined : { awarenessMax: 1 }
    }))
    const sum = (f: (r: MembershipSimResult) => number): number => runs.reduce((a, r) => a + f(r), 0)
    const slow = sum(r => r.slowNodeSeconds)
    const healthy = sum(r => r.nodeSeconds) - slow
    console.log([
      (on ? 'on' : 'off').padEnd(9),
      rate(sum(r => r.falseSuspicions), healthy).padStart(16),
      rate(sum(r => r.falseDeaths), healthy).padStart(16),
      `${rate(sum(r => r.slowSuspicions), slow)}, ${rate(sum(r => r.slowDeaths), slow)}`.padStart(40),
      `${(sum(r => r.meanHealth.healthy) / runs.length).toFixed(2)}/${(sum(r => r.meanHealth.slow) / runs.length).toFixed(2)}`
    ].join(' | '))
    bad += reportViolations(runs)
  }
  return bad
}

process.exitCode = main()
