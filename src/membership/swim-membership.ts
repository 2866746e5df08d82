import type { CertificateClaims } from './certificate.js'
import type { FrameStream } from './frame-stream.js'
import type { P2PHost } from './host.js'
import type { Logger } from './logger.js'
import type { MemberEvent, MemberTable } from './member-table.js'
import type { PeerIdentity } from './member-streams.js'
import type { NodeKey } from './membership-state.js'
import { sameView, type NodeView } from './node-view.js'
import { SwimBroadcast } from './swim-broadcast.js'
import { SwimChannels, MAX_SWIM_STREAM_FRAME } from './swim-channels.js'
import { ClaimSigner, type ClaimTrust, type SignedView } from './swim-claims.js'
import { SwimDriver } from './swim-driver.js'
import { applySwimEvents } from './swim-members.js'
import type { SwimConfig } from './swim/index.js'

/**
 * SWIM's periods (see swim/config.ts for what each does), in milliseconds; the rest of SWIM's tuning is
 * the core's default.
 */
export interface MembershipTiming {
  /** The protocol period: each member probes one other member per period (before Lifeguard stretches it). */
  readonly probeIntervalMs: number
  /** How long a direct ping waits for its ack before k members are asked to probe indirectly. */
  readonly probeTimeoutMs: number
  /** Suspicion timeout floor = suspicionMult · max(1, log10 N) · probeIntervalMs; the ceiling is 6× that. */
  readonly suspicionMult: number
  /** Anti-entropy: a full push-pull with one random member this often (stretched above 32 members). */
  readonly pushPullIntervalMs: number
}

/**
 * Defaults for detection within 3 s up to 50 members, measured on loopback (README, bench:membership) and
 * in the simulation: a killed member is probed within a period or so by one of the others (200 ms), the
 * probe fails within that period, and the suspicion ends at its floor once a second member's probe
 * confirms it: 4 · max(1, log10 N) · 200 ms, 0.8 s up to 10 members, 1.36 s at 50 (6× that without a
 * confirmation). The floor is also how long a member may stall before others take it for dead: 4 rather
 * than memberlist's 3 bought a third more of it (a join burst on two cores) for about 0.2–0.4 s of
 * detection. Idle, each member sends 5 pings a second and answers about as many, whatever N.
 */
export const DEFAULT_TIMING: MembershipTiming = Object.freeze({ probeIntervalMs: 200, probeTimeoutMs: 80, suspicionMult: 4, pushPullIntervalMs: 30_000 })

/**
 * SWIM tuning besides the timing: one confirmation brings a suspicion to its floor (memberlist's default,
 * suspicionMult − 2, would ask for two); and streams are TCP, so one message may carry all the gossip there
 * is (the core's 1.2 KB default is a UDP datagram's budget): a burst of joins spreads in one round.
 */
const SWIM_TUNING: Partial<SwimConfig> = { suspicionConfirmations: 1, maxPiggybackBytes: 32 * 1024 }

export interface SwimMembershipDeps {
  readonly host: P2PHost
  readonly privateKey: NodeKey
  readonly clusterId: string
  readonly nodeId: string
  /** The incarnation this run starts at, and the ceiling already reserved for it (see swim-driver.ts). */
  readonly incarnation: number
  readonly reserved: number
  readonly table: MemberTable
  readonly trust: () => ClaimTrust
  /** This node's certificate and its claims (both change with a role change). */
  readonly certificate: () => Uint8Array
  readonly claims: () => CertificateClaims
  /** Members known at start (data dir, join grant): see SwimDriverDeps.members. */
  readonly members: readonly string[]
  /** This node's view as it is now (read at start and at each `refreshView`). */
  readonly view: () => NodeView
  /** The member-only protocol plumbing (member-streams.ts), as Membership offers it. */
  readonly serve: (protocol: string, maxFrameBytes: number, handler: (stream: FrameStream, peer: PeerIdentity, signal: AbortSignal) => Promise<void>) => Promise<void>
  readonly unserve: (protocol: string) => Promise<void>
  readonly dial: (nodeId: string, protocol: string, maxFrameBytes: number, signal: AbortSignal) => Promise<FrameStream>
  /** The member table's events, in order. */
  readonly emit: (events: readonly MemberEvent[]) => void
  /** Make a new incarnation ceiling durable (membership.json). */
  readonly reserveIncarnations: (ceiling: number) => Promise<void>
  readonly timing: MembershipTiming
  /** Wall-clock ms, for the member table (what users see). */
  readonly now: () => number
  readonly log: Logger
}

/**
 * SWIM wired into the agent: the core's driver, its streams (swim-channels.ts), the broadcast topic
 * (swim-broadcast.ts), this node's view, and SWIM's events applied to the member table.
 */
export class SwimMembership {
  readonly stats = { rejectedMessages: 0 }
  private readonly channels: SwimChannels
  private readonly broadcast: SwimBroadcast
  private readonly driver: SwimDriver
  private view: NodeView

  constructor (private readonly deps: SwimMembershipDeps) {
    const { table, log } = deps
    this.view = deps.view()
    table.setSelf(this.signedSelf(deps.incarnation), deps.incarnation, deps.now())
    const rejected = (from: string, reason: string): void => {
      this.stats.rejectedMessages++
      log.debug('rejected membership message', { from, reason })
    }
    this.channels = new SwimChannels({
      serve: async (protocol, handler) => { await deps.serve(protocol, MAX_SWIM_STREAM_FRAME, handler) },
      unserve: deps.unserve,
      dial: async (nodeId, protocol, signal) => await deps.dial(nodeId, protocol, MAX_SWIM_STREAM_FRAME, signal),
      receive: (from, frame) => { this.driver.receive(from, frame, 'stream') },
      unreachable: to => { this.driver.unreachable(to) },
      now: () => performance.now(),
      log
    })
    this.broadcast = new SwimBroadcast({
      host: deps.host,
      topic: `/flotilla/${deps.clusterId}/swim/1`,
      trust: deps.trust,
      certificate: deps.certificate,
      epoch: deps.incarnation,
      deliver: (from, g) => { this.driver.receive(from, { t: 'gossip', g }, 'broadcast') },
      rejected,
      log
    })
    this.driver = new SwimDriver({
      self: deps.nodeId,
      incarnation: deps.incarnation,
      reserved: deps.reserved,
      signer: new ClaimSigner(deps.privateKey, deps.clusterId, deps.nodeId),
      certificate: deps.certificate,
      view: this.view,
      members: deps.members,
      trust: deps.trust,
      transport: { send: (to, msg) => { this.channels.send(to, msg) }, publish: async g => { await this.broadcast.publish(g) } },
      peerOf: node => table.get(node)?.peerId,
      reserve: deps.reserveIncarnations,
      onEvents: events => {
        // A member back alive may have restarted on its old address: dial it again at once.
        for (const e of events) if (e.kind === 'alive') this.channels.reset(e.node)
        const source = { member: (n: string) => this.driver.core.member(n), viewOf: (n: string, meta: Uint8Array, mv: number) => this.driver.viewOf(n, meta, mv) }
        deps.emit(applySwimEvents(table, events, source, deps.now()))
      },
      rejected,
      config: { ...SWIM_TUNING, ...deps.timing },
      clock: () => performance.now(),
      random: Math.random,
      log
    })
  }

  /** Serve the streams and the topic, then join through the members known at start. */
  async start (): Promise<void> {
    this.broadcast.start()
    await this.channels.start()
    this.driver.start()
  }

  private signedSelf (mv: number): SignedView {
    return { certificate: this.deps.certificate(), claims: this.deps.claims(), view: this.view, mv }
  }

  /** Announce this node's view when it changed (`force`: the certificate did), at a new incarnation. */
  refreshView (force = false): void {
    const view = this.deps.view()
    if (!force && sameView(view, this.view)) return
    this.view = view
    this.driver.setView(view)
    this.deps.table.setSelf(this.signedSelf(this.driver.core.metaVersion), this.driver.core.incarnation, this.deps.now())
  }

  /** A removed member: forgotten by SWIM, its streams closed; its claims are refused from now on. */
  forget (nodeId: string): void {
    this.driver.forget(nodeId)
    this.channels.close(nodeId)
    this.broadcast.forget(nodeId)
  }

  /** SWIM's leave (a dead from this node itself), broadcast and gossiped for up to `timeoutMs`. */
  async leave (timeoutMs: number): Promise<void> {
    await this.driver.leave(timeoutMs)
  }

  async stop (): Promise<void> {
    this.driver.stop()
    await this.channels.stop()
    this.broadcast.stop()
  }

  /** Lifeguard's health score, timer stalls seen, this node's incarnation, and open member streams. */
  get figures (): { readonly healthScore: number, readonly stalls: number, readonly incarnation: number, readonly streams: number } {
    return { healthScore: this.driver.core.healthScore, stalls: this.driver.stalls, incarnation: this.driver.core.incarnation, streams: this.channels.connected }
  }
}
