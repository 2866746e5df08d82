import { describe, expect, it } from 'vitest'
import { isTaskUpToDate, REBALANCE_LABEL, type ReconcileResult, type UpdateConfig } from '../../../../src/tasks/orchestrator/index.js'
import { SECOND, Store, node, service } from './helpers.js'

/** Bring every task meant to run that is still starting to running (on `nodeId` when it has no node). */
function runAll (store: Store, nodeId = 'a'): void {
  for (const t of store.running()) if (t.status.state !== 'running') store.report(t.id, 'running', t.nodeId === null ? { nodeId } : {})
}

/**
 * One update round as the agents play it: reconcile (stop-first: the old tasks are asked to stop), the
 * agents stop them, reconcile again (the replacements are made). Returns both passes' results.
 */
function replaceRound (store: Store): [ReconcileResult, ReconcileResult] {
  const first = store.step()
  store.settle()
  return [first, store.step()]
}

/** A spec update as the store applies one: new version, PreviousSpec kept, UpdateStatus reset. */
function updateTo (store: Store, image: string, config: UpdateConfig = {}, rollbackConfig?: UpdateConfig): void {
  const s = store.service
  store.index++
  store.service = {
    ...s,
    version: store.index,
    updatedAtMs: store.nowMs,
    previousSpec: s.spec,
    updateStatus: null,
    spec: {
      ...s.spec,
      TaskTemplate: { ...s.spec.TaskTemplate, ContainerSpec: { Image: image } },
      UpdateConfig: config,
      ...(rollbackConfig !== undefined ? { RollbackConfig: rollbackConfig } : {})
    }
  }
}

function images (store: Store): string[] {
  return store.running().map(t => t.spec.ContainerSpec.Image).sort()
}

/** Started with 4 running replicas of nginx:alpine on node a. */
function runningService (replicas = 4): Store {
  const store = new Store(service({ replicas }), [node('a')])
  store.step()
  runAll(store)
  return store
}

/** The replacements the last step made (new tasks meant to run, not yet started). */
function fresh (store: Store): string[] {
  return store.running().filter(t => t.status.state === 'new').map(t => t.id)
}

/**
 * An update to `image` whose first replacement ends at once in `state` (its image cannot be pulled, or
 * its container exits): that task's ID and the result of the pass that sees it end.
 */
function failFirstReplacement (
  store: Store, image: string, state: 'failed' | 'rejected', config?: UpdateConfig, rollbackConfig?: UpdateConfig
): { bad: string, result: ReconcileResult } {
  updateTo(store, image, config, rollbackConfig)
  replaceRound(store)
  const bad = fresh(store)[0]!
  store.report(bad, state, { nodeId: 'a' })
  return { bad, result: store.step() }
}

describe('UpdateStatus', () => {
  it('is set to updating when the first out-of-date task is replaced, and to completed Monitor after the last one runs', () => {
    const store = runningService(2)
    updateTo(store, 'nginx:1.27', { Parallelism: 2, Monitor: 2e9 })
    const startedAtMs = store.nowMs
    const [ask, make] = replaceRound(store)
    expect(ask.updateStatus).toEqual({ state: 'updating', startedAtMs, completedAtMs: null, message: 'update in progress' })
    expect(ask.create).toEqual([]) // stop-first: the old tasks stop first
    expect(make.create).toHaveLength(2)
    store.nowMs += SECOND
    runAll(store)
    const lastRunningMs = store.nowMs
    expect(store.step()).toMatchObject({ create: [], nextWakeMs: lastRunningMs + 2 * SECOND })
    expect(store.service.updateStatus?.state).toBe('updating')
    store.nowMs = lastRunningMs + 2 * SECOND
    expect(store.step().updateStatus).toEqual({ state: 'completed', startedAtMs, completedAtMs: store.nowMs, message: 'update completed' })
  })

  it('stays null for a scale and for a change outside the TaskTemplate', () => {
    const store = runningService(2)
    store.index++
    store.service = { ...store.service, version: store.index, spec: { ...store.service.spec, Mode: { Replicated: { Replicas: 3 } }, UpdateConfig: { Parallelism: 3 } } }
    const r = store.step()
    expect(r.create).toHaveLength(1)
    expect(r.updateStatus).toBeUndefined()
    runAll(store)
    expect(store.step().updateStatus).toBeUndefined()
    expect(store.service.updateStatus).toBeNull()
  })

  it('waits Delay + 1 s rather than Monitor when Delay is the longer', () => {
    const store = runningService(1)
    updateTo(store, 'nginx:1.27', { Delay: 10e9, Monitor: 1e9 })
    replaceRound(store)
    runAll(store)
    const ranMs = store.nowMs
    store.nowMs += 10 * SECOND // past Delay, not yet Delay + 1 s
    expect(store.step()).toMatchObject({ nextWakeMs: ranMs + 11 * SECOND })
    store.nowMs = ranMs + 11 * SECOND
    expect(store.step().updateStatus?.state).toBe('completed')
  })
})

describe('FailureAction', () => {
  it('pause (the default): a new task that fails stops the update, which reports paused and replaces nothing more', () => {
    const store = runningService(4)
    const { bad, result: r } = failFirstReplacement(store, 'nginx:broken', 'rejected')
    expect(r.updateStatus).toMatchObject({ state: 'paused', message: `update paused due to failure or early termination of task ${bad}` })
    expect(r.create.filter(t => t.createdAtMs === store.nowMs && t.delayUntilMs === null)).toEqual([]) // no next slot; only the restart supervisor's delayed retry
    for (let i = 0; i < 5; i++) {
      store.nowMs += 10 * SECOND
      runAll(store)
      replaceRound(store)
    }
    // Three slots still run the old image: nothing was replaced after the pause.
    expect(images(store).filter(i => i === 'nginx:alpine')).toHaveLength(3)
    expect(store.service.updateStatus?.state).toBe('paused')
  })

  it('pause: a new spec update resumes (UpdateStatus reset)', () => {
    const store = runningService(2)
    failFirstReplacement(store, 'nginx:broken', 'failed')
    expect(store.service.updateStatus?.state).toBe('paused')
    updateTo(store, 'nginx:1.27', { Parallelism: 0 })
    for (let i = 0; i < 5; i++) { replaceRound(store); runAll(store); store.nowMs += 6 * SECOND }
    store.step()
    expect(images(store)).toEqual(['nginx:1.27', 'nginx:1.27'])
    expect(store.service.updateStatus?.state).toBe('completed')
  })

  it('pause: an update back to the old image, landing while the failed slot waits for its restart, starts and completes', () => {
    const store = runningService(4)
    failFirstReplacement(store, 'nginx:broken', 'rejected')
    expect(store.service.updateStatus?.state).toBe('paused')
    // The restart supervisor's retry starts after its delay and is rejected again; the spec update lands
    // before the orchestrator has seen that, so the slot holds no live task, only one that ended and is
    // still meant to run. SwarmKit counts such a slot as dirty: the update starts.
    store.nowMs += 10 * SECOND
    const retry = store.running().find(t => t.spec.ContainerSpec.Image === 'nginx:broken')!
    store.report(retry.id, 'rejected', { nodeId: 'a' })
    updateTo(store, 'nginx:alpine')
    const startedAtMs = store.nowMs
    expect(store.step().updateStatus).toEqual({ state: 'updating', startedAtMs, completedAtMs: null, message: 'update in progress' })
    for (let i = 0; i < 5; i++) { runAll(store); replaceRound(store); store.nowMs += 6 * SECOND }
    expect(images(store)).toEqual(['nginx:alpine', 'nginx:alpine', 'nginx:alpine', 'nginx:alpine'])
    expect(store.service.updateStatus?.state).toBe('completed')
  })

  it('continue: failures are ignored and every slot is replaced', () => {
    const store = runningService(3)
    updateTo(store, 'nginx:1.27', { FailureAction: 'continue' })
    replaceRound(store)
    store.report(fresh(store)[0]!, 'failed', { nodeId: 'a' })
    for (let i = 0; i < 10; i++) { store.nowMs += 6 * SECOND; replaceRound(store); runAll(store) }
    store.nowMs += 6 * SECOND
    store.step()
    expect(images(store)).toEqual(['nginx:1.27', 'nginx:1.27', 'nginx:1.27'])
    expect(store.service.updateStatus?.state).toBe('completed')
  })

  it('rollback: the service returns to its PreviousSpec by itself, then the rollback completes', () => {
    const store = runningService(3)
    const { bad, result: r } = failFirstReplacement(store, 'nginx:missing', 'rejected', { FailureAction: 'rollback' }, { Parallelism: 0, Monitor: 1e9 })
    expect(r.rollback).toEqual({
      message: `update rolled back due to failure or early termination of task ${bad}`,
      pausedMessage: `update paused due to failure or early termination of task ${bad}`
    })
    expect(store.service.spec.TaskTemplate.ContainerSpec.Image).toBe('nginx:alpine')
    expect(store.service.previousSpec).toBeNull()
    expect(store.service.updateStatus?.state).toBe('rollback_started')
    for (let i = 0; i < 5; i++) { replaceRound(store); runAll(store); store.nowMs += 2 * SECOND }
    store.step()
    expect(images(store)).toEqual(['nginx:alpine', 'nginx:alpine', 'nginx:alpine'])
    expect(store.running().every(t => isTaskUpToDate(t, store.service))).toBe(true)
    expect(store.service.updateStatus).toMatchObject({ state: 'rollback_completed', message: 'rollback completed' })
  })

  it('a rollback that fails pauses (rollback_paused), never rolls back again', () => {
    const store = runningService(2)
    failFirstReplacement(store, 'nginx:1.27', 'failed', { FailureAction: 'rollback' }, { FailureAction: 'rollback' })
    expect(store.service.updateStatus?.state).toBe('rollback_started')
    replaceRound(store)
    const [again] = fresh(store).filter(id => store.tasks.get(id)!.spec.ContainerSpec.Image === 'nginx:alpine')
    store.report(again!, 'failed', { nodeId: 'a' })
    const r = store.step()
    expect(r.rollback).toBeUndefined()
    expect(store.service.updateStatus).toMatchObject({ state: 'rollback_paused', message: `rollback paused due to failure or early termination of task ${again}` })
  })

  it('MaxFailureRatio: acts only when more than that fraction of the slots failed, a slot counting once', () => {
    const store = runningService(4)
    updateTo(store, 'nginx:1.27', { Parallelism: 0, MaxFailureRatio: 0.5 })
    replaceRound(store)
    const [s1, s2, s3] = fresh(store).map(id => store.tasks.get(id)!)
    store.report(s1!.id, 'failed', { nodeId: 'a' })
    store.step()
    store.nowMs += 6 * SECOND // the restart delay of slot 1's task
    store.step()
    const retry = store.running().find(t => t.slot === s1!.slot && t.status.state === 'new')!
    store.report(retry.id, 'failed', { nodeId: 'a' }) // slot 1 again: still one slot
    store.report(s2!.id, 'failed', { nodeId: 'a' })
    store.step()
    expect(store.service.updateStatus?.state).toBe('updating') // 2 of 4 = 0.5, not more
    store.report(s3!.id, 'failed', { nodeId: 'a' })
    store.step()
    expect(store.service.updateStatus?.state).toBe('paused')
  })

  it('a task that ends after Monitor is not a failure of the update', () => {
    const store = runningService(2)
    updateTo(store, 'nginx:1.27', { Monitor: 1e9 })
    replaceRound(store)
    const [first] = fresh(store)
    runAll(store)
    store.nowMs += 2 * SECOND
    store.report(first!, 'failed')
    store.step()
    expect(store.service.updateStatus?.state).toBe('updating')
  })
})

describe('rebalance', () => {
  /** Four replicas all on node a, then node b available. */
  function lopsided (rebalance: 'label' | 'request', delayNs = 0): Store {
    const store = new Store(service({ replicas: 4 }), [node('a')])
    store.step()
    runAll(store, 'a')
    store.setNode('b', {})
    const labels: Record<string, string> = rebalance === 'label' ? { [REBALANCE_LABEL]: 'true' } : {}
    store.service = {
      ...store.service,
      spec: { ...store.service.spec, Labels: labels, UpdateConfig: { Delay: delayNs } },
      rebalance: rebalance === 'request' ? { requestedAtMs: store.nowMs } : null
    }
    return store
  }

  /** The scheduler's spread: an unplaced task goes to the node with fewest of the service's live tasks. */
  function schedule (store: Store): void {
    for (const t of store.running()) {
      if (t.nodeId !== null) continue
      const count = (n: string): number => store.running().filter(x => x.nodeId === n).length
      store.report(t.id, 'running', { nodeId: count('a') <= count('b') ? 'a' : 'b' })
    }
  }

  function spread (store: Store): Record<string, number> {
    const out: Record<string, number> = {}
    for (const t of store.running()) if (t.status.state === 'running') out[t.nodeId!] = (out[t.nodeId!] ?? 0) + 1
    return out
  }

  it('does nothing without the label or a request', () => {
    const store = new Store(service({ replicas: 4 }), [node('a')])
    store.step()
    runAll(store, 'a')
    store.setNode('b', {})
    expect(store.step().create).toEqual([])
  })

  it('moves one task at a time, start-first, until the spread is even; never fewer than Replicas running', () => {
    const store = lopsided('request')
    let moves = 0
    for (let i = 0; i < 20 && store.service.rebalance !== null; i++) {
      const r = store.step()
      expect(r.create.length).toBeLessThanOrEqual(1)
      moves += r.create.length
      expect(store.running().filter(t => t.status.state === 'running').length).toBeGreaterThanOrEqual(4)
      schedule(store)
    }
    expect(moves).toBe(2)
    expect(spread(store)).toEqual({ a: 2, b: 2 })
    expect(store.service.rebalance).toBeNull()
    expect(store.running().map(t => t.slot).sort()).toEqual([1, 2, 3, 4])
    expect(store.step()).toEqual({ create: [], update: [], delete: [], nextWakeMs: null })
  })

  it('waits UpdateConfig.Delay after a moved task runs before the next move', () => {
    const store = lopsided('label', 5e9)
    expect(store.step()).toMatchObject({ create: [], nextWakeMs: store.nowMs + 5 * SECOND }) // the tasks have just started
    store.nowMs += 5 * SECOND
    expect(store.step().create).toHaveLength(1)
    schedule(store)
    store.step() // the old task stops
    const r = store.step()
    expect(r.create).toEqual([])
    expect(r.nextWakeMs).toBe(store.nowMs + 5 * SECOND)
    store.nowMs += 5 * SECOND
    expect(store.step().create).toHaveLength(1)
  })

  it('with the label, keeps the service balanced when a node comes back later', () => {
    const store = lopsided('label')
    for (let i = 0; i < 10; i++) { store.step(); schedule(store) }
    expect(spread(store)).toEqual({ a: 2, b: 2 })
    store.setNode('c', {})
    for (let i = 0; i < 10; i++) {
      store.step()
      for (const t of store.running()) if (t.nodeId === null) store.report(t.id, 'running', { nodeId: 'c' })
    }
    const counts = Object.values(spread(store)).sort()
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1)
    expect(counts.reduce((a, b) => a + b, 0)).toBe(4)
  })
})
