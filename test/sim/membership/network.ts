import { encode } from '../../../src/membership/codec.js'
import type { Gossip, SwimMessage } from '../../../src/membership/swim/index.js'

/** One-way message delay and loss, per message. */
export interface NetworkModel {
  /** Probability that any one message is lost. */
  readonly lossRate: number
  readonly minDelayMs: number
  /** Mean of the exponential part of the delay. */
  readonly meanDelayMs: number
  /** Share of messages delayed by a further uniform [0, tailMs] (queueing, retransmission). */
  readonly tailRate: number
  readonly tailMs: number
}

/** A LAN: sub-millisecond typical delay, 1 % of messages up to 40 ms late. */
export const LAN: NetworkModel = Object.freeze({ lossRate: 0, minDelayMs: 0.2, meanDelayMs: 0.5, tailRate: 0.01, tailMs: 40 })

/**
 * msgpack sizes through src/membership/codec.ts `encode`. A gossip item is one object shared by
 * every node that passes it on, so its size is computed once; a message's size is its size without the
 * gossip plus the gossip array's (msgpack concatenates: the key, an array header, the items).
 */
const gossipSizes = new WeakMap<Gossip, number>()

export function gossipBytes (g: Gossip): number {
  let n = gossipSizes.get(g)
  if (n === undefined) {
    n = encode(g).byteLength
    gossipSizes.set(g, n)
  }
  return n
}

export function messageBytes (msg: SwimMessage): number {
  if (!('g' in msg) || msg.g === undefined) return encode(msg).byteLength
  const { g, ...base } = msg
  let n = encode(base).byteLength + 2 + (g.length < 16 ? 1 : g.length < 65536 ? 3 : 5)
  for (const item of g) n += gossipBytes(item)
  return n
}
