import { describe, expect, it } from 'vitest'
import { ProgressLines, truncError, waitOnService, type Get, type ProgressOutput } from '../../../src/node/cli/progress.js'
import type { ServiceJson, TaskJson } from '../../../src/node/cli/service-format.js'

function service (mode: ServiceJson['Spec']['Mode'], over: Partial<ServiceJson> = {}): ServiceJson {
  return { ID: 'svc1', Version: { Index: 5 }, Spec: { Name: 'web', Mode: mode, TaskTemplate: { ContainerSpec: { Image: 'nginx' } } }, ...over }
}

function task (slot: number | undefined, nodeId: string | undefined, state: string, err?: string, desired = 'running'): TaskJson {
  return { ID: `t${slot ?? nodeId ?? ''}`, ServiceID: 'svc1', Slot: slot, NodeID: nodeId, CreatedAt: '2025-01-01T00:00:00Z', DesiredState: desired, Spec: {}, Status: { State: state, Err: err } }
}

/**
 * A fake socket playing `rounds` of task lists (the last one repeats), with a clock that moves 1 s per
 * poll; it records the task filters the display asked for.
 */
function fakeSocket (svc: ServiceJson, rounds: TaskJson[][], nodes = [{ ID: 'n1', Status: { State: 'ready' } }, { ID: 'n2', Status: { State: 'ready' } }]):
{ get: Get, now: () => number, taskQueries: string[] } {
  let clock = 1_000_000
  let round = 0
  const taskQueries: string[] = []
  const get: Get = async (path) => {
    if (path.startsWith('/services/')) return svc
    if (path.startsWith('/tasks')) {
      taskQueries.push(decodeURIComponent(path.slice('/tasks?filters='.length)))
      return rounds[Math.min(round++, rounds.length - 1)]
    }
    if (path === '/nodes') {
      clock += 1000
      return nodes
    }
    throw new Error(`unexpected ${path}`)
  }
  return { get, now: () => clock, taskQueries }
}

function plain (): ProgressOutput & { text: () => string } {
  let text = ''
  return { write: s => { text += s }, isTty: false, columns: 0, text: () => text }
}

describe('waitOnService', () => {
  it('shows each slot\'s state or error until the service converges, then verifies it', async () => {
    const { get, now, taskQueries } = fakeSocket(service({ Replicated: { Replicas: 2 } }), [
      [],
      [task(1, undefined, 'pending', 'no suitable node (insufficient resources on 3 nodes)'), task(2, 'n1', 'assigned')],
      [task(1, 'n2', 'starting'), task(2, 'n1', 'running')],
      [task(1, 'n2', 'running'), task(2, 'n1', 'running')]
    ])
    const out = plain()
    await waitOnService(get, 'web', out, { now, pollMs: 0 })
    const lines = out.text().split('\n')
    expect(lines.slice(0, 8)).toEqual([
      'overall progress: 0 out of 2 tasks',
      '1/2:',
      '2/2:',
      '1/2: no suitable node (insufficient resources on 3 nodes)',
      '2/2: assigned',
      '1/2: starting',
      '2/2: running',
      'overall progress: 1 out of 2 tasks'
    ])
    expect(lines).toContain('1/2: running')
    expect(lines).toContain('overall progress: 2 out of 2 tasks')
    expect(lines).toContain('verify: Waiting 5 seconds to verify that tasks are stable...')
    expect(lines.slice(-2)).toEqual(['verify: Service web converged', ''])
    expect(JSON.parse(taskQueries[0]!)).toEqual({ service: { svc1: true }, '_up-to-date': { true: true } })
  })

  it('does not count a task on a node that is down, and keeps waiting', async () => {
    const socket = fakeSocket(service({ Replicated: { Replicas: 1 } }), [[task(1, 'n9', 'running')]], [{ ID: 'n9', Status: { State: 'down' } }])
    const abort = new AbortController()
    let polls = 0
    const get: Get = async (path) => {
      if (path === '/nodes' && ++polls === 5) abort.abort()
      return await socket.get(path)
    }
    const out = plain()
    await waitOnService(get, 'web', out, { now: socket.now, pollMs: 1, signal: abort.signal })
    expect(polls).toBe(5)
    expect(out.text()).toBe('overall progress: 0 out of 1 tasks\n1/1:\nOperation continuing in background.\nUse `flotilla service ps web` to check progress.\n')
  })

  it('ends at once on an abort (Ctrl-C), saying the work goes on', async () => {
    const { get, now } = fakeSocket(service({ Replicated: { Replicas: 1 } }), [[task(1, undefined, 'pending', 'no suitable node')]])
    const abort = new AbortController()
    abort.abort()
    const out = plain()
    await waitOnService(get, 'web', out, { now, signal: abort.signal })
    expect(out.text()).toBe('overall progress: 0 out of 1 tasks\n1/1:\n1/1: no suitable node\nOperation continuing in background.\nUse `flotilla service ps web` to check progress.\n')
  })

  it('follows a global service per node', async () => {
    const { get, now } = fakeSocket(service({ Global: {} }), [[], [task(undefined, 'n1aaaaaaaaaaaaaa', 'preparing'), task(undefined, 'n2', 'running')],
      [task(undefined, 'n1aaaaaaaaaaaaaa', 'running'), task(undefined, 'n2', 'running')]],
    [{ ID: 'n1aaaaaaaaaaaaaa', Status: { State: 'ready' } }, { ID: 'n2', Status: { State: 'ready' } }])
    const out = plain()
    await waitOnService(get, 'web', out, { now, pollMs: 0 })
    expect(out.text().split('\n').slice(0, 5)).toEqual([
      'overall progress: waiting for new tasks',
      'overall progress: 0 out of 2 tasks',
      'n1aaaaaaaaaa: preparing',
      'n2: running',
      'overall progress: 1 out of 2 tasks'
    ])
    expect(out.text()).toContain('verify: Service web converged')
  })

  it('returns at once when the update already completed, and fails on a paused update or an unknown mode', async () => {
    const done = fakeSocket(service({ Replicated: { Replicas: 1 } }, { UpdateStatus: { State: 'completed' } }), [[]])
    const out = plain()
    await waitOnService(done.get, 'web', out, { now: done.now, pollMs: 0 })
    expect(out.text()).toBe('')
    const paused = fakeSocket(service({ Replicated: { Replicas: 1 } }, { UpdateStatus: { State: 'paused', Message: 'update paused due to failure' } }), [[]])
    await expect(waitOnService(paused.get, 'web', plain(), { now: paused.now })).rejects.toThrow('service update paused: update paused due to failure')
    const odd = fakeSocket(service({}), [[]])
    await expect(waitOnService(odd.get, 'web', plain(), { now: odd.now })).rejects.toThrow('unrecognized service mode')
    const rollbackPaused = fakeSocket(service({ Replicated: { Replicas: 1 } }, { UpdateStatus: { State: 'rollback_paused', Message: 'rollback paused due to failure' } }), [[]])
    await expect(waitOnService(rollbackPaused.get, 'web', plain(), { now: rollbackPaused.now })).rejects.toThrow('service rollback paused: rollback paused due to failure')
  })

  it('announces a rollback once, and its completion after converging', async () => {
    const svc = service({ Replicated: { Replicas: 1 } }, { UpdateStatus: { State: 'rollback_started', Message: 'update rolled back due to failure or early termination of task t9' } })
    const socket = fakeSocket(svc, [[task(1, 'n1', 'starting')], [task(1, 'n1', 'running')]])
    const out = plain()
    let polls = 0
    const get: Get = async path => {
      if (path.startsWith('/services/') && ++polls > 1) return { ...svc, UpdateStatus: { State: 'rollback_completed', Message: 'rollback completed' } }
      return await socket.get(path)
    }
    await waitOnService(get, 'web', out, { now: socket.now, pollMs: 0 })
    const text = out.text()
    expect(text.match(/rollback: update rolled back due to failure or early termination of task t9/g)).toHaveLength(1)
    expect(text.trimEnd().split('\n').slice(-2)).toEqual(['verify: Service web converged', 'rollback: rollback completed'])
  })
})

describe('ProgressLines on a terminal', () => {
  it('redraws a line in place and draws docker\'s bar on a wide terminal', () => {
    let text = ''
    const lines = new ProgressLines({ write: s => { text += s }, isTty: true, columns: 120 })
    lines.set('overall progress', '0 out of 2 tasks')
    lines.set('1/2', 'running  ', { current: 9, total: 9 })
    lines.set('2/2', 'pending  ', { current: 3, total: 9 })
    expect(text).toBe([
      'overall progress: 0 out of 2 tasks\n',
      `1/2: running   [${'='.repeat(50)}>]\n`,
      `2/2: pending   [${'='.repeat(16)}>${' '.repeat(34)}]\n`
    ].join(''))
    text = ''
    lines.set('overall progress', '1 out of 2 tasks')
    expect(text).toBe('\x1b[3A\r\x1b[2Koverall progress: 1 out of 2 tasks\n\x1b[2B')
    text = ''
    lines.set('2/2', 'pending  ', { current: 3, total: 9 })
    expect(text).toBe('')
  })

  it('draws no bar on a narrow terminal', () => {
    let text = ''
    new ProgressLines({ write: s => { text += s }, isTty: true, columns: 80 }).set('1/1', 'running  ', { current: 9, total: 9 })
    expect(text).toBe('1/1: running\n')
  })

  it('keeps errors on one line of at most 75 characters', () => {
    expect(truncError('a\nb')).toBe('a b')
    expect(truncError('x'.repeat(80))).toBe('x'.repeat(74) + '…')
  })
})
