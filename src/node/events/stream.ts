/**
 * One `GET /events` stream, on any node: from this node's own event source when it is a live manager,
 * else from another manager over EVENTS_PROTOCOL (the leader first, then the other managers that are up).
 *
 *   connect (local, or the managers in turn) ──events──▶ write
 *       ▲                                       │ the source ends, the manager goes, a stream breaks
 *       └──── wait `retryMs` ◀──────────────────┘
 *
 * The stream is transparent to the client: when its source goes, it reconnects (to this node's
 * source once live, or to another manager) and resumes after the last event it wrote, by that event's
 * Raft index and position, which name it the same on every manager. Events the new manager's ring no
 * longer holds (over 1,000 behind) are lost; none is written twice. It ends when `until` passes or
 * the client goes, as dockerd's; with `until` in the past, after the ring's matching events.
 */
import { compareCursor, type ClusterEvent, type EventCursor } from './derive.js'
import type { EventFilters } from './filter.js'
import { matchesEvent } from './filter.js'
import { untilSignal, type EventRequest } from './protocol.js'
import type { EventSource } from './source.js'
import type { EventWindow } from './timestamps.js'

/** How long a stream waits before connecting again when no manager could serve it. */
export const RETRY_MS = 1000
/** How long a stream with `until` in the past keeps trying to reach a manager before it ends empty. */
const PAST_GIVE_UP_NS = 10_000_000_000n
/** A stream younger than this asks a new source for `since` as given (dockerd: none without since/until). */
const FRESH_NS = 1_000_000_000n

export interface EventStreamDeps {
  /** This node's event source when it is a live manager, else null. */
  readonly local: () => EventSource | null
  /** Other managers to ask, in order of preference (the leader first); this node excluded. */
  readonly managers: () => readonly string[]
  /** Manager `nodeId`'s events (protocol.ts remoteEvents): ends at `until`, throws when it fails. */
  readonly remote: (nodeId: string, request: EventRequest, signal: AbortSignal) => AsyncIterable<ClusterEvent>
  readonly nowNs: () => bigint
  readonly retryMs?: number
  /** A source failed, or none could be reached; the stream goes on (for the agent's log). */
  readonly onRetry?: (reason: string) => void
}

/** What the query asks for: the window, the filters and their JSON (passed on to a remote manager). */
export interface EventQuery extends EventWindow {
  readonly filters: EventFilters
  readonly filtersJson: string
}

async function pause (ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return
  await new Promise<void>(resolve => {
    const t = setTimeout(done, ms)
    function done (): void { clearTimeout(t); signal.removeEventListener('abort', done); resolve() }
    signal.addEventListener('abort', done, { once: true })
  })
}

/**
 * Write the events `q` asks for through `write` (in order, each once) until `until` passes, `signal`
 * aborts (the client went), or, with `until` in the past, the buffered ones are written.
 */
export async function streamEvents (deps: EventStreamDeps, q: EventQuery, write: (e: ClusterEvent) => Promise<void>, signal: AbortSignal): Promise<void> {
  const startNs = deps.nowNs()
  const onlyPast = q.until !== null && q.until <= startNs
  const until = untilSignal(onlyPast ? null : q.until, deps.nowNs)
  const stop = AbortSignal.any([signal, until.signal])
  const filter = (e: ClusterEvent): boolean => matchesEvent(q.filters, e)
  let cursor: EventCursor | null = null

  /** Write the events of one connection; true when it ended as a stream ends (`until`). */
  const drain = async (events: Iterable<ClusterEvent> | AsyncIterable<ClusterEvent>): Promise<boolean> => {
    for await (const e of events) {
      if (stop.aborted) return true
      if (cursor !== null && compareCursor(e, cursor) <= 0) continue
      await write(e)
      cursor = e
    }
    return q.until !== null
  }

  /**
   * The request of the next connection: after the cursor; with nothing written yet, `since` as asked,
   * or, once the stream has been open a while (it lost a source, or waited for one), since it began.
   */
  const nextRequest = (): EventRequest => {
    const since = cursor !== null ? null : deps.nowNs() - startNs < FRESH_NS ? q.since : q.since ?? startNs
    return { since, until: q.until, after: cursor, filters: q.filtersJson }
  }

  try {
    while (!stop.aborted) {
      let reason = 'no manager is reachable'
      try {
        const source = deps.local()
        if (source !== null) {
          const r = nextRequest()
          const options = { since: r.since, until: r.until, after: r.after, filter }
          if (await drain(onlyPast ? source.history(options) : source.subscribe(options, stop))) return
          reason = 'this manager\'s event source ended'
        } else {
          for (const nodeId of deps.managers()) {
            try {
              if (await drain(deps.remote(nodeId, nextRequest(), stop))) return
              reason = `manager ${nodeId} ended the stream`
            } catch (err) {
              if (stop.aborted) return
              reason = (err as Error).message
              deps.onRetry?.(reason)
            }
          }
        }
      } catch (err) {
        if (stop.aborted) return
        reason = (err as Error).message
      }
      if (stop.aborted) return
      // A question about the past gets its answer from whoever can give it now, or an empty one.
      if (onlyPast && deps.nowNs() - startNs > PAST_GIVE_UP_NS) return
      deps.onRetry?.(reason)
      await pause(deps.retryMs ?? RETRY_MS, stop)
    }
  } finally {
    until.clear()
  }
}
