import { describe, expect, it } from 'vitest'
import { encode } from '../../../src/membership/codec.js'
import { STATE_CODE, type Gossip, type SwimMessage } from '../../../src/membership/swim/index.js'
import { messageBytes } from './network.js'
import { simulateMembership, type MembershipSimOptions, type MembershipSimResult } from './world.js'

/** Crash detection and join spread at 100 nodes stay well inside these (measured p99: ~2.3 s and ~2 s). */
const DETECT_BOUND_MS = 5000
const JOIN_BOUND_MS = 5000

/** What a failure prints: the options that replay it exactly, and the broken invariants. */
function replay (r: MembershipSimResult, opts: MembershipSimOptions): string {
  return `replay: simulateMembership(${JSON.stringify(opts)})\n${r.violations.join('\n')}`
}

function churn (seed: number, lossRate: number): MembershipSimOptions {
  return { seed, nodes: 100, windowMs: 60_000, settleMs: 20_000, network: { lossRate }, crashEveryMs: 4000, restartAfterMs: 5000, joinEveryMs: 8000, checks: true }
}

describe('SWIM/Lifeguard simulation: 100 nodes, 60 simulated seconds', () => {
  for (const seed of [1, 2, 3]) {
    it(`seed ${seed}, 1 % loss: every crash dead everywhere within ${DETECT_BOUND_MS} ms, every join everywhere, no false death`, () => {
      const opts = churn(seed, 0.01)
      const r = simulateMembership(opts)
      const why = replay(r, opts)
      expect(r.violations, why).toEqual([])
      expect(r.crashes.length).toBeGreaterThan(5)
      for (const c of r.crashes) {
        expect(c.doneMs, `crash of node #${c.node} at ${c.atMs} ms; ${why}`).not.toBeNull()
        expect(c.doneMs ?? Infinity).toBeLessThanOrEqual(DETECT_BOUND_MS)
        expect(c.suspectMs ?? Infinity).toBeLessThanOrEqual(c.doneMs ?? 0)
      }
      expect(r.joins.length).toBeGreaterThan(5)
      for (const j of r.joins) expect(j.doneMs ?? Infinity, `join of node #${j.node}; ${why}`).toBeLessThanOrEqual(JOIN_BOUND_MS)
      expect(r.falseDeaths, why).toBe(0)
    })
  }

  it('5 % loss: no false death, views converge', () => {
    const opts = churn(4, 0.05)
    const r = simulateMembership(opts)
    expect(r.violations, replay(r, opts)).toEqual([])
    expect(r.falseDeaths).toBe(0)
    for (const c of r.crashes) expect(c.doneMs ?? Infinity).toBeLessThanOrEqual(DETECT_BOUND_MS)
  })

  it.each([5_000, 40_000])('a partition of %i ms heals: after it every live node sees every live node alive', durationMs => {
    const opts: MembershipSimOptions = {
      seed: 5, nodes: 100, windowMs: 60_000, settleMs: 30_000, network: { lossRate: 0.01 }, partition: { atMs: 5_000, durationMs, fraction: 0.3 }, checks: true
    }
    const r = simulateMembership(opts)
    expect(r.partitionDeaths).toBeGreaterThan(0)
    expect(r.violations, replay(r, opts)).toEqual([])
  })

  it('slow nodes (timers and messages up to 300 ms late) cause no death of a healthy node', () => {
    const opts: MembershipSimOptions = {
      seed: 6, nodes: 100, windowMs: 60_000, settleMs: 20_000, network: { lossRate: 0.01 }, slowFraction: 0.1, slowLagMs: 300, crashEveryMs: 6000, checks: true
    }
    const r = simulateMembership(opts)
    expect(r.violations, replay(r, opts)).toEqual([])
    expect(r.falseDeaths).toBe(0)
    expect(r.slowSuspicions).toBeGreaterThan(0)
  })

  it('counts each message at its msgpack size', () => {
    const id = 'abcdefghijklmnopqrstuvwxy'
    const items: Gossip[] = Array.from({ length: 20 }, (_, i) => ({ k: 'suspect', node: id, inc: i * 1000, from: id }))
    const messages: SwimMessage[] = [
      { t: 'ping', seq: 70_000, target: id },
      { t: 'ping', seq: 1, target: id, g: items.slice(0, 3) },
      { t: 'ack', seq: 2, g: items },
      { t: 'gossip', g: [{ k: 'alive', node: id, inc: 1, mv: 1, meta: new Uint8Array(300) }] },
      { t: 'push-pull', join: false, reply: true, states: [[id, 1, STATE_CODE.alive, 1]] }
    ]
    for (const m of messages) expect(messageBytes(m)).toBe(encode(m).byteLength)
  })

  it('replays exactly from its seed', () => {
    const opts: MembershipSimOptions = { ...churn(7, 0.05), windowMs: 20_000, settleMs: 0 }
    const a = simulateMembership(opts)
    const b = simulateMembership(opts)
    const summary = (r: MembershipSimResult): unknown => [r.events, r.traffic, r.crashes.map(c => [c.suspectMs, c.doneMs]), r.joins.map(j => j.doneMs), r.falseSuspicions]
    expect(summary(a)).toEqual(summary(b))
  })
})
