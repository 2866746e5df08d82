/**
 * The events of one manager's store (dockerd's events service, fed by SwarmKit's store watch): every
 * committed batch becomes Docker events (derive.ts), kept in a bounded ring for `since` and handed to
 * every subscriber as it comes.
 *
 *   not live ──(an entry past `liveFrom()` is applied)──▶ live ──stop()──▶ stopped
 *
 * Not live, batches only move the baseline: a manager replaying its own log at start, or catching up
 * on history after a join, reports nothing that happened before it was there. The driver (the
 * watch callback) is synchronous, as the store's notification is; subscribers read at their own pace
 * from a bounded queue, and one that falls `maxQueued` events behind is ended (it resumes from its
 * cursor, out of the ring).
 */
import { FlotillaError } from '../../membership/index.js'
import type { StoreEvent, StoreState } from '../../election/index.js'
import { compareCursor, deriveEvents, type ClusterEvent, type EventCursor } from './derive.js'

/** How many events the ring keeps (dockerd keeps 256). */
export const DEFAULT_RING_CAPACITY = 1000
/** How many events a subscriber may fall behind before it is ended. */
export const DEFAULT_MAX_QUEUED = 4096

/** What the source watches: the cluster store (ClusterStore's `state` and `watch`). */
export interface WatchedStore {
  readonly state: StoreState
  watch(fn: (events: readonly StoreEvent[], state: StoreState) => void): () => void
}

export interface EventSourceDeps {
  /** Wall-clock nanoseconds since the epoch; the source keeps its stamps strictly increasing. */
  readonly nowNs: () => bigint
  /**
   * The Raft index after which batches are live (events), or null while it is not known yet; asked
   * on each batch until the source is live.
   */
  readonly liveFrom: () => number | null
  /** Deriving failed (a bug): the source has stopped, and the agent decides what follows. */
  readonly onFailure: (err: unknown) => void
}

export interface EventSourceInit {
  readonly capacity?: number
  readonly maxQueued?: number
}

/** What a subscriber asks for. `after` (a resumed stream) takes the place of `since`. */
export interface SubscribeOptions {
  /** Ring events from this time on (ns) are replayed first; with neither `since` nor `until` nor `after`, none are (dockerd's rule). */
  readonly since: bigint | null
  /** Ring events after this time (ns) are not replayed. */
  readonly until: bigint | null
  /** Ring events after this cursor are replayed first, whatever their time. */
  readonly after: EventCursor | null
  readonly filter: (e: ClusterEvent) => boolean
}

/** The source ended a subscription: it stopped, or the subscriber fell behind. */
export class EventsEndedError extends FlotillaError {
  constructor (message: string) {
    super('unavailable', message, { retryable: true })
    this.name = 'EventsEndedError'
  }
}

interface Subscriber {
  readonly filter: (e: ClusterEvent) => boolean
  readonly queue: ClusterEvent[]
  ended: Error | null
  wake: (() => void) | null
}

export class EventSource {
  private readonly ring: ClusterEvent[] = []
  private readonly subscribers = new Set<Subscriber>()
  private readonly capacity: number
  private readonly maxQueued: number
  private baseline: StoreState | null = null
  private unwatch: (() => void) | null = null
  private isLive = false
  private stopped = false
  private lastStamp = 0n

  constructor (private readonly store: WatchedStore, private readonly deps: EventSourceDeps, init: EventSourceInit = {}) {
    this.capacity = init.capacity ?? DEFAULT_RING_CAPACITY
    this.maxQueued = init.maxQueued ?? DEFAULT_MAX_QUEUED
  }

  /** Start watching the store, from its present state. */
  start (): void {
    if (this.unwatch !== null || this.stopped) return
    this.baseline = this.store.state
    this.unwatch = this.store.watch((events, state) => { this.onBatch(events, state) })
  }

  /**
   * Whether batches make events (and so whether this source may serve streams): once an entry past
   * `liveFrom()` was applied, or the store has applied up to it and waits for the next.
   */
  get live (): boolean {
    if (!this.isLive && !this.stopped && this.unwatch !== null) {
      const from = this.deps.liveFrom()
      if (from !== null && this.store.state.index >= from) this.isLive = true
    }
    return this.isLive && !this.stopped
  }

  /** Stop watching; every subscription ends with EventsEndedError. */
  stop (reason = 'this manager stopped serving events'): void {
    if (this.stopped) return
    this.stopped = true
    this.unwatch?.()
    this.unwatch = null
    for (const s of this.subscribers) this.end(s, new EventsEndedError(reason))
    this.subscribers.clear()
  }

  /** The ring's events, oldest first (for tests and diagnostics). */
  buffered (): readonly ClusterEvent[] {
    return this.ring
  }

  private onBatch (events: readonly StoreEvent[], state: StoreState): void {
    const before = this.baseline ?? state
    this.baseline = state
    if (!this.isLive) {
      const from = this.deps.liveFrom()
      if (from === null || state.index <= from) return
      this.isLive = true
    }
    let derived: ClusterEvent[]
    try {
      let stamp = this.deps.nowNs()
      if (stamp <= this.lastStamp) stamp = this.lastStamp + 1n
      derived = deriveEvents(events, before, state, stamp)
      if (derived.length > 0) this.lastStamp = derived[derived.length - 1]!.timeNano
    } catch (err) {
      this.stop(`deriving events failed: ${(err as Error).message}`)
      this.deps.onFailure(err)
      return
    }
    for (const e of derived) this.publish(e)
  }

  private publish (e: ClusterEvent): void {
    this.ring.push(e)
    if (this.ring.length > this.capacity) this.ring.splice(0, this.ring.length - this.capacity)
    for (const s of this.subscribers) {
      if (s.ended !== null || !s.filter(e)) continue
      if (s.queue.length >= this.maxQueued) {
        this.end(s, new EventsEndedError(`the reader fell ${this.maxQueued} events behind`))
        this.subscribers.delete(s)
        continue
      }
      s.queue.push(e)
      this.wakeUp(s)
    }
  }

  private end (s: Subscriber, err: Error): void {
    s.ended = err
    this.wakeUp(s)
  }

  private wakeUp (s: Subscriber): void {
    const w = s.wake
    s.wake = null
    w?.()
  }

  /** The ring's events a subscription starts with (dockerd's loadBufferedEvents, plus the resume cursor). */
  history (o: SubscribeOptions): ClusterEvent[] {
    if (o.after !== null) return this.ring.filter(e => compareCursor(e, o.after!) > 0 && o.filter(e))
    if (o.since === null && o.until === null) return []
    return this.ring.filter(e => (o.since === null || e.timeNano >= o.since) && (o.until === null || e.timeNano <= o.until) && o.filter(e))
  }

  /**
   * The ring's matching events, then each new one as it is published, until `signal` aborts (the
   * iteration then ends) or the source ends the subscription (it then throws EventsEndedError). The
   * subscription is registered before this returns, so nothing published afterwards is missed.
   */
  subscribe (o: SubscribeOptions, signal: AbortSignal): AsyncIterable<ClusterEvent> {
    if (this.stopped) throw new EventsEndedError('this manager stopped serving events')
    const s: Subscriber = { filter: o.filter, queue: this.history(o), ended: null, wake: null }
    this.subscribers.add(s)
    const onAbort = (): void => { this.wakeUp(s) }
    signal.addEventListener('abort', onAbort, { once: true })
    const subscribers = this.subscribers
    async function * iterate (): AsyncGenerator<ClusterEvent> {
      try {
        for (;;) {
          if (signal.aborted) return
          const e = s.queue.shift()
          if (e !== undefined) { yield e; continue }
          if (s.ended !== null) throw s.ended
          await new Promise<void>(resolve => { s.wake = resolve })
        }
      } finally {
        signal.removeEventListener('abort', onAbort)
        subscribers.delete(s)
      }
    }
    return iterate()
  }
}
