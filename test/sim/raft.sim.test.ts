import { describe, expect, it } from 'vitest'
import { nodesFor, simulate } from './world.js'

const SEEDS = 500
const BATCH = 100

describe('Raft deterministic simulation: safety invariants after every step, liveness after healing', () => {
  for (let from = 1; from <= SEEDS; from += BATCH) {
    it(`seeds ${from}–${from + BATCH - 1}`, () => {
      for (let seed = from; seed < from + BATCH; seed++) {
        const r = simulate({ seed, nodes: nodesFor(seed) })
        if (!r.ok) {
          const trace = r.trace.join('\n')
          expect.fail(`seed ${seed} (${r.nodes} nodes) failed: ${r.error ?? ''}\nreplay: npm run sim -- --seed ${seed} --nodes ${r.nodes}\nlast ${r.trace.length} trace events:\n${trace}`)
        }
      }
    })
  }
})
