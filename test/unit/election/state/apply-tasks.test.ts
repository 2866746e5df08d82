import { describe, expect, it } from 'vitest'
import { applyCommand } from '../../../../src/election/state/apply.js'
import { decodeStore, encodeStore } from '../../../../src/election/state/snapshot-codec.js'
import type { Command, StoreState } from '../../../../src/election/index.js'
import type { NewTask } from '../../../../src/tasks/index.js'
import { MemoryLeader } from '../../tasks/leader/memory-store.js'

const TEMPLATE = { ContainerSpec: { Image: 'busybox' } }

function create (name: string, id = `svc-${name}`, published: number[] = []): Command {
  return {
    op: 'service.create',
    service: {
      id, name, createdAtMs: 0, updatedAtMs: 0,
      spec: { Name: name, TaskTemplate: TEMPLATE, Mode: { Replicated: { Replicas: 1 } } },
      previousSpec: null, updateStatus: null, rebalance: null,
      endpoint: { ports: published.map(p => ({ Protocol: 'tcp' as const, TargetPort: 80, PublishedPort: p, PublishMode: 'host' as const })), virtualIps: [] }
    }
  }
}

function task (id: string, serviceId: string, nodeId: string | null = null): NewTask {
  return {
    id, serviceId, serviceName: 'web', name: 'web.1', slot: 1, nodeId, desiredState: 'running',
    status: { state: 'new', timestampMs: 0, message: 'created', err: null, exitCode: null },
    specVersion: 0, spec: TEMPLATE, ports: [], delayUntilMs: null, restartTimesMs: [], runningAtMs: null, createdAtMs: 0, updatedAtMs: 0
  }
}

/** Apply `cmd` at the next index; the refusal, if any, as `{ code, message }`. */
function apply (state: StoreState, cmd: Command): { state: StoreState, refused: { code: string, message: string } | null } {
  const a = applyCommand(state, state.index + 1, cmd)
  return { state: a.state, refused: a.result.ok ? null : { code: a.result.code, message: a.result.message } }
}

describe('service and task commands', () => {
  it('refuses a taken name or published port, at apply, changing nothing', () => {
    let s = new MemoryLeader().state
    s = apply(s, create('web', 'a', [8080])).state
    const sameName = apply(s, create('web', 'b'))
    expect(sameName.refused).toEqual({ code: 'conflict', message: 'service web already exists' })
    expect(sameName.state.services.size).toBe(1)
    const samePort = apply(s, create('api', 'c', [8080]))
    expect(samePort.refused?.message).toBe('published port tcp/8080 is already in use by service web')
    expect(apply(s, create('api', 'c', [8081])).refused).toBeNull()
  })

  it('refuses a service update with a stale version or a new name', () => {
    let s = new MemoryLeader().state
    s = apply(s, create('web', 'a')).state
    const v = s.services.get('a')!.version
    const spec = { ...s.services.get('a')!.spec, Mode: { Replicated: { Replicas: 3 } } }
    expect(apply(s, { op: 'service.update', id: 'a', version: v - 1, spec, ports: [], nowMs: 1 }).refused?.message)
      .toBe(`update out of sequence: service web is at version ${v}, not ${v - 1}`)
    expect(apply(s, { op: 'service.update', id: 'a', version: v, spec: { ...spec, Name: 'other' }, ports: [], nowMs: 1 }).refused?.code).toBe('invalid-argument')
    const ok = apply(s, { op: 'service.update', id: 'a', version: v, spec, ports: [], nowMs: 1 })
    expect(ok.refused).toBeNull()
    expect(ok.state.services.get('a')!.version).toBe(ok.state.index)
  })

  it('applies an orchestrator pass all or nothing, checked against task and service versions', () => {
    let s = new MemoryLeader().state
    s = apply(s, create('web', 'a')).state
    const sv = s.services.get('a')!.version
    s = apply(s, { op: 'tasks.reconcile', serviceId: 'a', serviceVersion: sv, create: [task('t1', 'a')], update: [], delete: [] }).state
    const t1 = s.tasks.get('t1')!
    const stale = apply(s, {
      op: 'tasks.reconcile', serviceId: 'a', serviceVersion: sv, create: [task('t2', 'a')],
      update: [{ id: 't1', version: t1.version - 1, updatedAtMs: 1, desiredState: 'shutdown' }], delete: []
    })
    expect(stale.refused?.code).toBe('conflict')
    expect(stale.state.tasks.has('t2')).toBe(false)
    expect(apply(s, { op: 'tasks.reconcile', serviceId: 'a', serviceVersion: sv + 100, create: [task('t2', 'a')], update: [], delete: [] }).refused?.code).toBe('conflict')
  })

  it('takes a node\'s reports only for its own tasks, and only forward', () => {
    const leader = new MemoryLeader()
    leader.addNode('n2')
    let s = apply(leader.state, create('web', 'a')).state
    s = apply(s, { op: 'tasks.reconcile', serviceId: 'a', serviceVersion: s.services.get('a')!.version, create: [task('t1', 'a')], update: [], delete: [] }).state
    s = apply(s, { op: 'tasks.schedule', placements: [{ id: 't1', version: s.tasks.get('t1')!.version, nodeId: 'n1' }], nowMs: 5 }).state
    expect(s.tasks.get('t1')!.status.state).toBe('assigned')
    const report = (nodeId: string, state: 'running' | 'starting' | 'failed'): Command =>
      ({ op: 'tasks.report', nodeId, reports: [{ id: 't1', state, timestampMs: 9, message: state, err: null, exitCode: null }] })
    expect(apply(s, report('n2', 'running')).state.tasks.get('t1')!.status.state).toBe('assigned')
    s = apply(s, report('n1', 'running')).state
    expect(s.tasks.get('t1')!.status).toMatchObject({ state: 'running', timestampMs: 9 })
    expect(s.tasks.get('t1')!.runningAtMs).toBe(9)
    expect(apply(s, report('n1', 'starting')).state.tasks.get('t1')!.status.state).toBe('running')
    s = apply(s, report('n1', 'failed')).state
    expect(s.tasks.get('t1')!.runningAtMs).toBe(9) // when it first ran, kept after it ended
    expect(apply(s, { ...report('n1', 'failed'), reports: [{ id: 't1', state: 'orphaned', timestampMs: 10, message: '', err: null, exitCode: null }] }).state.tasks.get('t1')!.status.state).toBe('failed')
  })

  it('keeps services, tasks and node status through a snapshot', () => {
    const leader = new MemoryLeader()
    leader.ready('n1')
    let s = apply(leader.state, create('web', 'a', [8080])).state
    s = apply(s, { op: 'tasks.reconcile', serviceId: 'a', serviceVersion: s.services.get('a')!.version, create: [task('t1', 'a')], update: [], delete: [] }).state
    const back = decodeStore(encodeStore(s))
    expect(back.services.get('a')).toEqual(s.services.get('a'))
    expect(back.tasks.get('t1')).toEqual(s.tasks.get('t1'))
    expect(back.nodes.get('n1')!.status).toEqual(s.nodes.get('n1')!.status)
    expect(back.nodes.get('n1')!.description).toEqual(s.nodes.get('n1')!.description)
  })

  it('resets UpdateStatus on a spec update, and sets rollback_started on a requested rollback', () => {
    let s = new MemoryLeader().state
    s = apply(s, create('web', 'a')).state
    const status = { state: 'completed' as const, startedAtMs: 1, completedAtMs: 2, message: 'update completed' }
    s = apply(s, { op: 'tasks.reconcile', serviceId: 'a', serviceVersion: s.services.get('a')!.version, create: [], update: [], delete: [], updateStatus: status }).state
    expect(s.services.get('a')!.updateStatus).toEqual(status)
    const spec = { ...s.services.get('a')!.spec, TaskTemplate: { ContainerSpec: { Image: 'busybox:2' } } }
    s = apply(s, { op: 'service.update', id: 'a', version: s.services.get('a')!.version, spec, ports: [], nowMs: 7 }).state
    expect(s.services.get('a')!.updateStatus).toBeNull()
    const back = s.services.get('a')!.previousSpec!
    s = apply(s, { op: 'service.update', id: 'a', version: s.services.get('a')!.version, spec: back, ports: [], nowMs: 8, rollback: true }).state
    expect(s.services.get('a')!.updateStatus).toEqual({ state: 'rollback_started', startedAtMs: 8, completedAtMs: null, message: 'manually requested rollback' })
  })

  it('writes the updater\'s status without a new service version, and refuses it from a stale read', () => {
    let s = new MemoryLeader().state
    s = apply(s, create('web', 'a')).state
    const v = s.services.get('a')!.version
    const status = { state: 'updating' as const, startedAtMs: 1, completedAtMs: null, message: 'update in progress' }
    s = apply(s, { op: 'tasks.reconcile', serviceId: 'a', serviceVersion: v, create: [], update: [], delete: [], updateStatus: status }).state
    expect(s.services.get('a')!.version).toBe(v)
    expect(apply(s, { op: 'tasks.reconcile', serviceId: 'a', serviceVersion: v - 1, create: [], update: [], delete: [], updateStatus: { ...status, state: 'paused' } }).refused?.code).toBe('conflict')
  })

  it('rolls back to PreviousSpec by the updater\'s command, using the previous spec up, keeping StartedAt', () => {
    let s = new MemoryLeader().state
    s = apply(s, create('web', 'a')).state
    const spec = { ...s.services.get('a')!.spec, TaskTemplate: { ContainerSpec: { Image: 'busybox:2' } } }
    s = apply(s, { op: 'service.update', id: 'a', version: s.services.get('a')!.version, spec, ports: [], nowMs: 7 }).state
    const updating = { state: 'updating' as const, startedAtMs: 7, completedAtMs: null, message: 'update in progress' }
    s = apply(s, { op: 'tasks.reconcile', serviceId: 'a', serviceVersion: s.services.get('a')!.version, create: [], update: [], delete: [], updateStatus: updating }).state
    const v = s.services.get('a')!.version
    expect(apply(s, { op: 'service.rollback', id: 'a', version: v - 1, ports: [], message: 'm', nowMs: 9 }).refused?.code).toBe('conflict')
    s = apply(s, { op: 'service.rollback', id: 'a', version: v, ports: [], message: 'update rolled back due to failure or early termination of task t1', nowMs: 9 }).state
    const svc = s.services.get('a')!
    expect(svc.spec.TaskTemplate).toEqual(TEMPLATE)
    expect(svc.previousSpec).toBeNull()
    expect(svc.version).toBe(s.index)
    expect(svc.updateStatus).toEqual({ ...updating, state: 'rollback_started', message: 'update rolled back due to failure or early termination of task t1' })
    expect(apply(s, { op: 'service.rollback', id: 'a', version: svc.version, ports: [], message: 'm', nowMs: 10 }).refused?.message).toBe('service web does not have a previous spec')
  })

  it('takes a rebalance request for a replicated service only, until the orchestrator says it is done', () => {
    let s = new MemoryLeader().state
    s = apply(s, create('web', 'a')).state
    s = apply(s, { op: 'service.rebalance', id: 'a', nowMs: 5 }).state
    expect(s.services.get('a')!.rebalance).toEqual({ requestedAtMs: 5 })
    s = apply(s, { op: 'tasks.reconcile', serviceId: 'a', serviceVersion: s.services.get('a')!.version, create: [], update: [], delete: [], rebalanced: true }).state
    expect(s.services.get('a')!.rebalance).toBeNull()
    expect(apply(s, { op: 'service.rebalance', id: 'nope', nowMs: 5 }).refused?.code).toBe('not-found')
    const global = create('node-exporter', 'g')
    s = apply(s, { ...global, service: { ...(global as Extract<Command, { op: 'service.create' }>).service, spec: { Name: 'node-exporter', TaskTemplate: TEMPLATE, Mode: { Global: {} } } } } as Command).state
    expect(apply(s, { op: 'service.rebalance', id: 'g', nowMs: 5 }).refused?.message).toMatch(/is global/)
  })

  it('reads services and tasks written before updates were tracked', () => {
    let s = new MemoryLeader().state
    const old = create('web', 'a') as Extract<Command, { op: 'service.create' }>
    const { updateStatus: _u, rebalance: _r, ...legacy } = old.service
    s = apply(s, { op: 'service.create', service: legacy as typeof old.service }).state
    expect(s.services.get('a')).toMatchObject({ updateStatus: null, rebalance: null })
    const { runningAtMs: _t, ...legacyTask } = task('t1', 'a')
    s = apply(s, { op: 'tasks.reconcile', serviceId: 'a', serviceVersion: s.services.get('a')!.version, create: [legacyTask as NewTask], update: [], delete: [] }).state
    expect(s.tasks.get('t1')!.runningAtMs).toBeNull()
  })
})
