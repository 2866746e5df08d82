import { describe, expect, it, onTestFinished } from 'vitest'
import { Worker, type WorkerDeps } from '../../../../src/tasks/worker/worker.js'
import { taskStateRank } from '../../../../src/tasks/executor/task-step.js'
import type { NodeDescription } from '../../../../src/membership/node-view.js'
import { FakeEngine, FakeLeader, NODE_ID, assignment, description, silentLogger, until } from './helpers.js'

/** A started worker against an in-memory engine and leader; stopped when the test ends. */
function harness (over: Partial<WorkerDeps> = {}): {
  engine: FakeEngine, leader: FakeLeader, worker: Worker, logs: string[], fatal: unknown[], setEngine: (e: NodeDescription['engine']) => void
} {
  const engine = new FakeEngine()
  const leader = new FakeLeader()
  let desc = description()
  const logs: string[] = []
  const fatal: unknown[] = []
  const worker = new Worker({
    nodeId: NODE_ID,
    executor: engine,
    connect: leader.connect,
    describe: () => desc,
    logger: silentLogger(logs),
    now: () => Date.now(),
    heartbeatMs: 20,
    onFatal: err => { fatal.push(err) },
    ...over
  })
  onTestFinished(async () => {
    await worker.stop()
    expect(fatal).toEqual([])
  })
  return { engine, leader, worker, logs, fatal, setEngine: e => { desc = description(e) } }
}

const running = (leader: FakeLeader, ...ids: string[]): boolean => ids.every(id => leader.latest(id)?.state === 'running')

describe('Worker', () => {
  it('opens a session with its description, then heartbeats', async () => {
    const { leader, worker } = harness()
    worker.start()
    await until('two heartbeats', () => leader.link?.sent.filter(m => m.t === 'heartbeat').length === 2)
    expect(leader.link!.sent[0]).toEqual({ t: 'open', description: description() })
  })

  it('runs a full set: adopts once before any prepare, then reports accepted→…→running, batched per tick', async () => {
    const { engine, leader, worker } = harness()
    engine.prepareMs = 30
    leader.set(assignment('t1'), assignment('t2', { slot: 2 }), assignment('t3', { slot: 3 }))
    worker.start()
    await until('three tasks running', () => running(leader, 't1', 't2', 't3'))

    expect(engine.adoptCalls).toEqual([['t1', 't2', 't3']])
    expect(engine.events[0]).toBe('adopt')
    for (const id of ['t1', 't2', 't3']) {
      expect(engine.calls(id)).toEqual(['prepare', 'start', 'wait'])
      const states = leader.reported(id).map(r => r.state)
      expect(states.at(0)).toBe('preparing') // 'accepted' came in the same tick: only the latest is sent
      expect(states.at(-1)).toBe('running')
      for (let i = 1; i < states.length; i++) expect(taskStateRank(states[i]!)).toBeGreaterThan(taskStateRank(states[i - 1]!))
    }
    // The prepares run in parallel, not one task after another, and the first frame carries all three tasks.
    expect(engine.events.slice(1, 4)).toEqual(['prepare t1', 'prepare t2', 'prepare t3'])
    expect(leader.statusFrames[0]!.map(r => `${r.id} ${r.state}`)).toEqual(['t1 preparing', 't2 preparing', 't3 preparing'])
    const report = leader.latest('t2')!
    expect(report).toMatchObject({ id: 't2', message: 'started', err: null, exitCode: null })
    expect(engine.tasks.get('t2')).toMatchObject({
      taskId: 't2', serviceId: 'svc-1', serviceName: 'web', slot: 2, nodeId: NODE_ID,
      spec: { Image: 'busybox:latest' }, ports: [{ TargetPort: 80, PublishedPort: 30000, Protocol: 'tcp' }]
    })

    // A later full set (a new session) does not adopt again.
    leader.link!.drop('leader restarted')
    await until('a second session', () => leader.links.length === 2 && leader.link!.sent.length > 0)
    await until('its full set handled', () => leader.link!.sent.some(m => m.t === 'heartbeat'))
    expect(engine.adoptCalls).toHaveLength(1)
  })

  it('shuts a task down when its desired state becomes shutdown, and removes one that leaves the set', async () => {
    const { engine, leader, worker } = harness()
    leader.set(assignment('a'), assignment('b', { slot: 2 }), assignment('c', { slot: 3 }))
    worker.start()
    await until('running', () => running(leader, 'a', 'b', 'c'))

    leader.change([{ ...leader.tasks.get('a')!, desiredState: 'shutdown' }])
    await until('a shut down', () => leader.latest('a')?.state === 'shutdown')
    expect(engine.calls('a')).toEqual(['prepare', 'start', 'wait', 'shutdown'])
    expect(engine.containers.get('a')?.state).toBe('exited') // kept for `docker ps -a` while the task is in history

    leader.change([], ['b'])
    await until('b removed', () => !engine.containers.has('b'))
    expect(engine.calls('b')).toEqual(['prepare', 'start', 'wait', 'shutdown', 'remove'])

    // A full set without a task removes it too; the shut-down task is removed with it.
    leader.tasks.delete('a')
    leader.link!.deliver({ t: 'assignments', full: true, tasks: [...leader.tasks.values()], removed: [] })
    await until('a removed', () => !engine.containers.has('a'))
    expect(engine.calls('a').at(-1)).toBe('remove')
    expect(engine.containers.get('c')?.state).toBe('running')
    expect(engine.calls('c')).toEqual(['prepare', 'start', 'wait'])
  })

  it('resumes adopted tasks where their containers are and removes the containers of unassigned tasks', async () => {
    const { engine, leader, worker } = harness()
    engine.seed('up', 'running')
    engine.seed('done', 'exited', 0)
    engine.seed('made', 'created')
    engine.seed('gone', 'running') // moved to another node while this agent was dead
    // The store lags: the agent died before its reports went out.
    leader.set(assignment('up', { state: 'starting' }), assignment('done', { state: 'running' }), assignment('made', { state: 'preparing' }))
    worker.start()

    await until('adopted states reported', () => running(leader, 'up', 'made') && leader.latest('done')?.state === 'complete')
    expect(engine.adoptCalls).toEqual([['done', 'made', 'up']])
    expect(engine.containers.has('gone')).toBe(false)
    expect(engine.calls('up')).toEqual(['wait'])
    expect(engine.calls('done')).toEqual([])
    expect(engine.calls('made')).toEqual(['start', 'wait']) // created, not prepared again
    expect(leader.latest('up')).toMatchObject({ state: 'running', message: 'adopted' })
    expect(leader.latest('done')).toMatchObject({ state: 'complete', exitCode: 0, err: null })
  })

  it('stops the running container of a task the store holds terminal', async () => {
    const { engine, leader, worker } = harness()
    engine.seed('old', 'running')
    leader.set(assignment('old', { state: 'orphaned', desiredState: 'shutdown' }))
    worker.start()
    await until('container stopped', () => engine.containers.get('old')?.state === 'exited')
    expect(engine.calls('old')).toEqual(['shutdown'])
  })

  it('creates no runner until adoption succeeds, retrying it while the session lasts', async () => {
    const { engine, leader, worker } = harness()
    engine.adoptFailures = 2
    leader.set(assignment('t1'))
    worker.start()
    await until('t1 running', () => running(leader, 't1'))
    expect(engine.events.slice(0, 4)).toEqual(['adopt', 'adopt', 'adopt', 'prepare t1'])
    expect(leader.links).toHaveLength(1)
  })

  it('re-reports after a reconnect what the new leader lacks, and what happened while disconnected', async () => {
    const { engine, leader, worker } = harness()
    leader.set(assignment('t1'), assignment('t2', { slot: 2 }))
    worker.start()
    await until('running', () => running(leader, 't1', 't2'))

    leader.link!.drop('leader lost')
    engine.exit('t2', 0) // reported while no session is open: kept for the next one
    // The new leader's store lost t1's reports.
    leader.set({ ...leader.tasks.get('t1')!, state: 'assigned' })
    await until('second session', () => leader.links.length === 2)
    const second = leader.links[1]!
    await until('re-reported', () => {
      const reports = second.sent.flatMap(m => m.t === 'status' ? m.reports : [])
      return reports.some(r => r.id === 't1' && r.state === 'running') && reports.some(r => r.id === 't2' && r.state === 'complete')
    })
    expect(leader.latest('t2')).toMatchObject({ state: 'complete', exitCode: 0, message: 'finished' })
    expect(engine.calls('t1')).toEqual(['prepare', 'start', 'wait'])
    expect(engine.adoptCalls).toHaveLength(1)
  })

  it('reconnects with a backoff after refused connects and a manager that is not the leader', async () => {
    const { leader, worker, logs } = harness()
    leader.refuse = 2
    leader.set(assignment('t1'))
    worker.start()
    await until('running', () => running(leader, 't1'))
    expect(leader.connects).toBe(3)
    expect(logs.filter(l => l.startsWith('debug reconnecting')).map(l => JSON.parse(l.slice(l.indexOf('{'))).delayMs)).toEqual([100, 200])

    leader.link!.deliver({ t: 'not-leader', leaderId: 'node-2' })
    await until('a new session', () => leader.links.length === 2 && leader.link!.sent.some(m => m.t === 'heartbeat'))
    expect(leader.links[0]!.closed).toBe(true)
  })

  it('sends the description again when it changes', async () => {
    const { leader, worker, setEngine } = harness()
    worker.start()
    await until('open', () => leader.link?.sent.some(m => m.t === 'heartbeat'))
    setEngine({ state: 'available', version: '28.0.0', labels: { zone: 'a' } })
    await until('describe', () => leader.link!.sent.find(m => m.t === 'describe'))
    await until('more heartbeats', () => leader.link!.sent.filter(m => m.t === 'heartbeat').length >= 4)
    expect(leader.link!.sent.filter(m => m.t === 'describe')).toEqual([
      { t: 'describe', description: description({ state: 'available', version: '28.0.0', labels: { zone: 'a' } }) }
    ])
  })

  it('holds a delayed task until its delayUntilMs, and not a task whose desired state changed', async () => {
    const { engine, leader, worker } = harness()
    const delayUntilMs = Date.now() + 200
    leader.set(
      assignment('late', { delayUntilMs }),
      assignment('now', { slot: 2 }),
      assignment('never', { slot: 3, delayUntilMs: Date.now() + 60_000 })
    )
    worker.start()
    await until('the undelayed task running', () => running(leader, 'now'))
    expect(engine.calls('late')).toEqual([])
    await until('the delayed task running', () => running(leader, 'late'))
    expect(Date.now()).toBeGreaterThanOrEqual(delayUntilMs)
    expect(engine.calls('never')).toEqual([])

    leader.change([{ ...leader.tasks.get('never')!, desiredState: 'shutdown' }])
    await until('never shut down without waiting', () => leader.latest('never')?.state === 'shutdown')
    expect(engine.calls('never')).toEqual(['shutdown'])
  })

  it('reads the delay against its own clock (the leader\'s, give or take)', async () => {
    let clockMs = 1_000_000
    let reads = 0
    const { engine, leader, worker } = harness({ now: () => { reads++; return clockMs } })
    leader.set(assignment('late', { delayUntilMs: clockMs + 30 }), assignment('now', { slot: 2 }))
    worker.start()
    await until('the undelayed task running', () => running(leader, 'now'))
    // The delay timer fires after 30 ms and reads the clock, which has not moved: the task waits on.
    const before = reads
    await until('two more clock reads by the delay timer', () => reads >= before + 2)
    expect(engine.calls('late')).toEqual([])
    clockMs += 50
    await until('the delayed task running', () => running(leader, 'late'), 2000)
  })

  it('reports every unfinished task failed with the engine\'s message when the engine goes away, and adopts again when it returns', async () => {
    const { engine, leader, worker, setEngine } = harness()
    leader.set(assignment('a'), assignment('b', { slot: 2 }), assignment('c', { slot: 3, desiredState: 'shutdown' }))
    worker.start()
    await until('running', () => running(leader, 'a', 'b') && leader.latest('c')?.state === 'shutdown')

    const message = 'Docker engine at unix:///var/run/docker.sock does not answer: connect ENOENT'
    engine.goDown()
    setEngine({ state: 'unavailable', message })
    await until('failed reports', () => ['a', 'b'].every(id => leader.latest(id)?.state === 'failed'))
    for (const id of ['a', 'b']) expect(leader.latest(id)).toMatchObject({ state: 'failed', err: message, exitCode: null })
    expect(leader.latest('c')?.state).toBe('shutdown') // terminal already: not failed again
    await until('describe sent', () => leader.link!.sent.some(m => m.t === 'describe' && m.description.engine.state === 'unavailable'))

    // A task assigned while the engine is down is failed too, without a call to the engine.
    const callsBefore = engine.events.length
    leader.change([assignment('d', { slot: 4 })])
    await until('d failed', () => leader.latest('d')?.state === 'failed')
    expect(engine.events.length).toBe(callsBefore)

    // Back: the orchestrator removes the failed tasks; adoption runs again before anything else.
    engine.up = true
    setEngine({ state: 'available', version: '27.0.0', labels: {} })
    await until('second adoption', () => engine.adoptCalls.length === 2)
    expect(engine.adoptCalls[1]).toEqual(['a', 'b', 'c', 'd'])
    leader.change([], ['a', 'b', 'c', 'd'])
    await until('containers removed', () => engine.containers.size === 0)
    expect(engine.calls('a').filter(c => c === 'prepare')).toHaveLength(1)
  })

  it('stop() leaves containers running and closes the session', async () => {
    const { engine, leader, worker } = harness()
    leader.set(assignment('t1'))
    worker.start()
    await until('running', () => running(leader, 't1'))
    await worker.stop()
    expect(engine.containers.get('t1')?.state).toBe('running')
    expect(engine.calls('t1')).toEqual(['prepare', 'start', 'wait'])
    expect(leader.link!.closed).toBe(true)
    expect(leader.links).toHaveLength(1)
    expect(() => { worker.start() }).toThrow(/cannot start/)
  })
})
