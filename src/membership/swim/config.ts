import { FlotillaError } from '../errors.js'

/**
 * Tuning of the SWIM/Lifeguard core. All durations in milliseconds. `resolveSwimConfig` fills defaults,
 * validates and freezes; the core only ever sees the resolved form.
 */
export interface SwimConfig {
  /** The protocol period: one member probed per period (SWIM §3.1), before Lifeguard scaling. Default 200. */
  readonly probeIntervalMs: number
  /**
   * How long a direct ping waits for its ack before indirect probes start; also how long an indirect
   * prober waits before it answers `nack`. Must be under half the probe interval, so that a helper's nack
   * reaches the prober within the period. Default 80.
   */
  readonly probeTimeoutMs: number
  /** k: members asked to probe indirectly after a direct ping times out (SWIM §3.1). Default 3. */
  readonly indirectChecks: number
  /**
   * Lifeguard's saturating Local Health Multiplier: the health score stays in [0, awarenessMax - 1] and
   * the probe interval and timeout are multiplied by (score + 1). 1 turns Lifeguard's LHA-Probe off. Default 8.
   */
  readonly awarenessMax: number
  /**
   * Suspicion timeout floor = suspicionMult · max(1, log10 N) · probeIntervalMs (memberlist's SuspicionMult;
   * 3 as in its local-network config: 1.2 s at 100 members, 2.2 s at 5,000). Default 3.
   */
  readonly suspicionMult: number
  /** Suspicion timeout ceiling = suspicionMaxMult · floor (memberlist's SuspicionMaxTimeoutMult). Default 6. */
  readonly suspicionMaxMult: number
  /**
   * Independent confirmations that bring a suspicion's timeout from the ceiling down to the floor
   * (Lifeguard's LHA-Suspicion K). Default suspicionMult - 2 (1), as memberlist.
   */
  readonly suspicionConfirmations: number
  /** Each broadcast is sent retransmitMult · ceil(log10(N + 1)) times (memberlist's RetransmitMult). Default 4. */
  readonly retransmitMult: number
  /**
   * Gossip-only messages go to `gossipNodes` random members every gossipIntervalMs while there is gossip
   * (memberlist's GossipNodes, GossipInterval); none while the queue is empty. Defaults 200 ms, 3.
   */
  readonly gossipIntervalMs: number
  readonly gossipNodes: number
  /** A dead member still receives gossip for this long, so that it can hear of its death and refute. Default 30 000. */
  readonly gossipToTheDeadMs: number
  /**
   * Anti-entropy: a full push-pull with one random alive member every pushPullIntervalMs, stretched for
   * large clusters by memberlist's pushPullScale (× ceil(log2 N - log2 32) + 1 above 32 members), and
   * with probability dead/alive a push-pull with a random dead member (Serf's reconnect), which is what
   * heals a partition whose sides declared each other dead. 0 disables both. Default 30 000.
   */
  readonly pushPullIntervalMs: number
  /** Byte budget of the gossip piggybacked on one message (msgpack-encoded sizes). Default 1200. */
  readonly maxPiggybackBytes: number
  /** Broadcasts queued beyond this drop the most-retransmitted first (memberlist's Prune). Default 4096. */
  readonly maxQueuedBroadcasts: number
  /** A metadata request unanswered for this long is sent again. Default 1000. */
  readonly metaRetryMs: number
  /** A join whose push-pull got no answer from any seed is sent again after this long. Default 1000. */
  readonly joinRetryMs: number
  /**
   * Send a suspicion this node starts from its own failed probe straight to the suspect as well, so that a
   * live suspect can refute within one message delay (Lifeguard's buddy system, eager form; the lazy form,
   * a suspicion piggybacked on every ping to a suspect, is always on); and a death it declares, so that a
   * member alive after all, whose refutation this node missed, answers it at once. Default true.
   */
  readonly notifySuspect: boolean
  /**
   * When the indirect probes go out, ping the target directly once more (memberlist's fallback TCP ping:
   * a second direct attempt, so that one lost ping or ack alone never leaves the fate of a healthy member
   * to the indirect paths). Default true.
   */
  readonly retryPing: boolean
}

export const DEFAULT_SWIM_CONFIG: SwimConfig = Object.freeze({
  probeIntervalMs: 200,
  probeTimeoutMs: 80,
  indirectChecks: 3,
  awarenessMax: 8,
  suspicionMult: 3,
  suspicionMaxMult: 6,
  suspicionConfirmations: 1,
  retransmitMult: 4,
  gossipIntervalMs: 200,
  gossipNodes: 3,
  gossipToTheDeadMs: 30_000,
  pushPullIntervalMs: 30_000,
  maxPiggybackBytes: 1200,
  maxQueuedBroadcasts: 4096,
  metaRetryMs: 1000,
  joinRetryMs: 1000,
  notifySuspect: true,
  retryPing: true
})

function positiveInt (v: number): boolean { return Number.isSafeInteger(v) && v > 0 }
function nonNegativeInt (v: number): boolean { return Number.isSafeInteger(v) && v >= 0 }

/**
 * Defaults filled in, checked, frozen. `suspicionConfirmations` defaults to suspicionMult - 2 (at least 0)
 * when suspicionMult is given without it. Throws `invalid-argument` naming the first bad field.
 */
export function resolveSwimConfig (init: Partial<SwimConfig> = {}): SwimConfig {
  const mult = init.suspicionMult ?? DEFAULT_SWIM_CONFIG.suspicionMult
  const cfg: SwimConfig = {
    ...DEFAULT_SWIM_CONFIG,
    suspicionConfirmations: Math.max(0, mult - 2),
    ...init
  }
  const bad = (field: keyof SwimConfig, rule: string): never => {
    throw new FlotillaError('invalid-argument', `swim config: ${field} ${rule} (got ${String(cfg[field])})`)
  }
  if (!positiveInt(cfg.probeIntervalMs)) bad('probeIntervalMs', 'must be a positive integer')
  if (!positiveInt(cfg.probeTimeoutMs) || cfg.probeTimeoutMs * 2 >= cfg.probeIntervalMs) bad('probeTimeoutMs', 'must be positive and under half of probeIntervalMs')
  if (!nonNegativeInt(cfg.indirectChecks)) bad('indirectChecks', 'must be a non-negative integer')
  if (!positiveInt(cfg.awarenessMax)) bad('awarenessMax', 'must be a positive integer')
  if (!(cfg.suspicionMult > 0)) bad('suspicionMult', 'must be positive')
  if (!(cfg.suspicionMaxMult >= 1)) bad('suspicionMaxMult', 'must be at least 1')
  if (!nonNegativeInt(cfg.suspicionConfirmations)) bad('suspicionConfirmations', 'must be a non-negative integer')
  if (!positiveInt(cfg.retransmitMult)) bad('retransmitMult', 'must be a positive integer')
  if (!positiveInt(cfg.gossipIntervalMs)) bad('gossipIntervalMs', 'must be a positive integer')
  if (!nonNegativeInt(cfg.gossipNodes)) bad('gossipNodes', 'must be a non-negative integer')
  if (!nonNegativeInt(cfg.gossipToTheDeadMs)) bad('gossipToTheDeadMs', 'must be a non-negative integer')
  if (!nonNegativeInt(cfg.pushPullIntervalMs)) bad('pushPullIntervalMs', 'must be a non-negative integer')
  if (!(cfg.maxPiggybackBytes >= 64)) bad('maxPiggybackBytes', 'must be at least 64')
  if (!positiveInt(cfg.maxQueuedBroadcasts)) bad('maxQueuedBroadcasts', 'must be a positive integer')
  if (!positiveInt(cfg.metaRetryMs)) bad('metaRetryMs', 'must be a positive integer')
  if (!positiveInt(cfg.joinRetryMs)) bad('joinRetryMs', 'must be a positive integer')
  return Object.freeze(cfg)
}

/**
 * The suspicion timeout bounds for a cluster of `members` (memberlist's suspicionTimeout): the floor is
 * mult · max(1, log10 N) · interval, the ceiling maxMult times that. Whole milliseconds.
 */
export function suspicionBoundsMs (cfg: SwimConfig, members: number): { minMs: number, maxMs: number } {
  // memberlist's rounding: the scale to thousandths first, then whole milliseconds.
  const nodeScaleMilli = Math.floor(Math.max(1, Math.log10(Math.max(1, members))) * 1000)
  const minMs = Math.floor(cfg.suspicionMult * nodeScaleMilli * cfg.probeIntervalMs / 1000)
  return { minMs, maxMs: Math.floor(minMs * cfg.suspicionMaxMult) }
}

/**
 * Confirmations expected before a suspicion reaches its floor: suspicionConfirmations, or 0 when the
 * cluster has too few other members to give them (N - 2 < K: not counting this node and the suspect).
 */
export function expectedConfirmations (cfg: SwimConfig, members: number): number {
  return members - 2 < cfg.suspicionConfirmations ? 0 : cfg.suspicionConfirmations
}

/**
 * Lifeguard's LHA-Suspicion timeout after `confirmations` of `k` expected (memberlist's
 * remainingSuspicionTime, as a total from the suspicion's start): max - log(n+1)/log(k+1) · (max - min),
 * floored at min, in whole milliseconds. With k = 0 it is min at once.
 */
export function suspicionTimeoutMs (confirmations: number, k: number, minMs: number, maxMs: number): number {
  if (k < 1) return minMs
  const frac = Math.log(confirmations + 1) / Math.log(k + 1)
  return Math.max(minMs, Math.floor(maxMs - frac * (maxMs - minMs)))
}

/** Times a broadcast is sent: retransmitMult · ceil(log10(N + 1)) (memberlist's retransmitLimit). */
export function retransmitLimit (retransmitMult: number, members: number): number {
  return retransmitMult * Math.ceil(Math.log10(members + 1))
}

/** Members up to which the push-pull interval is not stretched (memberlist's pushPullScaleThreshold). */
export const PUSH_PULL_SCALE_THRESHOLD = 32

/** The push-pull interval for `members` (memberlist's pushPullScale): × (ceil(log2 N - log2 32) + 1) above 32. */
export function pushPullIntervalMs (intervalMs: number, members: number): number {
  if (members <= PUSH_PULL_SCALE_THRESHOLD) return intervalMs
  const mult = Math.ceil(Math.log2(members) - Math.log2(PUSH_PULL_SCALE_THRESHOLD)) + 1
  return mult * intervalMs
}
