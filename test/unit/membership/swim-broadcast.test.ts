import { describe, expect, it } from 'vitest'
import { encode } from '../../../src/membership/codec.js'
import { ReplayWindow, decodeBroadcast, encodeBroadcast, type BroadcastEnvelope } from '../../../src/membership/swim-broadcast.js'

const ID = 'abcdefghijklmnopqrstuvwxy'

describe('broadcast envelope', () => {
  const env: BroadcastEnvelope = { v: 1, cert: new Uint8Array([1, 2]), epoch: 4, seq: 9, g: [{ k: 'suspect', node: ID, inc: 2, from: ID }] }

  it('round-trips', () => {
    const back = decodeBroadcast(encodeBroadcast(env))
    expect({ ...back, cert: [...back.cert] }).toEqual({ ...env, cert: [1, 2] })
  })

  it.each<[string, unknown]>([
    ['another version', { ...env, v: 2 }],
    ['no certificate', { ...env, cert: 'x' }],
    ['a negative seq', { ...env, seq: -1 }],
    ['gossip that is not SWIM gossip', { ...env, g: [{ k: 'zombie', node: ID, inc: 1 }] }],
    ['no gossip list', { ...env, g: 3 }]
  ])('refuses %s', (_what, v) => {
    expect(() => decodeBroadcast(encode(v))).toThrow(/malformed/)
  })
})

describe('ReplayWindow', () => {
  it('hears each (epoch, seq) once, even out of order within the window', () => {
    const w = new ReplayWindow()
    expect(w.accept('a', 1, 5)).toBe(true)
    expect(w.accept('a', 1, 5)).toBe(false)
    expect(w.accept('a', 1, 3)).toBe(true)
    expect(w.accept('a', 1, 3)).toBe(false)
    expect(w.accept('a', 1, 4)).toBe(true)
    expect(w.accept('a', 1, 40)).toBe(true)
    expect(w.accept('a', 1, 9)).toBe(true)
    expect(w.accept('a', 1, 8)).toBe(false) // 32 behind the highest: too old to tell from a replay
    expect(w.accept('b', 1, 5)).toBe(true)
  })

  it('refuses an earlier epoch (a replay from before a restart) and resets on a later one', () => {
    const w = new ReplayWindow()
    expect(w.accept('a', 3, 100)).toBe(true)
    expect(w.accept('a', 2, 500)).toBe(false)
    expect(w.accept('a', 4, 1)).toBe(true)
    expect(w.accept('a', 3, 101)).toBe(false)
    w.forget('a')
    expect(w.accept('a', 3, 101)).toBe(true)
  })
})
