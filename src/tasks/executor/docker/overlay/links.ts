import { FlotillaError } from '../../../../membership/index.js'
import { OVERLAY_MTU, VXLAN_PORT, bridgeName, vxlanIdOfDevice, vxlanName } from './names.js'

/**
 * The kernel side of an overlay network, pure: what `ip -d -j link show type vxlan` and
 * `bridge -j fdb show` say, and the iproute2 commands that bring a VXLAN device and its forwarding
 * entries in line with the view (head-end replication: one all-zero entry per peer, as Docker's overlay
 * driver and flannel program it, so broadcasts and unknown unicasts reach every peer; the rest is learnt).
 */

/** A VXLAN device as the kernel reports it. */
export interface VxlanLink {
  readonly name: string
  readonly vni: number | null
  readonly local: string | null
  readonly port: number | null
  readonly master: string | null
  readonly mtu: number | null
  /** Administratively up. */
  readonly up: boolean
}

/** One forwarding entry of a VXLAN device. */
export interface FdbEntry {
  readonly mac: string
  /** The remote tunnel endpoint; null on entries of the bridge's own. */
  readonly dst: string | null
}

/** One command for a host tool: `ip args…` or `bridge args…`. */
export interface LinkCommand {
  readonly tool: 'ip' | 'bridge'
  readonly args: readonly string[]
}

/** What one overlay network wants of the kernel on this node. */
export interface WantedLink {
  readonly vxlanId: number
  /** This node's tunnel endpoint address. */
  readonly vtep: string
  /** The other nodes' tunnel endpoints. */
  readonly peers: readonly string[]
}

/** The all-zero MAC: an entry for it floods broadcasts and unknown unicasts to its dst. */
export const FLOOD_MAC = '00:00:00:00:00:00'

function parseJsonArray (json: string, what: string): unknown[] {
  const text = json.trim()
  if (text === '') return []
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    throw new FlotillaError('internal', `${what} printed no JSON: ${text.slice(0, 200)}`, { cause: err })
  }
  if (!Array.isArray(value)) throw new FlotillaError('internal', `${what} printed no JSON array: ${text.slice(0, 200)}`)
  return value
}

function field<T> (o: unknown, key: string, guard: (v: unknown) => v is T): T | null {
  if (typeof o !== 'object' || o === null) return null
  const v = (o as Record<string, unknown>)[key]
  return guard(v) ? v : null
}
const isString = (v: unknown): v is string => typeof v === 'string'
const isNumber = (v: unknown): v is number => typeof v === 'number'
const isObject = (v: unknown): v is object => typeof v === 'object' && v !== null

/** Parse `ip -d -j link show type vxlan`. */
export function parseVxlanLinks (json: string): VxlanLink[] {
  return parseJsonArray(json, 'ip -d -j link show').flatMap(l => {
    const name = field(l, 'ifname', isString)
    if (name === null) return []
    const data = field(field(l, 'linkinfo', isObject), 'info_data', isObject)
    const flags = field(l, 'flags', Array.isArray) ?? []
    return [{
      name,
      vni: field(data, 'id', isNumber),
      local: field(data, 'local', isString),
      port: field(data, 'port', isNumber),
      master: field(l, 'master', isString),
      mtu: field(l, 'mtu', isNumber),
      up: flags.includes('UP')
    }]
  })
}

/** Parse `bridge -j fdb show dev <vxlan>`. */
export function parseFdb (json: string): FdbEntry[] {
  return parseJsonArray(json, 'bridge -j fdb show').flatMap(e => {
    const mac = field(e, 'mac', isString)
    return mac === null ? [] : [{ mac, dst: field(e, 'dst', isString) }]
  })
}

/** Whether an existing device is the one `want` needs (else it is deleted and made again). */
export function vxlanMatches (link: VxlanLink, want: WantedLink): boolean {
  return link.vni === want.vxlanId && link.local === want.vtep && link.port === VXLAN_PORT
}

/**
 * The commands that make `want`'s VXLAN device right, given the device found (undefined: none) and its
 * forwarding entries: a wrong device (VNI, local address or port) is deleted and added again; a right
 * one not enslaved to the network's bridge, at the overlay MTU and up is set so; then the all-zero
 * entries to peers no longer in the view are deleted and those to new peers appended (a re-made
 * device has none).
 */
export function planVxlan (want: WantedLink, link: VxlanLink | undefined, fdb: readonly FdbEntry[]): LinkCommand[] {
  const dev = vxlanName(want.vxlanId)
  const bridge = bridgeName(want.vxlanId)
  const cmds: LinkCommand[] = []
  let entries = fdb
  const setUp: LinkCommand = { tool: 'ip', args: ['link', 'set', dev, 'master', bridge, 'mtu', String(OVERLAY_MTU), 'up'] }
  if (link === undefined || !vxlanMatches(link, want)) {
    if (link !== undefined) cmds.push({ tool: 'ip', args: ['link', 'del', dev] })
    cmds.push({ tool: 'ip', args: ['link', 'add', dev, 'type', 'vxlan', 'id', String(want.vxlanId), 'local', want.vtep, 'dstport', String(VXLAN_PORT), 'learning'] })
    cmds.push(setUp)
    entries = []
  } else if (link.master !== bridge || link.mtu !== OVERLAY_MTU || !link.up) {
    cmds.push(setUp)
  }
  const peers = new Set(want.peers.filter(p => p !== want.vtep))
  const flooded = new Set(entries.filter(e => e.mac === FLOOD_MAC && e.dst !== null).map(e => e.dst!))
  for (const dst of [...flooded].sort()) {
    if (!peers.has(dst)) cmds.push({ tool: 'bridge', args: ['fdb', 'del', FLOOD_MAC, 'dev', dev, 'dst', dst] })
  }
  for (const dst of [...peers].sort()) {
    if (!flooded.has(dst)) cmds.push({ tool: 'bridge', args: ['fdb', 'append', FLOOD_MAC, 'dev', dev, 'dst', dst] })
  }
  return cmds
}

/** The flotilla VXLAN devices (`flv<id>`) among `links` whose VXLAN ID is not in `keep`: to delete. */
export function strayVxlans (links: readonly VxlanLink[], keep: ReadonlySet<number>): string[] {
  return links.filter(l => { const id = vxlanIdOfDevice(l.name); return id !== undefined && !keep.has(id) }).map(l => l.name).sort()
}
