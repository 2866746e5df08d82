import { describe, expect, it } from 'vitest'
import { decode, encode } from '../../../src/membership/index.js'
import type { StoreEvent, StoreState } from '../../../src/election/index.js'
import { EventSource, EventsEndedError, type WatchedStore } from '../../../src/node/events/source.js'
import { streamEvents, type EventStreamDeps } from '../../../src/node/events/stream.js'
import { parseEventFrame, parseEventRequest, type EventRequest } from '../../../src/node/events/protocol.js'
import { eventLine, type ClusterEvent } from '../../../src/node/events/derive.js'
import { parseEventFilters } from '../../../src/node/events/filter.js'
import { liveFromOf } from '../../../src/node/events/manager-events.js'
import { MemoryLeader } from '../tasks/leader/memory-store.js'

const MS = 1_000_000n
const SPEC = { ContainerSpec: { Image: 'busybox' } }

/** A clock the test moves: nanoseconds, starting at 1e18. */
class Clock {
  ns = 1_000_000_000_000_000_000n
  readonly now = (): bigint => this.ns
  advanceMs (ms: number): void { this.ns += BigInt(ms) * MS }
}

function createService (leader: MemoryLeader, name: string): void {
  leader.apply({
    op: 'service.create',
    service: { id: `svc${name}`, name, createdAtMs: 0, updatedAtMs: 0, spec: { Name: name, TaskTemplate: SPEC, Mode: { Replicated: { Replicas: 1 } } }, previousSpec: null, updateStatus: null, rebalance: null, endpoint: { ports: [], virtualIps: [] } }
  })
}

function source (leader: MemoryLeader, clock: Clock, opts: { liveFrom?: () => number | null, capacity?: number, maxQueued?: number } = {}): EventSource {
  const s = new EventSource(leader.store, { nowNs: clock.now, liveFrom: opts.liveFrom ?? (() => 0), onFailure: err => { throw err } }, { capacity: opts.capacity, maxQueued: opts.maxQueued })
  s.start()
  return s
}

const all = (): boolean => true
const names = (events: readonly ClusterEvent[]): string[] => events.map(e => `${e.type} ${e.action} ${e.attributes.name ?? ''}`)

async function take (it: AsyncIterable<ClusterEvent>, n: number): Promise<ClusterEvent[]> {
  const out: ClusterEvent[] = []
  if (n === 0) return out
  for await (const e of it) {
    out.push(e)
    if (out.length === n) break
  }
  return out
}

describe('EventSource: the ring, liveness and subscribers', () => {
  it('is not live, and records nothing, until an entry past liveFrom is applied', () => {
    const leader = new MemoryLeader()
    const clock = new Clock()
    let from: number | null = null
    const s = source(leader, clock, { liveFrom: () => from })
    createService(leader, 'a')
    expect(s.live).toBe(false)
    from = leader.state.index + 1
    createService(leader, 'b') // at `from`: still history
    expect(s.live).toBe(true) // applied up to `from`: the next entry is news
    createService(leader, 'c')
    expect(names(s.buffered())).toEqual(['service create c'])
    expect(s.buffered()[0]!.index).toBe(leader.state.index)
  })

  it('keeps the last `capacity` events with strictly increasing times, even on a clock that stands still or steps back', () => {
    const leader = new MemoryLeader()
    const clock = new Clock()
    const s = source(leader, clock, { capacity: 3 })
    for (const n of ['a', 'b', 'c', 'd', 'e']) createService(leader, n)
    clock.ns -= 1000n
    createService(leader, 'f')
    expect(names(s.buffered())).toEqual(['service create d', 'service create e', 'service create f'])
    const times = s.buffered().map(e => e.timeNano)
    expect(times[1]! > times[0]! && times[2]! > times[1]!).toBe(true)
  })

  it('history: nothing without since/until (dockerd), else the window, or everything after a cursor', () => {
    const leader = new MemoryLeader()
    const clock = new Clock()
    const s = source(leader, clock)
    const t0 = clock.ns
    createService(leader, 'a'); clock.advanceMs(10)
    createService(leader, 'b'); clock.advanceMs(10)
    createService(leader, 'c')
    const b = s.buffered()[1]!
    expect(s.history({ since: null, until: null, after: null, filter: all })).toEqual([])
    expect(names(s.history({ since: t0 + 5n * MS, until: null, after: null, filter: all }))).toEqual(['service create b', 'service create c'])
    expect(names(s.history({ since: null, until: t0 + 15n * MS, after: null, filter: all }))).toEqual(['service create a', 'service create b'])
    expect(names(s.history({ since: null, until: null, after: { index: b.index, seq: b.seq }, filter: all }))).toEqual(['service create c'])
    expect(names(s.history({ since: t0, until: null, after: null, filter: e => e.attributes.name !== 'b' }))).toEqual(['service create a', 'service create c'])
  })

  it('subscribers get the history, then each new matching event; an abort ends the iteration', async () => {
    const leader = new MemoryLeader()
    const clock = new Clock()
    const s = source(leader, clock)
    createService(leader, 'a')
    const ctl = new AbortController()
    const sub = s.subscribe({ since: 0n, until: null, after: null, filter: e => e.attributes.name !== 'b' }, ctl.signal)
    createService(leader, 'b')
    createService(leader, 'c')
    expect(names(await take(sub, 2))).toEqual(['service create a', 'service create c'])
    const sub2 = s.subscribe({ since: null, until: null, after: null, filter: all }, ctl.signal)
    const pending = take(sub2, 1)
    createService(leader, 'd')
    expect(names(await pending)).toEqual(['service create d'])
    const waiting = take(s.subscribe({ since: null, until: null, after: null, filter: all }, ctl.signal), 5)
    ctl.abort()
    expect(await waiting).toEqual([])
  })

  it('stop ends every subscription with EventsEndedError; a reader that falls behind is ended the same way', async () => {
    const leader = new MemoryLeader()
    const clock = new Clock()
    const s = source(leader, clock, { maxQueued: 2 })
    const slow = s.subscribe({ since: null, until: null, after: null, filter: all }, new AbortController().signal)
    for (const n of ['a', 'b', 'c']) createService(leader, n)
    await expect(take(slow, 5)).rejects.toThrow(EventsEndedError)
    const sub = s.subscribe({ since: null, until: null, after: null, filter: all }, new AbortController().signal)
    const pending = take(sub, 1)
    s.stop()
    await expect(pending).rejects.toThrow('this manager stopped serving events')
    expect(s.live).toBe(false)
    expect(() => s.subscribe({ since: null, until: null, after: null, filter: all }, new AbortController().signal)).toThrow(EventsEndedError)
  })

  it('a failure to derive stops the source and is reported, never thrown into the store', () => {
    const listeners: Array<(events: readonly StoreEvent[], state: StoreState) => void> = []
    const leader = new MemoryLeader()
    const store: WatchedStore = { state: leader.state, watch: fn => { listeners.push(fn); return () => {} } }
    const failures: unknown[] = []
    const s = new EventSource(store, { nowNs: () => 1n, liveFrom: () => 0, onFailure: err => { failures.push(err) } })
    s.start()
    const broken = { ...leader.state, index: leader.state.index + 1, services: undefined } as unknown as StoreState
    listeners[0]!([{ kind: 'service', id: 'x' }], broken)
    expect(failures).toHaveLength(1)
    expect(s.live).toBe(false)
  })

  it('liveFrom: after the log a manager started with, or after the entry that made a new manager a voter', () => {
    let status = { id: 'me', lastIndex: 0, lastConfIndex: 0, voters: [] as string[] }
    const mgr = { raft: { status: () => status } } as unknown as Parameters<typeof liveFromOf>[0]
    const joined = liveFromOf(mgr)
    expect(joined()).toBeNull()
    status = { id: 'me', lastIndex: 40, lastConfIndex: 37, voters: ['other', 'me'] }
    expect(joined()).toBe(37)
    status = { id: 'me', lastIndex: 25, lastConfIndex: 3, voters: ['me'] }
    expect(liveFromOf(mgr)()).toBe(25)
  })
})

describe('the events protocol\'s frames', () => {
  it('a request round-trips through msgpack and is checked field by field', () => {
    const frame = decode(encode({ t: 'events', since: '1000000000000000000', until: null, after: { index: 7, seq: 1 }, filters: '{"type":["node"]}' }), 1 << 20)
    expect(parseEventRequest(frame)).toEqual({ since: 1_000_000_000_000_000_000n, until: null, after: { index: 7, seq: 1 }, filters: '{"type":["node"]}' })
    for (const bad of [
      { t: 'events', since: 5, until: null, after: null, filters: '' },
      { t: 'events', since: null, until: '-1', after: null, filters: '' },
      { t: 'events', since: null, until: null, after: { index: -1, seq: 0 }, filters: '' },
      { t: 'events', since: null, until: null, after: null, filters: 7 },
      { t: 'logs' }
    ]) expect(parseEventRequest(bad), JSON.stringify(bad)).toBeNull()
  })

  it('an event frame is checked: known type and action, an ID, string attributes, a time', () => {
    const good = { type: 'node', action: 'update', id: 'abc', attributes: { name: 'n', 'state.new': 'down' }, index: 3, seq: 0, timeNano: '1700000000000000001' }
    const e = parseEventFrame(decode(encode({ t: 'event', e: good }), 1 << 20) as Record<string, unknown>)
    expect(e).toEqual({ ...good, timeNano: 1_700_000_000_000_000_001n })
    for (const over of [{ type: 'container' }, { action: 'die' }, { id: 'A/B' }, { attributes: { name: 5 } }, { index: 1.5 }, { timeNano: 'soon' }]) {
      expect(parseEventFrame({ t: 'event', e: { ...good, ...over } }), JSON.stringify(over)).toBeNull()
    }
  })
})

describe('streamEvents: local, remote, resumed', () => {
  const event = (index: number, name: string, timeNano: bigint): ClusterEvent =>
    ({ type: 'service', action: 'create', id: `svc${name}`, attributes: { name }, index, seq: 0, timeNano })
  const query = (over: Partial<{ since: bigint | null, until: bigint | null, filters: string }> = {}): Parameters<typeof streamEvents>[1] => {
    const filters = over.filters ?? ''
    return { since: over.since ?? null, until: over.until ?? null, filters: parseEventFilters(filters), filtersJson: filters }
  }

  it('from this node\'s source: the window\'s history and the new events, until `until` passes', async () => {
    const leader = new MemoryLeader()
    const clock = new Clock()
    const s = source(leader, clock)
    createService(leader, 'old')
    const lines: string[] = []
    const until = BigInt(Date.now()) * MS + 300n * MS
    const deps: EventStreamDeps = { local: () => s, managers: () => [], remote: () => { throw new Error('not asked') }, nowNs: () => BigInt(Date.now()) * MS }
    clock.ns = BigInt(Date.now()) * MS
    const done = streamEvents(deps, query({ since: 0n, until }), async e => { lines.push(eventLine(e)) }, new AbortController().signal)
    createService(leader, 'new')
    const t0 = Date.now()
    await done
    expect(Date.now() - t0).toBeLessThan(5000)
    expect(lines.map(l => (JSON.parse(l) as { Actor: { Attributes: { name: string } } }).Actor.Attributes.name)).toEqual(['old', 'new'])
  })

  it('with `until` in the past: the buffered matches, then the end', async () => {
    const leader = new MemoryLeader()
    const clock = new Clock()
    const s = source(leader, clock)
    createService(leader, 'a')
    createService(leader, 'b')
    const got: ClusterEvent[] = []
    const deps: EventStreamDeps = { local: () => s, managers: () => [], remote: () => { throw new Error('not asked') }, nowNs: () => clock.ns + 1000n }
    await streamEvents(deps, query({ until: clock.ns + 10n, filters: '{"service":["b"]}' }), async e => { got.push(e) }, new AbortController().signal)
    expect(names(got)).toEqual(['service create b'])
  })

  it('without a local source: asks the managers in turn, skips one that is not ready, resumes after the last event on another, writes none twice', async () => {
    const asked: Array<[string, EventRequest]> = []
    const e1 = event(10, 'a', 100n)
    const e2 = event(11, 'b', 200n)
    const e3 = event(12, 'c', 300n)
    let m2Calls = 0
    const remote = (nodeId: string, req: EventRequest): AsyncIterable<ClusterEvent> => {
      asked.push([nodeId, req])
      return (async function * () {
        if (nodeId === 'm1') throw new Error('manager m1: node m1 is not a manager serving events')
        if (nodeId === 'm2' && m2Calls++ === 0) {
          yield e1
          yield e2
          throw new Error('stream reset')
        }
        // m3 (or m2 again) replays from its ring: e1 and e2 again (its times differ), then e3.
        yield { ...e1, timeNano: 150n }
        yield { ...e2, timeNano: 250n }
        yield e3
      })()
    }
    const got: ClusterEvent[] = []
    const ctl = new AbortController()
    const deps: EventStreamDeps = { local: () => null, managers: () => ['m1', 'm2', 'm3'], remote, nowNs: () => 1n, retryMs: 5 }
    const done = streamEvents(deps, query(), async e => { got.push(e); if (got.length === 3) ctl.abort() }, ctl.signal)
    await done
    expect(got.map(e => e.attributes.name)).toEqual(['a', 'b', 'c'])
    expect(asked.map(([n]) => n)).toEqual(['m1', 'm2', 'm3'])
    expect(asked[0]![1]).toMatchObject({ since: null, after: null })
    expect(asked[2]![1]).toMatchObject({ since: null, after: { index: 11, seq: 0 } })
  })

  it('no manager reachable: keeps trying every retryMs (a reconnection asks since the stream began), until the client goes', async () => {
    const asked: EventRequest[] = []
    let up = false
    const ctl = new AbortController()
    const got: ClusterEvent[] = []
    const deps: EventStreamDeps = {
      local: () => null,
      managers: () => up ? ['m1'] : [],
      remote: (_n, req) => { asked.push(req); return (async function * () { yield event(5, 'x', 10n) })() },
      nowNs: () => up ? 2_000_000_042n : 42n,
      retryMs: 5,
      onRetry: () => { up = true }
    }
    await streamEvents(deps, query(), async e => { got.push(e); ctl.abort() }, ctl.signal)
    expect(got.map(e => e.attributes.name)).toEqual(['x'])
    expect(asked[0]).toMatchObject({ since: 42n, after: null })
  })
})
