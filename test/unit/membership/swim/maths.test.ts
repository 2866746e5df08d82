import { describe, expect, it } from 'vitest'
import {
  expectedConfirmations, pushPullIntervalMs, resolveSwimConfig, retransmitLimit, suspicionBoundsMs, suspicionTimeoutMs
} from '../../../../src/membership/swim/config.js'
import { Awareness } from '../../../../src/membership/swim/awareness.js'
import { Suspicion } from '../../../../src/membership/swim/suspicion.js'
import { FlotillaError } from '../../../../src/membership/errors.js'

describe('suspicion timeout (Lifeguard LHA-Suspicion, memberlist suspicion.go)', () => {
  // memberlist's TestSuspicion_remainingSuspicionTime: n confirmations of k=3, min 2 s, max 30 s. Its
  // table gives the time remaining after `elapsed`; ours is the total from the suspicion's start.
  it.each<[number, number, number]>([
    [0, 0, 30_000 - 0],
    [1, 2_000, 14_000],
    [2, 3_000, 4_810],
    [3, 4_000, -2_000],
    [4, 5_000, -3_000],
    [5, 10_000, -8_000]
  ])('%i confirmations, %i ms elapsed: %i ms remain', (n, elapsedMs, remainingMs) => {
    expect(suspicionTimeoutMs(n, 3, 2_000, 30_000) - elapsedMs).toBe(remainingMs)
  })

  it('is the floor at once when no confirmations are expected', () => {
    expect(suspicionTimeoutMs(0, 0, 2_000, 30_000)).toBe(2_000)
  })

  // memberlist's TestSuspicionTimeout: suspicionTimeout(3, n, 1 s) / 3.
  it.each<[number, number]>([[5, 1000], [10, 1000], [50, 1698], [100, 2000], [500, 2698], [1000, 3000]])('floor at %i members: 3 × %i ms', (n, ms) => {
    const cfg = resolveSwimConfig({ probeIntervalMs: 1000, probeTimeoutMs: 400, suspicionMult: 3, suspicionMaxMult: 6 })
    const { minMs, maxMs } = suspicionBoundsMs(cfg, n)
    expect(Math.floor(minMs / 3)).toBe(ms)
    expect(maxMs).toBe(minMs * 6)
  })

  it('expects suspicionConfirmations confirmations, none when too few others could give them', () => {
    const cfg = resolveSwimConfig({ suspicionMult: 4 })
    expect(cfg.suspicionConfirmations).toBe(2)
    expect(expectedConfirmations(cfg, 100)).toBe(2)
    expect(expectedConfirmations(cfg, 4)).toBe(2)
    expect(expectedConfirmations(cfg, 3)).toBe(0)
  })
})

describe('Suspicion', () => {
  it('starts at the ceiling and drops to the floor with k independent confirmations', () => {
    const s = new Suspicion('b', 1000, 3, 2_000, 30_000)
    expect(s.deadlineMs).toBe(31_000)
    expect(s.confirm('c')).toBe(true)
    expect(s.deadlineMs).toBe(1000 + 16_000)
    expect(s.confirm('d')).toBe(true)
    expect(s.deadlineMs).toBe(1000 + 7_810)
    expect(s.confirm('e')).toBe(true)
    expect(s.deadlineMs).toBe(1000 + 2_000)
    expect(s.confirmed).toBe(3)
  })

  it('counts each accuser once, never the first one, and nothing beyond k', () => {
    const s = new Suspicion('b', 0, 2, 1_000, 6_000)
    expect(s.confirm('b')).toBe(false)
    expect(s.confirm('c')).toBe(true)
    expect(s.confirm('c')).toBe(false)
    expect(s.confirm('d')).toBe(true)
    expect(s.confirm('e')).toBe(false)
    expect(s.confirmed).toBe(2)
    expect(s.deadlineMs).toBe(1_000)
  })

  it('with k = 0 runs on the floor', () => {
    expect(new Suspicion('b', 500, 0, 1_000, 6_000).deadlineMs).toBe(1_500)
  })
})

describe('Awareness (Lifeguard LHM, memberlist awareness_test)', () => {
  it('saturates in [0, max - 1] and scales timeouts by score + 1', () => {
    const a = new Awareness(8)
    const steps: Array<[number, number, number]> = [
      [0, 0, 1000], [-1, 0, 1000], [-10, 0, 1000], [1, 1, 2000], [-1, 0, 1000], [10, 7, 8000], [-1, 6, 7000], [-1, 5, 6000],
      [-1, 4, 5000], [-1, 3, 4000], [-1, 2, 3000], [-1, 1, 2000], [-1, 0, 1000], [-1, 0, 1000]
    ]
    for (const [delta, score, scaled] of steps) {
      a.apply(delta)
      expect([a.score, a.scale(1000)]).toEqual([score, scaled])
    }
  })

  it('with max 1 stays at 0 (LHA-Probe off)', () => {
    const a = new Awareness(1)
    a.apply(5)
    expect(a.scale(200)).toBe(200)
  })
})

describe('retransmit limit and push-pull scale (memberlist util_test)', () => {
  it.each<[number, number, number]>([[3, 0, 0], [3, 1, 3], [3, 99, 6], [4, 100, 12], [4, 1000, 16], [4, 5000, 16]])('mult %i, %i members: %i sends', (mult, n, limit) => {
    expect(retransmitLimit(mult, n)).toBe(limit)
  })

  it('stretches push-pull ×1 up to 32 members, ×2 up to 64, ×3 up to 128', () => {
    for (let n = 0; n <= 32; n++) expect(pushPullIntervalMs(1000, n)).toBe(1000)
    for (let n = 33; n <= 64; n++) expect(pushPullIntervalMs(1000, n)).toBe(2000)
    for (let n = 65; n <= 128; n++) expect(pushPullIntervalMs(1000, n)).toBe(3000)
    expect(pushPullIntervalMs(30_000, 5000)).toBe(9 * 30_000)
  })
})

describe('resolveSwimConfig', () => {
  it('fills defaults and freezes', () => {
    const cfg = resolveSwimConfig()
    expect(cfg.probeIntervalMs).toBe(200)
    expect(cfg.suspicionConfirmations).toBe(cfg.suspicionMult - 2)
    expect(Object.isFrozen(cfg)).toBe(true)
  })

  it.each<[string, Record<string, unknown>]>([
    ['probeTimeoutMs', { probeIntervalMs: 200, probeTimeoutMs: 100 }],
    ['probeIntervalMs', { probeIntervalMs: 0 }],
    ['awarenessMax', { awarenessMax: 0 }],
    ['suspicionMaxMult', { suspicionMaxMult: 0.5 }],
    ['maxPiggybackBytes', { maxPiggybackBytes: 10 }]
  ])('refuses a bad %s', (field, init) => {
    expect(() => resolveSwimConfig(init)).toThrow(FlotillaError)
    expect(() => resolveSwimConfig(init)).toThrow(field)
  })
})
