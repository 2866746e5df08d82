/**
 * A small seeded PRNG (mulberry32) for the simulation, the randomized tests and the benchmarks: integer
 * seed in, a reproducible stream out. Every random choice comes from the seed, so a seed replays exactly.
 */
export class Rng {
  #state: number

  constructor (seed: number) {
    this.#state = seed >>> 0
  }

  /** Uniform in [0, 1). */
  next (): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0
    let t = this.#state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  /** Uniform integer in [lo, hi] (inclusive). */
  int (lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1))
  }

  /** True with probability p. */
  chance (p: number): boolean {
    return this.next() < p
  }

  pick<T> (items: readonly T[]): T {
    const item = items[Math.floor(this.next() * items.length)]
    if (item === undefined) throw new RangeError('rng: pick from an empty list')
    return item
  }

  shuffle<T> (items: readonly T[]): T[] {
    const out = [...items]
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1))
      const a = out[i] as T
      out[i] = out[j] as T
      out[j] = a
    }
    return out
  }

  /** A child generator with an independent stream (for a node's core, the network…). */
  fork (): Rng {
    return new Rng(Math.floor(this.next() * 4294967296) ^ 0x9e3779b9)
  }
}

/** A bare `() => number` in [0, 1) from `seed`, where a function rather than an Rng is wanted. */
export function rng (seed: number): () => number {
  const r = new Rng(seed)
  return () => r.next()
}
