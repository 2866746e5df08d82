/**
 * The dashboard's request checks. A page on another site must neither read the dashboard nor act
 * through it: a DNS-rebinding page reaches the listener under its own host name, so a request whose
 * Host is not one of the listener's own names is refused; a cross-site request carries its Origin, so
 * one naming another origin is refused; and an action must carry the page's CSRF token, which only a
 * page served by this listener holds. Pure, apart from reading the host's interface addresses.
 */
import { timingSafeEqual } from 'node:crypto'
import { isIP } from 'node:net'
import { networkInterfaces } from 'node:os'
import { formatHostPort, isUnspecified, type HostPort } from '../../membership/index.js'

/** The `host:port` values a request's Host header may carry, lower-cased. */
export function allowedHosts (listen: HostPort, hostnames: readonly string[], interfaceIps: readonly string[] = localIps()): Set<string> {
  const port = listen.port
  const ips = isUnspecified(listen.ip) ? interfaceIps : [listen.ip]
  const hosts = new Set(ips.map(ip => formatHostPort({ ip, port }).toLowerCase()))
  const loopback = ips.some(ip => ip === '127.0.0.1' || ip === '::1')
  if (loopback) hosts.add(`localhost:${port}`)
  // A listener others reach is also reached by the machine's own names (not a rebinding: those are
  // names the operator gave this host, never an attacker's domain).
  if (!loopback || isUnspecified(listen.ip)) for (const h of hostnames) if (h !== '') hosts.add(`${h.toLowerCase()}:${port}`)
  return hosts
}

function localIps (): string[] {
  return Object.values(networkInterfaces()).flatMap(list => (list ?? []).map(a => a.address)).filter(a => isIP(a) !== 0)
}

export type Verdict = { readonly ok: true } | { readonly ok: false, readonly status: 403, readonly message: string }

/**
 * Refuse a request whose Host is not the listener's own, or whose Origin (when sent) is not
 * `http://` + an allowed host. Browsers send Origin on every cross-site fetch and on every POST.
 */
export function checkHostAndOrigin (headers: { readonly host?: string, readonly origin?: string | string[] }, allowed: ReadonlySet<string>): Verdict {
  const host = (headers.host ?? '').toLowerCase()
  if (!allowed.has(host)) {
    return { ok: false, status: 403, message: `Host "${headers.host ?? ''}" is not this dashboard's address; open it by the address it listens on` }
  }
  const origin = headers.origin
  if (origin === undefined) return { ok: true }
  const single = Array.isArray(origin) ? origin.join(',') : origin
  if (!single.toLowerCase().startsWith('http://') || !allowed.has(single.slice('http://'.length).toLowerCase())) {
    return { ok: false, status: 403, message: `Origin "${single}" is not this dashboard; cross-site requests are refused` }
  }
  return { ok: true }
}

/** Whether `given` (an X-CSRF-Token header) is the page's token, compared in constant time. */
export function csrfMatches (token: string, given: string | string[] | undefined): boolean {
  if (typeof given !== 'string') return false
  const a = Buffer.from(token, 'utf8')
  const b = Buffer.from(given, 'utf8')
  return a.length === b.length && timingSafeEqual(a, b)
}
