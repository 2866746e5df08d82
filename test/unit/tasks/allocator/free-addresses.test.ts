import { describe, expect, it } from 'vitest'
import { allocateNetwork, ingressSpec, lowestFreeAddress } from '../../../../src/tasks/index.js'
import { FreeAddresses } from '../../../../src/tasks/allocator/free-addresses.js'
import { DEFAULT_ADDRESS_POOL } from '../../../../src/election/objects/index.js'
import { Rng } from '../../../support/rng.js'

function network (subnet: string): ReturnType<typeof allocateNetwork> & { version: number } {
  const spec = { ...ingressSpec(), Name: 'a', Ingress: false, IPAM: { Driver: 'default' as const, Config: [{ Subnet: subnet }], Options: {} } }
  return { ...allocateNetwork(spec, 'net-a', [], DEFAULT_ADDRESS_POOL, 0), version: 1 }
}

describe('FreeAddresses', () => {
  it('hands out, at every take, the lowest free address a scan from the bottom finds, across takes and releases', () => {
    for (const seed of [1, 2, 3]) {
      const rng = new Rng(seed)
      const n = network('10.9.0.0/26')
      const initial = new Set(['10.9.0.1', '10.9.0.3', '10.9.0.4', '10.9.0.9'])
      const used = new Set(initial)
      const free = new FreeAddresses(n, new Set(initial))
      const taken: string[] = []
      for (let step = 0; step < 300; step++) {
        if (taken.length > 0 && rng.chance(0.4)) {
          const ip = taken.splice(rng.int(0, taken.length - 1), 1)[0]!
          used.delete(ip)
          free.release(ip)
          continue
        }
        const expected = lowestFreeAddress(n, used)
        expect(free.take(), `seed ${seed}, step ${step}`).toBe(expected)
        if (expected !== null) {
          const ip = expected.split('/')[0]!
          used.add(ip)
          taken.push(ip)
        }
      }
    }
  })

  it('says null once the network is full, and takes again what is released', () => {
    const free = new FreeAddresses(network('10.9.0.0/29'), new Set(['10.9.0.1']))
    expect([free.take(), free.take(), free.take(), free.take(), free.take()]).toEqual(['10.9.0.2/29', '10.9.0.3/29', '10.9.0.4/29', '10.9.0.5/29', '10.9.0.6/29'])
    expect(free.take()).toBeNull()
    free.release('10.9.0.4')
    expect(free.take()).toBe('10.9.0.4/29')
    expect(free.take()).toBeNull()
  })
})
