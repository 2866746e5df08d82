import { P2PHost, type StreamHandlerInit } from './host.js'
import { MemberTable, type Member, type MemberEvent, type KnownMember } from './member-table.js'
import type { HeartbeatStatus, NodeDescription } from './heartbeat.js'
import { certificateClaims, verifyCertificate, type CertificateClaims, type NodeRole } from './certificate.js'
import { clearMembership, saveMembershipState, type MembershipState, type NodeKey } from './membership-state.js'
import { serveJoin, type AdmitResult, type JoinGrant, type JoinRequest } from './join-protocol.js'
import { parseToken } from './token.js'
import { FlotillaError } from './errors.js'
import { HeartbeatGossip } from './heartbeat-gossip.js'
import { joinThrough } from './join-client.js'
import { Redialer } from './redialer.js'
import { Revocations } from './revocations.js'
import { formatHostPort, toMultiaddr, fromMultiaddr, type HostPort } from './addr.js'
import type { FrameStream } from './frame-stream.js'
import { dialMember, serveMembers, type MemberStreamContext, type PeerIdentity } from './member-streams.js'
import type { Logger } from './logger.js'

/** Periods of the gossip membership, in milliseconds. */
export interface MembershipTiming {
  /** How often a member publishes its heartbeat. */
  readonly heartbeatMs: number
  /** Silence after which a member is suspect. */
  readonly suspectAfterMs: number
  /** Silence after which a member is down (other nodes show it as Down). */
  readonly downAfterMs: number
}

/**
 * Defaults chosen for detection within 3 s at the least CPU: a member is down after 2.6 s of silence,
 * i.e. after two missed heartbeats and most of a third (measured: halving the period from 500 ms cut
 * idle CPU per agent at 10 agents from 11.5 % to 7.9 %). A heartbeat is ~1 KiB.
 */
export const DEFAULT_TIMING: MembershipTiming = Object.freeze({ heartbeatMs: 1000, suspectAfterMs: 1800, downAfterMs: 2600 })

export interface MembershipDeps {
  readonly dataDir: string
  readonly privateKey: NodeKey
  readonly logger: Logger
  /** The node's current description (engine, resources); read at each heartbeat. */
  readonly describe: () => NodeDescription
  readonly timing: MembershipTiming
  readonly now: () => number
}

/** Where this node listens and what it tells peers to dial. */
export interface NodeAddresses {
  readonly listen: HostPort
  readonly advertise: HostPort
  readonly hostname: string
}

/** What the cluster already decided about this node: from `swarm init`, a join grant, or the data dir. */
export interface MembershipIdentity {
  readonly clusterId: string
  readonly rootPublicKeyDer: Uint8Array
  readonly certificate: Uint8Array
  readonly members: readonly KnownMember[]
}

/**
 * What managers plug in (the election layer, which holds the replicated store): admitting joiners,
 * and which removed nodes to refuse. Workers have none; they redirect joiners to managers.
 */
export interface ClusterAuthority {
  admit(req: JoinRequest): Promise<AdmitResult>
}

export interface MembershipStats {
  /** Gossip messages refused: undecodable, unauthenticated, stale or replayed. */
  rejectedHeartbeats: number
}

const TICK_MS = 100
const RECONNECT_MS = 500
const SAVE_DEBOUNCE_MS = 1000

/**
 * This node's membership of a cluster: the libp2p host, the signed gossip heartbeats, the member table
 * with failure detection, the join handshake it serves, and member-only protocols (Raft, forwarded
 * API calls) whose streams open with the dialer's certificate. Started by `start` (after `swarm init`,
 * a join, or from the data dir); ended by `stop` (the membership stays on disk) or `leave`.
 */
export class Membership {
  readonly stats: MembershipStats = { rejectedHeartbeats: 0 }
  private readonly table: MemberTable
  private readonly log: Logger
  private selfClaims: CertificateClaims
  private readonly listeners: Array<(e: MemberEvent) => void> = []
  private readonly timers: NodeJS.Timeout[] = []
  private readonly gossip: HeartbeatGossip
  private readonly redialer: Redialer
  private readonly revoked: Revocations
  private authority: ClusterAuthority | null = null
  private localLeaderId: string | null = null
  private seq = 0
  private saveTimer: NodeJS.Timeout | null = null
  private stopped = false

  private constructor (
    private readonly deps: MembershipDeps,
    private readonly host: P2PHost,
    private state: MembershipState,
    private readonly addresses: NodeAddresses
  ) {
    this.log = deps.logger.child('membership')
    this.selfClaims = certificateClaims(state.certificate)
    this.table = new MemberTable(state.nodeId, { suspectAfterMs: deps.timing.suspectAfterMs, downAfterMs: deps.timing.downAfterMs })
    const now = deps.now()
    for (const m of state.members) if (m.nodeId !== state.nodeId) this.table.restore(m, now)
    this.revoked = new Revocations(host, this.log)
    this.redialer = new Redialer(host, deps.now, this.log)
    this.gossip = new HeartbeatGossip({
      host,
      topic: `/flotilla/${state.clusterId}/heartbeat/1`,
      table: this.table,
      trust: () => ({ clusterId: this.state.clusterId, rootPublicKeyDer: this.state.rootPublicKeyDer, isRevoked: c => this.revoked.hasNode(c.nodeId) }),
      heartbeat: status => ({
        v: 1,
        cert: this.state.certificate,
        incarnation: this.state.incarnation,
        seq: ++this.seq,
        sentAtMs: this.deps.now(),
        hostname: this.addresses.hostname,
        addrs: [this.state.advertiseAddr],
        status,
        description: this.deps.describe(),
        leaderId: this.localLeaderId ?? ''
      }),
      selfClaims: () => this.selfClaims,
      emit: events => { this.emit(events) },
      rejected: (from, reason) => {
        this.stats.rejectedHeartbeats++
        this.log.debug('rejected heartbeat', { from, reason })
      },
      now: deps.now,
      log: this.log
    })
    host.setDenied(peerId => this.revoked.hasPeer(peerId))
  }

  /** Start the libp2p host for this node's key: needed before a join handshake or a membership. */
  static async startHost (deps: MembershipDeps, addrs: NodeAddresses): Promise<P2PHost> {
    return await P2PHost.start({ privateKey: deps.privateKey, listen: toMultiaddr(addrs.listen), announce: toMultiaddr(addrs.advertise), logger: deps.logger })
  }

  /**
   * Become a member with `identity` (from `swarm init` or a join grant): persist it, then gossip.
   * Takes ownership of `host` (stopped on failure).
   */
  static async create (deps: MembershipDeps, host: P2PHost, addrs: NodeAddresses, identity: MembershipIdentity): Promise<Membership> {
    const claims = certificateClaims(identity.certificate)
    if (claims.peerId !== host.peerId) throw new FlotillaError('internal', 'certificate names another peer than this host')
    const state: MembershipState = {
      clusterId: identity.clusterId,
      nodeId: claims.nodeId,
      role: claims.role,
      certificate: identity.certificate,
      rootPublicKeyDer: identity.rootPublicKeyDer,
      listenAddr: toMultiaddr(addrs.listen),
      advertiseAddr: toMultiaddr(addrs.advertise),
      incarnation: 0,
      members: identity.members
    }
    return await Membership.run(deps, host, state, addrs)
  }

  /**
   * The join handshake against `remotes` (following a worker's redirect to its managers). Returns the
   * grant and the started host, which `create` then takes over.
   */
  static async join (deps: MembershipDeps, addrs: NodeAddresses, remotes: readonly HostPort[], tokenText: string): Promise<{ grant: JoinGrant, host: P2PHost }> {
    const token = parseToken(tokenText)
    const host = await Membership.startHost(deps, addrs)
    try {
      const grant = await joinThrough(host, remotes.map(toMultiaddr), token, addrs.hostname, toMultiaddr(addrs.advertise), deps.logger.child('membership'))
      return { grant, host }
    } catch (err) {
      await host.stop()
      throw err
    }
  }

  /** Restart with the membership found in the data dir: rejoin by dialling the members it knew. */
  static async resume (deps: MembershipDeps, state: MembershipState, hostname: string): Promise<Membership> {
    const addrs: NodeAddresses = {
      listen: fromMultiaddr(state.listenAddr) ?? { ip: '0.0.0.0', port: 0 },
      advertise: fromMultiaddr(state.advertiseAddr) ?? { ip: '127.0.0.1', port: 0 },
      hostname
    }
    const host = await Membership.startHost(deps, addrs)
    if (host.peerId !== certificateClaims(state.certificate).peerId) {
      await host.stop()
      throw new FlotillaError('internal', 'the node key does not match the certificate in the data dir', {
        hint: 'the data dir was tampered with; leave the swarm (`flotilla swarm leave --force`) and join again'
      })
    }
    return await Membership.run(deps, host, state, addrs)
  }

  private static async run (deps: MembershipDeps, host: P2PHost, state: MembershipState, addrs: NodeAddresses): Promise<Membership> {
    try {
      // A new incarnation is on disk before the first heartbeat, so no restart can reuse (incarnation, seq).
      const started = { ...state, incarnation: state.incarnation + 1 }
      await saveMembershipState(deps.dataDir, started)
      const m = new Membership(deps, host, started, addrs)
      await m.start()
      return m
    } catch (err) {
      await host.stop()
      throw err
    }
  }

  private async start (): Promise<void> {
    this.host.onPeerDisconnect(peerId => { this.redialer.reset(peerId) })
    this.gossip.start()
    await serveJoin(this.host, {
      identity: () => ({ clusterId: this.state.clusterId, rootPublicKeyDer: this.state.rootPublicKeyDer, certificate: this.state.certificate }),
      admit: async req => await this.admit(req)
    })
    this.timers.push(setInterval(() => { void this.publishHeartbeat('ready') }, this.deps.timing.heartbeatMs))
    this.timers.push(setInterval(() => { this.tick() }, TICK_MS))
    this.timers.push(setInterval(() => { this.reconnect() }, RECONNECT_MS))
    for (const t of this.timers) t.unref()
    void this.publishHeartbeat('ready')
    this.reconnect()
    this.log.info('member of cluster', {
      cluster: this.state.clusterId, node: this.state.nodeId, role: this.state.role, addr: this.state.advertiseAddr, peer: this.host.peerId
    })
  }

  private async admit (req: JoinRequest): Promise<AdmitResult> {
    if (this.authority === null) {
      return {
        ok: false,
        code: 'not-a-manager',
        message: 'this node cannot admit nodes (it is a worker, or a manager still catching up)',
        managers: this.members().filter(m => m.role === 'manager' && m.liveness === 'ready' && m.nodeId !== this.nodeId).flatMap(m => m.addrs)
      }
    }
    return await this.authority.admit(req)
  }

  private async publishHeartbeat (status: HeartbeatStatus): Promise<void> {
    await this.gossip.publish(status)
  }

  private tick (): void {
    this.emit(this.table.tick(this.deps.now()))
  }

  private reconnect (): void {
    if (this.stopped) return
    this.redialer.tick(this.table.list(), m => m.nodeId === this.state.nodeId || this.revoked.hasNode(m.nodeId))
  }

  private emit (events: readonly MemberEvent[]): void {
    let changed = false
    for (const e of events) {
      const f = { node: e.member.nodeId, hostname: e.member.hostname, role: e.member.role }
      switch (e.kind) {
        case 'joined': this.log.info('member joined', f); changed = true; break
        case 'up': this.log.info('member up', f); break
        case 'down': this.log.warn('member down', f); break
        case 'suspect': this.log.debug('member suspect', f); break
        case 'left': this.log.info('member left', f); changed = true; break
      }
      for (const l of this.listeners) l(e)
    }
    if (changed) this.scheduleSave()
  }

  private scheduleSave (): void {
    if (this.saveTimer !== null || this.stopped) return
    this.saveTimer = setTimeout(() => {
      this.saveTimer = null
      this.persist().catch((err: unknown) => { this.log.error('could not save membership state', { err: (err as Error).message }) })
    }, SAVE_DEBOUNCE_MS)
  }

  private async persist (): Promise<void> {
    this.state = { ...this.state, members: this.table.known().filter(m => m.nodeId !== this.state.nodeId) }
    await saveMembershipState(this.deps.dataDir, this.state)
  }

  /** Managers plug in the authority that admits joiners; null makes this node redirect joiners. */
  setAuthority (authority: ClusterAuthority | null): void {
    this.authority = authority
  }

  /** The Raft leader as this node knows it (managers), announced in every heartbeat. */
  setLocalLeader (nodeId: string | null): void {
    const changed = nodeId !== this.localLeaderId
    this.localLeaderId = nodeId
    // Tell every node at once (not at the next heartbeat): writes forwarded from workers wait on it.
    if (changed && nodeId !== null && !this.stopped) void this.publishHeartbeat('ready')
  }

  /**
   * The leader's node ID: this node's own knowledge (a manager) or, on a worker, the freshest claim of
   * a ready manager's heartbeat.
   */
  leaderHint (): string | null {
    if (this.localLeaderId !== null) return this.localLeaderId
    let best: Member | null = null
    for (const m of this.table.list()) {
      if (m.role !== 'manager' || m.liveness !== 'ready' || m.leaderId === '') continue
      if (best === null || m.updatedAtMs > best.updatedAtMs) best = m
    }
    return best?.leaderId ?? null
  }

  /**
   * Refuse these removed nodes from now on: their heartbeats and member streams at once, their
   * connections after a grace period (see revocations.ts). Returns true when this node itself is among them.
   */
  setRevoked (nodes: ReadonlyArray<{ readonly id: string, readonly peerId: string }>): boolean {
    return this.revoked.add(nodes, this.nodeId)
  }

  /** Take a reissued certificate (a role change); persisted before it is used. */
  async updateCertificate (certificate: Uint8Array): Promise<void> {
    const claims = verifyCertificate(certificate, this.state.rootPublicKeyDer, this.state.clusterId)
    if (claims.peerId !== this.host.peerId || claims.nodeId !== this.state.nodeId) {
      throw new FlotillaError('unauthenticated', 'reissued certificate names another node')
    }
    this.state = { ...this.state, certificate, role: claims.role }
    this.selfClaims = claims
    await this.persist()
    this.log.info('certificate reissued', { role: claims.role })
  }

  /** Serve a member-only protocol (see member-streams.ts): the dialer's certificate is checked first. */
  async serveMembers (protocol: string, init: StreamHandlerInit & { readonly allowRevoked?: boolean }, authorize: (peer: PeerIdentity) => string | null,
    handler: (stream: FrameStream, peer: PeerIdentity, signal: AbortSignal) => Promise<void>): Promise<void> {
    await serveMembers(this.streamContext(), protocol, init, authorize, handler)
  }

  /** Stop serving a member-only protocol (a manager that stops being one). */
  async unserveMembers (protocol: string): Promise<void> {
    await this.host.unhandle(protocol)
  }

  /** Open a member-only protocol to node `nodeId` (see member-streams.ts). */
  async dialMember (nodeId: string, protocol: string, maxFrameBytes: number, signal: AbortSignal, confirmed = false): Promise<FrameStream> {
    return await dialMember(this.streamContext(), nodeId, protocol, maxFrameBytes, signal, confirmed)
  }

  private streamContext (): MemberStreamContext {
    return {
      host: this.host,
      certificate: this.state.certificate,
      clusterId: this.state.clusterId,
      rootPublicKeyDer: this.state.rootPublicKeyDer,
      isRevoked: nodeId => this.revoked.hasNode(nodeId),
      member: nodeId => this.table.get(nodeId),
      log: this.log
    }
  }

  onEvent (fn: (e: MemberEvent) => void): void {
    this.listeners.push(fn)
  }

  get nodeId (): string { return this.state.nodeId }
  get clusterId (): string { return this.state.clusterId }
  get role (): NodeRole { return this.state.role }
  get peerId (): string { return this.host.peerId }
  get rootPublicKeyDer (): Uint8Array { return this.state.rootPublicKeyDer }
  get advertiseAddr (): string { return formatHostPort(this.addresses.advertise) }
  get listenAddr (): string { return formatHostPort(this.addresses.listen) }

  /** Every member this node knows, itself included, ordered by node ID. */
  members (): Member[] {
    return this.table.list()
  }

  member (nodeId: string): Member | undefined {
    return this.table.get(nodeId)
  }

  /** The durable part of every member (for a join grant). */
  knownMembers (): KnownMember[] {
    return this.table.known()
  }

  /** Stop gossiping and close the host; the membership stays on disk for the next start. */
  async stop (): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    for (const t of this.timers) clearInterval(t)
    if (this.saveTimer !== null) clearTimeout(this.saveTimer)
    this.gossip.stop()
    this.revoked.stop()
    await this.persist().catch((err: unknown) => {
      this.log.error('could not save membership state', { err: (err as Error).message })
    })
    await this.host.stop()
  }

  /** `swarm leave`: tell the members, stop, and forget the cluster. */
  async leave (): Promise<void> {
    await this.publishHeartbeat('leaving')
    await this.stop()
    await clearMembership(this.deps.dataDir)
    this.log.info('left the cluster', { cluster: this.state.clusterId, node: this.state.nodeId })
  }
}
