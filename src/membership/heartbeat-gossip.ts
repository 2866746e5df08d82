import type { P2PHost } from './host.js'
import type { MemberEvent, MemberTable } from './member-table.js'
import { authenticateHeartbeat, decodeHeartbeat, encodeHeartbeat, type Heartbeat, type HeartbeatStatus } from './heartbeat.js'
import type { CertificateClaims } from './certificate.js'
import type { Logger } from './logger.js'

/** Delay of the heartbeat sent when a peer subscribes, so that a burst of new peers shares one. */
const EAGER_HEARTBEAT_MS = 50

/** What a heartbeat is checked against: the cluster, its root key, and the removed nodes. */
export interface HeartbeatTrust {
  readonly clusterId: string
  readonly rootPublicKeyDer: Uint8Array
  readonly isRevoked: (c: CertificateClaims) => boolean
}

export interface HeartbeatGossipDeps {
  readonly host: P2PHost
  readonly topic: string
  readonly table: MemberTable
  readonly trust: () => HeartbeatTrust
  /** This node's heartbeat with `status`, its sequence number already advanced. */
  readonly heartbeat: (status: HeartbeatStatus) => Heartbeat
  readonly selfClaims: () => CertificateClaims
  /** Member events that heartbeats caused, in order. */
  readonly emit: (events: readonly MemberEvent[]) => void
  /** Called once per refused message (undecodable, unauthenticated, stale or replayed). */
  readonly rejected: (from: string, reason: string) => void
  readonly now: () => number
  readonly log: Logger
}

/**
 * The signed heartbeats on the cluster's gossipsub topic. Gossipsub's validator decodes and authenticates
 * each message before it is forwarded, so a forged, foreign, revoked, stale or replayed heartbeat is
 * neither delivered nor passed on; delivery then applies it to the member table.
 */
export class HeartbeatGossip {
  /** Heartbeats the validator already decoded and authenticated, handed on to delivery. */
  private readonly validated = new WeakMap<Uint8Array, { hb: Heartbeat, claims: CertificateClaims }>()
  private eager: NodeJS.Timeout | null = null
  private stopped = false

  constructor (private readonly deps: HeartbeatGossipDeps) {}

  start (): void {
    const { host, topic } = this.deps
    host.setValidator(topic, (from, data) => {
      try {
        const hb = decodeHeartbeat(data)
        const claims = authenticateHeartbeat(hb, from, this.deps.trust())
        const prev = this.deps.table.get(claims.nodeId)
        if (prev !== undefined && !(hb.incarnation > prev.incarnation || (hb.incarnation === prev.incarnation && hb.seq > prev.seq))) {
          this.deps.rejected(from, `stale or replayed heartbeat of ${claims.nodeId}`)
          return 'ignore'
        }
        this.validated.set(data, { hb, claims })
        return 'accept'
      } catch (err) {
        this.deps.rejected(from, (err as Error).message)
        return 'reject'
      }
    })
    host.onMessage(topic, (from, data) => { this.deliver(from, data) })
    // A member that just connected hears from us at once, not at our next period: joins and
    // restarts converge a heartbeat period sooner. Bursts of new peers share one heartbeat.
    host.onSubscribed(topic, () => {
      if (this.eager !== null || this.stopped) return
      this.eager = setTimeout(() => {
        this.eager = null
        if (!this.stopped) void this.publish('ready')
      }, EAGER_HEARTBEAT_MS)
      this.eager.unref()
    })
    host.subscribe(topic)
  }

  private deliver (from: string, data: Uint8Array): void {
    let checked = this.validated.get(data)
    if (checked === undefined) {
      try {
        const hb = decodeHeartbeat(data)
        checked = { hb, claims: authenticateHeartbeat(hb, from, this.deps.trust()) }
      } catch (err) {
        this.deps.rejected(from, (err as Error).message)
        return
      }
    }
    const verdict = this.deps.table.applyHeartbeat(checked.hb, checked.claims, this.deps.now())
    if (!verdict.accepted) {
      this.deps.rejected(from, verdict.reason)
      return
    }
    this.deps.emit(verdict.events)
  }

  /** Apply this node's own heartbeat to its table, then publish it; a failed publish is logged, not thrown. */
  async publish (status: HeartbeatStatus): Promise<void> {
    const hb = this.deps.heartbeat(status)
    const verdict = this.deps.table.applyHeartbeat(hb, this.deps.selfClaims(), this.deps.now())
    if (verdict.accepted) this.deps.emit(verdict.events.filter(e => e.kind !== 'joined'))
    await this.deps.host.publish(this.deps.topic, encodeHeartbeat(hb)).catch((err: unknown) => {
      this.deps.log.debug('heartbeat not published', { err: (err as Error).message })
    })
  }

  stop (): void {
    this.stopped = true
    if (this.eager !== null) clearTimeout(this.eager)
    this.eager = null
  }
}
