import { nodesFor, simulate, type SimResult } from './world.js'

/**
 * `npm run sim -- --seeds N [--from S] [--ticks T]`: run N seeds (odd seeds 5 nodes, even 3), print a summary, exit 1 on failure.
 * `npm run sim -- --seed S [--nodes 3|5]`: replay one seed and print its full trace.
 */
function arg (name: string): number | undefined {
  const i = process.argv.indexOf(name)
  if (i === -1) return undefined
  const v = Number(process.argv[i + 1])
  if (!Number.isSafeInteger(v)) throw new Error(`${name} needs an integer`)
  return v
}

function report (r: SimResult): void {
  console.log(`seed ${r.seed} (${r.nodes} nodes) FAILED: ${r.error ?? ''}`)
  console.log(`last ${r.trace.length} trace events:`)
  for (const line of r.trace) console.log(line)
  console.log(`replay: npm run sim -- --seed ${r.seed} --nodes ${r.nodes}`)
}

const one = arg('--seed')
if (one !== undefined) {
  const r = simulate({ seed: one, nodes: arg('--nodes') ?? nodesFor(one), faultTicks: arg('--ticks') ?? 400, fullTrace: true })
  for (const line of r.trace) console.log(line)
  console.log(JSON.stringify(r.stats))
  console.log(r.ok ? `seed ${one}: ok` : `seed ${one} FAILED: ${r.error ?? ''}`)
  process.exitCode = r.ok ? 0 : 1
} else {
  const count = arg('--seeds') ?? 100
  const from = arg('--from') ?? 1
  const started = performance.now()
  const totals: Record<string, number> = {}
  let failed = 0
  for (let seed = from; seed < from + count; seed++) {
    const r = simulate({ seed, nodes: nodesFor(seed), faultTicks: arg('--ticks') ?? 400 })
    for (const [k, v] of Object.entries(r.stats)) totals[k] = (totals[k] ?? 0) + v
    if (!r.ok) {
      failed++
      report(r)
      if (failed >= 3) break
    }
  }
  const ms = Math.round(performance.now() - started)
  console.log(`${count} seeds from ${from}: ${failed === 0 ? 'all passed' : `${failed} FAILED`} in ${ms} ms`)
  console.log(`totals: ${JSON.stringify(totals)}`)
  process.exitCode = failed === 0 ? 0 : 1
}
