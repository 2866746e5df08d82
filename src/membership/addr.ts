import { isIP } from 'node:net'
import { networkInterfaces } from 'node:os'
import { FlotillaError } from './errors.js'

/** A TCP endpoint. `ip` is a literal (no DNS: resolving a name could open a UDP socket). */
export interface HostPort {
  readonly ip: string
  readonly port: number
}

/** flotilla's default libp2p TCP port (Docker's swarm uses 2377; a different one lets both run on a host). */
export const DEFAULT_PORT = 4242

/**
 * Parse `IP`, `IP:PORT`, `[IPv6]:PORT` or `localhost[:PORT]`. A missing port is `defaultPort`.
 * Throws `invalid-argument` naming the field.
 */
export function parseHostPort (input: string, field: string, defaultPort = DEFAULT_PORT): HostPort {
  const s = input.trim()
  let host: string
  let portText: string | undefined
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(s)
  if (v6 !== null) {
    host = v6[1]!
    portText = v6[2]
  } else if (isIP(s) === 6) {
    host = s
  } else {
    const i = s.lastIndexOf(':')
    host = i < 0 ? s : s.slice(0, i)
    portText = i < 0 ? undefined : s.slice(i + 1)
  }
  if (host === 'localhost') host = '127.0.0.1'
  if (isIP(host) === 0) {
    throw new FlotillaError('invalid-argument', `${field}: "${input}" is not an IP address with an optional port`, {
      hint: 'give an IP literal such as 10.0.0.5:4242 (host names are not resolved)'
    })
  }
  const port = portText === undefined ? defaultPort : /^\d{1,5}$/.test(portText) ? Number(portText) : NaN
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new FlotillaError('invalid-argument', `${field}: port "${portText ?? ''}" is not between 1 and 65535`)
  }
  return { ip: host, port }
}

export function formatHostPort (hp: HostPort): string {
  return isIP(hp.ip) === 6 ? `[${hp.ip}]:${hp.port}` : `${hp.ip}:${hp.port}`
}

export function toMultiaddr (hp: HostPort): string {
  return `/${isIP(hp.ip) === 6 ? 'ip6' : 'ip4'}/${hp.ip}/tcp/${hp.port}`
}

/** `/ip4/1.2.3.4/tcp/5` → { ip, port }, or null for any other shape. */
export function fromMultiaddr (ma: string): HostPort | null {
  const m = /^\/(ip4|ip6)\/([^/]+)\/tcp\/(\d{1,5})(\/|$)/.exec(ma)
  if (m === null || isIP(m[2]!) === 0 || Number(m[3]) > 65535) return null
  return { ip: m[2]!, port: Number(m[3]) }
}

export function isUnspecified (ip: string): boolean {
  return ip === '0.0.0.0' || ip === '::'
}

/**
 * The address peers should dial when only a wildcard listen address was given, as dockerd picks one:
 * the first non-internal IPv4 address of the host, else loopback.
 */
export function defaultAdvertiseIp (): string {
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) {
      if (a.family === 'IPv4' && !a.internal) return a.address
    }
  }
  return '127.0.0.1'
}
