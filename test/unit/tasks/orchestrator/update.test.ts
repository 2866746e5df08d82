import { describe, expect, it } from 'vitest'
import { OLD_TASK_TIMEOUT_MS, isTaskUpToDate, type ServiceObject } from '../../../../src/tasks/orchestrator/index.js'
import { SECOND, Store, node, service } from './helpers.js'

/** Bring every task meant to run to running, on node `a` when it has none. */
function runAll (store: Store): void {
  for (const t of store.running()) if (t.status.state !== 'running') store.report(t.id, 'running', t.nodeId === null ? { nodeId: 'a' } : {})
}

/** A new version of the service with another image (and `parallelism`, when given). */
function withImage (s: ServiceObject, image: string, parallelism?: number, delayNs?: number, updatedAtMs = s.updatedAtMs): ServiceObject {
  return {
    ...s,
    version: s.version + 100,
    updatedAtMs,
    spec: {
      ...s.spec,
      TaskTemplate: { ...s.spec.TaskTemplate, ContainerSpec: { Image: image } },
      ...(parallelism !== undefined ? { UpdateConfig: { Parallelism: parallelism, ...(delayNs !== undefined ? { Delay: delayNs } : {}) } } : {})
    }
  }
}

describe('the updater: out-of-date tasks replaced in place, Parallelism in flight', () => {
  it('replaces one slot at a time by default, the next once the last replacement runs', () => {
    const store = new Store(service({ replicas: 3 }), [node('a')])
    store.step()
    runAll(store)
    store.service = withImage(store.service, 'nginx:1.27')
    const images = (): string[] => store.running().map(t => t.spec.ContainerSpec.Image).sort()
    for (let round = 1; round <= 3; round++) {
      const r = store.step()
      // Stop-first: the old task is asked to stop; its slot is refilled once it has stopped.
      expect(r.create).toEqual([])
      expect(r.update.map(u => u.desiredState)).toEqual(['shutdown'])
      expect(store.step().create).toEqual([]) // its node has not said it stopped
      store.settle()
      expect(store.step().create).toHaveLength(1)
      expect(store.step().create).toEqual([]) // nothing more while the replacement is on its way
      runAll(store)
    }
    expect(images()).toEqual(['nginx:1.27', 'nginx:1.27', 'nginx:1.27'])
    expect(store.running().every(t => isTaskUpToDate(t, store.service))).toBe(true)
    // Done replacing: the update completes once the last replacement has run for Monitor (5 s).
    expect(store.step()).toEqual({ create: [], update: [], delete: [], nextWakeMs: store.nowMs + 5 * SECOND })
    store.nowMs += 5 * SECOND
    expect(store.step().updateStatus).toMatchObject({ state: 'completed', message: 'update completed', completedAtMs: store.nowMs })
    expect(store.step()).toEqual({ create: [], update: [], delete: [], nextWakeMs: null })
  })

  it('stop-first: makes the replacement once the old task stopped, or OLD_TASK_TIMEOUT_MS after asking if it never says', () => {
    const store = new Store(service({ replicas: 1 }), [node('a')])
    store.step()
    runAll(store)
    store.service = withImage(store.service, 'nginx:1.27')
    const asked = store.nowMs
    const r = store.step()
    expect(r.create).toEqual([])
    expect(r.nextWakeMs).toBe(asked + OLD_TASK_TIMEOUT_MS)
    store.nowMs += OLD_TASK_TIMEOUT_MS - 1
    expect(store.step().create).toEqual([]) // never two at once
    store.nowMs += 1
    expect(store.step().create).toHaveLength(1) // its node never said: start anyway, as SwarmKit
  })

  it('stop-first: does not wait for an old task whose node is down', () => {
    const store = new Store(service({ replicas: 2 }), [node('a'), node('b')])
    store.step()
    store.report(store.inSlot(1).id, 'running', { nodeId: 'a' })
    store.report(store.inSlot(2).id, 'running', { nodeId: 'b' })
    store.service = withImage(store.service, 'nginx:1.27', 2)
    store.setNode('b', { ready: false, downSinceMs: store.nowMs })
    const r = store.step()
    // Slot 2's task went with its node: replaced at once (restart supervisor); slot 1's waits for a.
    expect(r.create.map(t => t.slot)).toEqual([2])
    store.settle()
    expect(store.step().create.map(t => t.slot)).toEqual([1])
  })

  it('re-creates every task for a ForceUpdate bump alone (`service update --force`)', () => {
    const store = new Store(service({ replicas: 2 }), [node('a')])
    store.step()
    runAll(store)
    const before = store.running().map(t => t.id)
    const s = store.service
    store.service = { ...s, version: s.version + 1, spec: { ...s.spec, TaskTemplate: { ...s.spec.TaskTemplate, ForceUpdate: 1 }, UpdateConfig: { Parallelism: 0 } } }
    expect(store.step().update.map(u => u.desiredState)).toEqual(['shutdown', 'shutdown'])
    store.settle()
    const r = store.step()
    expect(r.create.map(t => [t.slot, t.spec.ForceUpdate])).toEqual([[1, 1], [2, 1]])
    expect(store.running().some(t => before.includes(t.id))).toBe(false)
  })

  it('replaces every slot at once with Parallelism 0, and none for a scale', () => {
    const store = new Store(service({ replicas: 4 }), [node('a')])
    store.step()
    runAll(store)
    store.service = { ...store.service, version: store.service.version + 1, spec: { ...store.service.spec, Mode: { Replicated: { Replicas: 5 } } } }
    expect(store.step().update).toEqual([])
    runAll(store)
    store.service = withImage(store.service, 'nginx:1.27', 0)
    expect(store.step().update).toHaveLength(5)
    store.settle()
    expect(store.step().create.map(t => t.slot)).toEqual([1, 2, 3, 4, 5])
  })

  it('replaces a global service\'s task on its own node', () => {
    const store = new Store(service({ global: true }), [node('a'), node('b')])
    store.step()
    runAll(store)
    store.service = withImage(store.service, 'nginx:1.27', 2)
    expect(store.step().update).toHaveLength(2)
    store.settle()
    const r = store.step()
    expect(r.create.map(t => t.nodeId)).toEqual(['a', 'b'])
    expect(r.create.every(t => t.spec.ContainerSpec.Image === 'nginx:1.27')).toBe(true)
  })

  it('waits UpdateConfig.Delay after a batch reached running before the next, and asks to be woken then', () => {
    const store = new Store(service({ replicas: 3 }), [node('a')])
    store.step()
    runAll(store)
    store.service = withImage(store.service, 'nginx:1.27', 1, 10e9, store.nowMs)
    store.step()
    store.settle()
    expect(store.step().create).toHaveLength(1)
    store.nowMs += 1000
    runAll(store) // the first replacement runs at nowMs
    const startedMs = store.nowMs
    const waiting = store.step()
    expect(waiting.create).toEqual([])
    expect(waiting.nextWakeMs).toBe(startedMs + 10_000)
    store.nowMs = startedMs + 10_000
    expect(store.step().update.map(u => u.desiredState)).toEqual(['shutdown']) // the next batch begins
  })

  it('start-first: a replacement starts beside the old task, which stops once it runs; never fewer than Replicas running', () => {
    const store = new Store(service({ replicas: 3 }), [node('a')])
    store.step()
    runAll(store)
    const base = withImage(store.service, 'nginx:1.27', 1)
    store.service = { ...base, spec: { ...base.spec, UpdateConfig: { Parallelism: 1, Order: 'start-first' } } }
    const runningCount = (): number => store.list().filter(t => t.status.state === 'running' && t.desiredState === 'running').length
    const first = store.step()
    expect(first.create).toHaveLength(1)
    expect(first.update).toEqual([]) // nothing stops before its replacement runs
    for (let i = 0; i < 10; i++) {
      expect(runningCount()).toBeGreaterThanOrEqual(3)
      runAll(store)
      expect(runningCount()).toBeLessThanOrEqual(4) // Parallelism 1: one extra at most
      const r = store.step()
      expect(r.create.length).toBeLessThanOrEqual(1)
      expect(runningCount()).toBeGreaterThanOrEqual(3)
    }
    expect(runningCount()).toBe(3)
    expect(store.running().every(t => isTaskUpToDate(t, store.service))).toBe(true)
  })

  it('start-first on a global service keeps the old task until its replacement on the node runs', () => {
    const store = new Store(service({ global: true }), [node('a')])
    store.step()
    runAll(store)
    const base = withImage(store.service, 'nginx:1.27', 1)
    store.service = { ...base, spec: { ...base.spec, UpdateConfig: { Parallelism: 1, Order: 'start-first' } } }
    const old = store.onNode('a')
    const r = store.step()
    expect(r.create.map(t => t.nodeId)).toEqual(['a'])
    expect(r.update).toEqual([])
    expect(store.step()).toEqual({ create: [], update: [], delete: [], nextWakeMs: null })
    runAll(store)
    const stop = store.step()
    expect(stop.update).toEqual([expect.objectContaining({ id: old.id, desiredState: 'shutdown' })])
  })
})
