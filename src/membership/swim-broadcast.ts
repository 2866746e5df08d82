import { decode, encode, isBytes, isRecord, isSafeUint } from './codec.js'
import { verifyCertificate, type CertificateClaims } from './certificate.js'
import { FlotillaError } from './errors.js'
import type { P2PHost } from './host.js'
import type { ClaimTrust } from './swim-claims.js'
import { checkSwimMessage, type Gossip } from './swim/index.js'
import type { Logger } from './logger.js'

/**
 * The broadcast topic: each member publishes there, once, the SWIM news it originates (its alive, view
 * changes, refutations and leave; the suspicions it raises — not the deaths it declares, see
 * swim-driver.ts), so that they reach every member it is connected to at once rather than over gossip
 * rounds (a worker learns a new leader within a message delay). SWIM's own piggybacked gossip still
 * carries them to everyone else.
 *
 * Signed as the heartbeats were: gossipsub's StrictSign signs each message with the publisher's libp2p
 * key, and the envelope carries the publisher's certificate, which binds that key to a node of this
 * cluster. The validator, before anything is delivered or forwarded, drops a message that does not
 * decode, whose certificate does not verify, is another cluster's, is bound to another peer or was
 * revoked, that replays or repeats an earlier one — (epoch, seq) must be new: epoch is the publisher's
 * incarnation when it started (persisted, so it grows across restarts) and seq counts its messages in
 * that run — or that carries a claim not its publisher's own (swim-ingress.ts).
 */
export interface BroadcastEnvelope {
  readonly v: 1
  readonly cert: Uint8Array
  readonly epoch: number
  readonly seq: number
  readonly g: readonly Gossip[]
}

export const MAX_BROADCAST_BYTES = 64 * 1024

export function encodeBroadcast (e: BroadcastEnvelope): Uint8Array {
  return encode(e)
}

/** Decode an envelope field by field; throws `invalid-argument`. */
export function decodeBroadcast (bytes: Uint8Array): BroadcastEnvelope {
  const v = decode(bytes, MAX_BROADCAST_BYTES)
  if (!isRecord(v) || v.v !== 1 || !isBytes(v.cert) || !isSafeUint(v.epoch) || !isSafeUint(v.seq)) {
    throw new FlotillaError('invalid-argument', 'broadcast envelope is malformed')
  }
  const msg = checkSwimMessage({ t: 'gossip', g: v.g })
  return { v: 1, cert: v.cert, epoch: v.epoch, seq: v.seq, g: msg.t === 'gossip' ? msg.g : [] }
}

/** Sequence numbers accepted out of order, behind the highest seen (gossipsub may reorder a burst). */
const WINDOW = 32

/**
 * Which (epoch, seq) each publisher has used: a sliding window, as IPsec's anti-replay, so that a burst
 * delivered out of order is still heard while a replay is not. Bounded by the members heard from.
 */
export class ReplayWindow {
  private readonly seen = new Map<string, { epoch: number, max: number, bits: number }>()

  /** True, and recorded, when (epoch, seq) is new for `node`; false for a replay or anything too old. */
  accept (node: string, epoch: number, seq: number): boolean {
    const s = this.seen.get(node)
    if (s === undefined || epoch > s.epoch) {
      this.seen.set(node, { epoch, max: seq, bits: 1 })
      return true
    }
    if (epoch < s.epoch) return false
    if (seq > s.max) {
      const shift = seq - s.max
      s.bits = shift >= WINDOW ? 1 : ((s.bits << shift) | 1) >>> 0
      s.max = seq
      return true
    }
    const back = s.max - seq
    if (back >= WINDOW || (s.bits & (1 << back)) !== 0) return false
    s.bits = (s.bits | (1 << back)) >>> 0
    return true
  }

  forget (node: string): void {
    this.seen.delete(node)
  }
}

export interface BroadcastDeps {
  readonly host: P2PHost
  readonly topic: string
  readonly trust: () => ClaimTrust
  /** This node's certificate (it changes with a role change) and the epoch of this run. */
  readonly certificate: () => Uint8Array
  readonly epoch: number
  /** An authenticated, new envelope's gossip from node `from`. */
  readonly deliver: (from: string, g: readonly Gossip[]) => void
  /** Called once per refused message. */
  readonly rejected: (fromPeer: string, reason: string) => void
  readonly log: Logger
}

export class SwimBroadcast {
  private readonly replay = new ReplayWindow()
  /** Envelopes the validator already authenticated, handed on to delivery. */
  private readonly validated = new WeakMap<Uint8Array, { from: string, g: readonly Gossip[] }>()
  private seq = 0

  constructor (private readonly deps: BroadcastDeps) {}

  start (): void {
    const { host, topic } = this.deps
    host.setValidator(topic, (fromPeer, data) => {
      try {
        const e = decodeBroadcast(data)
        const claims = this.authenticate(e, fromPeer)
        const foreign = e.g.find(g => (g.k === 'alive' ? g.node : g.from) !== claims.nodeId)
        if (foreign !== undefined) throw new FlotillaError('unauthenticated', `node ${claims.nodeId} broadcast a ${foreign.k} claim that is not its own`)
        if (!this.replay.accept(claims.nodeId, e.epoch, e.seq)) {
          this.deps.rejected(fromPeer, `stale or replayed message of node ${claims.nodeId} (epoch ${e.epoch}, seq ${e.seq})`)
          return 'ignore'
        }
        this.validated.set(data, { from: claims.nodeId, g: e.g })
        return 'accept'
      } catch (err) {
        this.deps.rejected(fromPeer, (err as Error).message)
        return 'reject'
      }
    })
    host.onMessage(topic, (_from, data) => {
      // Only what the validator accepted is delivered (it runs first for every message).
      const checked = this.validated.get(data)
      if (checked !== undefined) this.deps.deliver(checked.from, checked.g)
    })
    host.subscribe(topic)
  }

  private authenticate (e: BroadcastEnvelope, fromPeer: string): CertificateClaims {
    const trust = this.deps.trust()
    const claims = verifyCertificate(e.cert, trust.rootPublicKeyDer, trust.clusterId)
    if (claims.peerId !== fromPeer) throw new FlotillaError('unauthenticated', `certificate of node ${claims.nodeId} is bound to another peer`)
    if (trust.isRevoked(claims.nodeId)) throw new FlotillaError('unauthenticated', `certificate of node ${claims.nodeId} was revoked`)
    return claims
  }

  /** Publish this node's news; a failed publish is logged, not thrown (SWIM's gossip still carries it). */
  async publish (g: readonly Gossip[]): Promise<void> {
    if (g.length === 0) return
    const bytes = encodeBroadcast({ v: 1, cert: this.deps.certificate(), epoch: this.deps.epoch, seq: ++this.seq, g })
    await this.deps.host.publish(this.deps.topic, bytes).catch((err: unknown) => {
      this.deps.log.debug('broadcast not published', { err: (err as Error).message })
    })
  }

  forget (node: string): void {
    this.replay.forget(node)
  }

  stop (): void {
    this.deps.host.unsubscribe(this.deps.topic)
  }
}
