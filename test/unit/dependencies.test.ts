import { describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { repoRoot } from '../support/agent-process.js'

// "dgram-free": no UDP-based libp2p module may be installed at all, not merely left unused.
describe('dependency tree', () => {
  const lock = JSON.parse(readFileSync(join(repoRoot(), 'package-lock.json'), 'utf8')) as { packages: Record<string, unknown> }
  const installed = Object.keys(lock.packages).filter(p => p !== '').map(p => p.replace(/^.*node_modules\//, ''))

  it('holds no UDP transport, mDNS, UPnP/NAT-PMP, QUIC or WebRTC package', () => {
    const udp = installed.filter(name => /mdns|multicast-dns|quic|webrtc|upnp|nat-pmp|nat-port-mapper|@libp2p\/udp|dgram/i.test(name))
    expect(udp).toEqual([])
  })

  it('uses libp2p 2.x with gossipsub 14, as the card requires', () => {
    const version = (name: string): string => (lock.packages[`node_modules/${name}`] as { version: string }).version
    expect(version('libp2p')).toMatch(/^2\./)
    expect(version('@chainsafe/libp2p-gossipsub')).toMatch(/^14\./)
    expect(version('@libp2p/tcp')).toMatch(/^10\./)
  })
})
