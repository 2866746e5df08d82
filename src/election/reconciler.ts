import { issueCertificate, certificateClaims, type Logger, type Membership } from '../membership/index.js'
import type { ClusterRaft } from './state/store-machine.js'
import type { ClusterStore } from './state/store.js'

/** How often the leader re-checks, besides store and leadership events. */
const PERIOD_MS = 1000

/**
 * The leader's role manager (SwarmKit's roleManager): makes the Raft voters follow the store's
 * manager roles, one change at a time — a manager in the store that is reachable and not a voter is
 * added; a voter that is no longer a manager (demoted, removed) is removed, the leader itself after
 * handing leadership on — and reissues a node's certificate when its role changed.
 */
export class Reconciler {
  private busy = false
  private timer: NodeJS.Timeout | null = null
  private readonly log: Logger

  constructor (
    private readonly raft: ClusterRaft,
    private readonly store: ClusterStore,
    private readonly membership: Membership,
    logger: Logger,
    private readonly now: () => number
  ) {
    this.log = logger.child('reconciler')
  }

  start (): void {
    this.timer = setInterval(() => { this.run() }, PERIOD_MS)
    this.timer.unref()
    this.store.watch(() => { this.run() })
    this.raft.onSoftState(() => { this.run() })
    // A new manager becomes a voter as soon as its first heartbeat shows it up with its certificate.
    this.membership.onEvent(() => { this.run() })
  }

  stop (): void {
    if (this.timer !== null) clearInterval(this.timer)
  }

  /** Run one step if leader and not already running one. */
  run (): void {
    if (this.busy || !this.raft.isLeader) return
    this.busy = true
    this.step().catch((err: unknown) => {
      this.log.debug('reconcile step failed; will retry', { err: (err as Error).message })
    }).finally(() => { this.busy = false })
  }

  private async step (): Promise<void> {
    const state = this.store.state
    const cluster = state.cluster
    if (cluster === null) return
    const status = this.raft.status()
    const self = status.id
    const voters = new Set(status.voters)
    for (const node of state.nodes.values()) {
      const claims = certificateClaims(node.certificate)
      if (claims.role !== node.spec.role) {
        const certificate = issueCertificate(cluster.root, {
          clusterId: cluster.id, nodeId: node.id, peerId: node.peerId, role: node.spec.role, issuedAtMs: node.createdAtMs
        })
        this.log.info('reissuing certificate for new role', { node: node.id, role: node.spec.role })
        await this.raft.propose({ op: 'node.certificate', id: node.id, certificate, nowMs: this.now() })
        return
      }
    }
    for (const node of state.nodes.values()) {
      if (node.spec.role !== 'manager' || voters.has(node.id)) continue
      // Add it only once its heartbeats carry the manager certificate it was reissued: it then runs
      // Raft. Adding a voter that cannot answer yet would cost the leader its quorum (a one-manager
      // cluster would stall with two voters, one of them deaf).
      const member = this.membership.member(node.id)
      if (member?.liveness !== 'ready' || member.role !== 'manager') continue
      this.log.info('adding manager to Raft', { node: node.id })
      await this.raft.proposeConfChange({ type: 'add-voter', id: node.id })
      return
    }
    for (const id of voters) {
      const node = state.nodes.get(id)
      if (node !== undefined && node.spec.role === 'manager') continue
      if (id === self) {
        const heir = [...voters].find(v => v !== self && this.membership.member(v)?.liveness === 'ready')
        if (heir !== undefined) {
          this.log.info('handing leadership on before leaving the managers', { to: heir })
          this.raft.transferLeadership(heir)
        }
        return
      }
      this.log.info('removing manager from Raft', { node: id })
      await this.raft.proposeConfChange({ type: 'remove-voter', id })
      return
    }
  }
}
