import { afterEach, describe, expect, it, vi } from 'vitest'
import type { Command, NewTask } from '../../../../src/election/index.js'
import { Dispatcher, OrchestratorDriver, type DispatcherSession } from '../../../../src/tasks/index.js'
import { waitFor } from '../../../support/agent-process.js'
import { MemoryLeader, description } from '../leader/memory-store.js'

const TEMPLATE = { ContainerSpec: { Image: 'busybox' }, RestartPolicy: { Condition: 'any' as const, Delay: 0 } }

function task (id: string, nodeId: string | null, state: 'assigned' | 'running' | 'pending'): NewTask {
  return {
    id, serviceId: 'svc-web', serviceName: 'web', name: `web.${id}`, slot: null, nodeId, desiredState: 'running',
    status: { state, timestampMs: 0, message: '', err: null, exitCode: null }, specVersion: 1, spec: TEMPLATE, ports: [],
    delayUntilMs: null, restartTimesMs: [], runningAtMs: null, createdAtMs: 0, updatedAtMs: 0
  }
}

function createService (leader: MemoryLeader, replicas: number): void {
  leader.apply({
    op: 'service.create',
    service: { id: 'svc-web', name: 'web', createdAtMs: 0, updatedAtMs: 0, spec: { Name: 'web', TaskTemplate: TEMPLATE, Mode: { Replicated: { Replicas: replicas } } }, previousSpec: null, endpoint: { ports: [], virtualIps: [] }, updateStatus: null, rebalance: null }
  })
}

function open (dispatcher: Dispatcher, nodeId: string): DispatcherSession {
  const session = dispatcher.open(nodeId, () => {}, () => {})
  session.receive({ t: 'open', description: description() })
  return session
}

describe('dispatcher', () => {
  const stops: Array<() => void> = []
  afterEach(() => {
    for (const s of stops.splice(0)) s()
    vi.useRealTimers()
  })

  it('does not mark a node down whose heartbeat was waiting behind the monitor (the leader was held up)', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'setImmediate', 'clearImmediate'] })
    const leader = new MemoryLeader()
    leader.addNode('n2')
    const dispatcher = new Dispatcher(leader.deps(), { downAfterMs: 200, graceMs: 200 })
    dispatcher.start()
    stops.push(() => { dispatcher.stop() })
    open(dispatcher, 'n1')
    const n2 = open(dispatcher, 'n2')
    expect(leader.state.nodes.get('n2')!.status.state).toBe('ready')
    // The leader was held up for a second: both deadlines passed. n2's heartbeat was sent meanwhile and
    // is read in the same turn of the event loop as the monitor's check, after it; n1 sent nothing.
    leader.nowMs += 1000
    setTimeout(() => { n2.receive({ t: 'heartbeat' }) }, 50)
    vi.advanceTimersByTime(50)
    // The monitor's verdict comes after the pending I/O, here the heartbeat timer due with it.
    vi.advanceTimersToNextTimer()
    expect(leader.state.nodes.get('n1')!.status).toMatchObject({ state: 'down', message: 'heartbeat failure' })
    expect(leader.log.filter(c => c.op === 'node.status' && c.state === 'down').map(c => c.op === 'node.status' && c.id)).toEqual(['n1'])
    expect(leader.state.nodes.get('n2')!.status.state).toBe('ready')
  })

  it('keeps a node whose agent said it was stopping ready through the restart grace, then marks it down', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'setImmediate', 'clearImmediate'] })
    const leader = new MemoryLeader()
    leader.addNode('n2')
    const dispatcher = new Dispatcher(leader.deps(), { downAfterMs: 200, graceMs: 200, restartGraceMs: 1000 })
    dispatcher.start()
    stops.push(() => { dispatcher.stop() })
    open(dispatcher, 'n1')
    open(dispatcher, 'n2').receive({ t: 'leaving' })
    const advance = (ms: number): void => { leader.nowMs += ms; vi.advanceTimersByTime(ms) }
    advance(600)
    // n1 crashed (silent past its deadline); n2 is restarting its agent.
    expect(leader.state.nodes.get('n1')!.status.state).toBe('down')
    expect(leader.state.nodes.get('n2')!.status.state).toBe('ready')
    advance(600)
    expect(leader.state.nodes.get('n2')!.status).toMatchObject({ state: 'down', message: 'heartbeat failure' })
  })

  it('takes many nodes\' reports into a large store in rounds, every report applied', async () => {
    const leader = new MemoryLeader()
    const nodes = Array.from({ length: 40 }, (_, i) => `w${i}`)
    for (const n of nodes) { leader.addNode(n); leader.ready(n) }
    createService(leader, 0)
    // 62,500 tasks: a round then carries the 16 entries its cost budget allows (1,000,000 entries × tasks).
    const filler = Array.from({ length: 62_500 - nodes.length }, (_, i) => task(`p${i}`, null, 'pending'))
    leader.apply({ op: 'tasks.reconcile', serviceId: 'svc-web', serviceVersion: null, create: [...nodes.map(n => task(`t-${n}`, n, 'assigned')), ...filler], update: [], delete: [] })
    const rounds: number[] = []
    let inRound = false
    const deps = leader.deps()
    const dispatcher = new Dispatcher({
      ...deps,
      propose: async (cmd: Command) => {
        if (cmd.op === 'tasks.report') {
          // A round's entries are proposed together, in one synchronous burst.
          if (!inRound) { inRound = true; rounds.push(0); queueMicrotask(() => { inRound = false }) }
          rounds[rounds.length - 1]!++
        }
        await deps.propose(cmd)
      }
    }, { downAfterMs: 60_000, graceMs: 60_000 })
    dispatcher.start()
    stops.push(() => { dispatcher.stop() })
    const sessions = nodes.map(n => open(dispatcher, n))
    sessions.forEach((s, i) => { s.receive({ t: 'status', reports: [{ id: `t-${nodes[i]!}`, state: 'running', timestampMs: 1, message: '', err: null, exitCode: null }] }) })
    await waitFor('every report applied', () => nodes.every(n => leader.state.tasks.get(`t-${n}`)!.status.state === 'running'), 10_000, 10)
    // The first node's report went at once; the others waited for it, then went 16 at a time.
    expect(rounds).toEqual([1, 16, 16, 7])
  })
})

describe('orchestrator driver', () => {
  it('deletes the tasks of a removed service once their node goes down', async () => {
    const leader = new MemoryLeader()
    leader.addNode('n2')
    leader.ready('n1'); leader.ready('n2')
    createService(leader, 1)
    leader.apply({ op: 'tasks.reconcile', serviceId: 'svc-web', serviceVersion: null, create: [{ ...task('t1', 'n2', 'running'), slot: 1 }], update: [], delete: [] })
    leader.apply({ op: 'service.remove', id: 'svc-web', nowMs: leader.nowMs })
    const orchestrator = new OrchestratorDriver(leader.deps())
    orchestrator.start()
    try {
      // Still running on a ready node: it stays until it reports its end, or its node goes.
      await new Promise(resolve => setTimeout(resolve, 50))
      expect(leader.state.tasks.has('t1')).toBe(true)
      leader.apply({ op: 'node.status', id: 'n2', state: 'down', message: 'heartbeat failure', description: null, nowMs: leader.nowMs })
      await waitFor('t1 deleted', () => !leader.state.tasks.has('t1'), 5000, 5)
    } finally {
      orchestrator.stop()
    }
  })
})
