import type { NetworkView, ServiceOnNetwork } from '../../../../../src/tasks/executor/network-view.js'

/** A service on a network: vip mode, no alias, no published port unless given. */
export function service (init: Partial<ServiceOnNetwork> & { name: string }): ServiceOnNetwork {
  return {
    serviceId: `svc-${init.name}`,
    aliases: [],
    endpointMode: 'vip',
    vip: null,
    tasks: [],
    ingressPorts: [],
    ...init
  }
}

/** A user network 10.0.9.0/24, VXLAN 4096, unless given. */
export function network (init: Partial<NetworkView> = {}): NetworkView {
  return {
    id: 'net-web',
    name: 'web',
    subnet: '10.0.9.0/24',
    gateway: '10.0.9.1',
    vxlanId: 4096,
    ingress: false,
    internal: false,
    nodeAddress: null,
    peers: [],
    services: [],
    ...init
  }
}

/** The ingress network 10.0.0.0/24, VXLAN 4097, this node at 10.0.0.251, unless given. */
export function ingressNetwork (init: Partial<NetworkView> = {}): NetworkView {
  return network({ id: 'net-ingress', name: 'ingress', subnet: '10.0.0.0/24', gateway: '10.0.0.1', vxlanId: 4097, ingress: true, nodeAddress: '10.0.0.251', ...init })
}

/** Running tasks at the given addresses, `t1`, `t2`… */
export function tasks (...addresses: string[]): ServiceOnNetwork['tasks'] {
  return addresses.map((address, i) => ({ taskId: `t${i + 1}`, address }))
}
