import { describe, expect, it } from 'vitest'
import { MinHeap } from '../../../../src/tasks/scheduler/min-heap.js'
import { rng } from './helpers.js'

describe('MinHeap', () => {
  it('pops in order after heapify and pushes', () => {
    const next = rng(1)
    const initial = Array.from({ length: 200 }, () => Math.floor(next() * 1000))
    const heap = new MinHeap<number>((a, b) => a < b, [...initial])
    const pushed = Array.from({ length: 100 }, () => Math.floor(next() * 1000))
    for (const x of pushed) heap.push(x)
    const out: number[] = []
    for (let x = heap.pop(); x !== undefined; x = heap.pop()) out.push(x)
    expect(out).toEqual([...initial, ...pushed].sort((a, b) => a - b))
    expect(heap.size).toBe(0)
    expect(heap.peek()).toBeUndefined()
  })

  it('keeps order when the top grows (topIncreased)', () => {
    const next = rng(2)
    const items = Array.from({ length: 50 }, (_, id) => ({ id, key: Math.floor(next() * 20) }))
    const heap = new MinHeap<{ id: number, key: number }>((a, b) => a.key !== b.key ? a.key < b.key : a.id < b.id, [...items])
    for (let i = 0; i < 500; i++) {
      const top = heap.peek()!
      const min = Math.min(...items.map(x => x.key))
      expect(top.key).toBe(min)
      expect(top.id).toBe(Math.min(...items.filter(x => x.key === min).map(x => x.id)))
      top.key += 1 + Math.floor(next() * 3)
      heap.topIncreased()
    }
  })
})
