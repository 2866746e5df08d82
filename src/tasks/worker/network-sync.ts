/**
 * Hands the leader's network views to the node's data plane: one `apply` at a time, always the latest
 * view (views in between are skipped, each being whole). A pass that fails is the data plane's to try
 * again (it retries by itself); here it is only logged.
 */
import { asFlotillaError, type Logger } from '../../membership/index.js'
import type { DataPlane, NodeNetworkView } from '../executor/index.js'

export class NetworkSync {
  private latest: NodeNetworkView | null = null
  private applying = false
  private closed = false

  constructor (private readonly plane: DataPlane, private readonly log: Logger) {}

  offer (view: NodeNetworkView): void {
    this.latest = view
    this.kick()
  }

  private kick (): void {
    const view = this.latest
    if (this.applying || this.closed || view === null) return
    this.applying = true
    this.latest = null
    this.plane.apply(view).then(() => {
      this.log.debug('network view applied', { networks: view.networks.length })
    }, (err: unknown) => {
      this.log.warn('could not program this node\'s overlay networks in full; the data plane tries again', { err: asFlotillaError(err).message })
    }).finally(() => {
      this.applying = false
      this.kick()
    })
  }

  async close (): Promise<void> {
    this.closed = true
    await this.plane.close()
  }
}
