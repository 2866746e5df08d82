import { randomBytes } from 'node:crypto'
import {
  FlotillaError, asFlotillaError, Membership, loadOrCreateNodeKey, loadMembershipState, clearMembership, removeNodeKey,
  defaultAdvertiseIp, isUnspecified, newObjectId, generateRootKeyPair, issueCertificate, newTokenSecret,
  type HostPort, type Logger, type NodeDescription, type NodeAddresses, type MembershipDeps, type NodeKey
} from '../membership/index.js'
import { DEFAULT_ADDRESS_POOL, Manager, UNKNOWN_NODE_STATUS, type AddressPool, type Command, type RaftObserver } from '../election/index.js'
import { Worker, allocateNetwork, checkAddressPool, connectLocal, connectRemote, ingressSpec, type DispatcherLink, type Executor, type LinkHandlers, type LeaderServices } from '../tasks/index.js'
import type { AgentConfig } from './config.js'
import { normalizeSwarmSpec } from './control/schemas.js'
import { EngineWatch } from './engine-watch.js'
import { LeaderDuties } from './leader-duties.js'
import { SessionPoll, type SessionAction } from './session-poll.js'

/** How long a manager's join waits to become a Raft voter before it returns anyway. */
const JOIN_VOTER_TIMEOUT_MS = 20_000
/** How long a leaving manager keeps answering Raft for the entry that takes it out of the voters. */
const LEAVE_VOTER_WAIT_MS = 10_000

/**
 * The agent's lifecycle, as dockerd's swarm state (LocalNodeState):
 *   inactive ──init/join──▶ pending ──▶ active ──leave/removed──▶ inactive
 *                              └──failed──▶ inactive
 * An active node is a manager while `manager` is set (it runs Raft and holds the store).
 */
type Phase =
  | { readonly kind: 'inactive' }
  | { readonly kind: 'pending', readonly op: 'init' | 'join' | 'leave' }
  | { readonly kind: 'active', readonly membership: Membership }

export interface InitRequest {
  readonly listen?: HostPort
  readonly advertise?: HostPort
  readonly spec: Readonly<Record<string, unknown>>
  /** Where overlay networks' subnets come from; Docker's defaults (10.0.0.0/8 in /24s) when absent. */
  readonly addressPool?: AddressPool
}

export interface JoinRequest {
  readonly listen?: HostPort
  readonly advertise?: HostPort
  readonly remotes: readonly HostPort[]
  readonly token: string
}

export interface AgentDeps {
  readonly logger: Logger
  readonly executor: Executor
  readonly now: () => number
  /** A failure the agent cannot continue after (e.g. `--join` refused); the process stops with it. */
  readonly onFatal: (err: unknown) => void
  /** Called with each new membership before it is used (the control socket serves forwarded calls on it). */
  readonly onMembership: (m: Membership) => Promise<void>
  /** Ask the cluster to remove node `id` (`node rm --force`): how a leaving manager gives up its vote. */
  readonly removeNode: (id: string) => Promise<void>
  /** Told every change of the manager role (a new Manager, or null): the event source follows it. */
  readonly onManager?: (manager: Manager | null) => void
  /** The metrics' hooks: Raft's, and each command the leader's components commit. */
  readonly observe?: { readonly raft: RaftObserver, readonly leaderCommitted: (cmd: Command, mgr: Manager) => void }
}

/** A seeded-from-the-OS random source for Raft's election timeouts (the core itself never calls one). */
function osRandom (): number {
  return randomBytes(4).readUInt32BE(0) / 0x1_0000_0000
}

/** One host's agent: the node identity, its membership of a cluster (if any), its manager role, its engine. */
export class Agent {
  private phase: Phase = { kind: 'inactive' }
  private managerRoleNow: Manager | null = null
  private get managerRole (): Manager | null { return this.managerRoleNow }
  private set managerRole (m: Manager | null) {
    if (m === this.managerRoleNow) return
    this.managerRoleNow = m
    this.deps.onManager?.(m)
  }
  /** The dispatcher, orchestrator and scheduler, while this node is the Raft leader. */
  private readonly duties: LeaderDuties
  /** Runs this node's tasks; one per membership. */
  private worker: Worker | null = null
  /** The leader a manager named when it refused this node's session; tried next (see connectDispatcher). */
  private redirectedTo: string | null = null
  private askedManagers = 0
  private readonly engine: EngineWatch
  private readonly session: SessionPoll
  private key: NodeKey | null = null
  private stopped = false
  private readonly log: Logger

  constructor (readonly config: AgentConfig, private readonly deps: AgentDeps) {
    this.log = deps.logger.child('agent')
    this.engine = new EngineWatch(deps.executor, deps.logger)
    this.duties = new LeaderDuties({ logger: deps.logger, now: deps.now, committed: deps.observe?.leaderCommitted })
    this.session = new SessionPoll({
      membership: () => this.membership,
      manager: () => this.manager,
      act: async (m, action) => { await this.followSession(m, action) }
    }, deps.logger)
  }

  /** Load the node key, look at the engine, and rejoin (or init/join as the flags say). */
  async start (): Promise<void> {
    this.key = await loadOrCreateNodeKey(this.config.dataDir)
    await this.engine.start()
    this.session.start()
    const state = await loadMembershipState(this.config.dataDir)
    if (state !== null) {
      if (this.config.start.kind !== 'wait') this.log.info('data dir holds a membership; rejoining it instead', { ignored: `--${this.config.start.kind}` })
      await this.transition('join', async () => {
        const m = await Membership.resume(this.membershipDeps(), state, this.config.hostname)
        try {
          if (m.role === 'manager') this.managerRole = await Manager.start(this.managerDeps(m), { kind: 'resume' })
        } catch (err) {
          await m.stop()
          throw err
        }
        return m
      })
      return
    }
    const start = this.config.start
    if (start.kind === 'init') await this.init({ spec: normalizeSwarmSpec(undefined) })
    else if (start.kind === 'join') this.joinUntilAdmitted({ remotes: [start.remote], token: start.token })
    else this.log.info('not part of a swarm; waiting for `swarm init` or `swarm join` on the socket')
  }

  private membershipDeps (): MembershipDeps {
    if (this.key === null) throw new FlotillaError('internal', 'agent not started')
    return {
      dataDir: this.config.dataDir,
      privateKey: this.key,
      logger: this.deps.logger,
      describe: () => this.engine.current,
      timing: this.config.timing,
      now: this.deps.now
    }
  }

  private managerDeps (membership: Membership): Parameters<typeof Manager.start>[0] {
    return {
      dataDir: this.config.dataDir, membership, logger: this.deps.logger, now: this.deps.now, random: osRandom, onFatal: this.deps.onFatal,
      lead: mgr => this.duties.lead(mgr),
      observer: this.deps.observe?.raft
    }
  }

  /** The leader's dispatcher when this node leads, for the sessions other nodes open here. */
  get dispatcher (): LeaderServices['dispatcher'] | null {
    return this.duties.dispatcherOf(this.managerRole)
  }

  /**
   * Open this node's dispatcher session: in-process when it leads, else over libp2p to the leader. A
   * node that has just started may not have heard a leader named yet: it then asks a manager it knows,
   * which answers `not-leader` naming the leader, and the next attempt goes there. A restarted worker
   * so reopens its session within a few round trips, before the leader's heartbeat deadline moves its
   * tasks away, rather than after the managers' next gossip.
   */
  private async connectDispatcher (m: Membership, handlers: LinkHandlers): Promise<DispatcherLink> {
    const local = this.dispatcher
    if (local !== null) return connectLocal(local, m.nodeId, handlers)
    const named = this.managerRole?.leaderId ?? m.leaderHint() ?? this.redirectedTo
    this.redirectedTo = null
    const target = named ?? this.someManager(m)
    if (target === null || target === m.nodeId) throw new FlotillaError('unavailable', 'no leader is known yet', { retryable: true })
    return await connectRemote(m, target, {
      ...handlers,
      onMessage: msg => {
        if (msg.t === 'not-leader' && msg.leaderId !== null && msg.leaderId !== '' && msg.leaderId !== target) this.redirectedTo = msg.leaderId
        handlers.onMessage(msg)
      }
    })
  }

  /** A manager other than this node that is not known to be down, taken in turn: whom to ask who leads. */
  private someManager (m: Membership): string | null {
    const managers = m.members().filter(x => x.role === 'manager' && x.nodeId !== m.nodeId && x.liveness !== 'down' && x.addrs.length > 0)
    if (managers.length === 0) return null
    this.askedManagers = (this.askedManagers + 1) % managers.length
    return managers[this.askedManagers]!.nodeId
  }

  private startWorker (m: Membership): void {
    this.worker = new Worker({
      nodeId: m.nodeId,
      executor: this.deps.executor,
      connect: async handlers => await this.connectDispatcher(m, handlers),
      describe: () => this.engine.current,
      // The data-path address: overlay traffic for this node goes to the IP it advertises.
      addr: m.advertiseAddr.replace(/:\d+$/, '').replace(/^\[|\]$/g, ''),
      logger: this.deps.logger,
      now: this.deps.now,
      onFatal: this.deps.onFatal
    })
    this.worker.start()
  }

  private async stopWorker (): Promise<void> {
    const w = this.worker
    this.worker = null
    await w?.stop()
  }

  private addresses (listen?: HostPort, advertise?: HostPort): NodeAddresses {
    const l = listen ?? this.config.listen
    const a = advertise ?? this.config.advertise ?? { ip: isUnspecified(l.ip) ? defaultAdvertiseIp() : l.ip, port: l.port }
    return { listen: l, advertise: a, hostname: this.config.hostname }
  }

  private async transition (op: 'init' | 'join', run: () => Promise<Membership>): Promise<Membership> {
    if (this.phase.kind === 'active') {
      throw new FlotillaError('unavailable', 'This node is already part of a swarm. Use "docker swarm leave" to leave this swarm and join another one.')
    }
    if (this.phase.kind === 'pending') throw new FlotillaError('unavailable', `a swarm ${this.phase.op} is already in progress`, { retryable: true })
    this.phase = { kind: 'pending', op }
    try {
      const membership = await run()
      await this.deps.onMembership(membership)
      this.phase = { kind: 'active', membership }
      this.startWorker(membership)
      return membership
    } catch (err) {
      this.phase = { kind: 'inactive' }
      throw err
    }
  }

  /** `swarm init`: this node becomes a new cluster's first manager and Raft leader. Returns its node ID. */
  async init (req: InitRequest): Promise<string> {
    const addrs = this.addresses(req.listen, req.advertise)
    const addressPool = checkAddressPool(req.addressPool ?? DEFAULT_ADDRESS_POOL)
    const m = await this.transition('init', async () => {
      const deps = this.membershipDeps()
      const host = await Membership.startHost(deps, addrs)
      const clusterId = newObjectId()
      const nodeId = newObjectId()
      const root = generateRootKeyPair()
      const now = this.deps.now()
      const certificate = issueCertificate(root, { clusterId, nodeId, peerId: host.peerId, role: 'manager', issuedAtMs: now })
      const ingress = allocateNetwork(ingressSpec(), newObjectId(), [], addressPool, now)
      const membership = await Membership.create(deps, host, addrs, { clusterId, rootPublicKeyDer: root.publicKeyDer, certificate, members: [] })
      try {
        this.managerRole = await Manager.start(this.managerDeps(membership), {
          kind: 'init',
          material: {
            clusterId,
            root,
            secrets: { worker: newTokenSecret(), manager: newTokenSecret() },
            spec: req.spec,
            addressPool,
            networks: [ingress],
            node: { id: nodeId, peerId: host.peerId, hostname: addrs.hostname, spec: { role: 'manager', availability: 'active', labels: {} }, certificate, status: UNKNOWN_NODE_STATUS, description: null, networkAddresses: [], createdAtMs: now, updatedAtMs: now }
          }
        })
      } catch (err) {
        await membership.stop()
        await clearMembership(this.config.dataDir)
        throw err
      }
      return membership
    })
    this.log.info('swarm initialized', { cluster: m.clusterId, node: m.nodeId, addr: m.advertiseAddr })
    return m.nodeId
  }

  /**
   * `--join` at start: hosts boot in any order, so an unreachable address is retried with backoff
   * (0.25 s doubling to 5 s) while the socket already answers; a refusal (bad token, wrong cluster)
   * is fatal and stops the agent with the reason.
   */
  private joinUntilAdmitted (req: JoinRequest): void {
    const attempt = async (): Promise<void> => {
      let delayMs = 250
      for (let n = 1; ; n++) {
        try {
          await this.join(req)
          return
        } catch (err) {
          const e = asFlotillaError(err)
          if (!e.retryable || this.stopped) throw e
          this.log.warn('cannot join yet; retrying', { attempt: n, inMs: delayMs, err: e.message })
          await new Promise(resolve => setTimeout(resolve, delayMs))
          delayMs = Math.min(delayMs * 2, 5000)
        }
      }
    }
    attempt().catch((err: unknown) => { if (!this.stopped) this.deps.onFatal(err) })
  }

  /** `swarm join`: join through any member; the token decides the role. */
  async join (req: JoinRequest): Promise<string> {
    const addrs = this.addresses(req.listen, req.advertise)
    const m = await this.transition('join', async () => {
      const deps = this.membershipDeps()
      const { grant, host } = await Membership.join(deps, addrs, req.remotes, req.token)
      const membership = await Membership.create(deps, host, addrs, grant)
      try {
        if (membership.role === 'manager') this.managerRole = await Manager.start(this.managerDeps(membership), { kind: 'join' })
      } catch (err) {
        await membership.stop()
        throw err
      }
      return membership
    })
    // As Docker's join does, a manager's join returns once it is a Raft voter: until then, losing
    // another manager could cost the cluster its quorum.
    const mgr = this.managerRole
    if (mgr !== null && !(await mgr.waitUntilVoter(JOIN_VOTER_TIMEOUT_MS))) {
      this.log.warn('joined, but not yet a Raft voter; the leader adds it once it hears this node', { waitedMs: JOIN_VOTER_TIMEOUT_MS })
    }
    this.log.info('joined swarm', { cluster: m.clusterId, node: m.nodeId, role: m.role })
    return m.nodeId
  }

  /**
   * `swarm init --force-new-cluster` on a manager whose cluster lost quorum for good: restart Raft from
   * this manager's state with itself as the only voter.
   */
  async forceNewCluster (): Promise<string> {
    const m = this.requireMembership()
    if (this.managerRole === null) {
      throw new FlotillaError('unavailable', 'only a manager can force a new cluster', { hint: 'run it on a surviving manager' })
    }
    await this.managerRole.stop()
    this.managerRole = null
    this.managerRole = await Manager.start(this.managerDeps(m), { kind: 'force-new-cluster' })
    return m.nodeId
  }

  /**
   * `swarm leave`. A manager must force it, as with Docker. The node forgets the cluster and its key,
   * so the host joins again later as a new node.
   */
  async leave (force: boolean): Promise<void> {
    const phase = this.phase
    if (phase.kind !== 'active') {
      if (phase.kind === 'inactive' && force) {
        await clearMembership(this.config.dataDir)
        return
      }
      throw new FlotillaError('unavailable', 'This node is not part of a swarm')
    }
    if (this.managerRole !== null && !force) {
      throw new FlotillaError('unavailable', 'You are attempting to leave the swarm on a node that is participating as a manager. Removing the last manager erases all current state of the swarm. Use `--force` to ignore this message.')
    }
    if (this.managerRole !== null) {
      // Give up this manager's vote first, so that the others keep a quorum of the managers that remain;
      // the store's removal is followed by the leader's change of voters, which may need this vote.
      const removed = await this.deps.removeNode(phase.membership.nodeId).then(() => true, (err: unknown) => {
        this.log.warn('could not remove this manager from the managers before leaving; remove it with `node rm --force`', { err: (err as Error).message })
        return false
      })
      if (removed && !await this.managerRole.waitUntilNotVoter(LEAVE_VOTER_WAIT_MS)) {
        this.log.warn(`this manager was still a Raft voter ${LEAVE_VOTER_WAIT_MS / 1000} s after its removal; leaving anyway (check the other managers' quorum with \`flotilla node ls\`)`)
      }
    }
    this.phase = { kind: 'pending', op: 'leave' }
    try {
      await this.forget(phase.membership, async m => { await m.leave() })
    } finally {
      this.phase = { kind: 'inactive' }
    }
  }

  /** Stop being a member: the manager role, the membership, the Raft state and the node key. */
  private async forget (membership: Membership, end: (m: Membership) => Promise<void>): Promise<void> {
    await this.stopWorker()
    if (this.managerRole !== null) {
      await this.managerRole.stop()
      this.managerRole = null
    }
    await end(membership)
    // As dockerd does when a node leaves its swarm: the node's task containers go with it.
    await this.deps.executor.adopt(membership.nodeId, new Set()).catch((err: unknown) => {
      this.log.warn('could not remove this node\'s task containers', { err: (err as Error).message })
    })
    // ... and so do its overlay networks: an empty view removes what the data plane made on this host.
    await this.deps.executor.dataPlane?.apply({ vtep: '', networks: [] }).catch((err: unknown) => {
      this.log.warn('could not remove this node\'s overlay networks', { err: (err as Error).message })
    })
    // ... and its secrets' and configs' files (a removed node keeps none).
    await this.deps.executor.wipeTaskFiles().catch((err: unknown) => {
      this.log.warn('could not remove this node\'s secret and config files', { err: (err as Error).message })
    })
    await Manager.wipe(this.config.dataDir)
    await clearMembership(this.config.dataDir)
    // A new key: the removed or departed identity stays refused; this host may join again as a new node.
    await removeNodeKey(this.config.dataDir)
    this.key = await loadOrCreateNodeKey(this.config.dataDir)
  }

  /** Follow what the leader's session answer asks: leave when removed, take up or drop the manager role. */
  private async followSession (m: Membership, action: Exclude<SessionAction, { kind: 'none' }>): Promise<void> {
    if (action.kind === 'removed') {
      this.log.warn('this node was removed from the swarm; leaving it')
      this.phase = { kind: 'pending', op: 'leave' }
      try {
        await this.forget(m, async mm => { await mm.stop() })
      } finally {
        this.phase = { kind: 'inactive' }
      }
      return
    }
    if (action.role === 'manager') {
      // Serve Raft before the heartbeats announce the manager certificate: the leader adds this
      // node as a voter as soon as it sees that certificate, and a voter must answer at once.
      this.log.info('promoted to manager')
      this.managerRole ??= await Manager.start(this.managerDeps(m), { kind: 'join' })
    } else {
      this.log.info('demoted to worker')
      if (this.managerRole !== null) {
        await this.managerRole.stop()
        this.managerRole = null
        await Manager.wipe(this.config.dataDir)
      }
    }
    await m.updateCertificate(action.certificate)
  }

  /** The active membership, or null (inactive or pending). */
  get membership (): Membership | null {
    return this.phase.kind === 'active' ? this.phase.membership : null
  }

  /** The manager role (Raft and the store), or null on a worker. */
  get manager (): Manager | null {
    return this.phase.kind === 'active' ? this.managerRole : null
  }

  /** Docker's LocalNodeState. */
  get localNodeState (): 'inactive' | 'pending' | 'active' {
    return this.phase.kind
  }

  /** The node's container runtime (the control socket reads task logs through it). */
  get executor (): Executor {
    return this.deps.executor
  }

  get nodeDescription (): NodeDescription {
    return this.engine.current
  }

  /** The active membership or a 503 with Docker's words. */
  requireMembership (): Membership {
    const m = this.membership
    if (m === null) {
      throw new FlotillaError('unavailable', 'This node is not part of a swarm', { hint: 'run `flotilla swarm init` or `flotilla swarm join`' })
    }
    return m
  }

  /** Stop the agent; a membership stays on disk and is resumed at the next start. */
  async stop (): Promise<void> {
    this.stopped = true
    this.engine.stop()
    this.session.stop()
    const m = this.membership
    const mgr = this.managerRole
    this.phase = { kind: 'inactive' }
    this.managerRole = null
    await this.stopWorker()
    if (mgr !== null) await mgr.stop()
    if (m !== null) await m.stop()
    await this.deps.executor.close()
  }
}
