/**
 * The SWIM core's vocabulary: member states, the gossip it piggybacks, the messages it sends and
 * receives, and what it hands back to its driver. Node IDs are opaque strings; the driver maps them to
 * peers and authenticates every message's sender before `SwimCore.receive` sees it.
 */

/**
 * A member's state as one node sees it (SWIM §4.2; memberlist's StateAlive/Suspect/Dead/Left).
 * `left` is a dead that the member announced itself (a graceful leave).
 */
export type MemberState = 'alive' | 'suspect' | 'dead' | 'left'

/**
 * One piece of gossip about `node` (SWIM §4.1 infection-style dissemination). `inc` is the incarnation
 * the claim is about; `from` is the node that made a suspect or dead claim (`from === node` on a dead
 * means the node left). `mv` is the metadata version: the incarnation at which the owner last set its
 * metadata (so it grows across restarts too); `meta` rides along only when the owner changed its
 * metadata with this incarnation (a start or join is such a change), never on a refutation. `proof` is
 * opaque to the core and passed on with the item: the driver's evidence that the member itself made the
 * claim (in the agent, its signature; see ../swim-claims.ts).
 */
export type Gossip =
  | { readonly k: 'alive', readonly node: string, readonly inc: number, readonly mv: number, readonly meta?: Uint8Array, readonly proof?: Uint8Array }
  | { readonly k: 'suspect', readonly node: string, readonly inc: number, readonly from: string }
  | { readonly k: 'dead', readonly node: string, readonly inc: number, readonly from: string }

/** State codes of a push-pull entry, in precedence order for one incarnation. */
export const STATE_CODE = { alive: 0, suspect: 1, dead: 2, left: 3 } as const satisfies Record<MemberState, number>
export type StateCode = (typeof STATE_CODE)[MemberState]

/**
 * One member in a push-pull (anti-entropy) exchange: [node, incarnation, state, metadata version,
 * metadata?, proof?]. A tuple rather than a record: a full table is N of these, and keys would double its
 * size. Metadata is included for the sender itself, and in an answer for every member the asker is behind
 * on; null stands in for it when only a proof follows. The proof is the driver's, as on alive gossip.
 */
export type StateEntry = readonly [node: string, inc: number, state: StateCode, mv: number, meta?: Uint8Array | null, proof?: Uint8Array]

/**
 * The messages between cores. The sender is not in the message: the transport authenticates it and
 * passes it to `receive`. `g` is gossip piggybacked from the sender's broadcast queue.
 * - `ping`/`ack`: a direct probe; `target` is the node the prober means (a restarted address that now
 *   belongs to another node ignores it).
 * - `ping-req`: ask the receiver to probe `target` on the sender's behalf (SWIM §3.1, indirect probe);
 *   the receiver forwards `target`'s ack with the sender's `seq`, or answers `nack` when `nack` is set and
 *   no ack came within its probe timeout (Lifeguard: nacks let a prober judge its own health).
 * - `gossip`: gossip alone, sent to a few random members each gossip interval.
 * - `push-pull`: anti-entropy, the sender's whole table; `reply` marks the answer, `join` a joiner's.
 * - `meta-req`/`meta`: ask a member for its current metadata; the answer comes from the owner only, with
 *   its current incarnation (an alive claim, `proof` as on alive gossip).
 */
export type SwimMessage =
  | { readonly t: 'ping', readonly seq: number, readonly target: string, readonly g?: readonly Gossip[] }
  | { readonly t: 'ack', readonly seq: number, readonly g?: readonly Gossip[] }
  | { readonly t: 'ping-req', readonly seq: number, readonly target: string, readonly nack: boolean, readonly g?: readonly Gossip[] }
  | { readonly t: 'nack', readonly seq: number, readonly g?: readonly Gossip[] }
  | { readonly t: 'gossip', readonly g: readonly Gossip[] }
  | { readonly t: 'push-pull', readonly join: boolean, readonly reply: boolean, readonly states: readonly StateEntry[] }
  | { readonly t: 'meta-req' }
  | { readonly t: 'meta', readonly mv: number, readonly meta: Uint8Array, readonly inc?: number, readonly proof?: Uint8Array }

export type SwimMessageType = SwimMessage['t']

/** A message for the driver to send to member `to` (best effort: a lost message is the protocol's business). */
export interface Outgoing {
  readonly to: string
  readonly message: SwimMessage
}

/**
 * A change in how this node sees member `node` (never itself), at `atMs`:
 * - `alive`: first heard of, back from dead or left (a restart or rejoin), or a suspicion refuted.
 *   `meta` is its metadata when known (null until it arrives: a `meta` event follows).
 * - `suspect`: `from` could not reach it; it is dead unless it refutes within the suspicion timeout.
 * - `dead`: `from`'s suspicion timed out (possibly this node's own: `from` is then this node's ID).
 * - `left`: it announced its leave.
 * - `meta`: new metadata of an alive or suspect member.
 */
export type SwimEvent =
  | { readonly kind: 'alive', readonly node: string, readonly incarnation: number, readonly meta: Uint8Array | null, readonly atMs: number }
  | { readonly kind: 'suspect', readonly node: string, readonly incarnation: number, readonly from: string, readonly atMs: number }
  | { readonly kind: 'dead', readonly node: string, readonly incarnation: number, readonly from: string, readonly atMs: number }
  | { readonly kind: 'left', readonly node: string, readonly incarnation: number, readonly atMs: number }
  | { readonly kind: 'meta', readonly node: string, readonly incarnation: number, readonly meta: Uint8Array, readonly atMs: number }

/**
 * What the core produced since the last `drain`, in the order produced. `incarnation` is this node's
 * current incarnation: a driver that persists it (so that a restart starts above it) writes it before
 * sending `messages`, which may announce it.
 */
export interface SwimOutput {
  readonly messages: readonly Outgoing[]
  readonly events: readonly SwimEvent[]
  /**
   * Gossip this node originated (its alive, refutation, metadata or leave; suspicions it raised — not
   * its confirmations of others' — and deaths it declared), each also queued for piggybacking: a driver with a broadcast channel sends these once to
   * every member at once, so that news does not wait for gossip rounds. Announces `incarnation` too.
   */
  readonly news: readonly Gossip[]
  readonly incarnation: number
}

/** One member as this node sees it (a copy; see `SwimCore.member`). */
export interface SwimMember {
  readonly node: string
  readonly state: MemberState
  readonly incarnation: number
  readonly metaVersion: number
  /** Null while the member's metadata at `metaVersion` has not arrived. */
  readonly meta: Uint8Array | null
  /** When this node last saw the state change (its own clock, ms). */
  readonly changedAtMs: number
}

/**
 * A member known before the core starts (from the data dir or a join grant); seeded as alive, silently.
 * Without `meta`, the core asks the member for its metadata two joinRetryMs after start, unless it came
 * meanwhile (with the answer to a join).
 */
export interface KnownSwimMember {
  readonly node: string
  readonly incarnation?: number
  readonly metaVersion?: number
  readonly meta?: Uint8Array
}

/** Counters for tests, simulation and metrics; every field only grows. */
export interface SwimStats {
  probes: number
  /** Probes that ended without an ack, direct or indirect. */
  failedProbes: number
  indirectProbes: number
  /** Times this node heard itself suspected or declared dead and refuted it. */
  refutations: number
  /** Suspicions this node started from its own failed probe. */
  suspicionsRaised: number
  /** Dead declarations by this node's own suspicion timers. */
  deathsDeclared: number
  pushPulls: number
  gossipMessages: number
  /** Messages `receive` dropped as malformed or not for this node. */
  dropped: number
}
