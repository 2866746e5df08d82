import { describe, expect, it } from 'vitest'
import { ingressBackends, ingressRules } from '../../../../../src/tasks/executor/docker/overlay/ingress-rules.js'
import { EMPTY_RULES } from '../../../../../src/tasks/executor/docker/overlay/iptables-plan.js'
import { ingressNetwork, service, tasks } from './fixtures.js'

describe('routing mesh rules', () => {
  it('DNATs a published port with equal odds to each running task\'s ingress address and target port, SNATs to the node\'s address', () => {
    const ingress = ingressNetwork({
      services: [service({ name: 'web', vip: '10.0.0.2', tasks: tasks('10.0.0.3', '10.0.0.4'), ingressPorts: [{ protocol: 'tcp', publishedPort: 8080, targetPort: 80 }] })]
    })
    expect(ingressRules(ingress)).toEqual({
      nat: {
        chains: [
          {
            name: 'FLOTILLA-INGRESS',
            rules: [
              '-p tcp --dport 8080 -m statistic --mode random --probability 0.5000000000 -j DNAT --to-destination 10.0.0.3:80',
              '-p tcp --dport 8080 -j DNAT --to-destination 10.0.0.4:80'
            ]
          },
          { name: 'FLOTILLA-POSTROUTING', rules: ['-o flb4097 -m conntrack --ctstate DNAT -j SNAT --to-source 10.0.0.251'] }
        ],
        jumps: [
          { chain: 'PREROUTING', rule: '-m addrtype --dst-type LOCAL -j FLOTILLA-INGRESS' },
          { chain: 'OUTPUT', rule: '-m addrtype --dst-type LOCAL -j FLOTILLA-INGRESS' },
          { chain: 'POSTROUTING', rule: '-j FLOTILLA-POSTROUTING' }
        ],
        ensureChains: []
      },
      filter: {
        chains: [{ name: 'FLOTILLA-FORWARD', rules: ['-o flb+ -m conntrack --ctstate DNAT -j ACCEPT', '-i flb+ -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT'] }],
        jumps: [{ chain: 'DOCKER-USER', rule: '-j FLOTILLA-FORWARD' }],
        ensureChains: ['DOCKER-USER']
      }
    })
  })

  it('orders ports by protocol then port, across services; a port with no running task gets no DNAT', () => {
    const ingress = ingressNetwork({
      services: [
        service({ name: 'b', tasks: tasks('10.0.0.5'), ingressPorts: [{ protocol: 'udp', publishedPort: 53, targetPort: 5353 }, { protocol: 'tcp', publishedPort: 9000, targetPort: 9000 }] }),
        service({ name: 'a', tasks: tasks('10.0.0.6', '10.0.0.7', '10.0.0.8'), ingressPorts: [{ protocol: 'tcp', publishedPort: 80, targetPort: 8080 }] }),
        service({ name: 'idle', ingressPorts: [{ protocol: 'tcp', publishedPort: 81, targetPort: 80 }] })
      ]
    })
    expect(ingressBackends(ingress).map(s => [`${s.port.protocol}/${s.port.publishedPort}`, s.backends])).toEqual([
      ['tcp/80', ['10.0.0.6:8080', '10.0.0.7:8080', '10.0.0.8:8080']],
      ['tcp/81', []],
      ['tcp/9000', ['10.0.0.5:9000']],
      ['udp/53', ['10.0.0.5:5353']]
    ])
    expect(ingressRules(ingress).nat.chains[0]!.rules).toEqual([
      '-p tcp --dport 80 -m statistic --mode random --probability 0.3333333333 -j DNAT --to-destination 10.0.0.6:8080',
      '-p tcp --dport 80 -m statistic --mode random --probability 0.5000000000 -j DNAT --to-destination 10.0.0.7:8080',
      '-p tcp --dport 80 -j DNAT --to-destination 10.0.0.8:8080',
      '-p tcp --dport 9000 -j DNAT --to-destination 10.0.0.5:9000',
      '-p udp --dport 53 -j DNAT --to-destination 10.0.0.5:5353'
    ])
  })

  it('no published port: the chains and jumps stay, empty', () => {
    const rules = ingressRules(ingressNetwork())
    expect(rules.nat.chains[0]).toEqual({ name: 'FLOTILLA-INGRESS', rules: [] })
    expect(rules.nat.jumps).toHaveLength(3)
  })

  it('a node without an address of its own SNATs to the gateway', () => {
    expect(ingressRules(ingressNetwork({ nodeAddress: null })).nat.chains[1]!.rules).toEqual(['-o flb4097 -m conntrack --ctstate DNAT -j SNAT --to-source 10.0.0.1'])
  })

  it('no ingress network: no rules at all', () => {
    expect(ingressRules(undefined)).toBe(EMPTY_RULES)
  })
})
