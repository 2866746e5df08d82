import { isBytes, isRecord } from './codec.js'
import { verifyCertificate, type CertificateClaims } from './certificate.js'
import { FlotillaError } from './errors.js'
import type { FrameStream } from './frame-stream.js'
import type { P2PHost, StreamHandlerInit } from './host.js'
import type { Logger } from './logger.js'
import type { Member } from './member-table.js'

/**
 * Member-only protocols (Raft, forwarded API calls, sessions): the dialer's first frame is its
 * certificate, checked before anything else is read, so that only certified, unrevoked members of
 * this cluster get a stream — and a protocol may demand more (a manager's certificate for Raft).
 */

/** A member reached over a member-only protocol: who it is, as its certificate says. */
export interface PeerIdentity {
  readonly peerId: string
  readonly claims: CertificateClaims
}

/** What the protocols need from the membership. */
export interface MemberStreamContext {
  readonly host: P2PHost
  /** This node's certificate, sent when dialling. */
  readonly certificate: Uint8Array
  readonly clusterId: string
  readonly rootPublicKeyDer: Uint8Array
  readonly isRevoked: (nodeId: string) => boolean
  readonly member: (nodeId: string) => Member | undefined
  readonly log: Logger
}

const HANDSHAKE_FRAME_BYTES = 4096

/**
 * Serve `protocol`: the certificate must verify under this cluster's root, bind the noise-authenticated
 * peer, not be revoked (unless `allowRevoked`: the session protocol, on which a removed node learns
 * that it was), and pass `authorize` (a refusal reason, or null). Then `handler` owns the stream.
 */
export async function serveMembers (ctx: MemberStreamContext, protocol: string, init: StreamHandlerInit & { readonly allowRevoked?: boolean },
  authorize: (peer: PeerIdentity) => string | null,
  handler: (stream: FrameStream, peer: PeerIdentity, signal: AbortSignal) => Promise<void>): Promise<void> {
  await ctx.host.handle(protocol, init, async (stream, remotePeer, signal) => {
    const hello = await stream.read(signal)
    let refusal: string | null = null
    let claims: CertificateClaims | null = null
    if (!isRecord(hello) || hello.t !== 'hello' || !isBytes(hello.cert)) refusal = 'expected a hello with a certificate'
    else {
      try {
        claims = verifyCertificate(hello.cert, ctx.rootPublicKeyDer, ctx.clusterId)
        if (claims.peerId !== remotePeer) refusal = 'certificate bound to another peer'
        else if (ctx.isRevoked(claims.nodeId) && init.allowRevoked !== true) refusal = `node ${claims.nodeId} was removed from the cluster`
        else refusal = authorize({ peerId: remotePeer, claims })
      } catch (err) {
        refusal = (err as Error).message
      }
    }
    if (refusal !== null || claims === null) {
      ctx.log.debug('refused member stream', { protocol, peer: remotePeer, reason: refusal })
      await stream.write({ t: 'refused', message: refusal ?? 'refused' }, signal)
      return
    }
    await stream.write({ t: 'ok' }, signal)
    await handler(stream, { peerId: remotePeer, claims }, signal)
  })
}

/**
 * Open `protocol` to node `nodeId` (its address from gossip). The certificate goes out first. Unless
 * `confirmed`, the caller may write at once, without waiting for the answer (one round trip saved),
 * and the first `read` then consumes the answer and throws if it was a refusal. With `confirmed`, the
 * dial waits for the peer's answer, so a peer that is cut off fails the dial itself: a caller that must
 * know whether its request was delivered (a forwarded write) then knows that it was not.
 */
export async function dialMember (ctx: MemberStreamContext, nodeId: string, protocol: string, maxFrameBytes: number, signal: AbortSignal,
  confirmed = false): Promise<FrameStream> {
  const m = ctx.member(nodeId)
  if (m === undefined || m.addrs.length === 0) throw new FlotillaError('unavailable', `no address known for node ${nodeId}`, { retryable: true })
  const { stream } = await ctx.host.openStream(`${m.addrs[0]!}/p2p/${m.peerId}`, protocol, Math.max(maxFrameBytes, HANDSHAKE_FRAME_BYTES), signal)
  let answered = false
  const answer = async (readSignal?: AbortSignal): Promise<void> => {
    const res = await stream.read(readSignal)
    if (!isRecord(res) || res.t !== 'ok') {
      const reason = isRecord(res) && typeof res.message === 'string' ? res.message : 'no reason'
      throw new FlotillaError('unauthenticated', `node ${nodeId} refused ${protocol}: ${reason}`)
    }
    answered = true
  }
  try {
    await stream.write({ t: 'hello', cert: ctx.certificate }, signal)
    if (confirmed) await answer(signal)
  } catch (err) {
    stream.abort(err as Error)
    throw err
  }
  return {
    ...stream,
    read: async (readSignal) => {
      if (!answered) await answer(readSignal)
      return await stream.read(readSignal)
    }
  }
}
