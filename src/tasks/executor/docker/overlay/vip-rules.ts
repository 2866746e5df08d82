import { createHash } from 'node:crypto'
import type { NetworkView } from '../../network-view.js'
import type { RuleSet } from './iptables-plan.js'
import { CHAIN_PREFIX } from './names.js'

/** The nat and filter chain, jumped to from OUTPUT, that holds a container's service VIPs. */
export const VIP_CHAIN = `${CHAIN_PREFIX}VIP`

/**
 * The chain of one service's VIP on one network: `FLOTILLA-SVC-` and 12 hex digits of a SHA-256 of the
 * network and service IDs (25 characters; iptables allows 28), as kube-proxy names its KUBE-SVC- chains.
 */
export function serviceChain (networkId: string, serviceId: string): string {
  const digest = createHash('sha256').update(`${networkId}/${serviceId}`).digest('hex').slice(0, 12).toUpperCase()
  return `${CHAIN_PREFIX}SVC-${digest}`
}

/**
 * The match that takes the i-th of n endpoints (0-based) with equal odds overall: rule i is reached
 * only when rules 0…i-1 were not taken, so it takes 1/(n-i) of what reaches it; the last takes all
 * that is left and needs no match. Written as kube-proxy's iptables mode writes it (`%0.10f`).
 */
export function statisticMatch (i: number, n: number): string {
  return i >= n - 1 ? '' : `-m statistic --mode random --probability ${(1 / (n - i)).toFixed(10)} `
}

/**
 * The VIP rules of one task container's network namespace, for the networks it is attached to (ingress
 * excluded: its VIPs serve only the routing mesh, see ingress-rules). In the nat table, FLOTILLA-VIP
 * (jumped to from OUTPUT) sends `-d VIP/32` to the service's chain, whose rules DNAT to each running
 * task's address with equal odds; the port is kept, so every port of the service is balanced. A VIP with
 * no running task gets, in the filter table's FLOTILLA-VIP (also from OUTPUT), a REJECT: connections
 * are refused at once instead of hanging until they time out. dnsrr services have no VIP and no rules.
 * Networks keep `networks`' order, services the view's; equal inputs give equal rule sets.
 */
export function vipRules (networks: readonly NetworkView[]): RuleSet {
  const natVip: string[] = []
  const filterVip: string[] = []
  const chains: Array<{ name: string, rules: string[] }> = []
  for (const net of networks) {
    if (net.ingress) continue
    for (const svc of net.services) {
      if (svc.endpointMode !== 'vip' || svc.vip === null) continue
      const dst = `-d ${svc.vip}/32`
      const n = svc.tasks.length
      if (n === 0) {
        filterVip.push(`${dst} -j REJECT --reject-with icmp-port-unreachable`)
        continue
      }
      const name = serviceChain(net.id, svc.serviceId)
      natVip.push(`${dst} -j ${name}`)
      chains.push({ name, rules: svc.tasks.map((t, i) => `${statisticMatch(i, n)}-j DNAT --to-destination ${t.address}`) })
    }
  }
  return {
    nat: { chains: [{ name: VIP_CHAIN, rules: natVip }, ...chains], jumps: [{ chain: 'OUTPUT', rule: `-j ${VIP_CHAIN}` }], ensureChains: [] },
    filter: { chains: [{ name: VIP_CHAIN, rules: filterVip }], jumps: [{ chain: 'OUTPUT', rule: `-j ${VIP_CHAIN}` }], ensureChains: [] }
  }
}
