/**
 * The allocator on the leader, node part (SwarmKit's allocator gives each node a load-balancer address
 * on the ingress network): whenever a node joins or the ingress network appears, each node without an
 * address on it gets one, as a `node.networks` entry the store checks again. Task addresses are taken
 * in the scheduler's pass, service VIPs by the control socket with the spec.
 */
import { asFlotillaError, type Logger } from '../../membership/index.js'
import type { StoreEvent } from '../../election/index.js'
import { ingressNetwork, nodeAddressesNeeded } from '../allocator/index.js'
import type { LeaderDeps } from './store-view.js'

export class AllocatorDriver {
  private readonly log: Logger
  private unwatch: (() => void) | null = null
  private running = false
  private dirty = false
  private stopped = false

  constructor (private readonly deps: LeaderDeps) {
    this.log = deps.logger.child('allocator')
  }

  start (): void {
    this.unwatch = this.deps.store.watch(events => { if (events.some(relevant)) this.kick() })
    this.kick()
  }

  stop (): void {
    this.stopped = true
    this.unwatch?.()
  }

  private kick (): void {
    this.dirty = true
    if (this.running || this.stopped) return
    this.running = true
    setImmediate(() => { this.loop().catch(() => {}).finally(() => { this.running = false; if (this.dirty && !this.stopped) this.kick() }) })
  }

  private async loop (): Promise<void> {
    while (this.dirty && !this.stopped) {
      this.dirty = false
      const state = this.deps.store.state
      const ingress = ingressNetwork(state)
      if (ingress === undefined) continue
      const writes = nodeAddressesNeeded(state).map(async ({ nodeId, address }) => {
        const node = state.nodes.get(nodeId)!
        const addresses = [...node.networkAddresses.filter(a => a.networkId !== ingress.id), { networkId: ingress.id, address }]
        await this.deps.propose({ op: 'node.networks', id: nodeId, addresses, nowMs: this.deps.now() })
      })
      for (const r of await Promise.allSettled(writes)) {
        if (r.status === 'rejected' && !this.stopped) this.log.debug('node address write failed', { err: asFlotillaError(r.reason).message })
      }
    }
  }
}

function relevant (e: StoreEvent): boolean {
  return e.kind === 'node-added' || e.kind === 'network' || e.kind === 'cluster'
}
