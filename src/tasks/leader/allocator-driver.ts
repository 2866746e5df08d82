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
import { StoreDrivenLoop } from './store-driven-loop.js'

export class AllocatorDriver {
  private readonly log: Logger
  private readonly loop: StoreDrivenLoop

  constructor (private readonly deps: LeaderDeps) {
    this.log = deps.logger.child('allocator')
    this.loop = new StoreDrivenLoop(deps.store, relevant, async () => { await this.pass() })
  }

  start (): void {
    this.loop.start()
  }

  stop (): void {
    this.loop.stop()
  }

  private async pass (): Promise<void> {
    const state = this.deps.store.state
    const ingress = ingressNetwork(state)
    if (ingress === undefined) return
    const writes = nodeAddressesNeeded(state).map(async ({ nodeId, address }) => {
      const node = state.nodes.get(nodeId)!
      const addresses = [...node.networkAddresses.filter(a => a.networkId !== ingress.id), { networkId: ingress.id, address }]
      await this.deps.propose({ op: 'node.networks', id: nodeId, addresses, nowMs: this.deps.now() })
    })
    for (const r of await Promise.allSettled(writes)) {
      if (r.status === 'rejected' && !this.loop.isStopped) this.log.debug('node address write failed', { err: asFlotillaError(r.reason).message })
    }
  }
}

function relevant (e: StoreEvent): boolean {
  return e.kind === 'node-added' || e.kind === 'network' || e.kind === 'cluster'
}
