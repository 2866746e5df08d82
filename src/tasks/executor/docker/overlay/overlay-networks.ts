import type Docker from 'dockerode'
import { FlotillaError, asFlotillaError, type Logger } from '../../../../membership/index.js'
import type { NetworkView, NodeNetworkView } from '../../network-view.js'
import { engineError, engineStatus } from '../containers.js'
import { engineNetworkCreateOptions, engineNetworkMismatch, engineNetworkVxlanId, flotillaNetworkId } from './engine-networks.js'
import type { HostCommands } from './host-commands.js'
import { parseFdb, parseVxlanLinks, planVxlan, strayVxlans, type LinkCommand, type VxlanLink } from './links.js'
import { NETWORK_ID_LABEL, vxlanName } from './names.js'

/** An overlay network programmed on this node: tasks may be attached to it. */
export interface ProgrammedNetwork {
  readonly view: NetworkView
  /** Its engine network's ID. */
  readonly engineId: string
}

/** What one pass over the node's networks did. */
export interface NetworkSync {
  /** The view's networks now programmed, by flotilla network ID. */
  readonly ready: ReadonlyMap<string, ProgrammedNetwork>
  /** Networks gone from the view that still have containers connected: removed on a later pass. */
  readonly waiting: readonly string[]
  /** What failed, one error per network (the others were still programmed). */
  readonly errors: readonly FlotillaError[]
}

/** What `OverlayNetworks` uses. */
export interface OverlayNetworksDeps {
  readonly docker: Docker
  readonly commands: HostCommands
  readonly logger: Logger
}

/**
 * The per-network part of the data plane, I/O: each network of the view gets its engine network (made
 * again when its subnet, gateway or bridge differ and no container is connected), its VXLAN device on
 * the engine network's bridge, and an all-zero forwarding entry per peer; networks gone from the view
 * lose their VXLAN device and engine network once no container is connected. Leaving networks go
 * first, so that a new network may take a subnet or VXLAN ID one of them held.
 */
export class OverlayNetworks {
  constructor (private readonly deps: OverlayNetworksDeps) {}

  /** One pass; throws only when the engine or `ip` cannot be read at all. */
  async sync (view: NodeNetworkView): Promise<NetworkSync> {
    let found: Docker.NetworkInspectInfo[]
    try {
      found = await this.deps.docker.listNetworks({ filters: { label: [NETWORK_ID_LABEL] } })
    } catch (err) {
      throw engineError('list the engine networks of the overlay networks', err)
    }
    const links = new Map(parseVxlanLinks(await this.deps.commands.ip(['-d', '-j', 'link', 'show', 'type', 'vxlan'])).map(l => [l.name, l]))
    const wanted = new Map(view.networks.map(n => [n.id, n]))
    const wantedVnis = new Set(view.networks.map(n => n.vxlanId))
    const errors: FlotillaError[] = []
    const waiting: string[] = []
    const keep = new Map<string, Docker.NetworkInspectInfo>()
    const keptVnis = new Set(wantedVnis)
    for (const f of found) {
      const id = flotillaNetworkId(f)
      if (id !== undefined && wanted.has(id) && !keep.has(id)) { keep.set(id, f); continue }
      try {
        const removed = await this.removeLeaving(f, wantedVnis, links)
        if (!removed) {
          waiting.push(f.Name)
          const vni = engineNetworkVxlanId(f)
          if (vni !== undefined) keptVnis.add(vni)
        }
      } catch (err) {
        errors.push(asFlotillaError(err))
      }
    }
    const ready = new Map<string, ProgrammedNetwork>()
    for (const net of view.networks) {
      try {
        const { engineId, created } = await this.ensureEngineNetwork(net, keep.get(net.id))
        const link = links.get(vxlanName(net.vxlanId))
        // A new engine network has a new bridge: a device found before belongs to none now.
        await this.ensureLinks(net, view.vtep, link === undefined || !created ? link : { ...link, master: null })
        ready.set(net.id, { view: net, engineId })
      } catch (err) {
        errors.push(asFlotillaError(err))
      }
    }
    for (const dev of strayVxlans([...links.values()], keptVnis)) {
      try {
        await this.deps.commands.ip(['link', 'del', dev])
        this.deps.logger.info('deleted a VXLAN device no network uses', { device: dev })
      } catch (err) {
        errors.push(asFlotillaError(err))
      }
    }
    return { ready, waiting, errors }
  }

  /** Remove an engine network gone from the view, and its VXLAN device, unless a container is connected; returns whether it went. */
  private async removeLeaving (f: Docker.NetworkInspectInfo, wantedVnis: ReadonlySet<number>, links: Map<string, VxlanLink>): Promise<boolean> {
    const network = this.deps.docker.getNetwork(f.Id)
    if (await this.connectedCount(f) > 0) {
      this.deps.logger.debug('an engine network left the view but containers are still connected: removed once they leave', { network: f.Name })
      return false
    }
    const vni = engineNetworkVxlanId(f)
    if (vni !== undefined && !wantedVnis.has(vni) && links.has(vxlanName(vni))) {
      await this.deps.commands.ip(['link', 'del', vxlanName(vni)])
      links.delete(vxlanName(vni))
    }
    try {
      await network.remove()
    } catch (err) {
      const status = engineStatus(err)
      if (status === 404) return true
      // A container connected since the count: the network stays until it leaves.
      if (status === 403 || status === 409) return false
      throw engineError(`remove engine network ${f.Name}`, err)
    }
    this.deps.logger.info('removed the engine network of a network gone from the view', { network: f.Name })
    return true
  }

  /** The containers connected to an engine network now (its inspect; the list omits them). */
  private async connectedCount (f: Docker.NetworkInspectInfo): Promise<number> {
    try {
      const info: Docker.NetworkInspectInfo = await this.deps.docker.getNetwork(f.Id).inspect()
      return Object.keys(info.Containers ?? {}).length
    } catch (err) {
      if (engineStatus(err) === 404) return 0
      throw engineError(`inspect engine network ${f.Name}`, err)
    }
  }

  /** The engine network of `net`, made (again) when missing or wrong; returns its ID and whether it was made now. */
  private async ensureEngineNetwork (net: NetworkView, found: Docker.NetworkInspectInfo | undefined): Promise<{ engineId: string, created: boolean }> {
    if (found !== undefined) {
      const why = engineNetworkMismatch(found, net)
      if (why === undefined) return { engineId: found.Id, created: false }
      if (await this.connectedCount(found) > 0) {
        throw new FlotillaError('unavailable', `network ${net.name}: its engine network ${found.Name} has ${why}, and containers are connected to it; it is made again once they leave`, { retryable: true })
      }
      this.deps.logger.info('making an engine network again', { network: net.name, why })
      try {
        await this.deps.docker.getNetwork(found.Id).remove()
      } catch (err) {
        if (engineStatus(err) !== 404) throw engineError(`remove engine network ${found.Name} of network ${net.name} (${why})`, err)
      }
    }
    const options = engineNetworkCreateOptions(net)
    try {
      const created = await this.deps.docker.createNetwork(options)
      this.deps.logger.info('created an engine network', { network: net.name, engineNetwork: options.Name, subnet: net.subnet })
      return { engineId: created.id, created: true }
    } catch (err) {
      const e = engineError(`create engine network ${options.Name} for network ${net.name} (${net.subnet})`, err)
      throw new FlotillaError(e.code, e.message, { retryable: true, cause: err, hint: 'another engine network may hold the subnet or the bridge name: it is tried again on the next apply' })
    }
  }

  /** The VXLAN device and forwarding entries of `net`. */
  private async ensureLinks (net: NetworkView, vtep: string, link: VxlanLink | undefined): Promise<void> {
    const dev = vxlanName(net.vxlanId)
    const fdb = link === undefined ? [] : parseFdb(await this.deps.commands.bridge(['-j', 'fdb', 'show', 'dev', dev]))
    for (const cmd of planVxlan({ vxlanId: net.vxlanId, vtep, peers: net.peers }, link, fdb)) await this.runLink(cmd)
  }

  private async runLink (cmd: LinkCommand): Promise<void> {
    if (cmd.tool === 'ip') await this.deps.commands.ip(cmd.args)
    else await this.deps.commands.bridge(cmd.args)
  }
}
