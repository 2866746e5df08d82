import { describe, expect, it } from 'vitest'
import { allocateNetwork, allocateSubnet, allocateVxlanId, checkAddressPool, formatCidr, ingressSpec, overlaps, parseCidr } from '../../../../src/tasks/allocator/index.js'
import { DEFAULT_ADDRESS_POOL, type NetworkObject, type NetworkSpec } from '../../../../src/election/index.js'

const spec = (name: string, ipam: NetworkSpec['IPAM']['Config'] = []): NetworkSpec => ({
  ...ingressSpec(), Name: name, Ingress: false, IPAM: { Driver: 'default', Config: ipam, Options: {} }
})

function made (specs: NetworkSpec[], pool = DEFAULT_ADDRESS_POOL): NetworkObject[] {
  const out: NetworkObject[] = []
  for (const [i, s] of specs.entries()) out.push({ ...allocateNetwork(s, `net${i}`, out, pool, 1000), version: i + 1 })
  return out
}

describe('IPv4 prefixes', () => {
  it.each([
    ['10.0.0.0/8', '10.0.0.0/8'], ['10.0.1.0/24', '10.0.1.0/24'], ['192.168.4.0/22', '192.168.4.0/22'], ['0.0.0.0/0', '0.0.0.0/0']
  ])('parses %s', (text, back) => { expect(formatCidr(parseCidr(text, 'f'))).toBe(back) })

  it.each(['10.0.1.5/24', '10.0.0/24', '10.0.0.256/24', '10.0.0.0/33', 'fd00::/64', '', '10.0.0.0'])('refuses %s, naming the field', text => {
    expect(() => parseCidr(text, 'IPAM.Config[0].Subnet')).toThrow(/IPAM\.Config\[0\]\.Subnet/)
  })

  it('knows which prefixes overlap', () => {
    const p = (t: string): ReturnType<typeof parseCidr> => parseCidr(t, 'f')
    expect(overlaps(p('10.0.0.0/8'), p('10.0.5.0/24'))).toBe(true)
    expect(overlaps(p('10.0.5.0/24'), p('10.0.6.0/24'))).toBe(false)
    expect(overlaps(p('10.0.4.0/22'), p('10.0.7.0/24'))).toBe(true)
    expect(overlaps(p('10.0.4.0/22'), p('10.0.8.0/24'))).toBe(false)
  })
})

describe('subnets from the address pools', () => {
  it('takes the lowest free /24 of 10.0.0.0/8, as Docker does', () => {
    const taken = ['10.0.0.0/24', '10.0.2.0/24'].map(t => parseCidr(t, 'f'))
    expect(formatCidr(allocateSubnet(['10.0.0.0/8'], 24, taken))).toBe('10.0.1.0/24')
  })

  it('skips past a larger subnet given by hand, and moves on to the next pool when one is full', () => {
    const taken = ['10.20.0.0/23'].map(t => parseCidr(t, 'f'))
    expect(formatCidr(allocateSubnet(['10.20.0.0/22'], 24, taken))).toBe('10.20.2.0/24')
    const full = ['10.20.0.0/22'].map(t => parseCidr(t, 'f'))
    expect(formatCidr(allocateSubnet(['10.20.0.0/22', '172.28.0.0/16'], 26, full))).toBe('172.28.0.0/26')
  })

  it('says what to do when every subnet is taken', () => {
    expect(() => allocateSubnet(['10.30.0.0/24'], 25, ['10.30.0.0/24'].map(t => parseCidr(t, 'f')))).toThrow(/no \/25 subnet is left/)
  })

  it('checks a swarm init pool: prefixes, and a SubnetSize no smaller than a pool', () => {
    expect(checkAddressPool({ defaultAddrPool: ['10.20.0.0/16'], subnetSize: 26 })).toEqual({ defaultAddrPool: ['10.20.0.0/16'], subnetSize: 26 })
    expect(() => checkAddressPool({ defaultAddrPool: ['10.20.0.0/16'], subnetSize: 12 })).toThrow(/smaller than a \/12 subnet/)
    expect(() => checkAddressPool({ defaultAddrPool: ['10.20.0.1/16'], subnetSize: 24 })).toThrow(/DefaultAddrPool\[0\]/)
    expect(() => checkAddressPool({ defaultAddrPool: [], subnetSize: 24 })).toThrow(/at least one/)
    expect(() => checkAddressPool({ defaultAddrPool: ['10.0.0.0/8'], subnetSize: 30 })).toThrow(/SubnetSize/)
  })
})

describe('allocating a network', () => {
  it('gives ingress 10.0.0.0/24 and the next networks the following /24s, each its own VXLAN ID', () => {
    const [ingress, a, b] = made([ingressSpec(), spec('a'), spec('b')])
    expect([ingress!.subnet, ingress!.gateway, ingress!.vxlanId]).toEqual(['10.0.0.0/24', '10.0.0.1', 4096])
    expect([a!.subnet, a!.gateway, a!.vxlanId]).toEqual(['10.0.1.0/24', '10.0.1.1', 4097])
    expect([b!.subnet, b!.vxlanId]).toEqual(['10.0.2.0/24', 4098])
  })

  it('keeps a subnet and gateway given by hand, and fills the gap a removed network left', () => {
    const nets = made([ingressSpec(), spec('mine', [{ Subnet: '10.0.1.0/24', Gateway: '10.0.1.254' }]), spec('next')])
    expect([nets[1]!.subnet, nets[1]!.gateway]).toEqual(['10.0.1.0/24', '10.0.1.254'])
    expect(nets[2]!.subnet).toBe('10.0.2.0/24')
    const after = allocateNetwork(spec('again'), 'x', [nets[0]!, nets[2]!], DEFAULT_ADDRESS_POOL, 0)
    expect([after.subnet, after.vxlanId]).toEqual(['10.0.1.0/24', 4097])
  })

  it('refuses a taken name or an overlapping subnet (409), and a gateway outside the subnet (400)', () => {
    const nets = made([ingressSpec(), spec('a')])
    expect(() => allocateNetwork(spec('a'), 'x', nets, DEFAULT_ADDRESS_POOL, 0)).toThrow(/network with name a already exists/)
    expect(() => allocateNetwork(spec('b', [{ Subnet: '10.0.0.0/16' }]), 'x', nets, DEFAULT_ADDRESS_POOL, 0)).toThrow(/overlaps network ingress's 10\.0\.0\.0\/24/)
    expect(() => allocateNetwork(spec('b', [{ Subnet: '10.9.0.0/24', Gateway: '10.9.1.1' }]), 'x', nets, DEFAULT_ADDRESS_POOL, 0)).toThrow(/not a host address of 10\.9\.0\.0\/24/)
    expect(() => allocateNetwork(spec('b', [{ Gateway: '10.9.1.1' }]), 'x', nets, DEFAULT_ADDRESS_POOL, 0)).toThrow(/needs a Subnet/)
  })

  it('draws from the cluster\'s own pool and subnet size', () => {
    const [ingress, a] = made([ingressSpec(), spec('a')], { defaultAddrPool: ['10.77.0.0/16'], subnetSize: 26 })
    expect([ingress!.subnet, a!.subnet]).toEqual(['10.77.0.0/26', '10.77.0.64/26'])
  })

  it('hands out VXLAN IDs from 4096, filling gaps', () => {
    expect(allocateVxlanId([])).toBe(4096)
    expect(allocateVxlanId([4096, 4098])).toBe(4097)
  })
})
