/**
 * A binary min-heap under a strict "less" order. The scheduler only ever changes the key of the element
 * on top (the node or branch it just chose), so instead of an indexed heap it offers `topIncreased`:
 * one sift-down, O(log n), where re-sorting would be O(n log n) per task.
 */
export class MinHeap<T> {
  private readonly items: T[]
  private readonly less: (a: T, b: T) => boolean

  /** Takes ownership of `items` and orders it in place, O(n). */
  constructor (less: (a: T, b: T) => boolean, items: T[] = []) {
    this.less = less
    this.items = items
    for (let i = (items.length >> 1) - 1; i >= 0; i--) this.siftDown(i)
  }

  get size (): number {
    return this.items.length
  }

  peek (): T | undefined {
    return this.items[0]
  }

  push (item: T): void {
    const items = this.items
    items.push(item)
    let i = items.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      const p = items[parent]!
      if (!this.less(item, p)) break
      items[i] = p
      i = parent
    }
    items[i] = item
  }

  pop (): T | undefined {
    const items = this.items
    const top = items[0]
    const last = items.pop()
    if (items.length > 0 && last !== undefined) {
      items[0] = last
      this.siftDown(0)
    }
    return top
  }

  /** Restore the order after the top element's key grew (it may only move down). */
  topIncreased (): void {
    this.siftDown(0)
  }

  private siftDown (start: number): void {
    const items = this.items
    const n = items.length
    const item = items[start]
    if (item === undefined) return
    let i = start
    for (;;) {
      const left = 2 * i + 1
      if (left >= n) break
      const right = left + 1
      let child = left
      let c = items[left]!
      if (right < n) {
        const r = items[right]!
        if (this.less(r, c)) {
          child = right
          c = r
        }
      }
      if (!this.less(c, item)) break
      items[i] = c
      i = child
    }
    items[i] = item
  }
}
