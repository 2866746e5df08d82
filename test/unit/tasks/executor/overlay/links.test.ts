import { describe, expect, it } from 'vitest'
import { FLOOD_MAC, parseFdb, parseVxlanLinks, planVxlan, strayVxlans, type VxlanLink } from '../../../../../src/tasks/executor/docker/overlay/links.js'

/** Trimmed from `ip -d -j link show type vxlan` (iproute2 6.1). */
const IP_JSON = JSON.stringify([
  {
    ifindex: 3, ifname: 'flv4096', flags: ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'], mtu: 1450, master: 'flb4096', operstate: 'UNKNOWN',
    linkinfo: { info_kind: 'vxlan', info_data: { id: 4096, local: '10.1.1.1', port_range: { low: 0, high: 0 }, port: 4789, learning: true } }
  },
  { ifindex: 4, ifname: 'vx0', flags: ['BROADCAST'], mtu: 1500, linkinfo: { info_kind: 'vxlan', info_data: { id: 7, port: 8472 } } }
])
const FDB_JSON = JSON.stringify([
  { mac: 'a6:0f:68:10:22:d6', flags: [], master: 'flb4096', state: 'permanent' },
  { mac: FLOOD_MAC, dst: '10.1.1.2', flags: ['self'], state: 'permanent' },
  { mac: FLOOD_MAC, dst: '10.1.1.3', flags: ['self'], state: 'permanent' },
  { mac: '02:42:0a:00:09:03', dst: '10.1.1.3', flags: ['self'], state: '' }
])

const GOOD: VxlanLink = { name: 'flv4096', vni: 4096, local: '10.1.1.1', port: 4789, master: 'flb4096', mtu: 1450, up: true }
const WANT = { vxlanId: 4096, vtep: '10.1.1.1', peers: ['10.1.1.2', '10.1.1.3'] }

describe('VXLAN devices and forwarding entries', () => {
  it('parses iproute2\'s JSON', () => {
    expect(parseVxlanLinks(IP_JSON)).toEqual([GOOD, { name: 'vx0', vni: 7, local: null, port: 8472, master: null, mtu: 1500, up: false }])
    expect(parseFdb(FDB_JSON)).toEqual([
      { mac: 'a6:0f:68:10:22:d6', dst: null },
      { mac: FLOOD_MAC, dst: '10.1.1.2' },
      { mac: FLOOD_MAC, dst: '10.1.1.3' },
      { mac: '02:42:0a:00:09:03', dst: '10.1.1.3' }
    ])
    expect(parseVxlanLinks('')).toEqual([])
    expect(() => parseFdb('Error: nope')).toThrow(/printed no JSON/)
  })

  it('makes a missing device, enslaves it and floods to every peer', () => {
    expect(planVxlan(WANT, undefined, []).map(c => `${c.tool} ${c.args.join(' ')}`)).toEqual([
      'ip link add flv4096 type vxlan id 4096 local 10.1.1.1 dstport 4789 learning',
      'ip link set flv4096 master flb4096 mtu 1450 up',
      'bridge fdb append 00:00:00:00:00:00 dev flv4096 dst 10.1.1.2',
      'bridge fdb append 00:00:00:00:00:00 dev flv4096 dst 10.1.1.3'
    ])
  })

  it('leaves a right device alone', () => {
    expect(planVxlan(WANT, GOOD, parseFdb(FDB_JSON))).toEqual([])
  })

  it('makes a wrong device again (VNI, local address or port), with fresh entries', () => {
    for (const wrong of [{ vni: 4097 }, { local: '10.1.1.9' }, { port: 8472 }]) {
      const cmds = planVxlan(WANT, { ...GOOD, ...wrong }, parseFdb(FDB_JSON)).map(c => `${c.tool} ${c.args.join(' ')}`)
      expect(cmds[0]).toBe('ip link del flv4096')
      expect(cmds[1]).toMatch(/^ip link add flv4096 /)
      expect(cmds.filter(c => c.startsWith('bridge fdb append'))).toHaveLength(2)
    }
  })

  it('re-enslaves a device that lost its bridge, its MTU or went down', () => {
    for (const wrong of [{ master: null }, { mtu: 1500 }, { up: false }]) {
      expect(planVxlan(WANT, { ...GOOD, ...wrong }, parseFdb(FDB_JSON)).map(c => c.args.join(' '))).toEqual(['link set flv4096 master flb4096 mtu 1450 up'])
    }
  })

  it('follows the peers: deletes entries to departed ones, appends new ones, never one to itself', () => {
    const cmds = planVxlan({ ...WANT, peers: ['10.1.1.1', '10.1.1.3', '10.1.1.4'] }, GOOD, parseFdb(FDB_JSON)).map(c => `${c.tool} ${c.args.join(' ')}`)
    expect(cmds).toEqual([
      'bridge fdb del 00:00:00:00:00:00 dev flv4096 dst 10.1.1.2',
      'bridge fdb append 00:00:00:00:00:00 dev flv4096 dst 10.1.1.4'
    ])
  })

  it('names its own devices that no network keeps, never others\'', () => {
    const links = [GOOD, { ...GOOD, name: 'flv4097', vni: 4097 }, { ...GOOD, name: 'vx0', vni: 7 }]
    expect(strayVxlans(links, new Set([4096]))).toEqual(['flv4097'])
    expect(strayVxlans(links, new Set([4096, 4097]))).toEqual([])
  })
})
