import { describe, expect, it } from 'vitest'
import { STATE_CODE, SwimCore, type Gossip, type MemberState, type StateEntry } from '../../../../src/membership/swim/index.js'
import { META, core, gossipIn, kinds, runUntil, sent } from './harness.js'

function gossip (g: Gossip): { t: 'gossip', g: Gossip[] } {
  return { t: 'gossip', g: [g] }
}

/** A core 'a' that knows b, c, d, with b brought to `state` at incarnation `inc`. */
function withB (state: MemberState, inc: number): ReturnType<typeof core> {
  const c = core({ members: ['b', 'c', 'd'] })
  if (state === 'alive') c.receive('c', gossip({ k: 'alive', node: 'b', inc, mv: 1 }), 0)
  else if (state === 'suspect') c.receive('c', gossip({ k: 'suspect', node: 'b', inc, from: 'c' }), 0)
  else c.receive('c', gossip({ k: 'dead', node: 'b', inc, from: state === 'left' ? 'b' : 'c' }), 0)
  c.drain()
  expect(c.member('b')).toMatchObject({ state, incarnation: inc })
  return c
}

describe('precedence (SWIM §4.2, memberlist aliveNode/suspectNode/deadNode)', () => {
  // [state held at incarnation 5, claim, claim incarnation, state after, event]
  const table: Array<[MemberState, Gossip['k'] | 'left', number, MemberState, string | null]> = [
    ['alive', 'alive', 5, 'alive', null],
    ['alive', 'alive', 6, 'alive', null],
    ['alive', 'suspect', 4, 'alive', null],
    ['alive', 'suspect', 5, 'suspect', 'suspect b@5'],
    ['alive', 'suspect', 6, 'suspect', 'suspect b@6'],
    ['alive', 'dead', 4, 'alive', null],
    ['alive', 'dead', 5, 'dead', 'dead b@5'],
    ['alive', 'left', 5, 'left', 'left b@5'],
    ['suspect', 'alive', 5, 'suspect', null],
    ['suspect', 'alive', 6, 'alive', 'alive b@6'],
    ['suspect', 'dead', 5, 'dead', 'dead b@5'],
    ['suspect', 'dead', 4, 'suspect', null],
    ['dead', 'alive', 5, 'dead', null],
    ['dead', 'alive', 6, 'alive', 'alive b@6'],
    ['dead', 'suspect', 6, 'dead', null],
    ['dead', 'dead', 6, 'dead', null],
    ['left', 'alive', 6, 'alive', 'alive b@6'],
    ['left', 'dead', 6, 'left', null]
  ]
  it.each(table)('%s@5, then %s@%i: %s (%s)', (held, claim, inc, after, event) => {
    const c = withB(held, 5)
    const g: Gossip = claim === 'alive' ? { k: 'alive', node: 'b', inc, mv: 1 }
      : claim === 'left' ? { k: 'dead', node: 'b', inc, from: 'b' }
        : { k: claim, node: 'b', inc, from: 'd' }
    c.receive('d', gossip(g), 10)
    const out = c.drain()
    expect(c.member('b')?.state).toBe(after)
    expect(kinds(out.events)).toEqual(event === null ? [] : [event])
  })

  it('gossips on what it accepts, and only that', () => {
    const c = withB('alive', 5)
    c.receive('d', gossip({ k: 'suspect', node: 'b', inc: 5, from: 'd' }), 10)
    c.receive('d', gossip({ k: 'alive', node: 'b', inc: 5, mv: 1 }), 10)
    // Before any probe of ours could fail (nobody answers here): only the accepted suspicion goes out.
    const { messages } = runUntil(c, 10, 150)
    const aboutB = gossipIn(messages).filter(g => g.node === 'b')
    expect(aboutB.length).toBeGreaterThan(0)
    expect(aboutB.every(g => g.k === 'suspect')).toBe(true)
  })

  it('ignores claims about members it does not know, except alive', () => {
    const c = core({ members: ['b'] })
    c.receive('b', gossip({ k: 'suspect', node: 'x', inc: 1, from: 'b' }), 0)
    c.receive('b', gossip({ k: 'dead', node: 'y', inc: 1, from: 'b' }), 0)
    expect(c.member('x')).toBeUndefined()
    expect(c.member('y')).toBeUndefined()
    c.receive('b', gossip({ k: 'alive', node: 'z', inc: 1, mv: 1, meta: META }), 0)
    expect(kinds(c.drain().events)).toEqual(['alive z@1'])
    expect(c.member('z')).toMatchObject({ state: 'alive', meta: META })
  })
})

describe('refutation (SWIM §4.2)', () => {
  it.each<[string, Gossip]>([
    ['suspected', { k: 'suspect', node: 'a', inc: 1, from: 'b' }],
    ['declared dead', { k: 'dead', node: 'a', inc: 1, from: 'b' }],
    ['declared alive by an older life', { k: 'alive', node: 'a', inc: 3, mv: 7 }]
  ])('a member %s about itself takes a higher incarnation and gossips alive', (_what, g) => {
    const c = core({ members: ['b', 'c'] })
    c.receive('b', gossip(g), 0)
    const inc = c.incarnation
    expect(inc).toBe(g.inc + 1)
    expect(c.healthScore).toBe(1)
    expect(c.stats.refutations).toBe(1)
    expect(c.drain().incarnation).toBe(inc)
    const { messages } = runUntil(c, 0, 1000)
    expect(gossipIn(messages)).toContainEqual({ k: 'alive', node: 'a', inc, mv: 1 })
    expect(c.member('a')?.state).toBe('alive')
  })

  it('ignores accusations at an incarnation it already left behind', () => {
    const c = core({ members: ['b'], incarnation: 4 })
    c.receive('b', gossip({ k: 'suspect', node: 'a', inc: 3, from: 'b' }), 0)
    c.receive('b', gossip({ k: 'alive', node: 'a', inc: 4, mv: 4 }), 0)
    expect(c.incarnation).toBe(4)
    expect(c.stats.refutations).toBe(0)
  })

  it('does not refute once it is leaving; its leave is gossiped as left', () => {
    const c = core({ members: ['b', 'c'] })
    c.leave(0)
    c.receive('b', gossip({ k: 'dead', node: 'a', inc: 1, from: 'b' }), 1)
    expect(c.stats.refutations).toBe(0)
    const { messages } = runUntil(c, 1, 5000)
    expect(gossipIn(messages)).toContainEqual({ k: 'dead', node: 'a', inc: 1, from: 'a' })
    expect(sent(messages, 'ping')).toEqual([])
    expect(c.leaveComplete).toBe(true)

    const b = core({ self: 'b', members: ['a', 'c'] })
    b.receive('a', gossip({ k: 'dead', node: 'a', inc: 1, from: 'a' }), 0)
    expect(kinds(b.drain().events)).toEqual(['left a@1'])
  })

  it('tells a member it holds dead that talks to it, so that it refutes', () => {
    const c = withB('dead', 5)
    c.receive('b', { t: 'ping', seq: 9, target: 'a' }, 10)
    const out = c.drain().messages
    expect(sent(out, 'gossip')).toEqual([{ to: 'b', message: { t: 'gossip', g: [{ k: 'dead', node: 'b', inc: 5, from: 'a' }] } }])
    expect(sent(out, 'ack')).toHaveLength(1)
  })

  it('answers no notice with a notice: two members that hold each other dead do not bounce them', () => {
    const c = withB('dead', 5)
    c.receive('b', { t: 'gossip', g: [{ k: 'dead', node: 'a', inc: 1, from: 'b' }] }, 10)
    expect(c.stats.refutations).toBe(1)
    // Only its refutation, straight to the accuser; no dead notice back.
    expect(sent(c.drain().messages, 'gossip')).toEqual([{ to: 'b', message: { t: 'gossip', g: [{ k: 'alive', node: 'a', inc: 2, mv: 1 }] } }])
  })

  it('answers an accuser that missed its refutation with its current alive, without refuting again', () => {
    const c = core({ members: ['b', 'c'], incarnation: 3 })
    c.receive('b', gossip({ k: 'dead', node: 'a', inc: 2, from: 'b' }), 0)
    c.receive('b', gossip({ k: 'suspect', node: 'a', inc: 1, from: 'c' }), 0)
    expect(c.stats.refutations).toBe(0)
    expect(c.incarnation).toBe(3)
    // The first is b's own claim (b holds a dead); the second only passed through b.
    expect(sent(c.drain().messages, 'gossip')).toEqual([{ to: 'b', message: { t: 'gossip', g: [{ k: 'alive', node: 'a', inc: 3, mv: 3 }] } }])
  })
})

describe('push-pull merge (memberlist mergeState)', () => {
  const entry = (node: string, inc: number, state: keyof typeof STATE_CODE, meta?: Uint8Array): StateEntry =>
    meta === undefined ? [node, inc, STATE_CODE[state], 1] : [node, inc, STATE_CODE[state], 1, meta]

  it('takes newer alives, left as left, and a remote dead only as its own suspicion', () => {
    const c = core({ members: ['b', 'c', 'd', 'e'] })
    c.receive('b', { t: 'push-pull', join: false, reply: false, states: [entry('c', 2, 'alive'), entry('d', 1, 'dead'), entry('e', 1, 'left'), entry('n', 1, 'alive', META)] }, 0)
    const out = c.drain()
    expect(c.member('c')).toMatchObject({ state: 'alive', incarnation: 2 })
    expect(c.member('d')?.state).toBe('suspect')
    expect(c.member('e')?.state).toBe('left')
    expect(c.member('n')).toMatchObject({ state: 'alive', meta: META })
    expect(kinds(out.events)).toEqual(['suspect d@1', 'left e@1', 'alive n@1'])
  })

  it('answers a request with its whole table, after merging it, metadata where the asker is behind', () => {
    const c = core({ members: ['b', 'c'] })
    c.receive('b', { t: 'push-pull', join: true, reply: false, states: [entry('b', 1, 'alive', META), entry('a', 1, 'dead'), entry('c', 1, 'alive')] }, 0)
    const [reply] = sent(c.drain().messages, 'push-pull')
    expect(reply?.to).toBe('b')
    expect(reply?.message.reply).toBe(true)
    const states = new Map(reply?.message.states.map(e => [e[0], e]))
    // The asker held us dead: we refuted before answering, so the answer already says alive at 2.
    expect(states.get('a')).toEqual(['a', 2, STATE_CODE.alive, 1, META])
    // The asker has c's metadata version 1 and b's own: no metadata for them.
    expect(states.get('c')).toEqual(['c', 1, STATE_CODE.alive, 1])
    expect(states.get('b')).toEqual(['b', 1, STATE_CODE.alive, 1])
  })

  it('merges a join answer without gossiping it on', () => {
    const c = core({ self: 'j' })
    c.join(['b'], 0)
    expect(sent(c.drain().messages, 'push-pull')).toHaveLength(1)
    c.receive('b', { t: 'push-pull', join: true, reply: true, states: [entry('b', 1, 'alive', META), entry('c', 1, 'alive', META)] }, 5)
    expect(kinds(c.drain().events)).toEqual(['alive b@1', 'alive c@1'])
    const { messages } = runUntil(c, 5, 3000)
    expect(gossipIn(messages).filter(g => g.k === 'alive' && g.node !== 'j')).toEqual([])
    expect(c.joining).toBe(false)
  })

  it('repeats an unanswered join every joinRetryMs', () => {
    const c = core({ self: 'j', config: { joinRetryMs: 500 } })
    c.join(['b', 'c'], 0)
    const { messages } = runUntil(c, 0, 1200)
    expect(sent(messages, 'push-pull').map(m => m.to)).toEqual(['b', 'c', 'b', 'c', 'b', 'c'])
  })
})

describe('metadata (a version counter; carried only when it changes)', () => {
  it('gossips new metadata with a new incarnation; a refutation carries none', () => {
    const c = core({ members: ['b', 'c'] })
    const meta = new Uint8Array([9])
    c.setMeta(meta, 0)
    expect([c.incarnation, c.metaVersion]).toEqual([2, 2])
    let { messages } = runUntil(c, 0, 1000)
    expect(gossipIn(messages)).toContainEqual({ k: 'alive', node: 'a', inc: 2, mv: 2, meta })
    c.receive('b', gossip({ k: 'suspect', node: 'a', inc: 2, from: 'b' }), 1000);
    ({ messages } = runUntil(c, 1000, 2000))
    expect(gossipIn(messages)).toContainEqual({ k: 'alive', node: 'a', inc: 3, mv: 2 })
  })

  it('asks the owner for metadata it heard of without receiving, and reports it when it comes', () => {
    const c = core({ members: ['b', 'c'], config: { metaRetryMs: 400 } })
    c.receive('c', gossip({ k: 'alive', node: 'b', inc: 2, mv: 2 }), 0)
    expect(c.member('b')).toMatchObject({ incarnation: 2, metaVersion: 2, meta: null })
    const { messages } = runUntil(c, 0, 500)
    expect(sent(messages, 'meta-req').map(m => m.to)).toEqual(['b', 'b'])
    const meta = new Uint8Array([7])
    c.receive('b', { t: 'meta', mv: 2, meta }, 600)
    expect(c.drain().events).toEqual([{ kind: 'meta', node: 'b', incarnation: 2, meta, atMs: 600 }])
    expect(c.member('b')?.meta).toBe(meta)
    expect(sent(runUntil(c, 600, 2000).messages, 'meta-req')).toEqual([])
  })

  it('versions metadata by incarnation, so that a restart’s metadata replaces the last life’s', () => {
    const c = core({ members: ['b', 'c'] })
    const old = new Uint8Array([5])
    c.receive('c', gossip({ k: 'alive', node: 'b', inc: 5, mv: 5, meta: old }), 0)
    const fresh = new Uint8Array([8])
    c.receive('b', gossip({ k: 'alive', node: 'b', inc: 8, mv: 8, meta: fresh }), 10)
    expect(c.member('b')).toMatchObject({ incarnation: 8, metaVersion: 8, meta: fresh })
    const restarted = core({ self: 'b', incarnation: 8 })
    expect(restarted.metaVersion).toBe(8)
  })

  it('answers a metadata request with its own, and its incarnation', () => {
    const c = core({ members: ['b'] })
    c.receive('b', { t: 'meta-req' }, 0)
    expect(sent(c.drain().messages, 'meta')).toEqual([{ to: 'b', message: { t: 'meta', mv: 1, meta: META, inc: 1 } }])
  })

  it('takes the incarnation in a metadata answer as its owner\'s alive', () => {
    const c = new SwimCore({ self: 'a', incarnation: 1, meta: META, nowMs: 0, random: () => 0.5, config: { pushPullIntervalMs: 0 }, members: [{ node: 'b' }] })
    c.receive('b', { t: 'meta', mv: 3, meta: new Uint8Array([9]), inc: 5 }, 0)
    expect(kinds(c.drain().events)).toEqual(['meta b@5'])
    expect(c.member('b')).toMatchObject({ state: 'alive', incarnation: 5, metaVersion: 3 })
  })
})

describe('news: what a node originates, for a driver\'s broadcast channel', () => {
  it('lists its own alive, refutation, suspicions and deaths once each, never what it passes on', () => {
    const c = core({ members: ['b', 'c'], config: { suspicionMult: 1 } })
    c.join(['b'], 0)
    expect(c.drain().news).toEqual([{ k: 'alive', node: 'a', inc: 1, mv: 1, meta: META }])
    c.receive('b', gossip({ k: 'suspect', node: 'a', inc: 1, from: 'b' }), 0)
    c.receive('b', gossip({ k: 'suspect', node: 'c', inc: 1, from: 'b' }), 0)
    expect(c.drain().news).toEqual([{ k: 'alive', node: 'a', inc: 2, mv: 1 }])
    // b's suspicion of c runs out here: the death is this node's own news.
    c.tick(10_000)
    expect(c.drain().news).toContainEqual({ k: 'dead', node: 'c', inc: 1, from: 'a' })
  })
})

describe('strangers and late joiners', () => {
  it('push-pulls with a member it hears from before hearing of it, at most once per joinRetryMs', () => {
    const c = core({ members: ['b'] })
    c.receive('x', { t: 'ping', seq: 1, target: 'a' }, 0)
    c.receive('x', { t: 'ping', seq: 2, target: 'a' }, 10)
    const out = c.drain().messages
    expect(sent(out, 'push-pull').map(m => m.to)).toEqual(['x'])
    expect(sent(out, 'ack')).toHaveLength(2)
    c.receive('x', { t: 'ping', seq: 3, target: 'a' }, 1000)
    expect(sent(c.drain().messages, 'push-pull').map(m => m.to)).toEqual(['x'])
    c.receive('b', { t: 'ping', seq: 4, target: 'a' }, 1000)
    expect(sent(c.drain().messages, 'push-pull')).toEqual([])
  })

  it('push-pulls once more soon after its join is answered: the seed\'s table was a snapshot', () => {
    const c = core({ config: { pushPullIntervalMs: 30_000 } })
    c.join(['s'], 0)
    c.drain()
    c.receive('s', { t: 'push-pull', join: true, reply: true, states: [['s', 1, STATE_CODE.alive, 1, META]] }, 10)
    const { messages } = runUntil(c, 10, 2_100, (o, now) => {
      if (o.message.t === 'ping') c.receive(o.to, { t: 'ack', seq: o.message.seq }, now)
    })
    expect(sent(messages, 'push-pull').filter(m => !m.message.join).map(m => m.to)).toEqual(['s'])
  })
})

describe('members known at start without their metadata', () => {
  it('asks each for its metadata two joinRetryMs after start, and reports it when it comes', () => {
    const c = new SwimCore({ self: 'a', incarnation: 1, meta: META, nowMs: 0, random: () => 0.5, config: { pushPullIntervalMs: 0 }, members: [{ node: 'b' }] })
    c.tick(1999)
    expect(sent(c.drain().messages, 'meta-req')).toEqual([])
    c.tick(2000)
    expect(sent(c.drain().messages, 'meta-req').map(m => m.to)).toEqual(['b'])
    c.receive('b', { t: 'meta', mv: 7, meta: new Uint8Array([9]) }, 10)
    const out = c.drain()
    expect(kinds(out.events)).toEqual(['meta b@0'])
    expect(c.member('b')).toMatchObject({ state: 'alive', metaVersion: 7, meta: new Uint8Array([9]) })
  })
})

describe('metadata answers', () => {
  it('takes newer metadata from its owner even when the incarnation in the answer is not news', () => {
    const c = core({ members: ['b'] })
    // b is known at incarnation 4 (a suspicion raised it), metadata version 1; its view changed since (version 3).
    c.receive('c', gossip({ k: 'suspect', node: 'b', inc: 4, from: 'c' }), 0)
    c.drain()
    c.receive('b', { t: 'meta', mv: 3, meta: new Uint8Array([7]), inc: 4 }, 10)
    expect(kinds(c.drain().events)).toEqual(['meta b@4'])
    expect(c.member('b')).toMatchObject({ metaVersion: 3, meta: new Uint8Array([7]) })
  })
})
