import { decode, encode, isBytes, isRecord, isSafeUint } from '../codec.js'
import { FlotillaError } from '../errors.js'
import { STATE_CODE, type Gossip, type StateEntry, type SwimMessage } from './types.js'

/** Caps on what a peer may send: a frame, one member's metadata, the gossip in one message, a push-pull table. */
export const MAX_SWIM_FRAME_BYTES = 8 * 1024 * 1024
export const MAX_META_BYTES = 16 * 1024
/** Cap on an alive claim's proof (opaque to the core; an Ed25519 signature in the agent). */
export const MAX_PROOF_BYTES = 256
const MAX_GOSSIP_ITEMS = 256
const MAX_STATES = 100_000
const MAX_ID = 256

/** One SWIM message as a msgpack frame (see ../codec.ts). */
export function encodeSwimMessage (msg: SwimMessage): Uint8Array {
  return encode(msg)
}

function isId (v: unknown): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= MAX_ID
}

function isMeta (v: unknown): v is Uint8Array {
  return isBytes(v) && v.byteLength <= MAX_META_BYTES
}

function isProof (v: unknown): v is Uint8Array {
  return isBytes(v) && v.byteLength <= MAX_PROOF_BYTES
}

function isGossip (v: unknown): v is Gossip {
  if (!isRecord(v) || !isId(v.node) || !isSafeUint(v.inc)) return false
  switch (v.k) {
    case 'alive': return isSafeUint(v.mv) && (v.meta === undefined || isMeta(v.meta)) && (v.proof === undefined || isProof(v.proof))
    case 'suspect':
    case 'dead': return isId(v.from)
    default: return false
  }
}

function isGossipList (v: unknown): v is Gossip[] {
  return Array.isArray(v) && v.length <= MAX_GOSSIP_ITEMS && v.every(isGossip)
}

const CODES: ReadonlySet<unknown> = new Set(Object.values(STATE_CODE))

function isStateEntry (v: unknown): v is StateEntry {
  return Array.isArray(v) && v.length >= 4 && v.length <= 6 && isId(v[0]) && isSafeUint(v[1]) && CODES.has(v[2]) &&
    isSafeUint(v[3]) && (v.length < 5 || v[4] === null || isMeta(v[4])) && (v.length < 6 || isProof(v[5]))
}

function hasOptionalGossip (v: Record<string, unknown>): boolean {
  return v.g === undefined || isGossipList(v.g)
}

/**
 * Decode and check one SWIM message from a peer, field by field; throws `invalid-argument` (or
 * `too-large`) for anything else, and the driver drops the frame.
 */
export function decodeSwimMessage (bytes: Uint8Array): SwimMessage {
  return checkSwimMessage(decode(bytes, MAX_SWIM_FRAME_BYTES))
}

/** Check an already decoded frame (a frame stream decodes as it reads); throws as `decodeSwimMessage`. */
export function checkSwimMessage (v: unknown): SwimMessage {
  if (isRecord(v) && isWellFormed(v)) return v as unknown as SwimMessage
  throw new FlotillaError('invalid-argument', 'swim message is malformed')
}

function isWellFormed (v: Record<string, unknown>): boolean {
  switch (v.t) {
    case 'ping': return isSafeUint(v.seq) && isId(v.target) && hasOptionalGossip(v)
    case 'ack':
    case 'nack': return isSafeUint(v.seq) && hasOptionalGossip(v)
    case 'ping-req': return isSafeUint(v.seq) && isId(v.target) && typeof v.nack === 'boolean' && hasOptionalGossip(v)
    case 'gossip': return isGossipList(v.g)
    case 'push-pull': return typeof v.join === 'boolean' && typeof v.reply === 'boolean' && Array.isArray(v.states) &&
      v.states.length <= MAX_STATES && v.states.every(isStateEntry)
    case 'meta-req': return true
    case 'meta': return isSafeUint(v.mv) && isMeta(v.meta) && (v.inc === undefined || isSafeUint(v.inc)) && (v.proof === undefined || isProof(v.proof))
    default: return false
  }
}
