import { describe, expect, it } from 'vitest'
import { FlotillaError } from '../../../src/membership/index.js'
import type { LogLine } from '../../../src/tasks/index.js'
import { MuxParser } from '../../../src/tasks/executor/docker/log-frames.js'
import { formatLogLine, parseLogQuery, streamLogs, type LogRouteDeps, type Target, type TaskRef } from '../../../src/node/control/logs-api.js'
import { parseLogRequest, type LogRequest } from '../../../src/node/control/logs-protocol.js'

const line = (nodeId: string, taskId: string, text: string, stream: 'stdout' | 'stderr' = 'stdout'): LogLine =>
  ({ nodeId, serviceId: 'svc1', taskId, stream, timestamp: '2024-05-01T12:00:00.000000001Z', text })

describe('logs query (moby swarmLogs, ServiceLogs)', () => {
  it('reads the CLI\'s query', () => {
    const q = parseLogQuery(new URLSearchParams('details=1&stderr=1&stdout=1&tail=all&follow=1&timestamps=1&since=1714564800.000000001'))
    expect(q).toEqual({ stdout: true, stderr: true, details: true, timestamps: true, options: { follow: true, tail: 'all', since: '1714564800.000000001' } })
    expect(parseLogQuery(new URLSearchParams('stdout=1&tail=2')).options.tail).toBe(2)
  })

  it.each([
    ['', "must specify at least one of 'stdout' or 'stderr'"],
    ['stdout=1&tail=x', 'tail value must be a positive integer or "all"'],
    ['stdout=1&tail=-1', 'negative tail values not supported'],
    ['stdout=1&since=yesterday', 'invalid value for "since"']
  ])('refuses %s', (query, message) => {
    expect(() => parseLogQuery(new URLSearchParams(query))).toThrow(message)
  })
})

describe('log line format (moby logstream.Write)', () => {
  it('puts the timestamp, then the sorted details, then the text', () => {
    expect(formatLogLine(line('n1', 't1', 'hi\n'), { details: true, timestamps: true }).toString())
      .toBe('2024-05-01T12:00:00.000000001Z com.docker.swarm.node.id=n1,com.docker.swarm.service.id=svc1,com.docker.swarm.task.id=t1 hi\n')
    expect(formatLogLine(line('n1', 't1', 'partial'), { details: false, timestamps: false }).toString()).toBe('partial\n')
  })
})

describe('logs request frames', () => {
  const good = { t: 'logs', serviceId: 'svc1', taskIds: [], follow: false, tail: 'all', since: null }
  it('accepts a well-formed request', () => {
    expect(parseLogRequest(good)).toEqual({ selector: { serviceId: 'svc1', taskIds: [] }, options: { follow: false, tail: 'all', since: null } })
  })
  it.each([
    ['not a record', 'logs'],
    ['another type', { ...good, t: 'other' }],
    ['nothing selected', { ...good, serviceId: null }],
    ['a bad service ID', { ...good, serviceId: '../x' }],
    ['bad task IDs', { ...good, taskIds: [1] }],
    ['a negative tail', { ...good, tail: -1 }],
    ['a string follow', { ...good, follow: 'yes' }],
    ['a bad since', { ...good, since: 'now' }]
  ])('refuses %s', (_what, frame) => {
    expect(parseLogRequest(frame)).toBeNull()
  })
})

describe('streamLogs', () => {
  const tasks: TaskRef[] = [
    { id: 't1', nodeId: 'n1', state: 'running' },
    { id: 't2', nodeId: 'n2', state: 'running' },
    { id: 't3', nodeId: 'n3', state: 'running' },
    { id: 't4', nodeId: null, state: 'pending' }
  ]
  const target: Target = { selector: { serviceId: 'svc1', taskIds: [] }, tty: false, tasks: async () => tasks }
  const query = parseLogQuery(new URLSearchParams('stdout=1&stderr=1&details=1'))

  const run = async (open: LogRouteDeps['open'], q = query, onChunk?: (chunks: number) => void, signal = new AbortController().signal): Promise<Array<[number, string]>> => {
    const chunks: Buffer[] = []
    await streamLogs({ api: async () => ({ status: 500 }), open, taskPollMs: 5 }, target, q, async c => { chunks.push(c); onChunk?.(chunks.length) }, signal)
    return new MuxParser().push(Buffer.concat(chunks)).map(f => [f.stream, f.payload.toString()])
  }

  it('asks every node holding tasks once, and writes each line as a frame on its stream', async () => {
    const asked: string[] = []
    const frames = await run(async function * (nodeId: string, req: LogRequest) {
      asked.push(nodeId)
      expect(req.selector.serviceId).toBe('svc1')
      yield line(nodeId, `t${nodeId.slice(1)}`, 'out\n')
      yield line(nodeId, `t${nodeId.slice(1)}`, 'err\n', 'stderr')
    })
    expect(asked.sort()).toEqual(['n1', 'n2', 'n3'])
    expect(frames.filter(f => f[0] === 1)).toHaveLength(3)
    expect(frames.filter(f => f[0] === 2)).toHaveLength(3)
    expect(frames).toContainEqual([2, 'com.docker.swarm.node.id=n2,com.docker.swarm.service.id=svc1,com.docker.swarm.task.id=t2 err\n'])
  })

  it('without follow, a node that fails loses its lines only, and Docker\'s warning names it last', async () => {
    const frames = await run(async function * (nodeId: string) {
      if (nodeId === 'n2') throw new FlotillaError('unavailable', 'node n2 is not available: dial refused')
      yield line(nodeId, 't', 'ok\n')
    })
    expect(frames.slice(0, 2).map(f => f[0])).toEqual([1, 1])
    expect(frames[2]).toEqual([3, 'Error grabbing logs: warning: incomplete log stream. some logs could not be retrieved for the following reasons: node n2 is not available: dial refused\n'])
  })

  it('following, a failing node gets a stderr line on one of its tasks, each node is asked once, and the stream goes on until aborted', async () => {
    const stop = new AbortController()
    const asked: string[] = []
    const follow = { ...query, options: { ...query.options, follow: true } }
    const frames = await run(async function * (nodeId: string, _req: LogRequest, signal: AbortSignal) {
      asked.push(nodeId)
      if (nodeId === 'n2') throw new FlotillaError('unavailable', 'node n2 is not available')
      yield line(nodeId, 't', 'ok\n')
      if (!signal.aborted) await new Promise(resolve => { signal.addEventListener('abort', resolve) })
    }, follow, n => { if (n === 3) stop.abort() }, stop.signal)
    expect(asked.sort()).toEqual(['n1', 'n2', 'n3'])
    expect(frames.filter(f => f[0] === 1)).toHaveLength(2)
    expect(frames).toContainEqual([2, 'com.docker.swarm.node.id=n2,com.docker.swarm.service.id=svc1,com.docker.swarm.task.id=t2 warning: incomplete log stream. some logs could not be retrieved for the following reasons: node n2 is not available\n'])
  })
})
