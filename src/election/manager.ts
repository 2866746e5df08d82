import { join } from 'node:path'
import { rm } from 'node:fs/promises'
import {
  FlotillaError, issueCertificate, newObjectId, roleForSecret, isRecord,
  type AdmitResult, type JoinRequest, type Logger, type Membership, type RootKeyPair
} from '../membership/index.js'
import { RaftCore, isValidMessage } from './raft/index.js'
import type { RaftInitialState, RaftId } from './raft/types.js'
import { RaftStorage } from './storage/index.js'
import { RaftTransport, RAFT_PROTOCOL } from './transport.js'
import { StoreMachine, type ClusterRaft } from './state/store-machine.js'
import { RaftNode, DEFAULT_RAFT_TIMING, PROPOSAL_TIMEOUT_MS, type RaftTiming } from './raft-node.js'
import { Reconciler } from './reconciler.js'
import { SESSION_IDLE_MS, SESSION_PROTOCOL, type SessionAnswer } from './session-channel.js'
import type { RaftObserver } from './observer.js'
import { ClusterStore } from './state/store.js'
import { secretDigest, type ApplyResult } from './state/apply.js'
import type { Command } from './state/commands.js'
import { UNKNOWN_NODE_STATUS, type AddressPool, type NetworkObject, type NodeObject } from './objects/index.js'

/** What `swarm init` decided, for the first entry of the new cluster's log. */
export interface ClusterMaterial {
  readonly clusterId: string
  readonly root: RootKeyPair
  readonly secrets: { readonly worker: string, readonly manager: string }
  readonly spec: Readonly<Record<string, unknown>>
  /** The first manager's node object (its certificate already issued). */
  readonly node: Omit<NodeObject, 'version'>
  readonly addressPool: AddressPool
  /** The networks the cluster starts with: the ingress network. */
  readonly networks: ReadonlyArray<Omit<NetworkObject, 'version'>>
}

export type ManagerStart =
  | { readonly kind: 'init', readonly material: ClusterMaterial }
  | { readonly kind: 'join' } // a new manager: empty log, the leader brings it up to date
  | { readonly kind: 'resume' } // the log and snapshot in the data dir
  | { readonly kind: 'force-new-cluster' } // disaster recovery: this manager alone, with its state

export interface ManagerDeps {
  readonly dataDir: string
  readonly membership: Membership
  readonly logger: Logger
  readonly now: () => number
  readonly random: () => number
  readonly timing?: RaftTiming
  /** The Raft node failed (storage, apply): the agent must stop, not run on as a broken manager. */
  readonly onFatal: (err: unknown) => void
  /**
   * Start what runs on the leader only (dispatcher, orchestrator, scheduler), once this manager leads
   * and its store holds every committed entry; the returned role is stopped when leadership is lost.
   */
  readonly lead?: (manager: Manager) => LeaderRole
  /** Told of proposals, WAL fsyncs and snapshots, for the agent's metrics. */
  readonly observer?: RaftObserver
}

/** The leader-only components, as the manager starts and stops them. */
export interface LeaderRole {
  stop(): void
}

/** Raise an ApplyResult's refusal as the FlotillaError it describes. */
export function check (result: ApplyResult): void {
  if (!result.ok) throw new FlotillaError(result.code, result.message)
}

/**
 * A manager: the replicated store, the Raft node that feeds it, the transport between managers, the
 * leader's reconciler, the admission of joiners and the session answers. Started when a node becomes
 * a manager (init, join with the manager token, promotion, restart); stopped when it stops being one.
 */
export class Manager {
  private readonly log: Logger
  private leading: LeaderRole | null = null
  private becomingLeader = false
  private stopped = false

  private constructor (
    private readonly deps: ManagerDeps,
    readonly store: ClusterStore,
    readonly raft: ClusterRaft,
    private readonly reconciler: Reconciler
  ) {
    this.log = deps.logger.child('manager')
  }

  static raftDir (dataDir: string): string {
    return join(dataDir, 'raft')
  }

  /** Forget this node's Raft state (a demoted or removed manager). */
  static async wipe (dataDir: string): Promise<void> {
    await rm(Manager.raftDir(dataDir), { recursive: true, force: true })
  }

  static async start (deps: ManagerDeps, how: ManagerStart): Promise<Manager> {
    const id: RaftId = deps.membership.nodeId
    if (how.kind === 'init' || how.kind === 'join') await Manager.wipe(deps.dataDir)
    const log = deps.logger.child('raft-storage')
    const { storage, state } = await RaftStorage.open(Manager.raftDir(deps.dataDir), { log: msg => { log.warn(msg) }, observer: deps.observer })
    let initial: RaftInitialState
    if (how.kind === 'init') initial = RaftCore.bootstrap(id)
    else if (how.kind === 'join') initial = { hardState: { term: 0, vote: null, commit: 0 }, snapshot: null, entries: [] }
    else if (state === null) {
      await storage.close()
      throw new FlotillaError('internal', `this node is a manager but ${Manager.raftDir(deps.dataDir)} holds no Raft state`, {
        hint: 'restore the data dir, or leave the swarm (`flotilla swarm leave --force`) and join again'
      })
    } else initial = how.kind === 'force-new-cluster' ? RaftCore.forceNewCluster(state, id) : state
    if (how.kind === 'init' || how.kind === 'force-new-cluster') {
      // Make the bootstrap or the recovery entry durable before anything acts on it.
      await storage.append(initial.hardState, initial.entries)
    }
    const store = new ClusterStore()
    const transport = new RaftTransport(deps.membership, nodeId => {
      const n = store.node(nodeId)
      // Before it has caught up, a new manager's store is empty: it accepts the managers that hold certificates.
      return store.state.cluster === null || (n !== undefined && n.spec.role === 'manager')
    }, deps.logger, deps.now)
    const raft = new RaftNode({
      id, storage, transport, machine: new StoreMachine(store), logger: deps.logger, timing: deps.timing ?? DEFAULT_RAFT_TIMING, random: deps.random, onFailure: deps.onFatal, observer: deps.observer
    }, initial)
    const reconciler = new Reconciler(raft, store, deps.membership, deps.logger, deps.now)
    const m = new Manager(deps, store, raft, reconciler)
    raft.onSoftState(s => {
      deps.membership.setLocalLeader(s.leader)
      m.followLeadership()
    })
    await raft.start(raw => isValidMessage(raw) ? raw : null)
    await m.serveSessions()
    reconciler.start()
    deps.membership.setAuthority({ admit: async req => await m.admit(req) })
    if (how.kind === 'init') {
      const { clusterId, root, secrets, spec, addressPool, node, networks } = how.material
      const cluster = { id: clusterId, root, secrets, spec, addressPool, createdAtMs: deps.now(), updatedAtMs: deps.now() }
      await m.proposeWhenLeader({ op: 'cluster.init', cluster, node, networks })
    }
    if (how.kind === 'force-new-cluster') m.log.warn('forced a new cluster from this manager\'s state: it is the only manager now')
    return m
  }

  get isLeader (): boolean {
    return this.raft.isLeader
  }

  /**
   * Start the leader role after winning an election, stop it after losing one. The role starts only
   * after a read barrier: a new leader may not yet have applied entries its predecessor committed, and
   * an orchestrator reading that older store would create tasks twice.
   */
  private followLeadership (): void {
    if (this.deps.lead === undefined || this.stopped) return
    if (!this.raft.isLeader) {
      if (this.leading !== null) {
        this.log.info('lost leadership; stopping the leader role')
        this.leading.stop()
        this.leading = null
      }
      return
    }
    if (this.leading !== null || this.becomingLeader) return
    this.becomingLeader = true
    const lead = this.deps.lead
    this.raft.readBarrier()
      .then(() => {
        if (this.stopped || !this.raft.isLeader || this.leading !== null) return
        this.log.info('leading: dispatcher, orchestrator and scheduler started')
        this.leading = lead(this)
      })
      .catch((err: unknown) => { this.log.debug('read barrier before leading failed', { err: (err as Error).message }) })
      .finally(() => {
        this.becomingLeader = false
        // Leadership may have changed while the barrier was pending (either way).
        if (!this.stopped && this.raft.isLeader !== (this.leading !== null)) setTimeout(() => { this.followLeadership() }, 50).unref()
      })
  }

  get leaderId (): string | null {
    return this.raft.softState.leader
  }

  voters (): readonly RaftId[] {
    return this.raft.status().voters
  }

  /** Resolve true once this manager is a Raft voter (it has the entry that added it), false after `timeoutMs`. */
  async waitUntilVoter (timeoutMs: number): Promise<boolean> {
    return await this.waitForVoterSet(true, timeoutMs)
  }

  /**
   * Resolve true once this manager is out of the Raft voters (it has the entry that removed it), false
   * after `timeoutMs`. A manager that leaves must answer until then: with two voters, the entry that
   * removes it needs its own vote to commit, and a cluster whose departed voter still counts has no quorum.
   */
  async waitUntilNotVoter (timeoutMs: number): Promise<boolean> {
    return await this.waitForVoterSet(false, timeoutMs)
  }

  private async waitForVoterSet (voter: boolean, timeoutMs: number): Promise<boolean> {
    const self = this.deps.membership.nodeId
    const deadline = this.deps.now() + timeoutMs
    // The voter set changes when a conf entry is appended, which no event announces: look every 50 ms.
    while (this.voters().includes(self) !== voter) {
      if (this.deps.now() > deadline) return false
      await new Promise(resolve => setTimeout(resolve, 50))
    }
    return true
  }

  /**
   * Propose on this node, which must be the leader; waits (bounded, 10 s) for a leader to exist when
   * there is none yet, as during `swarm init` or an election.
   */
  async proposeWhenLeader (cmd: Command): Promise<void> {
    const deadline = this.deps.now() + PROPOSAL_TIMEOUT_MS
    for (;;) {
      try {
        check(await this.raft.propose(cmd))
        return
      } catch (err) {
        const e = err as FlotillaError
        if (!(e instanceof FlotillaError) || !e.retryable || this.deps.now() > deadline || (this.leaderId !== null && !this.isLeader)) throw err
        await new Promise(resolve => setTimeout(resolve, 50))
      }
    }
  }

  /** Propose on the leader (this node); refusals come back as FlotillaErrors. */
  async propose (cmd: Command): Promise<void> {
    check(await this.raft.propose(cmd))
  }

  async readBarrier (): Promise<void> {
    await this.raft.readBarrier()
  }

  private leaderAddrs (): string[] {
    const leader = this.leaderId
    const m = leader === null ? undefined : this.deps.membership.member(leader)
    return m?.addrs.slice() ?? []
  }

  /** Admit a joiner: only the leader admits (it proposes the admission); others redirect to it. */
  private async admit (req: JoinRequest): Promise<AdmitResult> {
    const cluster = this.store.state.cluster
    if (!this.isLeader || cluster === null) {
      return { ok: false, code: 'not-a-manager', message: 'this manager is not the leader; join through the leader', managers: this.leaderAddrs() }
    }
    const role = roleForSecret(cluster.secrets, req.secret)
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
    const now = this.deps.now()
    const certificate = issueCertificate(cluster.root, { clusterId: cluster.id, nodeId, peerId: req.peerId, role, issuedAtMs: now })
    const result = await this.raft.propose({
      op: 'node.admit',
      node: { id: nodeId, peerId: req.peerId, hostname: req.hostname, spec: { role, availability: 'active', labels: {} }, certificate, status: UNKNOWN_NODE_STATUS, description: null, networkAddresses: [], createdAtMs: now, updatedAtMs: now },
      secretDigest: secretDigest(cluster.secrets[role])
    })
    if (!result.ok) return { ok: false, code: result.code, message: result.message }
    this.log.info('admitted node', { node: nodeId, role, hostname: req.hostname, peer: req.peerId })
    return {
      ok: true,
      grant: { clusterId: cluster.id, rootPublicKeyDer: cluster.root.publicKeyDer, certificate, members: this.deps.membership.knownMembers() }
    }
  }

  /** The leader's answer to a node's session poll. */
  sessionFor (nodeId: string): SessionAnswer {
    const node = this.store.node(nodeId)
    return {
      leaderId: this.leaderId,
      node: node === undefined ? null : { role: node.spec.role, certificate: node.certificate },
      revoked: [...this.store.state.revoked.values()].map(r => ({ id: r.id, peerId: r.peerId }))
    }
  }

  /**
   * Session polls, several on one stream: a node keeps its stream to the leader open and polls over it
   * (see SessionChannel) instead of opening a stream, and proving its certificate, every poll. A stream
   * quiet for SESSION_IDLE_MS is closed; a node that is told `not-leader` finds the leader and dials it.
   */
  private async serveSessions (): Promise<void> {
    await this.deps.membership.serveMembers(SESSION_PROTOCOL, { maxFrameBytes: 4096, timeoutMs: 0, allowRevoked: true }, () => null, async (stream, peer, signal) => {
      for (;;) {
        const req = await stream.read(AbortSignal.any([signal, AbortSignal.timeout(SESSION_IDLE_MS)]))
        if (!isRecord(req) || req.t !== 'poll') throw new FlotillaError('invalid-argument', 'session: expected poll')
        if (!this.isLeader) {
          await stream.write({ t: 'not-leader', leaderId: this.leaderId ?? '' }, signal)
          return
        }
        await stream.write({ t: 'session', ...this.sessionFor(peer.claims.nodeId) }, signal)
      }
    })
  }

  async stop (): Promise<void> {
    this.stopped = true
    this.leading?.stop()
    this.leading = null
    this.deps.membership.setAuthority(null)
    this.deps.membership.setLocalLeader(null)
    this.reconciler.stop()
    await this.deps.membership.unserveMembers(RAFT_PROTOCOL).catch(() => {})
    await this.deps.membership.unserveMembers(SESSION_PROTOCOL).catch(() => {})
    await this.raft.stop()
  }
}
