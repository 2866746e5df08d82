import { FlotillaError } from '../../../../membership/index.js'

/**
 * The names the data plane gives what it makes on a host, so that it finds them again after a restart
 * by name alone: Linux devices carry the network's VXLAN ID, engine networks a label with its ID, and
 * every iptables chain starts with `FLOTILLA-`.
 */

/** The label on an engine network that holds the flotilla network's ID (networks are looked up by it, never by name). */
export const NETWORK_ID_LABEL = 'flotilla.network.id'
/** The engine option that names a bridge network's Linux bridge. */
export const BRIDGE_NAME_OPTION = 'com.docker.network.bridge.name'
/** IANA's VXLAN port (RFC 7348 §5), as Docker's overlay driver uses. */
export const VXLAN_PORT = 4789
/** 1500 less VXLAN's 50 bytes of outer headers (RFC 7348 §4), Docker's overlay MTU. */
export const OVERLAY_MTU = 1450
/** Every chain the data plane owns starts with this; any other chain is someone else's. */
export const CHAIN_PREFIX = 'FLOTILLA-'
/** The container path the task's hosts file is mounted on. */
export const HOSTS_PATH = '/etc/hosts'

/** The largest VXLAN network identifier: 24 bits (RFC 7348 §5). */
const MAX_VNI = 0xffffff

function checkVni (vxlanId: number): number {
  if (!Number.isInteger(vxlanId) || vxlanId < 1 || vxlanId > MAX_VNI) {
    throw new FlotillaError('invalid-argument', `VXLAN ID ${vxlanId} is not an integer in 1-${MAX_VNI}`)
  }
  return vxlanId
}

/** The Linux bridge of an overlay network: `flb<vxlanId>` (at most 11 characters; Linux allows 15). */
export function bridgeName (vxlanId: number): string {
  return `flb${checkVni(vxlanId)}`
}

/** The VXLAN device of an overlay network: `flv<vxlanId>`, a port of its bridge. */
export function vxlanName (vxlanId: number): string {
  return `flv${checkVni(vxlanId)}`
}

/** The VXLAN ID a device named `flv<id>` carries, or undefined for any other name. */
export function vxlanIdOfDevice (name: string): number | undefined {
  const m = /^flv([1-9]\d{0,7})$/.exec(name)
  if (m === null) return undefined
  const id = Number(m[1])
  return id <= MAX_VNI ? id : undefined
}

/** The VXLAN ID a bridge named `flb<id>` carries, or undefined for any other name. */
export function vxlanIdOfBridge (name: string): number | undefined {
  return name.startsWith('flb') ? vxlanIdOfDevice(`flv${name.slice(3)}`) : undefined
}

/** The engine network that stands for an overlay network on one node: `flotilla-<network name>`. */
export function engineNetworkName (networkName: string): string {
  return `flotilla-${networkName}`
}

/** Where a task's hosts file lives on the host: `<stateDir>/hosts/<taskId>`. */
export function hostsFilePath (stateDir: string, taskId: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(taskId)) throw new FlotillaError('invalid-argument', `task ID "${taskId}" cannot name a file`)
  return `${stateDir.replace(/\/+$/, '')}/hosts/${taskId}`
}

/** An address without its prefix length: `10.0.1.5/24` → `10.0.1.5`. */
export function bareAddress (address: string): string {
  const slash = address.indexOf('/')
  return slash < 0 ? address : address.slice(0, slash)
}
