/**
 * Lifeguard's Local Health Multiplier (memberlist's awareness.go): a saturating score in [0, max - 1],
 * 0 when healthy. A node that misses nacks, fails probes or has to refute its own suspicion is more
 * likely slow itself than surrounded by failures, so it stretches its probe interval and timeouts by
 * (score + 1) instead of accusing others (LHA-Probe).
 */
export class Awareness {
  private value = 0

  /** `max` = 1 pins the score at 0 (Lifeguard's LHA-Probe off). */
  constructor (private readonly max: number) {}

  get score (): number { return this.value }

  /** Add `delta` (negative when healthier), clamped to [0, max - 1]. */
  apply (delta: number): void {
    this.value = Math.min(this.max - 1, Math.max(0, this.value + delta))
  }

  /** `ms` stretched by the current score: ms · (score + 1). */
  scale (ms: number): number {
    return ms * (this.value + 1)
  }
}
