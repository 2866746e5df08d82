import type { Gossip } from './types.js'

interface Queued {
  readonly key: string
  readonly gossip: Gossip
  readonly bytes: number
  readonly id: number
  transmits: number
}

/**
 * memberlist's TransmitLimitedQueue: the gossip waiting to be piggybacked, at most one item per member
 * (a newer claim about a member replaces the older one: SWIM §4.1), each sent a bounded number of
 * times. `take` prefers the least-sent items, then the largest, then the newest, as memberlist does, so
 * that fresh news spreads first and a message's byte budget fills well.
 */
export class BroadcastQueue {
  private items: Queued[] = []
  private readonly byKey = new Map<string, Queued>()
  private nextId = 0
  private sorted = true

  /** `sizeOf` is an item's encoded size in bytes; computed once per item. */
  constructor (private readonly sizeOf: (g: Gossip) => number, private readonly maxQueued: number) {}

  get size (): number { return this.items.length }

  /** True while gossip keyed `key` is still waiting to be sent (its retransmit budget not spent). */
  has (key: string): boolean {
    return this.byKey.has(key)
  }

  /** Times gossip keyed `key` was sent so far (undefined when not queued). */
  transmits (key: string): number | undefined {
    return this.byKey.get(key)?.transmits
  }

  /** Queue `gossip` under `key` (the member it is about), replacing what was queued for it. */
  queue (key: string, gossip: Gossip): void {
    const old = this.byKey.get(key)
    if (old !== undefined) this.remove(old)
    const item: Queued = { key, gossip, bytes: this.sizeOf(gossip), id: this.nextId++, transmits: 0 }
    this.items.push(item)
    this.byKey.set(key, item)
    this.sorted = false
    if (this.items.length > this.maxQueued) this.prune()
  }

  /**
   * Up to `budgetBytes` of gossip for one message, each item counted as sent once more and dropped when
   * it reaches `limit` sends. Skips items that do not fit and takes smaller ones behind them; an item
   * larger than the whole budget is sent alone.
   */
  take (budgetBytes: number, limit: number): Gossip[] {
    if (this.items.length === 0) return []
    this.sort()
    const out: Gossip[] = []
    let free = budgetBytes
    let spent = false
    for (const item of this.items) {
      // An item larger than the whole budget still goes, alone, rather than never.
      if (item.bytes > free && !(out.length === 0 && item.bytes > budgetBytes)) continue
      free -= item.bytes
      out.push(item.gossip)
      item.transmits++
      if (item.transmits >= limit) spent = true
      if (free < 16) break
    }
    if (out.length > 0) this.sorted = false
    if (spent) {
      this.items = this.items.filter(i => {
        if (i.transmits < limit) return true
        this.byKey.delete(i.key)
        return false
      })
    }
    return out
  }

  private remove (item: Queued): void {
    const i = this.items.indexOf(item)
    if (i !== -1) this.items.splice(i, 1)
    this.byKey.delete(item.key)
  }

  private sort (): void {
    if (this.sorted) return
    this.items.sort((a, b) => a.transmits - b.transmits || b.bytes - a.bytes || b.id - a.id)
    this.sorted = true
  }

  /** Keep the `maxQueued` freshest items (least sent, then newest). */
  private prune (): void {
    this.items.sort((a, b) => a.transmits - b.transmits || b.id - a.id)
    for (const item of this.items.splice(this.maxQueued)) this.byKey.delete(item.key)
    this.sorted = false
  }
}
