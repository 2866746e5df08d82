import { describe, expect, it, onTestFinished } from 'vitest'
import { FlotillaError } from '../../../../src/membership/errors.js'
import type { Report } from '../../../../src/tasks/dispatcher/protocol.js'
import type { ControllerCall, ExitStatus, TaskController, TaskState } from '../../../../src/tasks/executor/types.js'
import type { TaskStep } from '../../../../src/tasks/executor/task-step.js'
import { ReportQueue } from '../../../../src/tasks/worker/reports.js'
import { adoptedReport, applyAssignments, resumeState, taskDescription } from '../../../../src/tasks/worker/assignments.js'
import { WorkerSession, reconnectDelayMs } from '../../../../src/tasks/worker/session.js'
import { TaskManager } from '../../../../src/tasks/worker/task-manager.js'
import { NODE_ID, assignment, description, silentLogger, until } from './helpers.js'

const report = (id: string, state: TaskState, message: string = state): Report => ({ id, state, timestampMs: 1, message, err: null, exitCode: null })

describe('ReportQueue', () => {
  it('keeps one report per task, the furthest along, the newest of equals', () => {
    const q = new ReportQueue()
    q.put(report('a', 'preparing'))
    q.put(report('b', 'accepted'))
    q.put(report('a', 'running'))
    q.put(report('a', 'starting')) // late and behind: dropped
    q.put(report('b', 'accepted', 'again'))
    expect(q.take(10)).toEqual([report('a', 'running'), report('b', 'accepted', 'again')])
    expect(q.size).toBe(0)
  })

  it('takes at most `max`, oldest task first', () => {
    const q = new ReportQueue()
    for (const id of ['a', 'b', 'c']) q.put(report(id, 'running'))
    expect(q.take(2).map(r => r.id)).toEqual(['a', 'b'])
    expect(q.take(2).map(r => r.id)).toEqual(['c'])
  })
})

describe('assignment set', () => {
  it('replaces the set on a full message and patches it on an incremental one', () => {
    const full = applyAssignments(new Map([['old', assignment('old')]]), { t: 'assignments', full: true, tasks: [assignment('a'), assignment('b')], removed: [] })
    expect([...full.keys()]).toEqual(['a', 'b'])
    const next = applyAssignments(full, { t: 'assignments', full: false, tasks: [assignment('b', { desiredState: 'shutdown' }), assignment('c')], removed: ['a'] })
    expect([...next.entries()].map(([id, a]) => `${id} ${a.desiredState}`)).toEqual(['b shutdown', 'c running'])
    expect(full.size).toBe(2) // not modified
  })

  it('resumes from the further of the store\'s state and the adopted container\'s', () => {
    const a = assignment('t', { state: 'starting' })
    expect(resumeState(a, undefined)).toBe('starting')
    expect(resumeState(a, { taskId: 't', containerId: 'c', observed: 'running' })).toBe('running')
    expect(resumeState(a, { taskId: 't', containerId: 'c', observed: 'ready' })).toBe('starting')
    expect(resumeState(assignment('t', { state: 'orphaned' }), { taskId: 't', containerId: 'c', observed: 'running' })).toBe('orphaned')
  })

  it('describes an adopted exit as taskStep would', () => {
    const exit = (exitCode: number, error = ''): ExitStatus => ({ exitCode, error, startedAt: '', finishedAt: '' })
    expect(adoptedReport({ taskId: 't', containerId: 'c', observed: 'failed', exit: exit(2, 'OOM killed') }, 5))
      .toEqual({ id: 't', state: 'failed', timestampMs: 5, message: 'adopted', err: 'task: non-zero exit (2): OOM killed', exitCode: 2 })
    expect(adoptedReport({ taskId: 't', containerId: 'c', observed: 'running' }, 5).err).toBeNull()
  })

  it('gives the controller the container spec, resources and host ports', () => {
    const a = assignment('t', { spec: { ContainerSpec: { Image: 'nginx' }, Resources: { Limits: { MemoryBytes: 1 } } }, slot: null })
    expect(taskDescription(NODE_ID, a)).toEqual({
      taskId: 't', serviceId: 'svc-1', serviceName: 'web', slot: null, nodeId: NODE_ID, spec: { Image: 'nginx' },
      resources: { Limits: { MemoryBytes: 1 } }, ports: [{ TargetPort: 80, PublishedPort: 30000, Protocol: 'tcp' }], networks: []
    })
  })

  it('leaves ingress ports to the routing mesh and passes the task\'s network addresses on', () => {
    const networks = [{ networkId: 'net-1', address: '10.0.1.5/24', aliases: ['db'] }, { networkId: 'ingress', address: '10.0.0.7/24', aliases: [] }]
    const a = assignment('t', {
      ports: [
        { Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' },
        { Protocol: 'udp', TargetPort: 53, PublishedPort: 5353, PublishMode: 'host' }
      ],
      networks
    })
    const d = taskDescription(NODE_ID, a)
    expect(d.ports).toEqual([{ TargetPort: 53, PublishedPort: 5353, Protocol: 'udp' }])
    expect(d.networks).toEqual(networks)
  })
})

describe('WorkerSession', () => {
  it.each([[0, 100], [1, 200], [2, 400], [3, 800], [4, 1000], [50, 1000]])('waits %i failures → %i ms before reconnecting', (failures, ms) => {
    expect(reconnectDelayMs(failures)).toBe(ms)
  })

  it('abandons an attempt whose connect or full set does not come in time, and closes a link that comes late', async () => {
    const links: Array<{ closed: boolean, sent: unknown[] }> = []
    let release: (() => void) | undefined
    const session = new WorkerSession({
      connect: async () => {
        const link = { closed: false, sent: [] as unknown[], send (m: unknown) { this.sent.push(m) }, async close () { this.closed = true } }
        links.push(link)
        if (links.length === 1) await new Promise<void>(resolve => { release = resolve }) // hangs until released
        return link
      },
      describe: () => description(),
      logger: silentLogger(),
      onAssignments: () => {},
      onOpen: () => {},
      openTimeoutMs: 30
    })
    onTestFinished(() => { void session.stop() })
    session.start()
    // The first connect hangs; the second opens but no full set ever comes: both attempts time out.
    await until('a third attempt', () => links.length >= 3, 3000)
    expect(links[1]!.closed).toBe(true)
    expect(links[1]!.sent).toEqual([{ t: 'open', description: description() }])
    release!()
    await until('the late link closed', () => links[0]!.closed)
    expect(links[0]!.sent).toEqual([])
  })

  it('ends a session whose leader goes silent (a partition that drops packets closes nothing), and keeps one whose leader answers', async () => {
    const links: Array<{ closed: boolean, answers: boolean }> = []
    const session = new WorkerSession({
      connect: async (handlers) => {
        // The first leader answers the full set and then each heartbeat until the test cuts it off.
        const link = {
          closed: false,
          answers: links.length === 0,
          send (m: { t: string }) {
            if (!this.answers) return
            if (m.t === 'open') queueMicrotask(() => { handlers.onMessage({ t: 'assignments', full: true, tasks: [], removed: [] }) })
            if (m.t === 'heartbeat') queueMicrotask(() => { handlers.onMessage({ t: 'heartbeat' }) })
          },
          async close () { this.closed = true }
        }
        links.push(link)
        return link
      },
      describe: () => description(),
      logger: silentLogger(),
      onAssignments: () => {},
      onOpen: () => {},
      openTimeoutMs: 5000,
      silenceMs: 150
    })
    onTestFinished(() => { void session.stop() })
    session.start()
    await until('the session synced', () => session.synced)
    // Heartbeats answered for three silence periods: the session stays.
    const beat = setInterval(() => { session.heartbeat(description()) }, 30)
    onTestFinished(() => { clearInterval(beat) })
    await new Promise(resolve => setTimeout(resolve, 450))
    expect(links).toHaveLength(1)
    expect(links[0]!.closed).toBe(false)
    // The leader stops answering: the session ends after the silence and a new attempt connects.
    links[0]!.answers = false
    await until('a second attempt', () => links.length >= 2, 3000)
    expect(links[0]!.closed).toBe(true)
  })
})

/** A controller whose calls wait for the test to answer them; counts calls in flight. */
interface Scripted {
  readonly controller: TaskController
  readonly calls: ControllerCall[]
  inFlight(): number
  /** Answer the oldest call in flight: success, or `err`. */
  answer(err?: Error): void
  /** Fail every call in flight and every later one: the test is over. */
  drain(): void
}

function scriptedController (): Scripted {
  const calls: ControllerCall[] = []
  const pending: Array<(err?: Error) => void> = []
  let inFlight = 0
  let drained = false
  const call = (name: ControllerCall) => async (): Promise<void> => {
    calls.push(name)
    if (drained) throw new FlotillaError('unavailable', 'test over', { retryable: true })
    inFlight++
    if (inFlight > 1) throw new Error('two calls in flight')
    try {
      await new Promise<void>((resolve, reject) => { pending.push(err => { if (err === undefined) resolve(); else reject(err) }) })
    } finally {
      inFlight--
    }
  }
  const controller: TaskController = {
    task: { taskId: 't', serviceId: 's', serviceName: 'web', slot: 1, nodeId: NODE_ID, spec: { Image: 'x' } },
    prepare: call('prepare'),
    start: call('start'),
    wait: async () => { await call('wait')(); return { exitCode: 0, error: '', startedAt: '', finishedAt: '' } },
    shutdown: call('shutdown'),
    remove: call('remove'),
    inspect: async () => undefined,
    subscribe: async () => () => {}
  }
  return {
    controller,
    calls,
    inFlight: () => inFlight,
    answer: err => { pending.shift()?.(err) },
    drain: () => {
      drained = true
      for (const p of pending.splice(0)) p(new FlotillaError('unavailable', 'test over', { retryable: true }))
    }
  }
}

function manager (c: Scripted, observed: TaskState, over: { onRemoved?: () => void } = {}): { m: TaskManager, steps: TaskStep[] } {
  const steps: TaskStep[] = []
  const m = new TaskManager({
    controller: c.controller,
    observed,
    desired: 'running',
    delayUntilMs: null,
    now: () => Date.now(),
    logger: silentLogger(),
    onStep: s => { steps.push(s) },
    onRemoved: over.onRemoved ?? (() => {}),
    onFatal: err => { throw err }
  })
  onTestFinished(async () => {
    const closing = m.close()
    c.drain()
    await closing
  })
  return { m, steps }
}

describe('TaskManager', () => {
  it('does nothing while paused, and runs once resumed', async () => {
    const c = scriptedController()
    const { m } = manager(c, 'assigned')
    await Promise.resolve()
    expect(c.calls).toEqual([])
    m.resume()
    await until('prepare', () => c.calls.length === 1)
    expect(c.calls).toEqual(['prepare'])
  })

  it('fails a task without a second run in flight: the old run\'s late step is dropped', async () => {
    const c = scriptedController()
    const { m, steps } = manager(c, 'assigned')
    m.resume()
    await until('prepare in flight', () => c.inFlight() === 1)
    m.pause()
    expect(m.fail('engine gone')).toBe(true)
    expect(m.fail('again')).toBe(false) // terminal now
    m.setDesired('remove')
    m.resume()
    await Promise.resolve()
    expect(c.calls).toEqual(['prepare']) // the remove waits for the prepare in flight
    c.answer(new FlotillaError('unavailable', 'no engine', { retryable: false }))
    await until('remove', () => c.calls.length === 2)
    expect(c.calls).toEqual(['prepare', 'remove'])
    expect(steps.map(s => s.state)).toEqual(['accepted', 'preparing', 'failed']) // no 'rejected' from the old run
    expect(steps.at(-1)).toMatchObject({ err: 'engine gone', message: 'engine unavailable' })
  })

  it('forgets a terminal task whose remove fails for good', async () => {
    const c = scriptedController()
    let removed = false
    const { m, steps } = manager(c, 'complete', { onRemoved: () => { removed = true } })
    m.setDesired('remove')
    m.resume()
    await until('remove in flight', () => c.inFlight() === 1)
    c.answer(new FlotillaError('conflict', 'removal already in progress'))
    await until('forgotten', () => removed)
    expect(m.removed).toBe(true)
    expect(steps.at(-1)).toMatchObject({ state: 'complete', err: 'removal already in progress' })
  })
})
