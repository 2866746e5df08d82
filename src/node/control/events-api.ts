/**
 * `GET /events` (Docker Engine API SystemEvents, `docker events`) on every node's socket: the cluster's
 * swarm-scoped events (src/node/events). Answered as dockerd does: 200, `Content-Type:
 * application/json`, one JSON object per line, each written as it comes; open until `until` passes or
 * the client goes. Never forwarded: the node that got the request streams it, from its own manager
 * role or from another manager (events/stream.ts).
 */
import { FlotillaError, type Logger, type Membership } from '../../membership/index.js'
import type { Manager } from '../../election/index.js'
import { eventLine } from '../events/derive.js'
import { parseEventFilters } from '../events/filter.js'
import { remoteEvents } from '../events/protocol.js'
import type { EventSource } from '../events/source.js'
import { streamEvents, type EventQuery, type EventStreamDeps } from '../events/stream.js'
import { parseEventWindow } from '../events/timestamps.js'
import type { ApiResponse } from './http-server.js'
import type { Router } from './router.js'

/** What the route needs of the agent. */
export interface EventsAgent {
  readonly membership: Membership | null
  readonly manager: Manager | null
}

export interface EventRouteDeps {
  readonly agent: EventsAgent
  /** This node's live event source, or null (see ManagerEvents.local). */
  readonly local: () => EventSource | null
  readonly logger: Logger
  readonly nowNs?: () => bigint
  readonly retryMs?: number
}

/** `since`, `until` and `filters` of the query, each a 400 when malformed. */
export function parseEventQuery (q: URLSearchParams, nowNs: bigint): EventQuery {
  const window = parseEventWindow(q, nowNs)
  const filtersJson = q.get('filters') ?? ''
  return { ...window, filters: parseEventFilters(filtersJson), filtersJson }
}

/** The managers a node may ask for events: the leader first, then the others that are up; never itself. */
export function eventManagers (agent: EventsAgent): string[] {
  const m = agent.membership
  if (m === null) return []
  const up = m.members().filter(x => x.role === 'manager' && x.nodeId !== m.nodeId && x.liveness === 'ready' && !x.left).map(x => x.nodeId)
  const leader = agent.manager?.leaderId ?? m.leaderHint()
  return leader !== null && up.includes(leader) ? [leader, ...up.filter(id => id !== leader)] : up
}

/** The stream's dependencies on this agent. */
export function eventStreamDeps (deps: EventRouteDeps): EventStreamDeps {
  const log = deps.logger.child('events')
  return {
    local: deps.local,
    managers: () => eventManagers(deps.agent),
    remote: (nodeId, request, signal) => {
      const m = deps.agent.membership
      if (m === null) throw new FlotillaError('unavailable', 'This node is not part of a swarm')
      return remoteEvents(m, nodeId, request, signal)
    },
    nowNs: deps.nowNs ?? (() => BigInt(Date.now()) * 1_000_000n),
    retryMs: deps.retryMs,
    onRetry: reason => { log.debug('events stream reconnecting', { reason }) }
  }
}

export function addEventRoutes (router: Router, deps: EventRouteDeps): Router {
  const streamDeps = eventStreamDeps(deps)
  return router.add('GET', '/events', async (req): Promise<ApiResponse> => {
    if (req.forwarded === true) throw new FlotillaError('invalid-argument', 'events are streamed by the node that got the request; they are never forwarded')
    const q = parseEventQuery(req.query, streamDeps.nowNs())
    return {
      status: 200,
      headers: { 'Content-Type': 'application/json' },
      stream: async (write, signal) => {
        await streamEvents(streamDeps, q, async e => { await write(Buffer.from(eventLine(e), 'utf8')) }, signal)
      }
    }
  })
}
