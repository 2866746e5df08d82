import type { PrivateKey } from '@libp2p/interface'
import {
  FlotillaError, asFlotillaError, Membership, loadOrCreateNodeKey, loadMembershipState, loadClusterConfig, clearMembership,
  defaultAdvertiseIp, isUnspecified, type HostPort, type Logger, type NodeDescription, type NodeAddresses
} from '../membership/index.js'
import { hostDescription, type Executor } from '../tasks/index.js'
import type { AgentConfig } from './config.js'
import { normalizeSwarmSpec } from './control/schemas.js'

/** How often the engine is asked to describe the node (its state rides every heartbeat). */
const ENGINE_REFRESH_MS = 10_000

/**
 * The agent's lifecycle, as dockerd's swarm state (LocalNodeState):
 *   inactive ──init/join──▶ pending ──▶ active ──leave──▶ inactive
 *                              └──failed──▶ inactive
 */
type Phase =
  | { readonly kind: 'inactive' }
  | { readonly kind: 'pending', readonly op: 'init' | 'join' | 'leave' }
  | { readonly kind: 'active', readonly membership: Membership }

export interface InitRequest {
  readonly listen?: HostPort
  readonly advertise?: HostPort
  readonly spec: Readonly<Record<string, unknown>>
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
}

/** One host's agent: the node identity, its membership of a cluster (if any) and its engine. */
export class Agent {
  private phase: Phase = { kind: 'inactive' }
  private description: NodeDescription = hostDescription({ state: 'unavailable', message: 'not checked yet' })
  private key: PrivateKey | null = null
  private engineTimer: NodeJS.Timeout | null = null
  private engineChecked = false
  private stopped = false
  private readonly log: Logger

  constructor (readonly config: AgentConfig, private readonly deps: AgentDeps) {
    this.log = deps.logger.child('agent')
  }

  /** Load the node key, look at the engine, and rejoin (or init/join as the flags say). */
  async start (): Promise<void> {
    this.key = await loadOrCreateNodeKey(this.config.dataDir)
    await this.refreshEngine()
    this.engineTimer = setInterval(() => { this.refreshEngine().catch(() => {}) }, ENGINE_REFRESH_MS)
    this.engineTimer.unref()
    const state = await loadMembershipState(this.config.dataDir)
    if (state !== null) {
      if (this.config.start.kind !== 'wait') this.log.info('data dir holds a membership; rejoining it instead', { ignored: `--${this.config.start.kind}` })
      const config = state.role === 'manager' ? await loadClusterConfig(this.config.dataDir) : null
      await this.transition('join', async () => await Membership.resume(this.membershipDeps(), state, config, this.config.hostname))
      return
    }
    const start = this.config.start
    if (start.kind === 'init') await this.init({ spec: normalizeSwarmSpec(undefined) })
    else if (start.kind === 'join') this.joinUntilAdmitted({ remotes: [start.remote], token: start.token })
    else this.log.info('not part of a swarm; waiting for `swarm init` or `swarm join` on the socket')
  }

  private async refreshEngine (): Promise<void> {
    const next = await this.deps.executor.describe()
    const before = this.engineChecked ? this.description.engine.state : null
    this.engineChecked = true
    if (before !== next.engine.state) {
      if (next.engine.state === 'available') this.log.info('engine available', { version: next.engine.version })
      else this.log.warn('engine unavailable', { reason: next.engine.message })
    }
    this.description = next
  }

  private membershipDeps (): Parameters<typeof Membership.init>[0] {
    if (this.key === null) throw new FlotillaError('internal', 'agent not started')
    return {
      dataDir: this.config.dataDir,
      privateKey: this.key,
      logger: this.deps.logger,
      describe: () => this.description,
      timing: this.config.timing,
      now: this.deps.now
    }
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
      this.phase = { kind: 'active', membership }
      return membership
    } catch (err) {
      this.phase = { kind: 'inactive' }
      throw err
    }
  }

  /** `swarm init`: this node becomes a one-node cluster's first manager. Returns its node ID. */
  async init (req: InitRequest): Promise<string> {
    const addrs = this.addresses(req.listen, req.advertise)
    const m = await this.transition('init', async () => await Membership.init(this.membershipDeps(), addrs, req.spec))
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
    const m = await this.transition('join', async () => await Membership.join(this.membershipDeps(), addrs, req.remotes, req.token))
    this.log.info('joined swarm', { cluster: m.clusterId, node: m.nodeId, role: m.role })
    return m.nodeId
  }

  /**
   * `swarm leave`. A manager must force it, as with Docker: without a replicated store, the last
   * manager leaving erases the cluster's keys.
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
    if (phase.membership.role === 'manager' && !force) {
      throw new FlotillaError('unavailable', 'You are attempting to leave the swarm on a node that is participating as a manager. Removing the last manager erases all current state of the swarm. Use `--force` to ignore this message.')
    }
    this.phase = { kind: 'pending', op: 'leave' }
    try {
      await phase.membership.leave()
    } finally {
      this.phase = { kind: 'inactive' }
    }
  }

  /** The active membership, or null (inactive or pending). */
  get membership (): Membership | null {
    return this.phase.kind === 'active' ? this.phase.membership : null
  }

  /** Docker's LocalNodeState. */
  get localNodeState (): 'inactive' | 'pending' | 'active' {
    return this.phase.kind
  }

  get nodeDescription (): NodeDescription {
    return this.description
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
    if (this.engineTimer !== null) clearInterval(this.engineTimer)
    const m = this.membership
    this.phase = { kind: 'inactive' }
    if (m !== null) await m.stop()
  }
}
