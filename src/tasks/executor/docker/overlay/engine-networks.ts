import type Docker from 'dockerode'
import type { NetworkView } from '../../network-view.js'
import { BRIDGE_NAME_OPTION, NETWORK_ID_LABEL, OVERLAY_MTU, bridgeName, engineNetworkName, vxlanIdOfBridge } from './names.js'

/**
 * The engine network that stands for an overlay network on one node, pure: a `bridge` network whose
 * Linux bridge (`flb<vxlanId>`) the data plane joins to its VXLAN device. The engine then does what it
 * does for any bridge network: the container's veth, its address (the one the leader allocated, given
 * at connect), its routes, and the bridge's address (the gateway). `Internal` keeps the engine from
 * masquerading or routing it to the world; the routing mesh's forwarding is let through by
 * ingress-rules' FLOTILLA-FORWARD.
 */

/** What the node's bridge holds on a network: its own address when the leader gave it one (ingress), else the network's gateway. */
export function bridgeAddress (net: NetworkView): string {
  return net.nodeAddress ?? net.gateway
}

/** The engine's create request for an overlay network's engine network. */
export function engineNetworkCreateOptions (net: NetworkView): Docker.NetworkCreateOptions {
  return {
    Name: engineNetworkName(net.name),
    CheckDuplicate: false,
    Driver: 'bridge',
    Internal: true,
    Attachable: false,
    IPAM: { Driver: 'default', Config: [{ Subnet: net.subnet, Gateway: bridgeAddress(net) }] },
    Options: {
      [BRIDGE_NAME_OPTION]: bridgeName(net.vxlanId),
      'com.docker.network.driver.mtu': String(OVERLAY_MTU),
      'com.docker.network.bridge.enable_icc': 'true'
    },
    Labels: { [NETWORK_ID_LABEL]: net.id }
  }
}

/**
 * Why an existing engine network cannot stand for `net` (and must be made again), or undefined when it
 * can: its driver, subnet, gateway, bridge or internal flag differ. The name may differ (a renamed
 * network keeps its engine network; networks are found by label).
 */
export function engineNetworkMismatch (found: Docker.NetworkInspectInfo, net: NetworkView): string | undefined {
  const config = found.IPAM?.Config ?? []
  const first = config[0]
  const bridge = found.Options?.[BRIDGE_NAME_OPTION]
  if (found.Driver !== 'bridge') return `driver ${found.Driver}, not bridge`
  if (config.length !== 1 || first?.Subnet !== net.subnet) return `subnet ${first?.Subnet ?? 'none'}, not ${net.subnet}`
  if (first.Gateway !== bridgeAddress(net)) return `gateway ${first.Gateway ?? 'none'}, not ${bridgeAddress(net)}`
  if (bridge !== bridgeName(net.vxlanId)) return `bridge ${bridge ?? 'none'}, not ${bridgeName(net.vxlanId)}`
  if (!found.Internal) return 'not internal'
  return undefined
}

/** The flotilla network ID an engine network carries, or undefined when it is not one of the data plane's. */
export function flotillaNetworkId (found: Docker.NetworkInspectInfo): string | undefined {
  const id = found.Labels?.[NETWORK_ID_LABEL]
  return id === undefined || id === '' ? undefined : id
}

/** The VXLAN ID an engine network's bridge name carries (`flb<id>`), or undefined. */
export function engineNetworkVxlanId (found: Docker.NetworkInspectInfo): number | undefined {
  const bridge = found.Options?.[BRIDGE_NAME_OPTION]
  return bridge === undefined ? undefined : vxlanIdOfBridge(bridge)
}
