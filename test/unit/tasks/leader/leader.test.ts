import { afterEach, describe, expect, it } from 'vitest'
import { Dispatcher, OrchestratorDriver, SchedulerDriver, connectLocal, type LeaderMessage, type TaskObject } from '../../../../src/tasks/index.js'
import { waitFor } from '../../../support/agent-process.js'
import { MemoryLeader, description } from './memory-store.js'

const SPEC = { ContainerSpec: { Image: 'busybox' }, RestartPolicy: { Condition: 'any' as const, Delay: 0 } }

function service (leader: MemoryLeader, name: string, mode: { Replicated: { Replicas: number } } | { Global: Record<string, never> }, template: object = SPEC): string {
  const id = `svc-${name}`
  leader.apply({
    op: 'service.create',
    service: { id, name, createdAtMs: 0, updatedAtMs: 0, spec: { Name: name, TaskTemplate: template as typeof SPEC, Mode: mode }, previousSpec: null, endpoint: { ports: [], virtualIps: [] }, updateStatus: null, rebalance: null }
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
    void link.close()
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

  it('rolls a failing update back through the store: service.rollback with the previous spec\'s ports, then rollback_completed', async () => {
    const leader = new MemoryLeader()
    leader.ready('n1')
    // No dispatcher: n1 has no session here, and would be marked down.
    const deps = leader.deps()
    const o = new OrchestratorDriver(deps)
    const sched = new SchedulerDriver(deps)
    o.start(); sched.start()
    stops.push(() => { o.stop(); sched.stop() })
    const ports = [{ Protocol: 'tcp' as const, TargetPort: 80, PublishedPort: 8080, PublishMode: 'host' as const }]
    const id = 'svc-web'
    // The rollback follows the RollbackConfig of the spec it returns to, as SwarmKit's.
    const v1 = { Name: 'web', TaskTemplate: SPEC, Mode: { Replicated: { Replicas: 1 } }, EndpointSpec: { Ports: ports }, RollbackConfig: { Monitor: 1e6 } }
    leader.apply({ op: 'service.create', service: { id, name: 'web', createdAtMs: 0, updatedAtMs: 0, spec: v1, previousSpec: null, endpoint: { ports, virtualIps: [] }, updateStatus: null, rebalance: null } })
    const runAll = (): void => {
      leader.nowMs += 5 // the clock moves on, so that the 1 ms Monitor passes
      // As n1's executor: start what is assigned (busybox:missing is rejected), stop what is to stop (freeing its host port).
      const reports = tasksOf(leader, id).flatMap(t => {
        const missing = t.spec.ContainerSpec.Image === 'busybox:missing'
        if (t.desiredState === 'running' && t.nodeId !== null && t.status.state === 'assigned') return [{ id: t.id, state: missing ? 'rejected' as const : 'running' as const }]
        if (t.desiredState !== 'running' && t.status.state === 'running') return [{ id: t.id, state: 'shutdown' as const }]
        return []
      }).map(r => ({ ...r, timestampMs: leader.nowMs, message: r.state, err: null, exitCode: null }))
      if (reports.length > 0) leader.apply({ op: 'tasks.report', nodeId: 'n1', reports })
    }
    await waitFor('a running task', () => { runAll(); return tasksOf(leader, id).filter(t => t.status.state === 'running').length === 1 }, 5000, 10)
    const v2 = { ...v1, TaskTemplate: { ...SPEC, ContainerSpec: { Image: 'busybox:missing' } }, UpdateConfig: { FailureAction: 'rollback' as const, Monitor: 1e6 } }
    leader.apply({ op: 'service.update', id, version: leader.state.services.get(id)!.version, spec: v2, ports, nowMs: leader.nowMs })
    await waitFor('the rollback', () => { runAll(); return leader.log.some(c => c.op === 'service.rollback') }, 5000, 10)
    const bad = tasksOf(leader, id).find(t => t.spec.ContainerSpec.Image === 'busybox:missing' && t.status.state === 'rejected')!
    const rollback = leader.log.find(c => c.op === 'service.rollback')!
    expect(rollback).toMatchObject({ ports, message: `update rolled back due to failure or early termination of task ${bad.id}` })
    await waitFor('rollback_completed', () => { runAll(); return leader.state.services.get(id)!.updateStatus?.state === 'rollback_completed' }, 5000, 10)
    expect(leader.state.services.get(id)!.spec).toEqual(v1)
    expect(tasksOf(leader, id).filter(t => t.desiredState === 'running').map(t => t.spec.ContainerSpec.Image)).toEqual(['busybox'])
  })
})
