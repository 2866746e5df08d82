import { describe, expect, it } from 'vitest'
import { encode } from '../../../../src/membership/codec.js'
import { FlotillaError } from '../../../../src/membership/errors.js'
import { STATE_CODE, decodeSwimMessage, encodeSwimMessage, type SwimMessage } from '../../../../src/membership/swim/index.js'

const ID = 'abcdefghijklmnopqrstuvwxy'

describe('SWIM wire format', () => {
  const messages: SwimMessage[] = [
    { t: 'ping', seq: 1, target: ID },
    { t: 'ping', seq: 2, target: ID, g: [{ k: 'alive', node: ID, inc: 3, mv: 1, meta: new Uint8Array([1, 2]) }, { k: 'suspect', node: ID, inc: 3, from: 'x' }] },
    { t: 'ack', seq: 3 },
    { t: 'ping-req', seq: 4, target: ID, nack: true, g: [{ k: 'dead', node: ID, inc: 9, from: ID }] },
    { t: 'nack', seq: 5 },
    { t: 'gossip', g: [{ k: 'alive', node: ID, inc: 0, mv: 0 }] },
    { t: 'push-pull', join: true, reply: false, states: [[ID, 1, STATE_CODE.alive, 1, new Uint8Array([7])], ['b', 2, STATE_CODE.left, 1]] },
    { t: 'gossip', g: [{ k: 'alive', node: ID, inc: 2, mv: 1, proof: new Uint8Array(64) }] },
    { t: 'push-pull', join: false, reply: true, states: [[ID, 1, STATE_CODE.alive, 1, null, new Uint8Array(64)], [ID, 1, STATE_CODE.alive, 1, new Uint8Array([7]), new Uint8Array(64)]] },
    { t: 'meta-req' },
    { t: 'meta', mv: 2, meta: new Uint8Array([3]) },
    { t: 'meta', mv: 2, meta: new Uint8Array([3]), inc: 4, proof: new Uint8Array(64) }
  ]

  it.each(messages.map(m => [m.t, m]))('round-trips %s', (_t, m) => {
    const bytes = encodeSwimMessage(m)
    const back = decodeSwimMessage(bytes)
    // Bytes come back as Buffers (a Uint8Array subclass): compare encodings.
    expect(back.t).toBe(m.t)
    expect(Buffer.from(encodeSwimMessage(back))).toEqual(Buffer.from(bytes))
  })

  it.each<[string, unknown]>([
    ['an unknown type', { t: 'hello' }],
    ['a negative sequence number', { t: 'ack', seq: -1 }],
    ['a ping without target', { t: 'ping', seq: 1 }],
    ['gossip of an unknown kind', { t: 'gossip', g: [{ k: 'zombie', node: ID, inc: 1 }] }],
    ['an empty node ID', { t: 'gossip', g: [{ k: 'alive', node: '', inc: 1, mv: 1 }] }],
    ['metadata that is not bytes', { t: 'meta', mv: 1, meta: 'x' }],
    ['oversized metadata', { t: 'meta', mv: 1, meta: new Uint8Array(17 * 1024) }],
    ['a push-pull entry with a bad state', { t: 'push-pull', join: false, reply: false, states: [[ID, 1, 9, 1]] }],
    ['a push-pull entry of the wrong length', { t: 'push-pull', join: false, reply: false, states: [[ID, 1]] }],
    ['an oversized proof', { t: 'gossip', g: [{ k: 'alive', node: ID, inc: 1, mv: 1, proof: new Uint8Array(300) }] }],
    ['a push-pull proof that is not bytes', { t: 'push-pull', join: false, reply: false, states: [[ID, 1, STATE_CODE.alive, 1, null, 'sig']] }],
    ['not a record', [1, 2, 3]]
  ])('refuses %s', (_what, v) => {
    expect(() => decodeSwimMessage(encode(v))).toThrow(FlotillaError)
  })
})
