/**
 * What the membership simulation measures: per crash, the time to the first suspicion anywhere and to
 * the last live member marking it dead; per join, the time to the last member marking it alive; false
 * suspicions and deaths (distinct member and incarnation, accused while up); traffic per message type.
 */

/** Members that still have to see something happen; done when none is left. */
export class Spread {
  private readonly waiting: Set<number>
  /** ms from `atMs` to the last required member (null while some are left). */
  doneMs: number | null = null

  constructor (readonly node: number, readonly atMs: number, required: Iterable<number>, readonly incarnation: number) {
    this.waiting = new Set(required)
  }

  get pending (): number { return this.waiting.size }

  /** `observer` saw it at `nowMs` (or no longer counts: crashed). True when this completed the spread. */
  mark (observer: number, nowMs: number): boolean {
    if (this.doneMs !== null || !this.waiting.delete(observer)) return false
    if (this.waiting.size > 0) return false
    this.doneMs = nowMs - this.atMs
    return true
  }
}

export class CrashTrack extends Spread {
  /** ms from the crash to the first suspicion of it anywhere. */
  suspectMs: number | null = null
}

export interface TypeTraffic { messages: number, bytes: number }

export interface Traffic {
  messages: number
  bytes: number
  readonly byType: Record<string, TypeTraffic>
}

export function newTraffic (): Traffic {
  return { messages: 0, bytes: 0, byType: {} }
}

export function addTraffic (t: Traffic, type: string, bytes: number): void {
  t.messages++
  t.bytes += bytes
  const b = t.byType[type] ?? (t.byType[type] = { messages: 0, bytes: 0 })
  b.messages++
  b.bytes += bytes
}

export function mergeTraffic (into: Traffic, from: Traffic): void {
  into.messages += from.messages
  into.bytes += from.bytes
  for (const [k, v] of Object.entries(from.byType)) {
    const b = into.byType[k] ?? (into.byType[k] = { messages: 0, bytes: 0 })
    b.messages += v.messages
    b.bytes += v.bytes
  }
}

/** The p-th percentile (0–100, nearest rank) of `xs`; null when empty. */
export function percentile (xs: readonly number[], p: number): number | null {
  if (xs.length === 0) return null
  const s = [...xs].sort((a, b) => a - b)
  const rank = Math.min(s.length, Math.max(1, Math.ceil((p / 100) * s.length)))
  return s[rank - 1] ?? null
}

/** Distinct (member, incarnation) accusations of members that were up. */
export class Accusations {
  private readonly seen = new Set<string>()
  count = 0

  add (node: number, incarnation: number): void {
    const key = `${node}:${incarnation}`
    if (this.seen.has(key)) return
    this.seen.add(key)
    this.count++
  }
}
