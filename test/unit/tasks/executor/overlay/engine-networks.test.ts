import type Docker from 'dockerode'
import { describe, expect, it } from 'vitest'
import { engineNetworkCreateOptions, engineNetworkMismatch, engineNetworkVxlanId, flotillaNetworkId } from '../../../../../src/tasks/executor/docker/overlay/engine-networks.js'
import { ingressNetwork, network } from './fixtures.js'

/** An engine network as the engine lists it, made from `engineNetworkCreateOptions`. */
function listed (opts: Docker.NetworkCreateOptions): Docker.NetworkInspectInfo {
  return {
    Name: opts.Name, Id: 'e1', Created: '', Scope: 'local', Driver: opts.Driver ?? 'bridge', EnableIPv6: false, IPAM: opts.IPAM,
    Internal: opts.Internal ?? false, Attachable: false, Ingress: false, ConfigOnly: false, Options: opts.Options, Labels: opts.Labels
  }
}

describe('engine networks', () => {
  it('a user network: an internal bridge network on flb<vxlanId>, gateway the network\'s, labelled with its ID', () => {
    expect(engineNetworkCreateOptions(network())).toEqual({
      Name: 'flotilla-web',
      CheckDuplicate: false,
      Driver: 'bridge',
      Internal: true,
      Attachable: false,
      IPAM: { Driver: 'default', Config: [{ Subnet: '10.0.9.0/24', Gateway: '10.0.9.1' }] },
      Options: { 'com.docker.network.bridge.name': 'flb4096', 'com.docker.network.driver.mtu': '1450', 'com.docker.network.bridge.enable_icc': 'true' },
      Labels: { 'flotilla.network.id': 'net-web' }
    })
  })

  it('the ingress network: the bridge holds the node\'s own address', () => {
    expect(engineNetworkCreateOptions(ingressNetwork()).IPAM!.Config).toEqual([{ Subnet: '10.0.0.0/24', Gateway: '10.0.0.251' }])
  })

  it('finds what differs in an existing one, never its name', () => {
    const net = network()
    const ok = listed(engineNetworkCreateOptions(net))
    expect(engineNetworkMismatch(ok, net)).toBeUndefined()
    expect(engineNetworkMismatch({ ...ok, Name: 'flotilla-old-name' }, net)).toBeUndefined()
    expect(engineNetworkMismatch(ok, network({ subnet: '10.0.10.0/24' }))).toMatch(/subnet 10.0.9.0\/24, not 10.0.10.0\/24/)
    expect(engineNetworkMismatch(ok, network({ gateway: '10.0.9.254' }))).toMatch(/gateway/)
    expect(engineNetworkMismatch(ok, network({ vxlanId: 5000 }))).toMatch(/bridge flb4096, not flb5000/)
    expect(engineNetworkMismatch({ ...ok, Internal: false }, net)).toMatch(/not internal/)
    expect(engineNetworkMismatch({ ...ok, Driver: 'overlay' }, net)).toMatch(/driver/)
    expect(engineNetworkMismatch(ok, ingressNetwork({ ...net, ingress: true, nodeAddress: '10.0.9.250' }))).toMatch(/gateway 10.0.9.1, not 10.0.9.250/)
  })

  it('reads back the network ID and VXLAN ID', () => {
    const found = listed(engineNetworkCreateOptions(network()))
    expect(flotillaNetworkId(found)).toBe('net-web')
    expect(engineNetworkVxlanId(found)).toBe(4096)
    expect(flotillaNetworkId({ ...found, Labels: {} })).toBeUndefined()
  })
})
