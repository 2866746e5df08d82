import { checkAliveProof, openView, type ClaimTrust, type SignedView } from './swim-claims.js'
import { STATE_CODE, type Gossip, type StateEntry, type SwimMessage } from './swim/index.js'

/**
 * What a SWIM message must pass before the core sees it. The sender (`from`) is already authenticated:
 * by the certificate handshake of its member stream, or by the gossipsub signature and the certificate
 * in the envelope on the broadcast topic (swim-broadcast.ts). The rules, per claim about member X:
 *
 *   - alive (X, inc, mv): when it would change what this node holds — X unknown, a higher incarnation, or
 *     about this node at or above its incarnation (which the core would refute) — it needs X's own
 *     signature (`proof`, swim-claims.ts), whoever passes it on: a member may relay a refutation, never
 *     make one up, nor bring a dead member back. A first sighting must also carry X's view. Old news
 *     needs no proof: the core ignores it.
 *   - a view (metadata) is X's only when X signed it, with its certificate inside, at that version;
 *     one that does not verify is stripped (and its alive dropped when X is new).
 *   - suspect and dead may come from any certified member: at worst they make X refute.
 *   - nothing about a removed node is heard, so gossip cannot bring it back.
 *   - on the broadcast topic a member speaks only for itself: every item there must be its own claim
 *     (its alive or leave, its suspicions), or the whole message is refused.
 * Push-pull entries follow the same rules; a `meta` answer must be the sender's own view.
 */
export interface IngressContext {
  readonly self: string
  readonly trust: ClaimTrust
  /** The core's incarnation for a member it knows (this node included); undefined when unknown. */
  readonly incarnationOf: (node: string) => number | undefined
  /** The peer ID of a member whose key this node holds (its view, or the data dir); undefined if none. */
  readonly peerOf: (node: string) => string | undefined
  /** A proof that verified, so that the driver can pass it on with the claim. */
  readonly proved: (node: string, inc: number, mv: number, proof: Uint8Array) => void
  /** A view that verified, so that the driver need not open it again. */
  readonly viewed: (meta: Uint8Array, view: SignedView) => void
}

export type IngressChannel = 'stream' | 'broadcast'

/**
 * The message as the core may see it (null: nothing left of it), and why anything was refused. Claims
 * only set aside for want of a view or a key (news that will come again with them) are not refused.
 */
export interface Admitted {
  readonly message: SwimMessage | null
  readonly rejected: readonly string[]
}

/** Check `msg` from `from` against the rules above; see `Admitted`. */
export function admit (ctx: IngressContext, from: string, msg: SwimMessage, channel: IngressChannel): Admitted {
  const rejected: string[] = []
  if (ctx.trust.isRevoked(from)) return { message: null, rejected: [`sender ${from} was removed from the cluster`] }
  if (channel === 'broadcast') {
    if (msg.t !== 'gossip') return { message: null, rejected: [`a ${msg.t} message on the broadcast topic`] }
    const foreign = msg.g.find(g => (g.k === 'alive' ? g.node : g.from) !== from)
    if (foreign !== undefined) return { message: null, rejected: [`node ${from} broadcast a ${foreign.k} claim that is not its own`] }
  }
  const gossip = (items: readonly Gossip[]): Gossip[] => {
    const out: Gossip[] = []
    for (const g of items) {
      const ok = admitGossip(ctx, g, rejected)
      if (ok !== null) out.push(ok)
    }
    return out
  }
  switch (msg.t) {
    case 'ping':
    case 'ack':
    case 'nack':
    case 'ping-req': {
      if (msg.t === 'ping-req' && ctx.trust.isRevoked(msg.target)) return { message: null, rejected: [`a probe of removed node ${msg.target}`] }
      if (msg.g === undefined) return { message: msg, rejected }
      const { g: _dropped, ...bare } = msg
      const g = gossip(msg.g)
      return { message: (g.length > 0 ? { ...bare, g } : bare), rejected }
    }
    case 'gossip': {
      const g = gossip(msg.g)
      return { message: g.length > 0 ? { t: 'gossip', g } : null, rejected }
    }
    case 'push-pull': {
      const states: StateEntry[] = []
      for (const e of msg.states) {
        const ok = admitEntry(ctx, e, rejected)
        if (ok !== null) states.push(ok)
      }
      return { message: { ...msg, states }, rejected }
    }
    case 'meta': {
      const view = openChecked(ctx, msg.meta, from, msg.mv, rejected)
      if (view === null) return { message: null, rejected }
      if (msg.inc === undefined) return { message: msg, rejected }
      // The sender's alive at `inc`: kept only with its proof, so that this node can pass it on.
      if (checkAliveProof(msg.proof, view.claims.peerId, ctx.trust.clusterId, from, msg.inc, msg.mv)) {
        ctx.proved(from, msg.inc, msg.mv, msg.proof!)
        return { message: msg, rejected }
      }
      rejected.push(`alive of node ${from} at incarnation ${msg.inc} is not signed by node ${from}`)
      return { message: { t: 'meta', mv: msg.mv, meta: msg.meta }, rejected }
    }
    case 'meta-req': return { message: msg, rejected }
  }
}

function openChecked (ctx: IngressContext, meta: Uint8Array, node: string, mv: number, rejected: string[]): SignedView | null {
  try {
    const v = openView(meta, ctx.trust, node, mv)
    ctx.viewed(meta, v)
    return v
  } catch (err) {
    rejected.push((err as Error).message)
    return null
  }
}

/**
 * An alive claim: null when it must not reach the core; otherwise the claim, its view stripped when that
 * did not verify, its proof kept so that the core passes it on.
 */
function admitAlive (ctx: IngressContext, node: string, inc: number, mv: number, meta: Uint8Array | undefined,
  proof: Uint8Array | undefined, rejected: string[]): { meta: Uint8Array | undefined } | null {
  const view = meta === undefined ? null : openChecked(ctx, meta, node, mv, rejected)
  const known = ctx.incarnationOf(node)
  // Not refused, only left for later: a push-pull request carries no views of third parties, and the
  // member's view will come with its gossip or a push-pull answer.
  if (known === undefined && view === null && node !== ctx.self) return null
  const changes = known === undefined || inc > known || (node === ctx.self && inc >= known)
  if (changes) {
    const peerId = view?.claims.peerId ?? ctx.peerOf(node)
    if (peerId === undefined) return null
    if (!checkAliveProof(proof, peerId, ctx.trust.clusterId, node, inc, mv)) {
      rejected.push(`alive of node ${node} at incarnation ${inc} is not signed by node ${node}`)
      return null
    }
    ctx.proved(node, inc, mv, proof!)
  }
  return { meta: view === null ? undefined : meta }
}

function admitGossip (ctx: IngressContext, g: Gossip, rejected: string[]): Gossip | null {
  if (ctx.trust.isRevoked(g.node)) {
    rejected.push(`gossip about removed node ${g.node}`)
    return null
  }
  if (g.k !== 'alive') return g
  const ok = admitAlive(ctx, g.node, g.inc, g.mv, g.meta, g.proof, rejected)
  if (ok === null) return null
  if (ok.meta === g.meta) return g
  const { meta: _stripped, ...rest } = g
  return rest
}

/** A push-pull entry, in the core's form ([node, inc, state, mv] or with metadata), or null. */
function admitEntry (ctx: IngressContext, e: StateEntry, rejected: string[]): StateEntry | null {
  const [node, inc, code, mv, meta, proof] = e
  if (ctx.trust.isRevoked(node)) {
    rejected.push(`push-pull entry of removed node ${node}`)
    return null
  }
  if (code !== STATE_CODE.alive) return [node, inc, code, mv]
  const ok = admitAlive(ctx, node, inc, mv, meta ?? undefined, proof, rejected)
  if (ok === null) return null
  return ok.meta === undefined ? [node, inc, code, mv] : [node, inc, code, mv, ok.meta]
}
