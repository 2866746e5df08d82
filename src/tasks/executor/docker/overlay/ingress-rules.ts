import type { IngressPort, NetworkView } from '../../network-view.js'
import { EMPTY_RULES, type RuleSet } from './iptables-plan.js'
import { CHAIN_PREFIX, bridgeName } from './names.js'
import { statisticMatch } from './vip-rules.js'

/** nat: DNATs the published ports; jumped to from PREROUTING and OUTPUT for packets to one of the host's addresses. */
export const INGRESS_CHAIN = `${CHAIN_PREFIX}INGRESS`
/** nat: SNATs what the ingress chain DNATed onto the ingress bridge; jumped to from POSTROUTING. */
export const POSTROUTING_CHAIN = `${CHAIN_PREFIX}POSTROUTING`
/** filter: lets that traffic through FORWARD (policy DROP under dockerd); jumped to from DOCKER-USER. */
export const FORWARD_CHAIN = `${CHAIN_PREFIX}FORWARD`
/** dockerd's chain for the user's FORWARD rules, the first FORWARD jumps to; created here when missing. */
export const DOCKER_USER_CHAIN = 'DOCKER-USER'

/** One published port and where its connections go: every running task's ingress address and the target port. */
export interface IngressBackendSet {
  readonly port: IngressPort
  readonly backends: readonly string[]
}

/** The ingress network's published ports, sorted by protocol then port, each with its backends (`address:targetPort`, in task order). */
export function ingressBackends (ingress: NetworkView): IngressBackendSet[] {
  const sets: IngressBackendSet[] = []
  for (const svc of ingress.services) {
    for (const port of svc.ingressPorts) {
      sets.push({ port, backends: svc.tasks.map(t => `${t.address}:${port.targetPort}`) })
    }
  }
  return sets.sort((a, b) => a.port.protocol.localeCompare(b.port.protocol) || a.port.publishedPort - b.port.publishedPort)
}

/**
 * The host's routing-mesh rules (Docker's ingress, with iptables DNAT where Docker uses IPVS), or, with
 * no ingress network, none at all (applying them removes what an earlier ingress left). nat:
 * FLOTILLA-INGRESS, jumped to from PREROUTING and OUTPUT for `--dst-type LOCAL`, sends each published
 * port with equal odds to each running task's ingress address and target port; a port with no running
 * task is not DNATed, so the host refuses it. FLOTILLA-POSTROUTING, from POSTROUTING, SNATs what was
 * DNATed out of the ingress bridge to the node's own ingress address (`nodeAddress`, else the gateway),
 * so that the task's reply comes back through this node to be un-NATed. filter: FLOTILLA-FORWARD, from
 * DOCKER-USER (created if missing), accepts what was DNATed into a flotilla bridge and what comes back
 * out of one: ahead of dockerd's isolation rules, which drop traffic between an internal network and
 * the world.
 */
export function ingressRules (ingress: NetworkView | undefined): RuleSet {
  if (ingress === undefined) return EMPTY_RULES
  const dnat = ingressBackends(ingress).flatMap(({ port, backends }) =>
    backends.map((to, i) => `-p ${port.protocol} --dport ${port.publishedPort} ${statisticMatch(i, backends.length)}-j DNAT --to-destination ${to}`))
  const source = ingress.nodeAddress ?? ingress.gateway
  const local = `-m addrtype --dst-type LOCAL -j ${INGRESS_CHAIN}`
  return {
    nat: {
      chains: [
        { name: INGRESS_CHAIN, rules: dnat },
        { name: POSTROUTING_CHAIN, rules: [`-o ${bridgeName(ingress.vxlanId)} -m conntrack --ctstate DNAT -j SNAT --to-source ${source}`] }
      ],
      jumps: [{ chain: 'PREROUTING', rule: local }, { chain: 'OUTPUT', rule: local }, { chain: 'POSTROUTING', rule: `-j ${POSTROUTING_CHAIN}` }],
      ensureChains: []
    },
    filter: {
      chains: [{
        name: FORWARD_CHAIN,
        rules: ['-o flb+ -m conntrack --ctstate DNAT -j ACCEPT', '-i flb+ -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT']
      }],
      jumps: [{ chain: DOCKER_USER_CHAIN, rule: `-j ${FORWARD_CHAIN}` }],
      ensureChains: [DOCKER_USER_CHAIN]
    }
  }
}
