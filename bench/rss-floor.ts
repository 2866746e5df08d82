/**
 * RSS floor: what a process costs before any of flotilla's own work, to set the per-agent memory
 * figures of bench:membership against. With the agent's V8 flags:
 *   - bare: an idle Node process (rss-floor-child.ts, which imports only Node's modules);
 *   - host: one that has started flotilla's libp2p host (src/membership/host.ts: tcp, noise, yamux,
 *     identify, ping, gossipsub) on loopback, and nothing else;
 *     both children report VmRSS after 3 s idle and a full GC (--expose-gc);
 *   - agent: `flotilla agent --init` (a lone manager), its VmRSS read from /proc 3 s after its socket
 *     answers.
 * Median of --reps runs each.
 *
 * Usage: node dist/bench/rss-floor.js [--reps 3]
 * Prints the summary to stdout and progress to stderr; exits 1 on an error, 2 on bad flags.
 */
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { TestCluster } from '../test/support/cluster.js'
import { UsageError, flagPairs, median, positiveInt, progress, runBench, vmRssKb } from './support.js'

/** The agent's V8 flags (src/node/main.ts), so that the floor is the agent's. */
const AGENT_FLAGS = ['--max-semi-space-size=1', '--single-threaded']
const IDLE_MS = 3_000
const CHILD_TIMEOUT_MS = 60_000

function inChild (stage: string): number {
  const script = fileURLToPath(new URL('./rss-floor-child.js', import.meta.url))
  const out = execFileSync(process.execPath, [...AGENT_FLAGS, '--expose-gc', script, stage], { timeout: CHILD_TIMEOUT_MS })
  return Number(out.toString().trim())
}

async function agentRss (): Promise<number> {
  const cluster = TestCluster.empty('rssfloor')
  try {
    const a = await cluster.addAgent('rssfloor-1', 'info')
    await a.start(['--init'])
    await sleep(IDLE_MS)
    if (a.pid === undefined) throw new Error('the agent has no pid')
    return vmRssKb(a.pid) / 1024
  } finally {
    await cluster.stop()
  }
}

runBench('rss-floor', argv => {
  let reps = 3
  for (const { flag, value, arg } of flagPairs(argv)) {
    if (flag === '--reps') reps = positiveInt(value, '--reps', 20)
    else throw new UsageError(`unknown argument "${arg}"; usage: rss-floor.js [--reps 3]`)
  }
  return { reps }
}, async ({ reps }) => {
  const runs: Record<'bare' | 'host' | 'agent', number[]> = { bare: [], host: [], agent: [] }
  for (let r = 1; r <= reps; r++) {
    runs.bare.push(inChild('bare'))
    runs.host.push(inChild('host'))
    runs.agent.push(await agentRss())
    progress(`rep ${r}: bare ${runs.bare.at(-1)!.toFixed(1)} MB, libp2p host ${runs.host.at(-1)!.toFixed(1)} MB, lone agent ${runs.agent.at(-1)!.toFixed(1)} MB`)
  }
  const show = (xs: number[]): string => `${median(xs).toFixed(1)} MB (${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)})`
  console.log(`RSS with the agent's V8 flags, median of ${reps}:`)
  console.log(`  bare Node process            ${show(runs.bare)}`)
  console.log(`  + flotilla's libp2p host     ${show(runs.host)}   (after a full GC)`)
  console.log(`  lone agent (swarm init)      ${show(runs.agent)}`)
})
