import { describe, expect, it } from 'vitest'
import { VIP_CHAIN, serviceChain, statisticMatch, vipRules } from '../../../../../src/tasks/executor/docker/overlay/vip-rules.js'
import { ingressNetwork, network, service, tasks } from './fixtures.js'

describe('statistic match (kube-proxy\'s iptables mode)', () => {
  it.each([
    [1, ['']],
    [2, ['0.5000000000', '']],
    [3, ['0.3333333333', '0.5000000000', '']],
    [4, ['0.2500000000', '0.3333333333', '0.5000000000', '']]
  ])('%i endpoints: probabilities 1/(n-i), none on the last', (n, probabilities) => {
    const got = Array.from({ length: n }, (_, i) => statisticMatch(i, n))
    expect(got).toEqual(probabilities.map(p => p === '' ? '' : `-m statistic --mode random --probability ${p} `))
  })

  it('gives every endpoint 1/n overall', () => {
    for (let n = 1; n <= 12; n++) {
      let reach = 1
      for (let i = 0; i < n; i++) {
        const m = /--probability (\S+)/.exec(statisticMatch(i, n))
        const p = m === null ? 1 : Number(m[1])
        expect(reach * p).toBeCloseTo(1 / n, 9)
        reach *= 1 - p
      }
      expect(reach).toBeCloseTo(0, 9)
    }
  })
})

describe('VIP rules of a container', () => {
  it('DNATs each VIP to its running tasks from a per-service chain jumped to from OUTPUT', () => {
    const net = network({ services: [service({ name: 'web', vip: '10.0.9.2', tasks: tasks('10.0.9.3', '10.0.9.4', '10.0.9.5') })] })
    const chain = serviceChain(net.id, 'svc-web')
    expect(chain).toMatch(/^FLOTILLA-SVC-[0-9A-F]{12}$/)
    expect(chain.length).toBeLessThanOrEqual(28)
    expect(vipRules([net])).toEqual({
      nat: {
        chains: [
          { name: VIP_CHAIN, rules: [`-d 10.0.9.2/32 -j ${chain}`] },
          {
            name: chain,
            rules: [
              '-m statistic --mode random --probability 0.3333333333 -j DNAT --to-destination 10.0.9.3',
              '-m statistic --mode random --probability 0.5000000000 -j DNAT --to-destination 10.0.9.4',
              '-j DNAT --to-destination 10.0.9.5'
            ]
          }
        ],
        jumps: [{ chain: 'OUTPUT', rule: '-j FLOTILLA-VIP' }],
        ensureChains: []
      },
      filter: { chains: [{ name: VIP_CHAIN, rules: [] }], jumps: [{ chain: 'OUTPUT', rule: '-j FLOTILLA-VIP' }], ensureChains: [] }
    })
  })

  it('a VIP with no running task is REJECTed in the filter table, not DNATed', () => {
    const rules = vipRules([network({ services: [service({ name: 'idle', vip: '10.0.9.9' })] })])
    expect(rules.nat.chains).toEqual([{ name: VIP_CHAIN, rules: [] }])
    expect(rules.filter.chains).toEqual([{ name: VIP_CHAIN, rules: ['-d 10.0.9.9/32 -j REJECT --reject-with icmp-port-unreachable'] }])
  })

  it('dnsrr services, VIP-less services and the ingress network get no rules; the chains and jumps stay', () => {
    const rules = vipRules([
      network({ services: [service({ name: 'db', endpointMode: 'dnsrr', tasks: tasks('10.0.9.7') }), service({ name: 'new', tasks: tasks('10.0.9.8') })] }),
      ingressNetwork({ services: [service({ name: 'web', vip: '10.0.0.2', tasks: tasks('10.0.0.3') })] })
    ])
    expect(rules.nat.chains).toEqual([{ name: VIP_CHAIN, rules: [] }])
    expect(rules.filter.chains).toEqual([{ name: VIP_CHAIN, rules: [] }])
    expect(rules.nat.jumps).toHaveLength(1)
  })

  it('several networks: one chain per network and service, in the networks\' order', () => {
    const a = network({ services: [service({ name: 'web', vip: '10.0.9.2', tasks: tasks('10.0.9.3') })] })
    const b = network({ id: 'net-back', name: 'back', vxlanId: 4098, subnet: '10.0.8.0/24', services: [service({ name: 'web', vip: '10.0.8.2', tasks: tasks('10.0.8.3') })] })
    const rules = vipRules([b, a])
    expect(rules.nat.chains.map(c => c.name)).toEqual([VIP_CHAIN, serviceChain('net-back', 'svc-web'), serviceChain('net-web', 'svc-web')])
    expect(serviceChain('net-back', 'svc-web')).not.toBe(serviceChain('net-web', 'svc-web'))
    expect(rules.nat.chains[0]!.rules).toEqual([`-d 10.0.8.2/32 -j ${serviceChain('net-back', 'svc-web')}`, `-d 10.0.9.2/32 -j ${serviceChain('net-web', 'svc-web')}`])
  })

  it('is deterministic', () => {
    const view = () => [network({ services: [service({ name: 'web', vip: '10.0.9.2', tasks: tasks('10.0.9.3', '10.0.9.4') })] })]
    expect(JSON.stringify(vipRules(view()))).toBe(JSON.stringify(vipRules(view())))
  })
})
