import type { P2PHost } from './host.js'
import type { Member } from './member-table.js'
import type { Logger } from './logger.js'

const FIRST_BACKOFF_MS = 250
const MAX_BACKOFF_MS = 5000
const DIAL_TIMEOUT_MS = 3000

/**
 * Keeps this node connected to every member it knows: each `tick` dials the members it is not connected
 * to, one dial per peer at a time, backing off per peer (0.5 s doubling to 5 s) while dials fail.
 */
export class Redialer {
  private readonly backoff = new Map<string, { nextAtMs: number, delayMs: number }>()
  private readonly dialing = new Set<string>()

  constructor (private readonly host: P2PHost, private readonly now: () => number, private readonly log: Logger) {}

  /** Dial each of `members` that is due; `skip` names members never to dial (this node, removed nodes). */
  tick (members: readonly Member[], skip: (m: Member) => boolean): void {
    const now = this.now()
    for (const m of members) {
      if (m.left || m.addrs.length === 0 || skip(m)) continue
      if (this.dialing.has(m.peerId) || this.host.isConnected(m.peerId)) continue
      const b = this.backoff.get(m.peerId)
      if (b !== undefined && b.nextAtMs > now) continue
      this.dialing.add(m.peerId)
      const addr = `${m.addrs[0]!}/p2p/${m.peerId}`
      this.host.dial(addr, AbortSignal.timeout(DIAL_TIMEOUT_MS)).then(() => {
        this.backoff.delete(m.peerId)
      }, (err: unknown) => {
        const delayMs = Math.min((b?.delayMs ?? FIRST_BACKOFF_MS) * 2, MAX_BACKOFF_MS)
        this.backoff.set(m.peerId, { nextAtMs: this.now() + delayMs, delayMs })
        this.log.debug('dial failed', { node: m.nodeId, addr, err: (err as Error).message })
      }).finally(() => { this.dialing.delete(m.peerId) })
    }
  }

  /** Dial `peerId` again at the next tick (it disconnected: a restarted peer comes back on the same address). */
  reset (peerId: string): void {
    this.backoff.delete(peerId)
  }
}
