import { describe, expect, it } from 'vitest'
import { retransmitLimit, suspicionBoundsMs, type SwimCore } from '../../../../src/membership/swim/index.js'
import { core, gossipIn, kinds, runUntil, sent } from './harness.js'

const PERIOD = 200
const TIMEOUT = 80

/** Run until the first ping goes out; returns its target, seq and time. */
function firstPing (c: SwimCore): { target: string, seq: number, atMs: number } {
  let found: { target: string, seq: number, atMs: number } | null = null
  runUntil(c, 0, PERIOD, (o, now) => {
    if (found === null && o.message.t === 'ping') found = { target: o.to, seq: o.message.seq, atMs: now }
  })
  if (found === null) throw new Error('no ping in the first period')
  return found
}

describe('probe (SWIM §3.1; Lifeguard LHA-Probe)', () => {
  it('an ack within the timeout ends the probe: no indirect probe, no suspicion, health improves', () => {
    const c = core({ members: ['b', 'c', 'd', 'e'] })
    c.adjustHealth(2)
    const p = firstPing(c)
    c.receive(p.target, { t: 'ack', seq: p.seq }, p.atMs + 5)
    expect(c.healthScore).toBe(1)
    const { messages, events } = runUntil(c, p.atMs + 5, p.atMs + 2 * PERIOD - 1)
    expect(sent(messages, 'ping-req')).toEqual([])
    expect(events).toEqual([])
  })

  it('without an ack: k ping-reqs and a second direct ping at the timeout, suspicion at the end of the period', () => {
    const c = core({ members: ['b', 'c', 'd', 'e'] })
    const p = firstPing(c)
    const before = runUntil(c, p.atMs, p.atMs + TIMEOUT - 1)
    expect(before.messages).toEqual([])
    const indirect = runUntil(c, p.atMs + TIMEOUT - 1, p.atMs + TIMEOUT).messages
    const reqs = sent(indirect, 'ping-req')
    expect(reqs.map(r => r.message)).toEqual(Array(3).fill({ t: 'ping-req', seq: p.seq, target: p.target, nack: true }))
    expect(new Set(reqs.map(r => r.to)).size).toBe(3)
    expect(reqs.map(r => r.to)).not.toContain(p.target)
    expect(sent(indirect, 'ping')).toEqual([{ to: p.target, message: { t: 'ping', seq: p.seq, target: p.target } }])
    for (const r of reqs) c.receive(r.to, { t: 'nack', seq: p.seq }, p.atMs + TIMEOUT + 50)
    const end = runUntil(c, p.atMs + TIMEOUT + 50, p.atMs + PERIOD)
    expect(kinds(end.events)).toEqual([`suspect ${p.target}@1`])
    expect(end.events[0]).toMatchObject({ from: 'a' })
    expect(c.stats.suspicionsRaised).toBe(1)
    // Lifeguard's buddy system, eager: the suspect hears of it at once.
    expect(sent(end.messages, 'gossip')).toContainEqual(
      { to: p.target, message: { t: 'gossip', g: [{ k: 'suspect', node: p.target, inc: 1, from: 'a' }] } }
    )
    // Every helper nacked: the fault is not ours.
    expect(c.healthScore).toBe(0)
  })

  it('an ack forwarded by a helper is as good as a direct one', () => {
    const c = core({ members: ['b', 'c', 'd', 'e'] })
    const p = firstPing(c)
    const reqs = sent(runUntil(c, p.atMs, p.atMs + TIMEOUT).messages, 'ping-req')
    c.receive(reqs[0]!.to, { t: 'ack', seq: p.seq }, p.atMs + TIMEOUT + 10)
    expect(runUntil(c, p.atMs + TIMEOUT + 10, p.atMs + PERIOD).events).toEqual([])
  })

  it('missed nacks raise the health score, which stretches the probe period and timeout', () => {
    const c = core({ members: ['b', 'c', 'd', 'e'] })
    const p = firstPing(c)
    const reqs = sent(runUntil(c, p.atMs, p.atMs + TIMEOUT).messages, 'ping-req')
    c.receive(reqs[0]!.to, { t: 'nack', seq: p.seq }, p.atMs + TIMEOUT + 10)
    runUntil(c, p.atMs + TIMEOUT + 10, p.atMs + PERIOD - 1)
    c.tick(p.atMs + PERIOD)
    c.drain()
    // The period ended at atMs + PERIOD with score 2: the next probe waits 3 timeouts and lasts 3 periods.
    expect(c.healthScore).toBe(2)
    const start = p.atMs + PERIOD
    const pings: number[] = []
    const reqTimes: number[] = []
    runUntil(c, start, start + 4 * PERIOD, (o, now) => {
      if (o.message.t === 'ping' && !pings.includes(now)) pings.push(now)
      if (o.message.t === 'ping-req' && !reqTimes.includes(now)) reqTimes.push(now)
    })
    expect(reqTimes[0]).toBe(start + 3 * TIMEOUT)
    expect(pings).toEqual([start + 3 * TIMEOUT, start + 3 * PERIOD])
  })

  it('with nobody to ask, a failed probe counts against our own health once', () => {
    const c = core({ members: ['b'] })
    const p = firstPing(c)
    expect(sent(runUntil(c, p.atMs, p.atMs + PERIOD).messages, 'ping-req')).toEqual([])
    expect(c.healthScore).toBe(1)
  })

  it('a target the driver cannot reach goes indirect at once', () => {
    const c = core({ members: ['b', 'c', 'd', 'e'] })
    const p = firstPing(c)
    c.unreachable(p.target, p.atMs + 1)
    expect(sent(c.drain().messages, 'ping-req')).toHaveLength(3)
  })

  it('a ping for another node (a reused address) is not answered', () => {
    const c = core({ members: ['b'] })
    c.receive('b', { t: 'ping', seq: 1, target: 'zz' }, 0)
    expect(sent(c.drain().messages, 'ack')).toEqual([])
    expect(c.stats.dropped).toBe(1)
  })

  it('probing a suspect carries the suspicion (Lifeguard buddy system)', () => {
    const c = core({ members: ['b'] })
    c.receive('b', { t: 'gossip', g: [] }, 0)
    c.receive('x', { t: 'gossip', g: [{ k: 'suspect', node: 'b', inc: 1, from: 'x' }] }, 0)
    c.drain()
    const pings = sent(runUntil(c, 0, PERIOD).messages, 'ping')
    expect(pings[0]?.message.g?.[0]).toEqual({ k: 'suspect', node: 'b', inc: 1, from: 'a' })
  })
})

describe('indirect probe on behalf of another (SWIM §3.1)', () => {
  it('pings the target with its own sequence number and forwards the ack with the asker’s', () => {
    const c = core({ members: ['b', 'c'] })
    c.receive('b', { t: 'ping-req', seq: 42, target: 'c', nack: true }, 0)
    const [ping] = sent(c.drain().messages, 'ping')
    expect(ping?.to).toBe('c')
    c.receive('c', { t: 'ack', seq: ping!.message.seq }, 5)
    expect(sent(c.drain().messages, 'ack')).toEqual([{ to: 'b', message: { t: 'ack', seq: 42 } }])
    expect(sent(runUntil(c, 5, 500).messages, 'nack')).toEqual([])
  })

  it('nacks after its probe timeout when the target stays silent', () => {
    const c = core({ members: ['b', 'c'] })
    c.receive('b', { t: 'ping-req', seq: 42, target: 'c', nack: true }, 0)
    c.drain()
    const nacks: Array<[number, unknown]> = []
    runUntil(c, 0, 150, (o, now) => { if (o.message.t === 'nack') nacks.push([now, o]) })
    expect(nacks).toEqual([[TIMEOUT, { to: 'b', message: { t: 'nack', seq: 42 } }]])
  })
})

describe('suspicion to death (Lifeguard LHA-Suspicion)', () => {
  const members = Array.from({ length: 9 }, (_, i) => `m${i}`)

  it('declares a silent suspect dead at the ceiling without confirmations, at the floor with k', () => {
    for (const confirmations of [0, 1]) {
      // A probe period long enough that our own probes stay out of the way.
      const c = core({ members, config: { probeIntervalMs: 100_000, probeTimeoutMs: 40_000, suspicionMult: 0.01, suspicionConfirmations: 1 } })
      const { minMs, maxMs } = suspicionBoundsMs(c.config, 10)
      expect([minMs, maxMs]).toEqual([1000, 6000])
      c.receive('m1', { t: 'gossip', g: [{ k: 'suspect', node: 'm0', inc: 1, from: 'm1' }] }, 0)
      if (confirmations > 0) c.receive('m2', { t: 'gossip', g: [{ k: 'suspect', node: 'm0', inc: 1, from: 'm2' }] }, 0)
      c.drain()
      const deadAt: number[] = []
      let now = 0
      while (now < maxMs + 1000) {
        now = Math.min(c.nextDeadlineMs(), maxMs + 1000)
        c.tick(now)
        for (const e of c.drain().events) if (e.kind === 'dead') deadAt.push(e.atMs)
      }
      expect(deadAt).toEqual([confirmations === 0 ? maxMs : minMs])
      expect(c.member('m0')).toMatchObject({ state: 'dead' })
      expect(c.stats.deathsDeclared).toBe(1)
    }
  })

  it('a node that is itself unhealthy when a suspicion starts waits (score + 1) times as long before it declares the suspect dead', () => {
    const c = core({ members, config: { probeIntervalMs: 100_000, probeTimeoutMs: 40_000, suspicionMult: 0.01, suspicionConfirmations: 0 } })
    const { minMs } = suspicionBoundsMs(c.config, 10)
    c.adjustHealth(2)
    c.receive('m1', { t: 'gossip', g: [{ k: 'suspect', node: 'm0', inc: 1, from: 'm1' }] }, 0)
    c.drain()
    // Healthier meanwhile: the stretch is the one at the start.
    c.adjustHealth(-2)
    c.tick(minMs)
    c.tick(3 * minMs - 1)
    expect(c.member('m0')?.state).toBe('suspect')
    c.tick(3 * minMs)
    expect(c.member('m0')?.state).toBe('dead')
  })

  it('tells the member a death it declares; a member alive after all answers, and is taken back', () => {
    const c = core({ members, config: { probeIntervalMs: 100_000, probeTimeoutMs: 40_000, suspicionMult: 0.01, suspicionConfirmations: 0 } })
    c.receive('m1', { t: 'gossip', g: [{ k: 'suspect', node: 'm0', inc: 1, from: 'm1' }] }, 0)
    c.drain()
    c.tick(10_000)
    const out = c.drain()
    expect(kinds(out.events)).toEqual(['dead m0@1'])
    expect(sent(out.messages, 'gossip')).toContainEqual({ to: 'm0', message: { t: 'gossip', g: [{ k: 'dead', node: 'm0', inc: 1, from: 'a' }] } })
    // m0 had refuted (incarnation 2) before we heard: it answers our notice with that alive.
    const m0 = core({ self: 'm0', members: ['a', 'm1'], incarnation: 2 })
    m0.receive('a', { t: 'gossip', g: [{ k: 'dead', node: 'm0', inc: 1, from: 'a' }] }, 10_000)
    const answer = sent(m0.drain().messages, 'gossip')
    expect(answer).toEqual([{ to: 'a', message: { t: 'gossip', g: [{ k: 'alive', node: 'm0', inc: 2, mv: 2 }] } }])
    c.receive('m0', answer[0]!.message, 10_001)
    expect(c.member('m0')).toMatchObject({ state: 'alive', incarnation: 2 })
  })

  it('a refutation before the timeout keeps the member alive', () => {
    const c = core({ members, config: { probeIntervalMs: 100_000, probeTimeoutMs: 40_000 } })
    c.receive('m1', { t: 'gossip', g: [{ k: 'suspect', node: 'm0', inc: 1, from: 'm1' }] }, 0)
    c.receive('m0', { t: 'gossip', g: [{ k: 'alive', node: 'm0', inc: 2, mv: 1 }] }, 100)
    const { events } = runUntil(c, 100, 60_000)
    expect(kinds(events.filter(e => e.node === 'm0'))).toEqual(['suspect m0@1', 'alive m0@2'])
    expect(c.member('m0')).toMatchObject({ state: 'alive', incarnation: 2 })
  })
})

describe('dissemination (SWIM §4.1; memberlist gossip and TransmitLimitedQueue)', () => {
  it('sends each broadcast retransmitMult · ceil(log10(N + 1)) times, piggybacked or in gossip messages', () => {
    const members = Array.from({ length: 20 }, (_, i) => `m${i}`)
    const c = core({ members })
    c.receive('m0', { t: 'gossip', g: [{ k: 'alive', node: 'm1', inc: 2, mv: 1 }] }, 0)
    // Answer every ping so that no suspicion of ours adds gossip.
    const { messages } = runUntil(c, 0, 10_000, (o, now) => {
      if (o.message.t === 'ping') c.receive(o.to, { t: 'ack', seq: o.message.seq }, now)
    })
    const sends = gossipIn(messages).filter(g => g.node === 'm1').length
    expect(sends).toBe(retransmitLimit(4, 21))
    const gossipMsgs = sent(messages, 'gossip')
    expect(gossipMsgs.length).toBeGreaterThan(0)
    expect(c.pendingBroadcasts).toBe(0)
  })

  it('sends no gossip message while there is nothing to gossip', () => {
    const c = core({ members: ['b', 'c', 'd'] })
    const { messages } = runUntil(c, 0, 5_000, (o, now) => {
      if (o.message.t === 'ping') c.receive(o.to, { t: 'ack', seq: o.message.seq }, now)
    })
    expect(sent(messages, 'gossip')).toEqual([])
    expect(new Set(messages.map(m => m.message.t))).toEqual(new Set(['ping']))
  })

  it('push-pulls with a random alive member every (scaled) interval, and with a dead one now and then', () => {
    const c = core({ members: ['b', 'c', 'd'], config: { pushPullIntervalMs: 1000 } })
    c.receive('b', { t: 'gossip', g: [{ k: 'dead', node: 'd', inc: 1, from: 'b' }] }, 0)
    const { messages } = runUntil(c, 0, 20_000, (o, now) => {
      if (o.message.t === 'ping') c.receive(o.to, { t: 'ack', seq: o.message.seq }, now)
    })
    const pp = sent(messages, 'push-pull')
    expect(pp.length).toBeGreaterThanOrEqual(19)
    expect(pp.every(m => !m.message.reply && !m.message.join)).toBe(true)
    // Reconnect (Serf): with 1 dead of 3 alive, about a third of the rounds also try the dead one.
    const toDead = pp.filter(m => m.to === 'd').length
    expect(toDead).toBeGreaterThan(2)
    expect(toDead).toBeLessThan(pp.length / 2)
  })
})
