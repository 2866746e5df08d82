import type { PrivateKey } from '@libp2p/interface'
import { P2PHost, type StreamHandlerInit } from './host.js'
import { MemberTable, type Member, type MemberEvent, type KnownMember } from './member-table.js'
import { authenticateHeartbeat, decodeHeartbeat, encodeHeartbeat, type Heartbeat, type HeartbeatStatus, type NodeDescription } from './heartbeat.js'
import { certificateClaims, verifyCertificate, type CertificateClaims, type NodeRole } from './certificate.js'
import { clearMembership, saveMembershipState, type MembershipState } from './membership-state.js'
import { serveJoin, requestJoin, type AdmitResult, type JoinGrant, type JoinRequest } from './join-protocol.js'
import { parseToken } from './token.js'
import { FlotillaError, asFlotillaError } from './errors.js'
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
  readonly privateKey: PrivateKey
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
/** Delay of the heartbeat sent when a peer subscribes, so that a burst of new peers shares one. */
const EAGER_HEARTBEAT_MS = 50
/** How long a removed node may still connect (to hear, on its session poll, that it was removed). */
const REVOKED_GRACE_MS = 5000

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
  private readonly topic: string
  private selfClaims: CertificateClaims
  private readonly listeners: Array<(e: MemberEvent) => void> = []
  private readonly backoff = new Map<string, { nextAtMs: number, delayMs: number }>()
  private readonly dialing = new Set<string>()
  private readonly timers: NodeJS.Timeout[] = []
  /** Heartbeats the gossip validator already decoded and authenticated, handed on to delivery. */
  private readonly validated = new WeakMap<Uint8Array, { hb: Heartbeat, claims: CertificateClaims }>()
  /** Removed nodes (node ID → peer ID): their gossip and streams are refused. */
  private readonly revoked = new Map<string, string>()
  /** Peers of removed nodes whose connections are refused (after REVOKED_GRACE_MS). */
  private readonly disconnected = new Set<string>()
  private authority: ClusterAuthority | null = null
  private localLeaderId: string | null = null
  private seq = 0
  private saveTimer: NodeJS.Timeout | null = null
  private eagerHeartbeat: NodeJS.Timeout | null = null
  private stopped = false

  private constructor (
    private readonly deps: MembershipDeps,
    private readonly host: P2PHost,
    private state: MembershipState,
    private readonly addresses: NodeAddresses
  ) {
    this.log = deps.logger.child('membership')
    this.topic = `/flotilla/${state.clusterId}/heartbeat/1`
    this.selfClaims = certificateClaims(state.certificate)
    this.table = new MemberTable(state.nodeId, { suspectAfterMs: deps.timing.suspectAfterMs, downAfterMs: deps.timing.downAfterMs })
    const now = deps.now()
    for (const m of state.members) if (m.nodeId !== state.nodeId) this.table.restore(m, now)
    host.setDenied(peerId => this.isRevokedPeer(peerId))
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
      const queue = remotes.map(toMultiaddr)
      const tried = new Set<string>()
      let lastError: FlotillaError | null = null
      while (queue.length > 0 && tried.size < 8) {
        const addr = queue.shift()!
        if (tried.has(addr)) continue
        tried.add(addr)
        let outcome
        try {
          outcome = await requestJoin(host, addr, token, addrs.hostname, [toMultiaddr(addrs.advertise)])
        } catch (err) {
          const e = asFlotillaError(err)
          if (!e.retryable) throw e
          lastError = e
          continue
        }
        if (outcome.kind === 'redirect') {
          deps.logger.child('membership').info('join address cannot admit; trying the managers it named', { managers: outcome.managers.join(',') })
          queue.push(...outcome.managers)
          lastError = new FlotillaError('unavailable', outcome.message, { retryable: true, hint: 'join through a manager\'s address' })
          continue
        }
        return { grant: outcome.grant, host }
      }
      throw lastError ?? new FlotillaError('invalid-argument', 'no address to join')
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

  private trust (): { clusterId: string, rootPublicKeyDer: Uint8Array, isRevoked: (c: CertificateClaims) => boolean } {
    return { clusterId: this.state.clusterId, rootPublicKeyDer: this.state.rootPublicKeyDer, isRevoked: (c) => this.revoked.has(c.nodeId) }
  }

  private async start (): Promise<void> {
    this.host.setValidator(this.topic, (from, data) => {
      try {
        const hb = decodeHeartbeat(data)
        const claims = authenticateHeartbeat(hb, from, this.trust())
        const prev = this.table.get(claims.nodeId)
        if (prev !== undefined && !(hb.incarnation > prev.incarnation || (hb.incarnation === prev.incarnation && hb.seq > prev.seq))) {
          this.reject(from, `stale or replayed heartbeat of ${claims.nodeId}`)
          return 'ignore'
        }
        this.validated.set(data, { hb, claims })
        return 'accept'
      } catch (err) {
        this.reject(from, (err as Error).message)
        return 'reject'
      }
    })
    this.host.onMessage(this.topic, (from, data) => { this.onHeartbeat(from, data) })
    this.host.onPeerDisconnect(peerId => {
      // Redial soon: a restarted peer comes back on the same address.
      this.backoff.delete(peerId)
    })
    // A member that just connected hears from us at once, not at our next period: joins and
    // restarts converge a heartbeat period sooner. Bursts of new peers share one heartbeat.
    this.host.onSubscribed(this.topic, () => {
      if (this.eagerHeartbeat !== null || this.stopped) return
      this.eagerHeartbeat = setTimeout(() => {
        this.eagerHeartbeat = null
        if (!this.stopped) void this.publishHeartbeat('ready')
      }, EAGER_HEARTBEAT_MS)
      this.eagerHeartbeat.unref()
    })
    this.host.subscribe(this.topic)
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

  private reject (from: string, reason: string): void {
    this.stats.rejectedHeartbeats++
    this.log.debug('rejected heartbeat', { from, reason })
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

  private onHeartbeat (from: string, data: Uint8Array): void {
    let checked = this.validated.get(data)
    if (checked === undefined) {
      try {
        const hb = decodeHeartbeat(data)
        checked = { hb, claims: authenticateHeartbeat(hb, from, this.trust()) }
      } catch (err) {
        this.reject(from, (err as Error).message)
        return
      }
    }
    const { hb, claims } = checked
    const verdict = this.table.applyHeartbeat(hb, claims, this.deps.now())
    if (!verdict.accepted) {
      this.reject(from, verdict.reason)
      return
    }
    this.emit(verdict.events)
  }

  private publishHeartbeat (status: HeartbeatStatus): Promise<void> {
    const hb: Heartbeat = {
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
    }
    const verdict = this.table.applyHeartbeat(hb, this.selfClaims, this.deps.now())
    if (verdict.accepted) this.emit(verdict.events.filter(e => e.kind !== 'joined'))
    return this.host.publish(this.topic, encodeHeartbeat(hb)).catch((err: unknown) => {
      this.log.debug('heartbeat not published', { err: (err as Error).message })
    })
  }

  private tick (): void {
    this.emit(this.table.tick(this.deps.now()))
  }

  private reconnect (): void {
    if (this.stopped) return
    const now = this.deps.now()
    for (const m of this.table.list()) {
      if (m.nodeId === this.state.nodeId || m.left || m.addrs.length === 0 || this.revoked.has(m.nodeId)) continue
      if (this.dialing.has(m.peerId) || this.host.isConnected(m.peerId)) continue
      const b = this.backoff.get(m.peerId)
      if (b !== undefined && b.nextAtMs > now) continue
      this.dialing.add(m.peerId)
      const addr = `${m.addrs[0]!}/p2p/${m.peerId}`
      this.host.dial(addr, AbortSignal.timeout(3000)).then(() => {
        this.backoff.delete(m.peerId)
      }, (err: unknown) => {
        const delayMs = Math.min((b?.delayMs ?? 250) * 2, 5000)
        this.backoff.set(m.peerId, { nextAtMs: this.deps.now() + delayMs, delayMs })
        this.log.debug('dial failed', { node: m.nodeId, addr, err: (err as Error).message })
      }).finally(() => { this.dialing.delete(m.peerId) })
    }
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
   * Refuse these removed nodes from now on: their heartbeats, member streams and connections (hung up
   * now: a gater does not close connections that already exist). Returns true when this node itself
   * is among them.
   */
  setRevoked (nodes: ReadonlyArray<{ readonly id: string, readonly peerId: string }>): boolean {
    let self = false
    for (const n of nodes) {
      if (n.id === this.nodeId) self = true
      if (this.revoked.has(n.id)) continue
      this.revoked.set(n.id, n.peerId)
      this.log.info('node removed from the cluster; refusing it', { node: n.id })
      // Its gossip and streams are refused from now on; the connection itself is cut after a grace
      // period, so that the removed node's next session poll can still learn that it was removed.
      const t = setTimeout(() => {
        this.disconnected.add(n.peerId)
        this.host.hangUp(n.peerId).catch(() => {})
      }, REVOKED_GRACE_MS)
      t.unref()
    }
    return self
  }

  /** Whether connections with this peer are refused (a removed node, after its grace period). */
  private isRevokedPeer (peerId: string): boolean {
    return this.disconnected.has(peerId)
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
  async dialMember (nodeId: string, protocol: string, maxFrameBytes: number, signal: AbortSignal): Promise<FrameStream> {
    return await dialMember(this.streamContext(), nodeId, protocol, maxFrameBytes, signal)
  }

  private streamContext (): MemberStreamContext {
    return {
      host: this.host,
      certificate: this.state.certificate,
      clusterId: this.state.clusterId,
      rootPublicKeyDer: this.state.rootPublicKeyDer,
      isRevoked: nodeId => this.revoked.has(nodeId),
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
    if (this.eagerHeartbeat !== null) clearTimeout(this.eagerHeartbeat)
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
