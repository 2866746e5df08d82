import { describe, expect, it } from 'vitest'
import { FailureDetector, type Liveness, type LivenessChange } from '../../../src/membership/failure-detector.js'

const SUSPECT = 1000
const DOWN = 3000

function detector (): FailureDetector {
  return new FailureDetector({ suspectAfterMs: SUSPECT, downAfterMs: DOWN })
}

describe('FailureDetector', () => {
  it('a first heartbeat makes a member ready', () => {
    const fd = detector()
    expect(fd.liveness('a')).toBe('unknown')
    expect(fd.heard('a', 0)).toEqual({ nodeId: 'a', from: 'unknown', to: 'ready' })
    expect(fd.liveness('a')).toBe('ready')
  })

  it('a further heartbeat of a ready member changes nothing', () => {
    const fd = detector()
    fd.heard('a', 0)
    expect(fd.heard('a', 10)).toBeNull()
  })

  // Heard at 0, then ticked at `atMs`: what the member is, and the changes that tick returns.
  it.each<[number, Liveness]>([
    [0, 'ready'],
    [SUSPECT - 1, 'ready'],
    [SUSPECT, 'suspect'],
    [DOWN - 1, 'suspect'],
    [DOWN, 'down'],
    [DOWN * 10, 'down']
  ])('heard at 0, ticked at %i ms: %s', (atMs, expected) => {
    const fd = detector()
    fd.heard('a', 0)
    const changes = fd.tick(atMs)
    expect(fd.liveness('a')).toBe(expected)
    expect(changes).toEqual(expected === 'ready' ? [] : [{ nodeId: 'a', from: 'ready', to: expected }])
  })

  it('walks ready → suspect → down, reporting each change once', () => {
    const fd = detector()
    fd.heard('a', 0)
    const steps: Array<[number, LivenessChange[]]> = [
      [SUSPECT - 1, []],
      [SUSPECT, [{ nodeId: 'a', from: 'ready', to: 'suspect' }]],
      [SUSPECT + 1, []],
      [DOWN - 1, []],
      [DOWN, [{ nodeId: 'a', from: 'suspect', to: 'down' }]],
      [DOWN + 1, []],
      [DOWN * 5, []]
    ]
    for (const [atMs, expected] of steps) expect(fd.tick(atMs), `tick at ${atMs}`).toEqual(expected)
  })

  it.each<[Liveness, number]>([['suspect', SUSPECT], ['down', DOWN]])('a heartbeat brings a %s member back to ready', (state, silentMs) => {
    const fd = detector()
    fd.heard('a', 0)
    fd.tick(silentMs)
    expect(fd.liveness('a')).toBe(state)
    expect(fd.heard('a', silentMs + 1)).toEqual({ nodeId: 'a', from: state, to: 'ready' })
    // The silence is measured from the new heartbeat.
    expect(fd.tick(silentMs + SUSPECT)).toEqual([])
    expect(fd.tick(silentMs + 1 + SUSPECT)).toEqual([{ nodeId: 'a', from: 'ready', to: 'suspect' }])
  })

  it('a late-arriving heartbeat with an older time does not move lastHeard back', () => {
    const fd = detector()
    fd.heard('a', 5000)
    fd.heard('a', 1000)
    expect(fd.tick(5000 + SUSPECT - 1)).toEqual([])
  })

  it('a tracked member never heard from goes down after downAfterMs, skipping suspect', () => {
    const fd = detector()
    fd.track('a', 100)
    expect(fd.liveness('a')).toBe('unknown')
    expect(fd.tick(100 + SUSPECT)).toEqual([])
    expect(fd.liveness('a')).toBe('unknown')
    expect(fd.tick(100 + DOWN - 1)).toEqual([])
    expect(fd.tick(100 + DOWN)).toEqual([{ nodeId: 'a', from: 'unknown', to: 'down' }])
    expect(fd.tick(100 + DOWN + 1)).toEqual([])
  })

  it('a tracked member that is heard becomes ready', () => {
    const fd = detector()
    fd.track('a', 0)
    expect(fd.heard('a', 10)).toEqual({ nodeId: 'a', from: 'unknown', to: 'ready' })
  })

  it('track() of a member already known changes nothing', () => {
    const fd = detector()
    fd.heard('a', 0)
    fd.track('a', 2000)
    expect(fd.liveness('a')).toBe('ready')
    expect(fd.tick(DOWN)).toEqual([{ nodeId: 'a', from: 'ready', to: 'down' }])
  })

  it('left() puts a ready member down at once', () => {
    const fd = detector()
    fd.heard('a', 0)
    expect(fd.left('a', 1)).toEqual({ nodeId: 'a', from: 'ready', to: 'down' })
    expect(fd.liveness('a')).toBe('down')
    expect(fd.left('a', 2)).toBeNull()
    expect(fd.tick(DOWN * 2)).toEqual([])
  })

  it('left() of an unknown member records it down', () => {
    const fd = detector()
    expect(fd.left('a', 0)).toEqual({ nodeId: 'a', from: 'unknown', to: 'down' })
    expect(fd.liveness('a')).toBe('down')
  })

  it('forget() drops a member', () => {
    const fd = detector()
    fd.heard('a', 0)
    fd.forget('a')
    expect(fd.liveness('a')).toBe('unknown')
    expect(fd.tick(DOWN)).toEqual([])
  })

  it('tick reports members in insertion order, each change once', () => {
    const fd = detector()
    fd.heard('b', 0)
    fd.heard('a', 0)
    fd.heard('c', 500)
    expect(fd.tick(SUSPECT)).toEqual([
      { nodeId: 'b', from: 'ready', to: 'suspect' },
      { nodeId: 'a', from: 'ready', to: 'suspect' }
    ])
    expect(fd.tick(SUSPECT)).toEqual([])
    expect(fd.tick(500 + SUSPECT)).toEqual([{ nodeId: 'c', from: 'ready', to: 'suspect' }])
    expect(fd.tick(DOWN)).toEqual([
      { nodeId: 'b', from: 'suspect', to: 'down' },
      { nodeId: 'a', from: 'suspect', to: 'down' }
    ])
    expect(fd.tick(DOWN)).toEqual([])
  })

  it.each([
    ['suspect 0', { suspectAfterMs: 0, downAfterMs: 10 }],
    ['suspect negative', { suspectAfterMs: -1, downAfterMs: 10 }],
    ['down equal to suspect', { suspectAfterMs: 10, downAfterMs: 10 }],
    ['down below suspect', { suspectAfterMs: 10, downAfterMs: 5 }],
    ['NaN suspect', { suspectAfterMs: Number.NaN, downAfterMs: 10 }],
    ['NaN down', { suspectAfterMs: 10, downAfterMs: Number.NaN }]
  ])('the constructor refuses %s', (_name, config) => {
    expect(() => new FailureDetector(config)).toThrow(RangeError)
  })
})
