import type { PrivateKey } from '@libp2p/interface'
import { P2PHost } from './host.js'
import { MemberTable, type Member, type MemberEvent, type KnownMember } from './member-table.js'
import { authenticateHeartbeat, decodeHeartbeat, encodeHeartbeat, type Heartbeat, type HeartbeatStatus, type NodeDescription } from './heartbeat.js'
import { certificateClaims, issueCertificate, type CertificateClaims, type NodeRole } from './certificate.js'
import { isNewer, newClusterConfig, rotateToken, withSpec, decodeClusterConfig, encodeClusterConfig, type ClusterConfig } from './cluster-config.js'
import { clearMembership, saveClusterConfig, saveMembershipState, type MembershipState } from './membership-state.js'
import { serveJoin, requestJoin, type AdmitResult, type JoinRequest } from './join-protocol.js'
import { parseToken, roleForSecret } from './token.js'
import { FlotillaError, asFlotillaError } from './errors.js'
import { newObjectId } from './ids.js'
import { isBytes, isRecord } from './codec.js'
import { formatHostPort, toMultiaddr, fromMultiaddr, type HostPort } from './addr.js'
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
 * Defaults chosen for detection within 3 s on a loaded 2-core host: four missed heartbeats make a member
 * down; a heartbeat is ~1 KiB, so 10 members cost ~20 KiB/s per node.
 */
export const DEFAULT_TIMING: MembershipTiming = { heartbeatMs: 500, suspectAfterMs: 1200, downAfterMs: 2000 }

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

export interface MembershipStats {
  /** Gossip messages refused: undecodable, unauthenticated, stale or replayed. */
  rejectedHeartbeats: number
}

const CONFIG_PROTOCOL = '/flotilla/config/1.0.0'
const TICK_MS = 100
const RECONNECT_MS = 500
const SAVE_DEBOUNCE_MS = 1000

/**
 * This node's membership of a cluster: the libp2p host, the signed gossip heartbeats, the member table
 * with failure detection, the join handshake it serves, and (on managers) the cluster configuration.
 * Created by `init`, `join` or `resume`; ended by `stop` (the agent exits, the membership stays on disk)
 * or `leave` (the membership is forgotten).
 */
export class Membership {
  readonly stats: MembershipStats = { rejectedHeartbeats: 0 }
  private readonly table: MemberTable
  private readonly log: Logger
  private readonly topic: string
  private readonly selfClaims: CertificateClaims
  private readonly listeners: Array<(e: MemberEvent) => void> = []
  private readonly backoff = new Map<string, { nextAtMs: number, delayMs: number }>()
  private readonly dialing = new Set<string>()
  private readonly timers: NodeJS.Timeout[] = []
  /** Heartbeats the gossip validator already decoded and authenticated, handed on to delivery. */
  private readonly validated = new WeakMap<Uint8Array, { hb: Heartbeat, claims: CertificateClaims }>()
  private fetchingConfig = false
  private seq = 0
  private saveTimer: NodeJS.Timeout | null = null
  private stopped = false

  private constructor (
    private readonly deps: MembershipDeps,
    private readonly host: P2PHost,
    private state: MembershipState,
    private config: ClusterConfig | null,
    private readonly addresses: NodeAddresses
  ) {
    this.log = deps.logger.child('membership')
    this.topic = `/flotilla/${state.clusterId}/heartbeat/1`
    this.selfClaims = certificateClaims(state.certificate)
    this.table = new MemberTable(state.nodeId, { suspectAfterMs: deps.timing.suspectAfterMs, downAfterMs: deps.timing.downAfterMs })
    const now = deps.now()
    for (const m of state.members) if (m.nodeId !== state.nodeId) this.table.restore(m, now)
  }

  /** `swarm init`: create a cluster whose only member and first manager is this node. */
  static async init (deps: MembershipDeps, addrs: NodeAddresses, spec: Readonly<Record<string, unknown>>): Promise<Membership> {
    const host = await P2PHost.start({ privateKey: deps.privateKey, listen: toMultiaddr(addrs.listen), announce: toMultiaddr(addrs.advertise), logger: deps.logger })
    try {
      const nodeId = newObjectId()
      const config = newClusterConfig(nodeId, spec, deps.now())
      const certificate = issueCertificate(config.root, { clusterId: config.clusterId, nodeId, peerId: host.peerId, role: 'manager', issuedAtMs: deps.now() })
      const state = Membership.stateFor(addrs, config.clusterId, nodeId, 'manager', certificate, config.root.publicKeyDer, [], 0)
      await saveClusterConfig(deps.dataDir, config)
      return await Membership.run(deps, host, state, config, addrs)
    } catch (err) {
      await host.stop()
      throw err
    }
  }

  /**
   * `swarm join`: run the join handshake against `remotes` (following a worker's redirect to its
   * managers) and start as a member with the certificate granted.
   */
  static async join (deps: MembershipDeps, addrs: NodeAddresses, remotes: readonly HostPort[], tokenText: string): Promise<Membership> {
    const token = parseToken(tokenText)
    const host = await P2PHost.start({ privateKey: deps.privateKey, listen: toMultiaddr(addrs.listen), announce: toMultiaddr(addrs.advertise), logger: deps.logger })
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
          deps.logger.child('membership').info('join address is a worker; trying its managers', { managers: outcome.managers.join(',') })
          queue.push(...outcome.managers)
          lastError = new FlotillaError('unavailable', outcome.message, { hint: 'join through a manager\'s address' })
          continue
        }
        const g = outcome.grant
        const claims = certificateClaims(g.certificate)
        const state = Membership.stateFor(addrs, g.clusterId, claims.nodeId, claims.role, g.certificate, g.rootPublicKeyDer, g.members, 0)
        if (g.config !== null) await saveClusterConfig(deps.dataDir, g.config)
        return await Membership.run(deps, host, state, g.config, addrs)
      }
      throw lastError ?? new FlotillaError('invalid-argument', 'no address to join')
    } catch (err) {
      await host.stop()
      throw err
    }
  }

  /** Restart with the membership found in the data dir: rejoin by dialling the members it knew. */
  static async resume (deps: MembershipDeps, state: MembershipState, config: ClusterConfig | null, hostname: string): Promise<Membership> {
    const addrs: NodeAddresses = {
      listen: fromMultiaddr(state.listenAddr) ?? { ip: '0.0.0.0', port: 0 },
      advertise: fromMultiaddr(state.advertiseAddr) ?? { ip: '127.0.0.1', port: 0 },
      hostname
    }
    const host = await P2PHost.start({ privateKey: deps.privateKey, listen: state.listenAddr, announce: state.advertiseAddr, logger: deps.logger })
    try {
      if (host.peerId !== certificateClaims(state.certificate).peerId) {
        throw new FlotillaError('internal', 'the node key does not match the certificate in the data dir', {
          hint: 'the data dir was tampered with; leave the swarm (`flotilla swarm leave --force`) and join again'
        })
      }
      return await Membership.run(deps, host, { ...state }, config, addrs)
    } catch (err) {
      await host.stop()
      throw err
    }
  }

  private static stateFor (addrs: NodeAddresses, clusterId: string, nodeId: string, role: NodeRole, certificate: Uint8Array,
    rootPublicKeyDer: Uint8Array, members: readonly KnownMember[], incarnation: number): MembershipState {
    return {
      clusterId, nodeId, role, certificate, rootPublicKeyDer,
      listenAddr: toMultiaddr(addrs.listen),
      advertiseAddr: toMultiaddr(addrs.advertise),
      incarnation,
      members
    }
  }

  private static async run (deps: MembershipDeps, host: P2PHost, state: MembershipState, config: ClusterConfig | null, addrs: NodeAddresses): Promise<Membership> {
    // A new incarnation is on disk before the first heartbeat, so no restart can reuse (incarnation, seq).
    const started = { ...state, incarnation: state.incarnation + 1 }
    await saveMembershipState(deps.dataDir, started)
    const m = new Membership(deps, host, started, config, addrs)
    await m.start()
    return m
  }

  private async start (): Promise<void> {
    const trust = { clusterId: this.state.clusterId, rootPublicKeyDer: this.state.rootPublicKeyDer }
    this.host.setValidator(this.topic, (from, data) => {
      try {
        const hb = decodeHeartbeat(data)
        const claims = authenticateHeartbeat(hb, from, trust)
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
    this.host.subscribe(this.topic)
    await serveJoin(this.host, { identity: () => this.identity(), admit: async req => await this.admit(req) })
    await this.host.handle(CONFIG_PROTOCOL, { maxFrameBytes: 1024, timeoutMs: 5000 }, async (stream, remotePeer, signal) => {
      const req = await stream.read(signal)
      if (!isRecord(req) || req.t !== 'get') throw new FlotillaError('invalid-argument', 'config: expected get')
      const asker = this.table.byPeerId(remotePeer)
      if (this.config === null || asker === undefined || asker.role !== 'manager' || asker.left) {
        await stream.write({ t: 'refused', message: 'only managers of this cluster may read its configuration' }, signal)
        return
      }
      await stream.write({ t: 'config', config: encodeClusterConfig(this.config) }, signal)
    })
    this.timers.push(setInterval(() => { this.publishHeartbeat('ready') }, this.deps.timing.heartbeatMs))
    this.timers.push(setInterval(() => { this.tick() }, TICK_MS))
    this.timers.push(setInterval(() => { this.reconnect() }, RECONNECT_MS))
    for (const t of this.timers) t.unref()
    this.publishHeartbeat('ready')
    this.reconnect()
    this.log.info('member of cluster', {
      cluster: this.state.clusterId, node: this.state.nodeId, role: this.state.role, addr: this.state.advertiseAddr, peer: this.host.peerId
    })
  }

  private reject (from: string, reason: string): void {
    this.stats.rejectedHeartbeats++
    this.log.debug('rejected heartbeat', { from, reason })
  }

  private identity (): { clusterId: string, rootPublicKeyDer: Uint8Array, certificate: Uint8Array } {
    return { clusterId: this.state.clusterId, rootPublicKeyDer: this.state.rootPublicKeyDer, certificate: this.state.certificate }
  }

  private async admit (req: JoinRequest): Promise<AdmitResult> {
    if (this.config === null) {
      return {
        ok: false,
        code: 'not-a-manager',
        message: 'this node is a worker and cannot admit nodes',
        managers: this.members().filter(m => m.role === 'manager' && m.liveness === 'ready').flatMap(m => m.addrs)
      }
    }
    const role = roleForSecret(this.config.secrets, req.secret)
    if (role === null) {
      this.log.warn('refused a join with an invalid or rotated token', { peer: req.peerId, hostname: req.hostname })
      return {
        ok: false,
        code: 'unauthenticated',
        message: 'invalid join token',
        hint: 'the token may have been rotated; get the current one with `flotilla swarm join-token worker` (or manager) on a manager'
      }
    }
    const nodeId = newObjectId()
    const certificate = issueCertificate(this.config.root, {
      clusterId: this.state.clusterId, nodeId, peerId: req.peerId, role, issuedAtMs: this.deps.now()
    })
    this.log.info('admitted node', { node: nodeId, role, hostname: req.hostname, peer: req.peerId })
    return {
      ok: true,
      grant: {
        clusterId: this.state.clusterId,
        rootPublicKeyDer: this.state.rootPublicKeyDer,
        certificate,
        members: this.table.known(),
        config: role === 'manager' ? this.config : null
      }
    }
  }

  private onHeartbeat (from: string, data: Uint8Array): void {
    let checked = this.validated.get(data)
    if (checked === undefined) {
      try {
        const hb = decodeHeartbeat(data)
        checked = { hb, claims: authenticateHeartbeat(hb, from, { clusterId: this.state.clusterId, rootPublicKeyDer: this.state.rootPublicKeyDer }) }
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
    if (claims.role === 'manager' && this.config !== null && hb.configVersion > this.config.version) this.fetchConfig(claims.nodeId)
  }

  private fetchConfig (fromNodeId: string): void {
    const peer = this.table.get(fromNodeId)
    if (peer === undefined || this.fetchingConfig) return
    this.fetchingConfig = true
    const run = async (): Promise<void> => {
      const signal = AbortSignal.timeout(5000)
      const { stream } = await this.host.openStream(`${peer.addrs[0] ?? ''}/p2p/${peer.peerId}`, CONFIG_PROTOCOL, 256 * 1024, signal)
      try {
        await stream.write({ t: 'get' }, signal)
        const res = await stream.read(signal)
        if (!isRecord(res) || res.t !== 'config' || !isBytes(res.config)) throw new FlotillaError('unauthenticated', 'config refused')
        const cfg = decodeClusterConfig(res.config)
        if (cfg.clusterId !== this.state.clusterId || Buffer.compare(cfg.root.publicKeyDer, this.state.rootPublicKeyDer) !== 0) {
          throw new FlotillaError('unauthenticated', 'config of another cluster')
        }
        if (this.config !== null && isNewer(cfg, this.config)) {
          await saveClusterConfig(this.deps.dataDir, cfg)
          this.config = cfg
          this.log.info('cluster configuration updated from manager', { from: fromNodeId, version: cfg.version })
        }
      } finally {
        await stream.close().catch(() => {})
      }
    }
    run().catch((err: unknown) => { this.log.warn('could not fetch cluster configuration', { from: fromNodeId, err: (err as Error).message }) })
      .finally(() => { this.fetchingConfig = false })
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
      configVersion: this.config?.version ?? 0
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
      if (m.nodeId === this.state.nodeId || m.left || m.addrs.length === 0) continue
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
      this.state = { ...this.state, members: this.table.known().filter(m => m.nodeId !== this.state.nodeId) }
      saveMembershipState(this.deps.dataDir, this.state).catch((err: unknown) => {
        this.log.error('could not save membership state', { err: (err as Error).message })
      })
    }, SAVE_DEBOUNCE_MS)
  }

  onEvent (fn: (e: MemberEvent) => void): void {
    this.listeners.push(fn)
  }

  get nodeId (): string { return this.state.nodeId }
  get clusterId (): string { return this.state.clusterId }
  get role (): NodeRole { return this.state.role }
  get peerId (): string { return this.host.peerId }
  get advertiseAddr (): string { return formatHostPort(this.addresses.advertise) }
  get listenAddr (): string { return formatHostPort(this.addresses.listen) }

  /** Every member this node knows, itself included, ordered by node ID. */
  members (): Member[] {
    return this.table.list()
  }

  /** The cluster configuration; managers only. */
  clusterConfig (): ClusterConfig {
    if (this.config === null) {
      throw new FlotillaError('unavailable', 'This node is not a swarm manager. Worker nodes can\'t be used to view or modify cluster state. Please run this command on a manager node or promote the current node to a manager.')
    }
    return this.config
  }

  /**
   * Apply a change to the cluster configuration (rotate a token, set the spec) if `expectedVersion`
   * is current; the new version is on disk before this resolves, and other managers fetch it on
   * their next heartbeat from this one.
   */
  async updateConfig (expectedVersion: number, change: { rotate?: readonly NodeRole[], spec?: Readonly<Record<string, unknown>> }): Promise<ClusterConfig> {
    let cfg = this.clusterConfig()
    if (expectedVersion !== cfg.version) {
      throw new FlotillaError('conflict', `update out of sequence: version ${expectedVersion} is not the current ${cfg.version}`, {
        hint: 'read the swarm again and retry'
      })
    }
    const now = this.deps.now()
    if (change.spec !== undefined) cfg = withSpec(cfg, change.spec, this.state.nodeId, now)
    for (const role of change.rotate ?? []) cfg = rotateToken(cfg, role, this.state.nodeId, now)
    if (cfg.version === expectedVersion) cfg = { ...cfg, version: cfg.version + 1, updatedAtMs: now, updatedBy: this.state.nodeId }
    await saveClusterConfig(this.deps.dataDir, cfg)
    this.config = cfg
    for (const role of change.rotate ?? []) this.log.info('join token rotated', { role })
    this.publishHeartbeat('ready').catch(() => {})
    return cfg
  }

  /** Stop gossiping and close the host; the membership stays on disk for the next start. */
  async stop (): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    for (const t of this.timers) clearInterval(t)
    if (this.saveTimer !== null) clearTimeout(this.saveTimer)
    this.state = { ...this.state, members: this.table.known().filter(m => m.nodeId !== this.state.nodeId) }
    await saveMembershipState(this.deps.dataDir, this.state).catch((err: unknown) => {
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
