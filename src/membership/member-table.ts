import type { NodeRole } from './certificate.js'
import type { NodeDescription } from './node-view.js'
import type { SignedView } from './swim-claims.js'

/**
 * A member's liveness as this node shows it, from SWIM's state (swim-driver.ts): alive → ready,
 * suspect → suspect, dead or left → down; 'unknown' for a member remembered from an earlier run (or a
 * join grant) until SWIM has its view or finds it gone.
 */
export type Liveness = 'unknown' | 'ready' | 'suspect' | 'down'

/** One member as this node sees it. `version` grows whenever a field that users see changes. */
export interface Member {
  readonly nodeId: string
  readonly peerId: string
  readonly role: NodeRole
  readonly hostname: string
  readonly addrs: readonly string[]
  readonly description: NodeDescription | null
  readonly liveness: Liveness
  /** SWIM incarnation: grows when the member restarts, refutes a suspicion or changes its view. */
  readonly incarnation: number
  /** Version of the member's view (SWIM's metadata version); 0 until one arrived. */
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
  | { readonly kind: 'joined', readonly member: Member } // first view of a node this table did not know
  | { readonly kind: 'up', readonly member: Member } // back to ready (a known node, e.g. restarted)
  | { readonly kind: 'suspect', readonly member: Member }
  | { readonly kind: 'down', readonly member: Member }
  | { readonly kind: 'left', readonly member: Member }

/** What a member was last known as, kept on disk so that a restarted agent can list and reach it. */
export interface KnownMember {
  readonly nodeId: string
  readonly peerId: string
  readonly role: NodeRole
  readonly hostname: string
  readonly addrs: readonly string[]
  readonly createdAtMs: number
  readonly left: boolean
}

/** A change to one member: its (verified) view, its liveness, its SWIM incarnation; any may be absent. */
export interface MemberChange {
  readonly view?: SignedView
  readonly liveness?: Exclude<Liveness, 'unknown'>
  readonly left?: boolean
  readonly incarnation?: number
}

/**
 * The member table the rest of the agent reads: one entry per member whose view (signed by the member,
 * swim-claims.ts) this node holds, with the liveness SWIM gives it. A member SWIM knows but whose view
 * has not arrived is not listed yet. Pure: time comes in as `nowMs`.
 */
export class MemberTable {
  private readonly members = new Map<string, Member>()
  /** Members restored from disk or a join grant that have not been ready yet. */
  private readonly unheard = new Set<string>()
  private version = 0

  constructor (private readonly selfNodeId: string) {}

  /**
   * Seed a member known from an earlier run (or a join grant): unknown until SWIM, which probes it from the
   * start, finds it alive (with its view) or dead.
   */
  restore (known: KnownMember, nowMs: number): void {
    if (this.members.has(known.nodeId) || known.nodeId === this.selfNodeId) return
    if (!known.left) this.unheard.add(known.nodeId)
    this.members.set(known.nodeId, {
      ...known,
      description: null,
      liveness: known.left ? 'down' : 'unknown',
      incarnation: 0,
      seq: 0,
      leaderId: '',
      updatedAtMs: nowMs,
      version: ++this.version
    })
  }

  /** This node's own entry: always ready (a stalled event loop cannot make it "come back up"); no events. */
  setSelf (view: SignedView, incarnation: number, nowMs: number): void {
    this.update(this.selfNodeId, { view, liveness: 'ready', incarnation }, nowMs)
  }

  /** Apply `change` to member `nodeId`. A member without a view yet is not listed, and yields no events. */
  update (nodeId: string, change: MemberChange, nowMs: number): MemberEvent[] {
    const prev = this.members.get(nodeId)
    const v = change.view
    if (prev === undefined && v === undefined) return []
    const liveness = nodeId === this.selfNodeId ? 'ready' : change.liveness ?? prev?.liveness ?? 'unknown'
    const left = change.left ?? (liveness === 'ready' ? false : (prev?.left ?? false))
    const view = v?.view
    const next: Member = {
      nodeId,
      peerId: v?.claims.peerId ?? prev!.peerId,
      role: v?.claims.role ?? prev!.role,
      hostname: view?.hostname ?? prev!.hostname,
      addrs: view?.addrs ?? prev!.addrs,
      description: view?.description ?? prev?.description ?? null,
      liveness,
      incarnation: Math.max(change.incarnation ?? 0, prev?.incarnation ?? 0),
      seq: v?.mv ?? prev?.seq ?? 0,
      leaderId: view?.leaderId ?? prev?.leaderId ?? '',
      createdAtMs: v?.claims.issuedAtMs ?? prev!.createdAtMs,
      updatedAtMs: prev?.updatedAtMs ?? nowMs,
      version: prev?.version ?? 0,
      left
    }
    const visible = prev === undefined || prev.liveness !== next.liveness || prev.left !== next.left || prev.role !== next.role ||
      prev.hostname !== next.hostname || prev.addrs.join() !== next.addrs.join() || prev.leaderId !== next.leaderId ||
      prev.peerId !== next.peerId || JSON.stringify(prev.description) !== JSON.stringify(next.description)
    const member: Member = visible ? { ...next, updatedAtMs: nowMs, version: ++this.version } : next
    this.members.set(nodeId, member)
    if (nodeId === this.selfNodeId) return []
    if (prev === undefined) return [{ kind: 'joined', member }]
    // A member remembered from disk is up once it is first ready, even through a suspicion on the way.
    const firstReady = liveness === 'ready' && this.unheard.delete(nodeId)
    if (prev.liveness === liveness && prev.left === left) return []
    switch (liveness) {
      case 'ready': return prev.liveness === 'down' || prev.liveness === 'unknown' || firstReady ? [{ kind: 'up', member }] : []
      case 'suspect': return [{ kind: 'suspect', member }]
      case 'down': return left ? (prev.left ? [] : [{ kind: 'left', member }]) : [{ kind: 'down', member }]
      case 'unknown': return []
    }
  }

  /** Drop a member altogether (removed from the cluster). */
  forget (nodeId: string): void {
    this.members.delete(nodeId)
    this.unheard.delete(nodeId)
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

  /** The durable part of every member, for the data dir and join grants. */
  known (): KnownMember[] {
    return this.list().map(m => ({
      nodeId: m.nodeId, peerId: m.peerId, role: m.role, hostname: m.hostname, addrs: m.addrs, createdAtMs: m.createdAtMs, left: m.left
    }))
  }
}
