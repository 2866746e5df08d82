import { describe, expect, it } from 'vitest'
import { matchesEvent, parseEventFilters } from '../../../src/node/events/filter.js'
import { parseEventTime, parseEventWindow, parseGoDuration } from '../../../src/node/events/timestamps.js'
import { parseEventQuery } from '../../../src/node/control/events-api.js'
import type { ClusterEvent } from '../../../src/node/events/derive.js'

const SVC = { type: 'service', action: 'update', id: 'abc123service', attributes: { name: 'web', 'replicas.old': '1', 'replicas.new': '3' } } as const
const NODE = { type: 'node', action: 'update', id: 'xyz789node', attributes: { name: 'host-2', 'state.old': 'ready', 'state.new': 'down' } } as const
const RESCHED = { type: 'service', action: 'reschedule', id: 'abc123service', attributes: { name: 'web', node: 'xyz789node', 'tasks.rescheduled': '2' } } as const

function f (filters: Record<string, string[]>): ReturnType<typeof parseEventFilters> {
  return parseEventFilters(JSON.stringify(filters))
}
const pass = (filters: Record<string, string[]>, e: Pick<ClusterEvent, 'type' | 'action' | 'id' | 'attributes'>): boolean => matchesEvent(f(filters), e)

describe('events filters, with dockerd\'s semantics', () => {
  it.each([
    ['no filter', {}, SVC, true],
    ['type', { type: ['service'] }, SVC, true],
    ['type, another', { type: ['node'] }, SVC, false],
    ['type, any of two', { type: ['node', 'service'] }, SVC, true],
    ['event is the Action', { event: ['update'] }, SVC, true],
    ['event, another', { event: ['create', 'remove'] }, SVC, false],
    ['event=reschedule', { event: ['reschedule'] }, RESCHED, true],
    ['scope swarm', { scope: ['swarm'] }, SVC, true],
    ['scope local', { scope: ['local'] }, SVC, false],
    ['service by name', { service: ['web'] }, SVC, true],
    ['service by ID prefix', { service: ['abc1'] }, SVC, true],
    ['service by name prefix', { service: ['we'] }, SVC, true],
    ['service, another', { service: ['api'] }, SVC, false],
    ['service= applies to node events too (dockerd)', { service: ['web'] }, NODE, false],
    ['node by name', { node: ['host-2'] }, NODE, true],
    ['node by ID', { node: ['xyz789node'] }, NODE, true],
    ['label key among the attributes', { label: ['replicas.new'] }, SVC, true],
    ['label key=value', { label: ['replicas.new=3'] }, SVC, true],
    ['label key=other value', { label: ['replicas.new=4'] }, SVC, false],
    ['labels are ANDed', { label: ['replicas.new=3', 'missing'] }, SVC, false],
    ['keys are ANDed', { type: ['service'], event: ['create'] }, SVC, false],
    ['container matches no swarm event', { container: ['web'] }, SVC, false],
    ['image matches no swarm event', { image: ['busybox'] }, SVC, false],
    ['volume, plugin, daemon neither', { daemon: ['x'] }, NODE, false],
    ['unknown keys are ignored, as dockerd', { name: ['nothing-like-it'] }, SVC, true],
    ['network, secret, config by name', { network: ['web'] }, SVC, true]
  ] as const)('%s', (_what, filters, e, expected) => {
    expect(pass(filters as Record<string, string[]>, e)).toBe(expected)
  })

  it('reads both the map form and the old list form; refuses anything else with a 400', () => {
    expect([...parseEventFilters('{"type":{"service":true},"event":["create"]}')]).toEqual([['type', ['service']], ['event', ['create']]])
    expect(parseEventFilters('').size).toBe(0)
    expect(parseEventFilters(null).size).toBe(0)
    for (const bad of ['{', '[]', '"type"', '{"type":"service"}', '{"type":{"service":"yes"}}', '{"type":[1]}']) {
      expect(() => parseEventFilters(bad), bad).toThrow(expect.objectContaining({ code: 'invalid-argument' }))
    }
  })
})

describe('since and until in Docker\'s forms', () => {
  const NOW = 1_714_557_600_000_000_000n // 2024-05-01T10:00:00Z

  it.each([
    ['unix seconds', '1714557600', 1_714_557_600_000_000_000n],
    ['unix seconds with a fraction', '1714557600.5', 1_714_557_600_500_000_000n],
    ['unix seconds with nanoseconds', '1714557600.000000001', 1_714_557_600_000_000_001n],
    ['a fraction past nanoseconds is cut', '1714557600.1234567891234', 1_714_557_600_123_456_789n],
    ['RFC 3339 in UTC', '2024-05-01T10:00:00Z', 1_714_557_600_000_000_000n],
    ['RFC 3339 with an offset', '2024-05-01T12:00:00+02:00', 1_714_557_600_000_000_000n],
    ['RFC 3339 with nanoseconds', '2024-05-01T10:00:00.25Z', 1_714_557_600_250_000_000n],
    ['a date with a zone', '2024-05-01Z', 1_714_521_600_000_000_000n],
    ['hours and minutes with a zone', '2024-05-01T10:00Z', 1_714_557_600_000_000_000n],
    ['a duration back from now', '10m', NOW - 600_000_000_000n],
    ['a compound duration', '1h30m', NOW - 5_400_000_000_000n],
    ['a fractional duration', '1.5s', NOW - 1_500_000_000n],
    ['a negative duration is ahead of now', '-5s', NOW + 5_000_000_000n],
    ['0 is unix time 0, not a duration', '0', 0n]
  ] as const)('%s: %s', (_what, value, expected) => {
    expect(parseEventTime('since', value, NOW)).toBe(expected)
  })

  it('a time without a zone is local time', () => {
    const local = BigInt(new Date(2024, 4, 1, 10, 0, 0).getTime()) * 1_000_000n
    expect(parseEventTime('since', '2024-05-01T10:00:00', NOW)).toBe(local)
    expect(parseEventTime('since', '2024-05-01', NOW)).toBe(BigInt(new Date(2024, 4, 1).getTime()) * 1_000_000n)
  })

  it('refuses what is none of them, naming the parameter', () => {
    for (const bad of ['', 'yesterday', '10', '2024-13-01', '2024-02-30T00:00:00Z', '12:00', '1.2.3', '10x']) {
      const want = bad === '10' ? null : expect.objectContaining({ code: 'invalid-argument', message: expect.stringContaining("invalid value for 'until'") })
      if (want === null) expect(parseEventTime('until', bad, NOW)).toBe(10_000_000_000n)
      else expect(() => parseEventTime('until', bad, NOW), bad).toThrow(want)
    }
  })

  it('Go durations', () => {
    expect(parseGoDuration('300ms')).toBe(300_000_000n)
    expect(parseGoDuration('2h45m30.5s')).toBe(9_930_500_000_000n)
    expect(parseGoDuration('1µs')).toBe(1000n)
    expect(parseGoDuration('10')).toBeNull()
    expect(parseGoDuration('m')).toBeNull()
  })

  it('the window: until before since is a 400, as dockerd says it', () => {
    const q = (s: string): URLSearchParams => new URLSearchParams(s)
    expect(parseEventWindow(q(''), NOW)).toEqual({ since: null, until: null })
    expect(parseEventWindow(q('since=10m&until=0s'), NOW)).toEqual({ since: NOW - 600_000_000_000n, until: NOW })
    expect(() => parseEventWindow(q('since=1714557600&until=1714557500'), NOW)).toThrow('`since` time (1714557600) cannot be after `until` time (1714557500)')
    const full = parseEventQuery(q('since=1714557600&filters=%7B%22type%22%3A%7B%22node%22%3Atrue%7D%7D'), NOW)
    expect(full.filtersJson).toBe('{"type":{"node":true}}')
    expect([...full.filters]).toEqual([['type', ['node']]])
    expect(() => parseEventQuery(q('filters=nope'), NOW)).toThrow(expect.objectContaining({ code: 'invalid-argument' }))
  })
})
