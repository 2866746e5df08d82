import { describe, expect, it } from 'vitest'
import {
  bareAddress, bridgeName, engineNetworkName, hostsFilePath, vxlanIdOfBridge, vxlanIdOfDevice, vxlanName
} from '../../../../../src/tasks/executor/docker/overlay/names.js'

describe('overlay names', () => {
  it('names devices by VXLAN ID within Linux\'s 15 characters', () => {
    expect(bridgeName(4096)).toBe('flb4096')
    expect(vxlanName(4096)).toBe('flv4096')
    expect(vxlanName(0xffffff)).toBe('flv16777215')
    expect(vxlanName(0xffffff).length).toBeLessThanOrEqual(15)
  })

  it.each([0, -1, 1.5, 0x1000000, Number.NaN])('refuses VXLAN ID %s', id => {
    expect(() => vxlanName(id)).toThrow(/VXLAN ID/)
  })

  it('reads the VXLAN ID back from its own names only', () => {
    expect(vxlanIdOfDevice('flv4096')).toBe(4096)
    expect(vxlanIdOfBridge('flb4097')).toBe(4097)
    for (const other of ['flv', 'flv0', 'flv04096', 'flv4096x', 'vxlan0', 'flb4096', 'flv99999999']) expect(vxlanIdOfDevice(other), other).toBeUndefined()
    expect(vxlanIdOfBridge('docker0')).toBeUndefined()
  })

  it('names engine networks after the network, hosts files after the task', () => {
    expect(engineNetworkName('web')).toBe('flotilla-web')
    expect(hostsFilePath('/var/lib/flotilla/overlay/', 'abc123')).toBe('/var/lib/flotilla/overlay/hosts/abc123')
    expect(() => hostsFilePath('/s', '../etc/passwd')).toThrow(/cannot name a file/)
  })

  it('strips a prefix length', () => {
    expect(bareAddress('10.0.1.5/24')).toBe('10.0.1.5')
    expect(bareAddress('10.0.1.5')).toBe('10.0.1.5')
  })
})
