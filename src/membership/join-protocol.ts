import { isBytes, isRecord, isStringArray } from './codec.js'
import { FlotillaError, type ErrorCode } from './errors.js'
import { isNodeRole, verifyCertificate } from './certificate.js'
import { rootKeyDigest, type ParsedToken } from './token.js'
import type { KnownMember } from './member-table.js'
import type { P2PHost } from './host.js'

/**
 * The join handshake on `/flotilla/join/1.0.0` (SwarmKit's CA node-certificate request, over noise):
 *
 *   joiner                                  member at the join address
 *     hello                      ───────▶
 *                                ◀───────   identity { clusterId, rootPublicKey, cert }
 *   check: SHA-256(rootPublicKey) is the token's digest, cert verifies under it and names the
 *   noise-authenticated peer: only then is the secret sent, so an impostor never learns it
 *     join { secret, hostname, addrs } ───▶
 *                                ◀───────   admitted { cert, members, config? }  | refused { code, message, hint, managers? }
 *
 * The role is the one of the token whose secret matched, never one the joiner names. A worker holds no
 * secrets and refuses with the managers' addresses, which the joiner then tries.
 */
export const JOIN_PROTOCOL = '/flotilla/join/1.0.0'
const MAX_JOIN_FRAME = 256 * 1024
/**
 * The whole handshake, on both sides. A burst of joins is admitted one Raft commit after another by a
 * leader that is busy with the joiners themselves: 10 s was too short for 19 agents joining at once on
 * two cores (bench:membership), with the old membership as with SWIM. Docker's join waits 20 s.
 */
const JOIN_TIMEOUT_MS = 30_000

export interface JoinRequest {
  readonly peerId: string
  readonly secret: string
  readonly hostname: string
  readonly addrs: readonly string[]
}

export interface JoinGrant {
  readonly clusterId: string
  readonly rootPublicKeyDer: Uint8Array
  readonly certificate: Uint8Array
  readonly members: readonly KnownMember[]
}

export type AdmitResult =
  | { readonly ok: true, readonly grant: JoinGrant }
  | { readonly ok: false, readonly code: ErrorCode | 'not-a-manager', readonly message: string, readonly hint?: string, readonly managers?: readonly string[] }

/** What a member answers joiners with. */
export interface JoinAuthority {
  identity(): { clusterId: string, rootPublicKeyDer: Uint8Array, certificate: Uint8Array }
  admit(req: JoinRequest): Promise<AdmitResult>
}

function isKnownMember (v: unknown): v is KnownMember {
  return isRecord(v) && typeof v.nodeId === 'string' && typeof v.peerId === 'string' && isNodeRole(v.role) &&
    typeof v.hostname === 'string' && isStringArray(v.addrs, 16) && typeof v.createdAtMs === 'number' && typeof v.left === 'boolean'
}

export async function serveJoin (host: P2PHost, authority: JoinAuthority): Promise<void> {
  await host.handle(JOIN_PROTOCOL, { maxFrameBytes: MAX_JOIN_FRAME, timeoutMs: JOIN_TIMEOUT_MS }, async (stream, remotePeer, signal) => {
    const hello = await stream.read(signal)
    if (!isRecord(hello) || hello.t !== 'hello') throw new FlotillaError('invalid-argument', 'join: expected hello')
    const id = authority.identity()
    await stream.write({ t: 'identity', clusterId: id.clusterId, rootPublicKey: id.rootPublicKeyDer, cert: id.certificate }, signal)
    const req = await stream.read(signal)
    if (!isRecord(req) || req.t !== 'join' || typeof req.secret !== 'string' || typeof req.hostname !== 'string' ||
      req.hostname.length > 256 || !isStringArray(req.addrs, 16)) {
      throw new FlotillaError('invalid-argument', 'join: malformed request')
    }
    const result = await authority.admit({ peerId: remotePeer, secret: req.secret, hostname: req.hostname, addrs: req.addrs })
    if (result.ok) {
      const g = result.grant
      await stream.write({
        t: 'admitted',
        cert: g.certificate,
        members: g.members
      }, signal)
    } else {
      await stream.write({ t: 'refused', code: result.code, message: result.message, hint: result.hint ?? null, managers: result.managers ?? [] }, signal)
    }
  })
}

export type JoinOutcome =
  | { readonly kind: 'admitted', readonly grant: JoinGrant }
  | { readonly kind: 'redirect', readonly managers: readonly string[], readonly message: string }

/**
 * Run the handshake against the member at `addr` (a multiaddr). Throws `unauthenticated` when the remote
 * is not of the token's cluster, and the remote's refusal (bad token, …) as a FlotillaError.
 */
export async function requestJoin (host: P2PHost, addr: string, token: ParsedToken, hostname: string, addrs: readonly string[]): Promise<JoinOutcome> {
  const signal = AbortSignal.timeout(JOIN_TIMEOUT_MS)
  let opened
  try {
    opened = await host.openStream(addr, JOIN_PROTOCOL, MAX_JOIN_FRAME, signal)
  } catch (err) {
    throw new FlotillaError('unavailable', `cannot reach ${addr}: ${(err as Error).message}`, {
      cause: err, retryable: true, hint: 'check the address and port of a manager, and that its agent is running'
    })
  }
  const { stream, remotePeer } = opened
  try {
    await stream.write({ t: 'hello' }, signal)
    const id = await stream.read(signal)
    if (!isRecord(id) || id.t !== 'identity' || typeof id.clusterId !== 'string' || !isBytes(id.rootPublicKey) || !isBytes(id.cert)) {
      throw new FlotillaError('unauthenticated', `the node at ${addr} did not present a cluster identity`)
    }
    if (rootKeyDigest(id.rootPublicKey) !== token.rootDigest) {
      throw new FlotillaError('unauthenticated', `the node at ${addr} is not a member of the cluster this token belongs to`, {
        hint: 'check that the token and the address come from the same cluster'
      })
    }
    const claims = verifyCertificate(id.cert, id.rootPublicKey, id.clusterId)
    if (claims.peerId !== remotePeer) {
      throw new FlotillaError('unauthenticated', `the node at ${addr} presented a certificate that is not its own`)
    }
    await stream.write({ t: 'join', secret: token.secret, hostname, addrs }, signal)
    const res = await stream.read(signal)
    if (isRecord(res) && res.t === 'refused') {
      const managers = isStringArray(res.managers, 64) ? res.managers : []
      const message = typeof res.message === 'string' ? res.message : 'join refused'
      if (res.code === 'not-a-manager') return { kind: 'redirect', managers, message }
      throw new FlotillaError(typeof res.code === 'string' ? res.code as ErrorCode : 'unauthenticated', message, {
        hint: typeof res.hint === 'string' ? res.hint : undefined
      })
    }
    if (!isRecord(res) || res.t !== 'admitted' || !isBytes(res.cert) || !Array.isArray(res.members) || res.members.length > 100_000 ||
      !res.members.every(isKnownMember)) {
      throw new FlotillaError('internal', `the node at ${addr} answered the join with a malformed frame`)
    }
    const cert = verifyCertificate(res.cert, id.rootPublicKey, id.clusterId)
    if (cert.peerId !== host.peerId) throw new FlotillaError('unauthenticated', 'the certificate granted names another peer')
    return {
      kind: 'admitted',
      grant: {
        clusterId: id.clusterId,
        rootPublicKeyDer: new Uint8Array(id.rootPublicKey),
        certificate: new Uint8Array(res.cert),
        members: res.members
      }
    }
  } finally {
    await stream.close().catch(() => {})
  }
}
