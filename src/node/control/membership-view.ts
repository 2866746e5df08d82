import { fromMultiaddr, joinToken, type ClusterConfig, type HostPort } from '../../membership/index.js'

/** A member's first advertised multiaddr as { ip, port }, or null. */
export function fromMultiaddrString (ma: string | undefined): HostPort | null {
  return ma === undefined ? null : fromMultiaddr(ma)
}

export function joinTokensOf (config: ClusterConfig): { Worker: string, Manager: string } {
  return { Worker: joinToken(config, 'worker'), Manager: joinToken(config, 'manager') }
}
