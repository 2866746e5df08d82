/**
 * A binary min-heap of events ordered by (time, insertion sequence), with times and sequence numbers in
 * typed arrays: the membership simulation pushes tens of millions of events at 5,000 nodes, and one
 * object per entry (as ../heap.ts allocates) is what the garbage collector then spends its time on.
 */
export class EventHeap<T> {
  private times = new Float64Array(1 << 16)
  private seqs = new Float64Array(1 << 16)
  private values: Array<T | undefined> = []
  private n = 0
  private nextSeq = 0
  /** Time of the event last returned by `pop`. */
  lastTime = 0

  get size (): number { return this.n }

  push (time: number, value: T): void {
    if (this.n === this.times.length) this.grow()
    const times = this.times
    const seqs = this.seqs
    const values = this.values
    const seq = this.nextSeq++
    let i = this.n++
    while (i > 0) {
      const p = (i - 1) >> 1
      const pt = times[p]!
      if (pt < time || (pt === time && seqs[p]! < seq)) break
      times[i] = pt
      seqs[i] = seqs[p]!
      values[i] = values[p]
      i = p
    }
    times[i] = time
    seqs[i] = seq
    values[i] = value
  }

  /** The earliest event, removed (its time in `lastTime`); undefined when empty. */
  pop (): T | undefined {
    if (this.n === 0) return undefined
    const times = this.times
    const seqs = this.seqs
    const values = this.values
    const top = values[0]
    this.lastTime = times[0]!
    const n = --this.n
    if (n > 0) {
      const t = times[n]!
      const s = seqs[n]!
      const v = values[n]
      let i = 0
      for (;;) {
        let c = 2 * i + 1
        if (c >= n) break
        const r = c + 1
        if (r < n && (times[r]! < times[c]! || (times[r] === times[c] && seqs[r]! < seqs[c]!))) c = r
        const ct = times[c]!
        if (t < ct || (t === ct && s < seqs[c]!)) break
        times[i] = ct
        seqs[i] = seqs[c]!
        values[i] = values[c]
        i = c
      }
      times[i] = t
      seqs[i] = s
      values[i] = v
    }
    values[n] = undefined
    return top
  }

  private grow (): void {
    const t = new Float64Array(this.times.length * 2)
    t.set(this.times)
    this.times = t
    const s = new Float64Array(this.seqs.length * 2)
    s.set(this.seqs)
    this.seqs = s
  }
}
