import { describe, expect, it } from 'vitest'
import { BroadcastQueue } from '../../../../src/membership/swim/broadcast-queue.js'
import { ALIVE, DEAD, MemberDirectory, MemberList, SUSPECT } from '../../../../src/membership/swim/member-list.js'
import type { Gossip } from '../../../../src/membership/swim/index.js'
import { Rng } from '../../../support/rng.js'

const alive = (node: string, inc: number): Gossip => ({ k: 'alive', node, inc, mv: 1 })
const sizeOf = (): number => 100

describe('BroadcastQueue (memberlist TransmitLimitedQueue)', () => {
  it('holds one item per member: a newer claim replaces the older', () => {
    const q = new BroadcastQueue(sizeOf, 100)
    q.queue('b', alive('b', 1))
    q.queue('b', { k: 'suspect', node: 'b', inc: 1, from: 'c' })
    expect(q.size).toBe(1)
    expect(q.take(1000, 10)).toEqual([{ k: 'suspect', node: 'b', inc: 1, from: 'c' }])
  })

  it('sends each item exactly `limit` times, then drops it', () => {
    const q = new BroadcastQueue(sizeOf, 100)
    q.queue('b', alive('b', 1))
    let sends = 0
    for (let i = 0; i < 20; i++) sends += q.take(1000, 6).length
    expect(sends).toBe(6)
    expect(q.has('b')).toBe(false)
  })

  it('sends the least-sent first, the newest among equals, within the byte budget', () => {
    const q = new BroadcastQueue(sizeOf, 100)
    q.queue('b', alive('b', 1))
    expect(q.take(100, 10)).toEqual([alive('b', 1)])
    q.queue('c', alive('c', 1))
    q.queue('d', alive('d', 1))
    // Budget for two: the two never sent, newest first; b (sent once) waits.
    expect(q.take(200, 10)).toEqual([alive('d', 1), alive('c', 1)])
    // Now all were sent once: newest first.
    expect(q.take(300, 10)).toEqual([alive('d', 1), alive('c', 1), alive('b', 1)])
    expect([q.transmits('b'), q.transmits('c'), q.transmits('d')]).toEqual([2, 2, 2])
  })

  it('sends an item larger than the whole budget alone rather than never', () => {
    const q = new BroadcastQueue(g => g.node === 'big' ? 5000 : 100, 100)
    q.queue('big', alive('big', 1))
    q.queue('b', alive('b', 1))
    expect(q.take(1000, 10)).toEqual([alive('big', 1)])
    expect(q.take(1000, 10)).toEqual([alive('b', 1)])
  })

  it('keeps the freshest maxQueued items', () => {
    const q = new BroadcastQueue(sizeOf, 2)
    q.queue('b', alive('b', 1))
    q.take(1000, 10)
    q.queue('c', alive('c', 1))
    q.queue('d', alive('d', 1))
    expect(q.size).toBe(2)
    expect(q.has('b')).toBe(false)
  })
})

function table (members: number, seed = 7): { list: MemberList, rng: () => number, dir: MemberDirectory } {
  const dir = new MemberDirectory()
  const self = dir.slotOf('self')
  const list = new MemberList(dir, self)
  const r = new Rng(seed)
  const rng = (): number => r.next()
  list.setState(self, ALIVE, 0, rng)
  for (let i = 0; i < members; i++) list.setState(dir.slotOf(`m${i}`), ALIVE, 0, rng)
  return { list, rng, dir }
}

describe('probe order (SWIM §4.3 round-robin over a shuffled list)', () => {
  it('visits every other member exactly once per round, never itself, in a new order each round', () => {
    const { list, rng, dir } = table(20)
    const rounds: string[][] = []
    for (let r = 0; r < 3; r++) {
      const round: string[] = []
      for (let i = 0; i < 20; i++) round.push(dir.idOf(list.nextProbeTarget(rng)))
      rounds.push(round)
    }
    for (const round of rounds) expect([...round].sort()).toEqual(Array.from({ length: 20 }, (_, i) => `m${i}`).sort())
    expect(rounds[0]).not.toEqual(rounds[1])
    expect(rounds[1]).not.toEqual(rounds[2])
  })

  it('skips dead members and probes suspects', () => {
    const { list, rng, dir } = table(4)
    list.setState(dir.slotOf('m1'), DEAD, 0, rng)
    list.setState(dir.slotOf('m2'), SUSPECT, 0, rng)
    const seen = new Set<string>()
    for (let i = 0; i < 6; i++) seen.add(dir.idOf(list.nextProbeTarget(rng)))
    expect([...seen].sort()).toEqual(['m0', 'm2', 'm3'])
  })

  it('probes a member that joins mid-round before the round ends', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const { list, rng, dir } = table(10, seed)
      const first = [dir.idOf(list.nextProbeTarget(rng)), dir.idOf(list.nextProbeTarget(rng))]
      list.setState(dir.slotOf('late'), ALIVE, 0, rng)
      const rest: string[] = []
      for (let i = 0; i < 9; i++) rest.push(dir.idOf(list.nextProbeTarget(rng)))
      expect([...first, ...rest].sort()).toEqual([...Array.from({ length: 10 }, (_, i) => `m${i}`), 'late'].sort())
    }
  })

  it('returns -1 when there is nobody to probe', () => {
    const { list, rng } = table(0)
    expect(list.nextProbeTarget(rng)).toBe(-1)
  })

  it('picks k distinct random members that pass the filter', () => {
    const { list, rng, dir } = table(50)
    const picked = list.randomMembers(3, rng, s => s !== list.self && dir.idOf(s) !== 'm0')
    expect(new Set(picked).size).toBe(3)
    expect(picked.map(s => dir.idOf(s))).not.toContain('m0')
    expect(picked).not.toContain(list.self)
  })
})
