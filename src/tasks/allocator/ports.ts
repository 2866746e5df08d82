/**
 * The port allocator's pure core (SwarmKit's manager/allocator/portallocator):
 * validates a service's EndpointSpec.Ports and fills in every PublishedPort. No I/O, no clock, no
 * randomness: the same inputs always give the same ports.
 */
import { FlotillaError } from '../../membership/errors.js'
import type { EndpointSpec, PortConfig } from '../orchestrator/index.js'
import { portKey, type AllocatedPort, type PortProtocol } from '../../election/index.js'

export { portKey, type AllocatedPort } from '../../election/index.js'

/** Docker's dynamic published-port range, inclusive (SwarmKit's dynamicPortStart/dynamicPortEnd). */
export const DYNAMIC_PORT_START = 30000
export const DYNAMIC_PORT_END = 32767

const PROTOCOLS: readonly PortProtocol[] = ['tcp', 'udp', 'sctp']

export interface PortAllocation {
  /** In the spec's order, one entry per spec port. */
  readonly ports: readonly AllocatedPort[]
}

/** The published ports of every service but the one with ID `except`, as `allocatePorts`'s `taken` set. */
export function portsTaken (
  services: Iterable<{ readonly id: string, readonly endpoint: { readonly ports: readonly AllocatedPort[] } }>, except: string | null
): Set<string> {
  const taken = new Set<string>()
  for (const s of services) {
    if (s.id === except) continue
    for (const p of s.endpoint.ports) taken.add(portKey(p.Protocol, p.PublishedPort))
  }
  return taken
}

interface Normalized {
  readonly name: string | undefined
  readonly protocol: PortProtocol
  readonly targetPort: number
  /** 0 = assign one. */
  readonly publishedPort: number
  readonly mode: 'ingress' | 'host'
}

function isPort (n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 65535
}

function normalize (port: PortConfig, i: number): Normalized {
  const at = `EndpointSpec.Ports[${i}]`
  const protocol: unknown = port.Protocol ?? 'tcp'
  if (!PROTOCOLS.includes(protocol as PortProtocol)) {
    throw new FlotillaError('invalid-argument', `${at}: unknown protocol ${JSON.stringify(protocol)}`, {
      hint: 'use tcp, udp or sctp'
    })
  }
  if (!isPort(port.TargetPort)) {
    throw new FlotillaError('invalid-argument', `${at}: target port ${String(port.TargetPort)} is not an integer in 1-65535`)
  }
  const published: unknown = port.PublishedPort ?? 0
  if (published !== 0 && !isPort(published)) {
    throw new FlotillaError('invalid-argument', `${at}: published port ${String(published)} is not 0 or an integer in 1-65535`, {
      hint: 'omit PublishedPort (or set 0) to have one assigned'
    })
  }
  // Docker's default: the routing mesh publishes the port on every node.
  const mode: unknown = port.PublishMode ?? 'ingress'
  if (mode !== 'host' && mode !== 'ingress') {
    throw new FlotillaError('invalid-argument', `${at}: unknown publish mode ${JSON.stringify(mode)}`, { hint: 'use ingress or host' })
  }
  return { name: port.Name, protocol: protocol as PortProtocol, targetPort: port.TargetPort, publishedPort: published, mode }
}

/**
 * Validate `spec.Ports` and fill in every PublishedPort.
 *
 * - `taken`: `portKey` strings of ports published by *other* services (never this service's own).
 * - `previous`: this service's current Endpoint.Ports; a port without a PublishedPort keeps the one
 *   it had for the same TargetPort and protocol (matched in order, each used once) if still free, so
 *   updates do not move ports.
 * - Otherwise the lowest port in DYNAMIC_PORT_START–DYNAMIC_PORT_END free of `taken` and of every
 *   port this spec publishes, spec order.
 *
 * Throws FlotillaError `invalid-argument` for a malformed port, an unknown publish mode or a published port
 * repeated within the spec (checked for all ports before any conflict), and `conflict` for a
 * published port in `taken` or an exhausted dynamic range.
 */
export function allocatePorts (
  spec: EndpointSpec | undefined,
  taken: ReadonlySet<string>,
  previous: readonly PortConfig[] = []
): PortAllocation {
  const wanted = (spec?.Ports ?? []).map(normalize)

  const used = new Set<string>()
  for (const p of wanted) {
    if (p.publishedPort === 0) continue
    const key = portKey(p.protocol, p.publishedPort)
    if (used.has(key)) {
      throw new FlotillaError('invalid-argument', `published port ${key} is listed more than once`, {
        hint: 'publish each port and protocol once per service'
      })
    }
    used.add(key)
  }
  for (const p of wanted) {
    if (p.publishedPort === 0) continue
    const key = portKey(p.protocol, p.publishedPort)
    if (taken.has(key)) {
      throw new FlotillaError('conflict', `published port ${key} is already in use by another service`, {
        hint: `choose another published port, free ${key} from the service that publishes it, or omit PublishedPort to have one assigned from ${DYNAMIC_PORT_START}-${DYNAMIC_PORT_END}`
      })
    }
  }

  const chosen: number[] = wanted.map(p => p.publishedPort)

  // Keep previous ports first, so a new port earlier in the spec cannot take a port a later one had.
  const leftover = previous.filter(p => isPort(p.PublishedPort))
  wanted.forEach((p, i) => {
    if (p.publishedPort !== 0) return
    const at = leftover.findIndex(q => q.TargetPort === p.targetPort && (q.Protocol ?? 'tcp') === p.protocol)
    if (at < 0) return
    const port = leftover[at]?.PublishedPort ?? 0
    leftover.splice(at, 1)
    const key = portKey(p.protocol, port)
    if (taken.has(key) || used.has(key)) return
    used.add(key)
    chosen[i] = port
  })

  const next: Record<PortProtocol, number> = { tcp: DYNAMIC_PORT_START, udp: DYNAMIC_PORT_START, sctp: DYNAMIC_PORT_START }
  wanted.forEach((p, i) => {
    if (chosen[i] !== 0) return
    let port = next[p.protocol]
    while (port <= DYNAMIC_PORT_END && (taken.has(portKey(p.protocol, port)) || used.has(portKey(p.protocol, port)))) port++
    if (port > DYNAMIC_PORT_END) {
      throw new FlotillaError('conflict', `no free ${p.protocol} port left in ${DYNAMIC_PORT_START}-${DYNAMIC_PORT_END} for target port ${p.targetPort}`, {
        hint: 'set PublishedPort explicitly outside that range, or remove services that publish ports in it'
      })
    }
    used.add(portKey(p.protocol, port))
    next[p.protocol] = port + 1
    chosen[i] = port
  })

  return {
    ports: wanted.map((p, i) => ({
      ...(p.name === undefined ? {} : { Name: p.name }),
      Protocol: p.protocol,
      TargetPort: p.targetPort,
      PublishedPort: chosen[i] ?? 0,
      PublishMode: p.mode
    }))
  }
}
