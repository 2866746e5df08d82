import { describe, expect, it } from 'vitest'
import { hostsFile } from '../../../../../src/tasks/executor/docker/overlay/hosts-file.js'
import { ingressNetwork, network, service, tasks } from './fixtures.js'

const BASE = [
  '127.0.0.1\tlocalhost',
  '::1\tlocalhost ip6-localhost ip6-loopback',
  'fe00::0\tip6-localnet',
  'ff00::0\tip6-mcastprefix',
  'ff02::1\tip6-allnodes',
  'ff02::2\tip6-allrouters'
]

describe('hosts file', () => {
  it('before the container exists: only the localhost lines and the names', () => {
    const web = network({ services: [service({ name: 'web', vip: '10.0.9.2', tasks: tasks('10.0.9.3') })] })
    expect(hostsFile({ hostname: null, networks: [{ networkId: web.id, address: '10.0.9.3/24' }], view: [web] })).toBe([
      ...BASE, '# web', '10.0.9.2\tweb', '10.0.9.3\ttasks.web', ''
    ].join('\n'))
  })

  it('vip mode: the name and aliases to the VIP, tasks.<name> and tasks.<alias> to each running task', () => {
    const web = network({ services: [service({ name: 'web', aliases: ['www', 'front'], vip: '10.0.9.2', tasks: tasks('10.0.9.3', '10.0.9.4') })] })
    expect(hostsFile({ hostname: 'c0ffee', networks: [{ networkId: web.id, address: '10.0.9.3/24' }], view: [web] })).toBe([
      ...BASE,
      '10.0.9.3\tc0ffee',
      '# web',
      '10.0.9.2\tweb www front',
      '10.0.9.3\ttasks.web tasks.www tasks.front',
      '10.0.9.4\ttasks.web tasks.www tasks.front',
      ''
    ].join('\n'))
  })

  it('dnsrr mode: the name to each running task, no VIP', () => {
    const net = network({ services: [service({ name: 'db', endpointMode: 'dnsrr', aliases: ['pg'], tasks: tasks('10.0.9.7', '10.0.9.8') })] })
    expect(hostsFile({ hostname: 'h', networks: [{ networkId: net.id, address: '10.0.9.20' }], view: [net] }).split('\n').slice(7)).toEqual([
      '# web',
      '10.0.9.7\tdb pg',
      '10.0.9.8\tdb pg',
      '10.0.9.7\ttasks.db tasks.pg',
      '10.0.9.8\ttasks.db tasks.pg',
      ''
    ])
  })

  it('a service with no running task: its VIP still resolves, no tasks.<name>; in dnsrr mode nothing', () => {
    const net = network({ services: [service({ name: 'idle', vip: '10.0.9.9' }), service({ name: 'gone', endpointMode: 'dnsrr' })] })
    expect(hostsFile({ hostname: 'h', networks: [{ networkId: net.id, address: '10.0.9.20/24' }], view: [net] }).split('\n').slice(7)).toEqual([
      '# web', '10.0.9.9\tidle', ''
    ])
  })

  it('several networks: in the task\'s order, services by name; ingress names nothing; the own address is the first non-ingress one', () => {
    const back = network({ id: 'net-back', name: 'back', subnet: '10.0.8.0/24', vxlanId: 4098, services: [service({ name: 'db', vip: '10.0.8.2', tasks: tasks('10.0.8.3') })] })
    const web = network({ services: [service({ name: 'web', vip: '10.0.9.2' }), service({ name: 'api', vip: '10.0.9.5' })] })
    const ingress = ingressNetwork({ services: [service({ name: 'web', vip: '10.0.0.2', tasks: tasks('10.0.0.3') })] })
    const text = hostsFile({
      hostname: 'h',
      networks: [{ networkId: ingress.id, address: '10.0.0.3/24' }, { networkId: web.id, address: '10.0.9.3/24' }, { networkId: back.id, address: '10.0.8.4/24' }],
      view: [back, ingress, web]
    })
    expect(text.split('\n').slice(6)).toEqual([
      '10.0.9.3\th',
      '# web', '10.0.9.5\tapi', '10.0.9.2\tweb',
      '# back', '10.0.8.2\tdb', '10.0.8.3\ttasks.db',
      ''
    ])
  })

  it('a network missing from the view contributes nothing; no network, no own line', () => {
    expect(hostsFile({ hostname: 'h', networks: [{ networkId: 'net-unknown', address: '10.9.9.9/24' }], view: [] })).toBe([...BASE, '10.9.9.9\th', ''].join('\n'))
    expect(hostsFile({ hostname: 'h', networks: [], view: [] })).toBe([...BASE, ''].join('\n'))
  })

  it('is deterministic: the view\'s service order does not matter', () => {
    const a = service({ name: 'a', vip: '10.0.9.10' })
    const b = service({ name: 'b', vip: '10.0.9.11' })
    const at = [{ networkId: 'net-web', address: '10.0.9.3/24' }]
    expect(hostsFile({ hostname: 'h', networks: at, view: [network({ services: [a, b] })] }))
      .toBe(hostsFile({ hostname: 'h', networks: at, view: [network({ services: [b, a] })] }))
  })
})
