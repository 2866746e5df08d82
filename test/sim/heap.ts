/** A binary min-heap of events ordered by (time, insertion sequence): the simulation's virtual clock queue. */
export class EventQueue<T> {
  #items: { time: number, seq: number, value: T }[] = []
  #seq = 0

  get size (): number { return this.#items.length }

  push (time: number, value: T): void {
    const items = this.#items
    items.push({ time, seq: this.#seq++, value })
    let i = items.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!this.#less(i, p)) break
      this.#swap(i, p)
      i = p
    }
  }

  /** The earliest event, removed; undefined when empty. */
  pop (): { time: number, value: T } | undefined {
    const items = this.#items
    const top = items[0]
    if (top === undefined) return undefined
    const last = items.pop()
    if (items.length > 0 && last !== undefined) {
      items[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < items.length && this.#less(l, m)) m = l
        if (r < items.length && this.#less(r, m)) m = r
        if (m === i) break
        this.#swap(i, m)
        i = m
      }
    }
    return { time: top.time, value: top.value }
  }

  #less (a: number, b: number): boolean {
    const x = this.#items[a]
    const y = this.#items[b]
    if (x === undefined || y === undefined) return false
    return x.time < y.time || (x.time === y.time && x.seq < y.seq)
  }

  #swap (a: number, b: number): void {
    const x = this.#items[a]
    const y = this.#items[b]
    if (x === undefined || y === undefined) return
    this.#items[a] = y
    this.#items[b] = x
  }
}
