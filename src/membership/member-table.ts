import { FailureDetector, type FailureDetectorConfig, type Liveness } from './failure-detector.js'
import type { CertificateClaims, NodeRole } from './certificate.js'
import type { Heartbeat, NodeDescription } from './heartbeat.js'

/** One member as this node sees it. `version` grows whenever a field that users see changes. */
export interface Member {
  readonly nodeId: string
  readonly peerId: string
  readonly role: NodeRole
  readonly hostname: string
  readonly addrs: readonly string[]
  readonly description: NodeDescription | null
  readonly liveness: Liveness
  readonly incarnation: number
  readonly seq: number
  readonly leaderId: string
  /** From the certificate: when the node was admitted. */
  readonly createdAtMs: number
  readonly updatedAtMs: number
  readonly version: number
  /** True once the member announced `swarm leave`. */
  readonly left: boolean
}

export type MemberEvent =
  | { readonly kind: 'joined', readonly member: Member } // first heartbeat of a node this table did not know
  | { readonly kind: 'up', readonly member: Member } // back to ready (a known node, e.g. restarted)
  | { readonly kind: 'suspect', readonly member: Member }
  | { readonly kind: 'down', readonly member: Member }
  | { readonly kind: 'left', readonly member: Member }

export type HeartbeatVerdict =
  | { readonly accepted: true, readonly events: readonly MemberEvent[] }
  | { readonly accepted: false, readonly reason: string }

/** What a member was last known as, kept on disk so that a restarted agent can list and redial it. */
export interface KnownMember {
  readonly nodeId: string
  readonly peerId: string
  readonly role: NodeRole
  readonly hostname: string
  readonly addrs: readonly string[]
  readonly createdAtMs: number
  readonly left: boolean
}

/**
 * The member table: applies authenticated heartbeats, refuses stale or replayed ones, and turns silence
 * into liveness changes through the failure detector. Pure: time comes in as `nowMs`.
 */
export class MemberTable {
  private readonly members = new Map<string, Member>()
  private readonly detector: FailureDetector
  private version = 0

  constructor (private readonly selfNodeId: string, config: FailureDetectorConfig) {
    this.detector = new FailureDetector(config)
  }

  /** Seed a member known from an earlier run; it shows as unknown until heard, then down if it stays silent. */
  restore (known: KnownMember, nowMs: number): void {
    if (this.members.has(known.nodeId)) return
    const liveness: Liveness = known.left ? 'down' : 'unknown'
    this.members.set(known.nodeId, {
      ...known,
      description: null,
      liveness,
      incarnation: 0,
      seq: 0,
      leaderId: '',
      updatedAtMs: nowMs,
      version: ++this.version
    })
    if (known.left) this.detector.left(known.nodeId, nowMs)
    else this.detector.track(known.nodeId, nowMs)
  }

  /**
   * Apply a heartbeat whose certificate was already verified (`claims`). Refuses one that is not newer
   * than the last heard from that node, or whose certificate names a different peer than the one on record.
   */
  applyHeartbeat (hb: Heartbeat, claims: CertificateClaims, nowMs: number): HeartbeatVerdict {
    const prev = this.members.get(claims.nodeId)
    if (prev !== undefined) {
      if (prev.peerId !== claims.peerId) return { accepted: false, reason: `node ${claims.nodeId} is bound to another peer` }
      const newer = hb.incarnation > prev.incarnation || (hb.incarnation === prev.incarnation && hb.seq > prev.seq)
      if (!newer) return { accepted: false, reason: `stale or replayed heartbeat from ${claims.nodeId} (incarnation ${hb.incarnation}, seq ${hb.seq})` }
    }
    const leaving = hb.status === 'leaving'
    // The local node is alive by definition: the detector never tracks it, so a stalled event loop
    // cannot make it "come back up".
    const isSelf = claims.nodeId === this.selfNodeId
    const change = isSelf ? null : leaving ? this.detector.left(claims.nodeId, nowMs) : this.detector.heard(claims.nodeId, nowMs)
    const liveness = isSelf ? (leaving ? 'down' : 'ready') : this.detector.liveness(claims.nodeId)
    const visibleChange = prev === undefined || change !== null || prev.hostname !== hb.hostname || prev.role !== claims.role ||
      prev.addrs.join() !== hb.addrs.join() || JSON.stringify(prev.description) !== JSON.stringify(hb.description)
    const member: Member = {
      nodeId: claims.nodeId,
      peerId: claims.peerId,
      role: claims.role,
      hostname: hb.hostname,
      addrs: [...hb.addrs],
      description: hb.description,
      liveness,
      incarnation: hb.incarnation,
      seq: hb.seq,
      leaderId: hb.leaderId,
      createdAtMs: claims.issuedAtMs,
      updatedAtMs: visibleChange ? nowMs : (prev?.updatedAtMs ?? nowMs),
      version: visibleChange ? ++this.version : (prev?.version ?? ++this.version),
      left: leaving
    }
    this.members.set(member.nodeId, member)
    const events: MemberEvent[] = []
    if (leaving) {
      if (prev === undefined || !prev.left) events.push({ kind: 'left', member })
    } else if (prev === undefined) {
      events.push({ kind: 'joined', member })
    } else if (change !== null && (change.from === 'down' || change.from === 'unknown')) {
      events.push({ kind: 'up', member })
    }
    return { accepted: true, events }
  }

  /** Advance time: members that fell silent become suspect, then down. The local node never does. */
  tick (nowMs: number): MemberEvent[] {
    const events: MemberEvent[] = []
    for (const change of this.detector.tick(nowMs)) {
      if (change.nodeId === this.selfNodeId) continue
      const prev = this.members.get(change.nodeId)
      if (prev === undefined) continue
      const member: Member = { ...prev, liveness: change.to, updatedAtMs: nowMs, version: ++this.version }
      this.members.set(member.nodeId, member)
      if (change.to === 'down') events.push({ kind: 'down', member })
      else if (change.to === 'suspect') events.push({ kind: 'suspect', member })
    }
    return events
  }

  get (nodeId: string): Member | undefined {
    return this.members.get(nodeId)
  }

  byPeerId (peerId: string): Member | undefined {
    for (const m of this.members.values()) if (m.peerId === peerId) return m
    return undefined
  }

  /** All members, the local node included, ordered by node ID. */
  list (): Member[] {
    return [...this.members.values()].sort((a, b) => a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0)
  }

  /** The durable part of every member, for the data dir. */
  known (): KnownMember[] {
    return this.list().map(m => ({
      nodeId: m.nodeId, peerId: m.peerId, role: m.role, hostname: m.hostname, addrs: m.addrs, createdAtMs: m.createdAtMs, left: m.left
    }))
  }
}
