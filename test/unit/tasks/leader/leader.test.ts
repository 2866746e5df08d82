import { afterEach, describe, expect, it } from 'vitest'
import { Dispatcher, OrchestratorDriver, SchedulerDriver, connectLocal, type LeaderMessage, type TaskObject } from '../../../../src/tasks/index.js'
import { waitFor } from '../../../support/agent-process.js'
import { MemoryLeader, description } from './memory-store.js'

const SPEC = { ContainerSpec: { Image: 'busybox' }, RestartPolicy: { Condition: 'any' as const, Delay: 0 } }

function service (leader: MemoryLeader, name: string, mode: { Replicated: { Replicas: number } } | { Global: Record<string, never> }, template: object = SPEC): string {
  const id = `svc-${name}`
  leader.apply({
    op: 'service.create',
    service: { id, name, createdAtMs: 0, updatedAtMs: 0, spec: { Name: name, TaskTemplate: template as typeof SPEC, Mode: mode }, previousSpec: null, endpoint: { ports: [] } }
  })
  return id
}

function tasksOf (leader: MemoryLeader, serviceId: string): TaskObject[] {
  return [...leader.state.tasks.values()].filter(t => t.serviceId === serviceId)
}

function perNode (tasks: readonly TaskObject[]): Record<string, number> {
  const out: Record<string, number> = {}
  for (const t of tasks) if (t.nodeId !== null && t.desiredState === 'running') out[t.nodeId] = (out[t.nodeId] ?? 0) + 1
  return out
}

describe('leader components on one store', () => {
  const stops: Array<() => void> = []
  afterEach(() => { for (const s of stops.splice(0)) s() })

  function start (leader: MemoryLeader): Dispatcher {
    const deps = leader.deps()
    const o = new OrchestratorDriver(deps)
    const s = new SchedulerDriver(deps)
    const d = new Dispatcher(deps, { downAfterMs: 200, graceMs: 200 })
    o.start(); s.start(); d.start()
    stops.push(() => { o.stop(); s.stop(); d.stop() })
    return d
  }

  it('creates Replicas tasks and spreads them 2/2/2 over three ready nodes, in one scheduling entry', async () => {
    const leader = new MemoryLeader()
    leader.addNode('n2'); leader.addNode('n3')
    for (const n of ['n1', 'n2', 'n3']) leader.ready(n)
    start(leader)
    const id = service(leader, 'web', { Replicated: { Replicas: 6 } })
    await waitFor('6 assigned tasks', () => tasksOf(leader, id).filter(t => t.status.state === 'assigned').length === 6, 5000, 10)
    expect(perNode(tasksOf(leader, id))).toEqual({ n1: 2, n2: 2, n3: 2 })
    expect(tasksOf(leader, id).map(t => t.name).sort()).toEqual(['web.1', 'web.2', 'web.3', 'web.4', 'web.5', 'web.6'])
    expect(leader.log.filter(c => c.op === 'tasks.schedule')).toHaveLength(1)
  })

  it('leaves a task pending with the reason when no node has the resources, and places it once one has', async () => {
    const leader = new MemoryLeader()
    leader.ready('n1', description({ memoryBytes: 2 ** 30 }))
    start(leader)
    const id = service(leader, 'big', { Replicated: { Replicas: 1 } }, { ...SPEC, Resources: { Reservations: { MemoryBytes: 2 * 2 ** 30 } } })
    const pending = await waitFor('a pending task', () => tasksOf(leader, id).find(t => t.status.state === 'pending'), 5000, 10)
    expect(pending.status.err).toBe('no suitable node (insufficient resources on 1 node)')
    leader.addNode('n2')
    leader.ready('n2', description({ memoryBytes: 8 * 2 ** 30 }))
    await waitFor('the task on n2', () => tasksOf(leader, id).find(t => t.nodeId === 'n2' && t.status.state === 'assigned'), 5000, 10)
  })

  it('sends a node its full set, then changes; marks a silent node down and moves its tasks', async () => {
    const leader = new MemoryLeader()
    leader.addNode('n2')
    leader.ready('n1'); leader.ready('n2')
    const dispatcher = start(leader)
    const heard: LeaderMessage[] = []
    const link = connectLocal(dispatcher, 'n2', { onMessage: m => heard.push(m), onClose: () => {} })
    link.send({ t: 'open', description: description() })
    await waitFor('the full set', () => heard.length > 0, 2000, 5)
    expect(heard[0]).toEqual({ t: 'assignments', full: true, tasks: [], removed: [] })
    const beat = setInterval(() => { link.send({ t: 'heartbeat' }) }, 50)
    stops.push(() => { clearInterval(beat) })
    const id = service(leader, 'web', { Replicated: { Replicas: 4 } })
    await waitFor('two tasks sent to n2', () => heard.flatMap(m => m.t === 'assignments' ? m.tasks : []).length === 2, 5000, 10)
    const mine = tasksOf(leader, id).filter(t => t.nodeId === 'n2')
    link.send({ t: 'status', reports: mine.map(t => ({ id: t.id, state: 'running', timestampMs: leader.nowMs, message: 'started', err: null, exitCode: null })) })
    await waitFor('n2 tasks running', () => tasksOf(leader, id).filter(t => t.status.state === 'running').length === 2, 5000, 10)

    // n1 never opened a session: after the grace it is marked down and its two tasks move to n2.
    leader.nowMs += 1000
    link.send({ t: 'heartbeat' }) // delivered (a microtask) before the monitor's next tick: n2 stays up
    await waitFor('n1 down', () => leader.state.nodes.get('n1')?.status.state === 'down', 5000, 10)
    await waitFor('4 running-desired tasks on n2', () => perNode(tasksOf(leader, id)).n2 === 4 && perNode(tasksOf(leader, id)).n1 === undefined, 5000, 10)
    expect(leader.state.nodes.get('n2')?.status.state).toBe('ready')
    link.close()
  })

  it('runs one global task per eligible node, and follows joins and drains', async () => {
    const leader = new MemoryLeader()
    leader.addNode('n2')
    leader.ready('n1'); leader.ready('n2')
    start(leader)
    const id = service(leader, 'agent', { Global: {} })
    await waitFor('2 global tasks', () => Object.keys(perNode(tasksOf(leader, id))).length === 2, 5000, 10)
    leader.addNode('n3'); leader.ready('n3')
    await waitFor('3 global tasks', () => Object.keys(perNode(tasksOf(leader, id))).length === 3, 5000, 10)
    const n3 = leader.state.nodes.get('n3')!
    leader.apply({ op: 'node.update', id: 'n3', version: n3.version, spec: { ...n3.spec, availability: 'drain' }, nowMs: leader.nowMs })
    await waitFor('n3 drained', () => perNode(tasksOf(leader, id)).n3 === undefined, 5000, 10)
    expect(Object.keys(perNode(tasksOf(leader, id))).sort()).toEqual(['n1', 'n2'])
  })

  it('keeps Orchestration.TaskHistoryRetentionLimit old tasks per slot', async () => {
    const leader = new MemoryLeader()
    leader.ready('n1')
    const c = leader.state.cluster!
    leader.apply({ op: 'cluster.update', version: c.version, spec: { Orchestration: { TaskHistoryRetentionLimit: 2 } }, secrets: c.secrets, nowMs: 0 })
    start(leader)
    const id = service(leader, 'web', { Replicated: { Replicas: 1 } })
    // Fail the slot's task five times: each failure is replaced at once (Delay 0).
    for (let i = 0; i < 5; i++) {
      const t = await waitFor('an assigned task', () => tasksOf(leader, id).find(x => x.desiredState === 'running' && x.status.state === 'assigned'), 5000, 5)
      leader.apply({ op: 'tasks.report', nodeId: 'n1', reports: [{ id: t.id, state: 'failed', timestampMs: leader.nowMs, message: 'started', err: 'task: non-zero exit (1)', exitCode: 1 }] })
      leader.nowMs += 10
    }
    await waitFor('the history trimmed to 2 tasks', () => tasksOf(leader, id).length === 2, 5000, 5)
    expect(tasksOf(leader, id).filter(t => t.desiredState === 'running')).toHaveLength(1)
  })

  it('removes a service: its tasks are asked to go, and deleted once they ended', async () => {
    const leader = new MemoryLeader()
    leader.ready('n1')
    start(leader)
    const id = service(leader, 'web', { Replicated: { Replicas: 2 } })
    await waitFor('2 assigned', () => tasksOf(leader, id).filter(t => t.status.state === 'assigned').length === 2, 5000, 10)
    leader.apply({ op: 'service.remove', id, nowMs: leader.nowMs })
    expect(tasksOf(leader, id).map(t => t.desiredState)).toEqual(['remove', 'remove'])
    leader.apply({ op: 'tasks.report', nodeId: 'n1', reports: tasksOf(leader, id).map(t => ({ id: t.id, state: 'shutdown', timestampMs: 1, message: 'shutdown', err: null, exitCode: null })) })
    await waitFor('tasks deleted', () => tasksOf(leader, id).length === 0, 5000, 10)
  })
})
