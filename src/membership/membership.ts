import { P2PHost, type StreamHandlerInit } from './host.js'
import { MemberTable, type Member, type MemberEvent, type KnownMember } from './member-table.js'
import type { NodeView } from './node-view.js'
import { certificateClaims, verifyCertificate, type CertificateClaims, type NodeRole } from './certificate.js'
import { MembershipStateFile, clearMembership, saveMembershipState, type MembershipState } from './membership-state.js'
import { serveJoin, type AdmitResult, type JoinGrant, type JoinRequest } from './join-protocol.js'
import { parseToken } from './token.js'
import { FlotillaError } from './errors.js'
import { joinThrough } from './join-client.js'
import { Revocations } from './revocations.js'
import { formatHostPort, toMultiaddr, fromMultiaddr, type HostPort } from './addr.js'
import type { FrameStream } from './frame-stream.js'
import { dialMember, serveMembers, type MemberStreamContext, type PeerIdentity } from './member-streams.js'
import type { ClaimTrust } from './swim-claims.js'
import { SwimMembership, DEFAULT_TIMING, type MembershipTiming } from './swim-membership.js'
import { INCARNATION_BLOCK } from './swim-driver.js'
import type { Logger } from './logger.js'
import type { ClusterAuthority, MembershipDeps, MembershipIdentity, MembershipStats, NodeAddresses } from './membership-deps.js'

export { DEFAULT_TIMING, type MembershipTiming }
export type { MembershipDeps, NodeAddresses, MembershipIdentity, ClusterAuthority, MembershipStats } from './membership-deps.js'

const SAVE_DEBOUNCE_MS = 1000
/** How often the node's own view (its engine's description) is compared with what it last announced. */
const VIEW_CHECK_MS = 1000
/** How long `leave` keeps gossiping its leave before it stops. */
const LEAVE_GOSSIP_MS = 500

/**
 * This node's membership of a cluster: the libp2p host, SWIM with Lifeguard (swim/ and its driver,
 * swim-driver.ts: probes and push-pull over a member-only stream, news on the broadcast topic), the
 * member table the rest of the agent reads, the join handshake it serves, and member-only protocols
 * (Raft, forwarded API calls) whose streams open with the dialer's certificate. Started by `start` (after
 * `swarm init`, a join, or from the data dir); ended by `stop` (the membership stays on disk) or `leave`.
 */
export class Membership {
  private readonly table: MemberTable
  private readonly log: Logger
  private selfClaims: CertificateClaims
  private readonly listeners: Array<(e: MemberEvent) => void> = []
  private readonly timers: NodeJS.Timeout[] = []
  private readonly revoked: Revocations
  private readonly swim: SwimMembership
  private authority: ClusterAuthority | null = null
  private localLeaderId: string | null = null
  private readonly file: MembershipStateFile
  private stopped = false

  private constructor (
    private readonly deps: MembershipDeps,
    private readonly host: P2PHost,
    state: MembershipState,
    private readonly addresses: NodeAddresses,
    startIncarnation: number
  ) {
    this.log = deps.logger.child('membership')
    this.file = new MembershipStateFile(deps.dataDir, state, err => { this.log.error('could not save membership state', { err: err.message }) })
    this.selfClaims = certificateClaims(state.certificate)
    this.table = new MemberTable(state.nodeId)
    const now = deps.now()
    for (const m of state.members) this.table.restore(m, now)
    this.revoked = new Revocations(host, this.log)
    this.swim = new SwimMembership({
      host,
      privateKey: deps.privateKey,
      clusterId: state.clusterId,
      nodeId: state.nodeId,
      incarnation: startIncarnation,
      reserved: state.incarnation,
      table: this.table,
      members: state.members.filter(m => !m.left && m.addrs.length > 0).map(m => m.nodeId),
      trust: () => this.trust(),
      certificate: () => this.state.certificate,
      claims: () => this.selfClaims,
      view: () => this.currentView(),
      serve: async (protocol, maxFrameBytes, handler) => { await this.serveMembers(protocol, { maxFrameBytes, timeoutMs: 0 }, () => null, handler) },
      unserve: async protocol => { await this.unserveMembers(protocol) },
      dial: async (nodeId, protocol, maxFrameBytes, signal) => await this.dialMember(nodeId, protocol, maxFrameBytes, signal, true),
      emit: events => { this.emit(events) },
      reserveIncarnations: async ceiling => { await this.reserveIncarnations(ceiling) },
      timing: deps.timing,
      now: deps.now,
      log: this.log
    })
    host.setDenied(peerId => this.revoked.hasPeer(peerId))
  }

  /** What membership.json holds (the latest; see MembershipStateFile). */
  private get state (): MembershipState { return this.file.state }
  private set state (s: MembershipState) { this.file.state = s }

  /** Messages, or claims in them, refused: undecodable, unauthenticated, forged, foreign, removed, replayed. */
  get stats (): MembershipStats {
    return this.swim.stats
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
      // Start above every incarnation the last run may have announced (the ceiling it reserved), and
      // reserve a block for this one before announcing any: the members that hold this node dead from
      // its last run take the new one's alive at once.
      const start = state.incarnation + 1
      const reserved = { ...state, incarnation: start + INCARNATION_BLOCK }
      await saveMembershipState(deps.dataDir, reserved)
      const m = new Membership(deps, host, reserved, addrs, start)
      await m.start()
      return m
    } catch (err) {
      await host.stop()
      throw err
    }
  }

  private async start (): Promise<void> {
    await serveJoin(this.host, {
      identity: () => ({ clusterId: this.state.clusterId, rootPublicKeyDer: this.state.rootPublicKeyDer, certificate: this.state.certificate }),
      admit: async req => await this.admit(req)
    })
    this.timers.push(setInterval(() => { this.tick() }, VIEW_CHECK_MS))
    for (const t of this.timers) t.unref()
    await this.swim.start()
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

  private trust (): ClaimTrust {
    return { clusterId: this.state.clusterId, rootPublicKeyDer: this.state.rootPublicKeyDer, isRevoked: nodeId => this.revoked.hasNode(nodeId) }
  }

  private currentView (): NodeView {
    return { hostname: this.addresses.hostname, addrs: [this.state.advertiseAddr], description: this.deps.describe(), leaderId: this.localLeaderId ?? '' }
  }

  private tick (): void {
    if (!this.stopped) this.swim.refreshView()
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
    if (!this.stopped) this.file.saveSoon(SAVE_DEBOUNCE_MS, () => { this.updateMembers() })
  }

  private updateMembers (): void {
    this.state = { ...this.state, members: this.table.known().filter(m => m.nodeId !== this.state.nodeId) }
  }

  private async persist (): Promise<void> {
    this.updateMembers()
    await this.file.save()
  }

  /** A new ceiling for SWIM's incarnations (see swim-driver.ts): durable before any above the last is announced. */
  private async reserveIncarnations (ceiling: number): Promise<void> {
    if (ceiling <= this.state.incarnation) return
    this.state = { ...this.state, incarnation: ceiling }
    await this.file.save()
  }

  /** Managers plug in the authority that admits joiners; null makes this node redirect joiners. */
  setAuthority (authority: ClusterAuthority | null): void {
    this.authority = authority
  }

  /**
   * The Raft leader as this node knows it (managers). It rides this node's view, which goes out at once
   * on the broadcast topic (and SWIM's gossip): writes forwarded from workers wait on it.
   */
  setLocalLeader (nodeId: string | null): void {
    if (nodeId === this.localLeaderId) return
    this.localLeaderId = nodeId
    if (!this.stopped) this.swim.refreshView()
  }

  /**
   * The leader's node ID: this node's own knowledge (a manager) or, on a worker, the freshest claim in a
   * ready manager's view.
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
   * Refuse these removed nodes from now on: their SWIM messages, gossip about them and their member
   * streams at once (they are forgotten: gossip cannot bring them back), their connections after a grace
   * period (see revocations.ts). Returns true when this node itself is among them.
   */
  setRevoked (nodes: ReadonlyArray<{ readonly id: string, readonly peerId: string }>): boolean {
    const self = this.revoked.add(nodes, this.nodeId)
    for (const n of nodes) {
      if (n.id === this.nodeId) continue
      this.swim.forget(n.id)
      if (this.table.get(n.id) === undefined) continue
      this.table.forget(n.id)
      this.scheduleSave()
    }
    return self
  }

  /** Take a reissued certificate (a role change); persisted before it is used, then announced in this node's view. */
  async updateCertificate (certificate: Uint8Array): Promise<void> {
    const claims = verifyCertificate(certificate, this.state.rootPublicKeyDer, this.state.clusterId)
    if (claims.peerId !== this.host.peerId || claims.nodeId !== this.state.nodeId) {
      throw new FlotillaError('unauthenticated', 'reissued certificate names another node')
    }
    this.state = { ...this.state, certificate, role: claims.role }
    this.selfClaims = claims
    await this.persist()
    if (!this.stopped) this.swim.refreshView(true)
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

  /** Stop SWIM and close the host; the membership stays on disk for the next start. */
  async stop (): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    for (const t of this.timers) clearInterval(t)
    this.file.stop()
    this.revoked.stop()
    await this.swim.stop()
    await this.persist().catch((err: unknown) => {
      this.log.error('could not save membership state', { err: (err as Error).message })
    })
    await this.host.stop()
  }

  /** `swarm leave`: tell the members (SWIM's leave: a dead from this node itself), stop, and forget the cluster. */
  async leave (): Promise<void> {
    await this.swim.leave(LEAVE_GOSSIP_MS)
    await this.stop()
    await clearMembership(this.deps.dataDir)
    this.log.info('left the cluster', { cluster: this.state.clusterId, node: this.state.nodeId })
  }

  /** SWIM's figures for tests and benchmarks (see SwimMembership.figures). */
  get swimFigures (): SwimMembership['figures'] {
    return this.swim.figures
  }
}
