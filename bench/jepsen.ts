/**
 * A long Jepsen-style run on the multi-host bed (test/support/bed): 5 hosts (3 managers + 2 workers),
 * each its own netns, dockerd and agent; five CAS clients, one per host's socket, while a seeded
 * schedule isolates hosts, cuts pairs one way, pauses and kills agents (the leader included) and drops
 * packets (test/support/jepsen-bed.ts); then the WGL linearizability checker on the history.
 *
 * Usage: node dist/bench/jepsen.js [--seed S] [--duration SECONDS]   (default: a random seed, 120 s)
 * Needs root and the bed's prerequisites (see test/support/bed/README.md). Prints the report to stdout,
 * progress to stderr. Exits 0 when the history is linearizable and no term had two leaders; 1 when not
 * (the seed and the history file are printed: `--seed S` replays the schedule) or on an error; 2 on bad flags.
 */
import { TestBed } from '../test/support/bed/index.js'
import { waitForAgreedLeader } from '../test/support/bed-cluster.js'
import { runBedJepsen } from '../test/support/jepsen-bed.js'
import { UsageError, flagPairs, positiveInt, progress } from './support.js'

interface JepsenArgs { seed: number, durationS: number }

function parse (argv: readonly string[]): JepsenArgs {
  const args: JepsenArgs = { seed: Math.floor(Math.random() * 2 ** 31), durationS: 120 }
  for (const { flag, value } of flagPairs(argv)) {
    if (flag === '--seed') args.seed = positiveInt(value, '--seed', 2 ** 31 - 1, 0)
    else if (flag === '--duration') args.durationS = positiveInt(value, '--duration', 3_600, 10)
    else throw new UsageError(`unknown flag ${flag} (flags: --seed S, --duration SECONDS)`)
  }
  return args
}

async function main (): Promise<number> {
  let args: JepsenArgs
  try {
    args = parse(process.argv.slice(2))
  } catch (err) {
    if (!(err instanceof UsageError)) throw err
    progress(`jepsen: ${err.message}`)
    return 2
  }
  progress(`jepsen: seed ${args.seed}, ${args.durationS} s; starting a 5-host bed`)
  const bed = await TestBed.start({ hosts: 5, logLevel: 'info' })
  let failed = true
  try {
    const cluster = await bed.formCluster({ managers: 3 })
    await waitForAgreedLeader(bed, cluster.managers, 30_000)
    progress(`jepsen: bed ${bed.runId} formed; running the workload`)
    const run = await runBedJepsen({ bed, cluster, seed: args.seed, durationMs: args.durationS * 1000, maxStates: 20_000_000, progress })
    process.stdout.write(`${run.report}\n`)
    failed = run.verdict.verdict !== 'ok' || run.splitTerms.length > 0
    if (failed) {
      process.stdout.write(`FAILED (seed ${args.seed}: node dist/bench/jepsen.js --seed ${args.seed} --duration ${args.durationS})\n${bed.logs()}\n`)
    }
  } finally {
    await bed.teardown()
  }
  return failed ? 1 : 0
}

main().then(code => { process.exitCode = code }, (err: unknown) => {
  progress(`jepsen failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`)
  process.exitCode = 1
})
