import { suspicionTimeoutMs } from './config.js'

/**
 * One suspicion's timer (Lifeguard's LHA-Suspicion; memberlist's suspicion.go, with time passed in):
 * it starts at the ceiling and drops towards the floor as independent confirmations arrive, each
 * accuser counted once and the first accuser not at all (our own suspicion can come back to us).
 */
export class Suspicion {
  private confirmations = 0
  private readonly accusers = new Set<string>()
  /** When the member is to be declared dead, on the core's clock. */
  deadlineMs: number

  constructor (
    from: string,
    readonly startedAtMs: number,
    /** Confirmations that bring the timeout to its floor (0: the floor from the start). */
    readonly k: number,
    readonly minMs: number,
    readonly maxMs: number
  ) {
    this.accusers.add(from)
    this.deadlineMs = startedAtMs + (k < 1 ? minMs : maxMs)
  }

  get confirmed (): number { return this.confirmations }

  /**
   * Count `from`'s suspicion. True when it was new (the caller re-gossips it so that others can count
   * it too); false for a repeat accuser or once k confirmations are in.
   */
  confirm (from: string): boolean {
    if (this.confirmations >= this.k || this.accusers.has(from)) return false
    this.accusers.add(from)
    this.confirmations++
    this.deadlineMs = this.startedAtMs + suspicionTimeoutMs(this.confirmations, this.k, this.minMs, this.maxMs)
    return true
  }
}
