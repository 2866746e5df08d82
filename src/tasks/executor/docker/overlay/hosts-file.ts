import type { NetworkView, ServiceOnNetwork } from '../../network-view.js'
import { bareAddress } from './names.js'

/** What a task's /etc/hosts says before any network's names: Docker's own first lines. */
const BASE_LINES = [
  '127.0.0.1\tlocalhost',
  '::1\tlocalhost ip6-localhost ip6-loopback',
  'fe00::0\tip6-localnet',
  'ff00::0\tip6-mcastprefix',
  'ff02::1\tip6-allnodes',
  'ff02::2\tip6-allrouters'
]

/** A task container's attachment to one network, as the hosts file needs it. */
export interface HostsFileNetwork {
  readonly networkId: string
  /** The task's address on it, bare or with its prefix length. */
  readonly address: string
}

/** What one task's hosts file is made of. */
export interface HostsFileInput {
  /** The container's hostname (its `Config.Hostname`); null before the container exists. */
  readonly hostname: string | null
  /** The task's networks, in the order the task lists them. */
  readonly networks: readonly HostsFileNetwork[]
  /** The networks of the last view; a task network missing from it contributes no names. */
  readonly view: readonly NetworkView[]
}

function names (prefix: string, svc: ServiceOnNetwork): string {
  return [svc.name, ...svc.aliases].map(n => `${prefix}${n}`).join(' ')
}

/** The lines one service contributes on one network: its name (and aliases) to its VIP or, in dnsrr mode, to each running task; `tasks.<name>` to each running task. */
function serviceLines (svc: ServiceOnNetwork): string[] {
  const lines: string[] = []
  if (svc.endpointMode === 'vip') {
    if (svc.vip !== null) lines.push(`${svc.vip}\t${names('', svc)}`)
  } else {
    for (const t of svc.tasks) lines.push(`${t.address}\t${names('', svc)}`)
  }
  for (const t of svc.tasks) lines.push(`${t.address}\t${names('tasks.', svc)}`)
  return lines
}

/**
 * The text of one task's /etc/hosts, where libnss_files finds it: Docker's localhost and IPv6 lines; the
 * task's own address (on its first network that is not the ingress) with its hostname; then, per network
 * of the task in the task's order (ingress excluded: it serves the routing mesh, not service discovery,
 * as in Docker) and per service on it in name order, the service's name and aliases to its VIP (vip
 * mode) or to each running task's address (dnsrr mode), and `tasks.<name>` (and `tasks.<alias>`) to
 * each running task's address, as Docker's embedded DNS answers them. Each network's lines follow a
 * `# <network name>` comment. The first line for a name wins a lookup, so a name on two networks
 * resolves on the first. Deterministic: equal inputs give equal text, ending with a newline.
 */
export function hostsFile (input: HostsFileInput): string {
  const byId = new Map(input.view.map(n => [n.id, n]))
  const attached = input.networks.map(a => ({ a, net: byId.get(a.networkId) }))
  const lines = [...BASE_LINES]
  const own = attached.find(x => x.net?.ingress !== true) ?? attached[0]
  if (input.hostname !== null && input.hostname !== '' && own !== undefined) lines.push(`${bareAddress(own.a.address)}\t${input.hostname}`)
  for (const { net } of attached) {
    if (net === undefined || net.ingress) continue
    lines.push(`# ${net.name}`)
    const services = [...net.services].sort((x, y) => x.name < y.name ? -1 : x.name > y.name ? 1 : 0)
    for (const svc of services) lines.push(...serviceLines(svc))
  }
  return `${lines.join('\n')}\n`
}
