import { SwimCore, type Gossip, type Outgoing, type SwimConfig, type SwimEvent, type SwimMessage } from '../../../../src/membership/swim/index.js'
import { Rng } from '../../../support/rng.js'

export const META = new Uint8Array([1, 2, 3])

export interface CoreInit {
  readonly self?: string
  readonly members?: readonly string[]
  readonly config?: Partial<SwimConfig>
  readonly incarnation?: number
  readonly seed?: number
  readonly nowMs?: number
}

/**
 * A core named `self` (default 'a') that knows `members` (alive at incarnation 1, metadata version 1,
 * metadata known), with no gossip or push-pull unless the test asks: push-pull off, and its clock at 0.
 */
export function core (init: CoreInit = {}): SwimCore {
  const rng = new Rng(init.seed ?? 1)
  return new SwimCore({
    self: init.self ?? 'a',
    incarnation: init.incarnation ?? 1,
    meta: META,
    nowMs: init.nowMs ?? 0,
    random: () => rng.next(),
    config: { pushPullIntervalMs: 0, ...init.config },
    members: (init.members ?? []).map(node => ({ node, incarnation: 1, metaVersion: 1, meta: META }))
  })
}

/** Messages of type `t` (all when omitted) in `out`. */
export function sent<T extends SwimMessage['t']> (out: readonly Outgoing[], t: T): Array<{ to: string, message: Extract<SwimMessage, { t: T }> }> {
  return out.filter((o): o is { to: string, message: Extract<SwimMessage, { t: T }> } => o.message.t === t)
}

/** Every gossip item in `out`, piggybacked or not. */
export function gossipIn (out: readonly Outgoing[]): Gossip[] {
  return out.flatMap(o => ('g' in o.message && o.message.g !== undefined) ? o.message.g : [])
}

export function kinds (events: readonly SwimEvent[]): string[] {
  return events.map(e => `${e.kind} ${e.node}@${e.incarnation}`)
}

/** Tick `c` until `untilMs` at every deadline it reports; returns everything it produced on the way. */
export function runUntil (c: SwimCore, fromMs: number, untilMs: number, onMessage?: (o: Outgoing, nowMs: number) => void): { messages: Outgoing[], events: SwimEvent[] } {
  const messages: Outgoing[] = []
  const events: SwimEvent[] = []
  let now = fromMs
  for (let guard = 0; guard < 100_000; guard++) {
    const d = Math.max(c.nextDeadlineMs(), now)
    if (d > untilMs) break
    now = d
    c.tick(now)
    const out = c.drain()
    for (const m of out.messages) {
      messages.push(m)
      onMessage?.(m, now)
    }
    events.push(...out.events)
  }
  c.tick(untilMs)
  const out = c.drain()
  messages.push(...out.messages)
  events.push(...out.events)
  return { messages, events }
}
