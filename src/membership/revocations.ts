import type { P2PHost } from './host.js'
import type { Logger } from './logger.js'

/** How long a removed node may still connect (to hear, on its session poll, that it was removed). */
export const REVOKED_GRACE_MS = 5000

/**
 * The nodes removed from the cluster (`node rm`), as this node refuses them: their gossip and member
 * streams at once, their connections after `REVOKED_GRACE_MS` (hung up then: a connection gater does
 * not close connections that already exist).
 */
export class Revocations {
  /** Removed nodes: node ID → peer ID. */
  private readonly nodes = new Map<string, string>()
  /** Peers whose connections are refused (removed nodes, after the grace period). */
  private readonly peers = new Set<string>()
  private readonly timers = new Set<NodeJS.Timeout>()

  constructor (private readonly host: P2PHost, private readonly log: Logger) {}

  /** Refuse these removed nodes from now on. Returns true when `selfId` is among them. */
  add (removed: ReadonlyArray<{ readonly id: string, readonly peerId: string }>, selfId: string): boolean {
    let self = false
    for (const n of removed) {
      if (n.id === selfId) self = true
      if (this.nodes.has(n.id)) continue
      this.nodes.set(n.id, n.peerId)
      this.log.info('node removed from the cluster; refusing it', { node: n.id })
      const t = setTimeout(() => {
        this.timers.delete(t)
        this.peers.add(n.peerId)
        this.host.hangUp(n.peerId).catch(() => {})
      }, REVOKED_GRACE_MS)
      t.unref()
      this.timers.add(t)
    }
    return self
  }

  hasNode (nodeId: string): boolean {
    return this.nodes.has(nodeId)
  }

  /** Whether connections with this peer are refused. */
  hasPeer (peerId: string): boolean {
    return this.peers.has(peerId)
  }

  stop (): void {
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
  }
}
