import { describe, expect, it } from 'vitest'
import { DEFAULT_ORPHANED_TASK_AFTER_MS, orchestratorConfig, type RestartCondition } from '../../../../src/tasks/orchestrator/index.js'
import { node, SECOND, service, Store } from './helpers.js'

const HOUR = 3600 * SECOND

/** Two replicas running on nodes a and b. */
function twoReplicas (Condition: RestartCondition = 'any', MaxAttempts = 0): Store {
  const store = new Store(service({ replicas: 2, restart: { Condition, MaxAttempts } }), [node('a'), node('b')])
  store.step()
  store.report(store.inSlot(1).id, 'running', { nodeId: 'a' })
  store.report(store.inSlot(2).id, 'running', { nodeId: 'b' })
  return store
}

describe('replicated tasks on down, drained or removed nodes', () => {
  it.each<[string, (s: Store) => void, number | null]>([
    // name, change to node b, the replacement's delay
    ['down', s => s.setNode('b', { ready: false, downSinceMs: s.nowMs }), 5 * SECOND],
    ['drained (no delay, as SwarmKit)', s => s.setNode('b', { availability: 'drain' }), null],
    ['removed', s => s.nodes.delete('b'), 5 * SECOND]
  ])('node %s: the task is shut down and its slot gets a replacement', (_name, change, delayMs) => {
    const store = twoReplicas()
    const old = store.inSlot(2)
    change(store)
    const r = store.step()
    expect(r.create.map(t => [t.slot, t.nodeId, t.delayUntilMs, t.restartTimesMs])).toEqual([[2, null, delayMs === null ? null : store.nowMs + delayMs, []]])
    // Lost with a down or removed node, the task is to be removed when the node comes back; drained, only stopped.
    const lost = _name.startsWith('drained') ? 'shutdown' : 'remove'
    const shutdown = { id: old.id, version: old.version, updatedAtMs: store.nowMs, desiredState: lost }
    // A removed node's task is orphaned at once: no one will report on it again. It stays as slot 2's history.
    const orphaned = { status: { state: 'orphaned', timestampMs: store.nowMs, message: 'node b was removed', err: null, exitCode: null } }
    expect(r.update).toEqual([store.nodes.has('b') ? shutdown : { ...shutdown, ...orphaned }])
    expect(r.delete).toEqual([])
    expect(store.inSlot(1).nodeId).toBe('a')
    expect(store.step().create).toEqual([])
  })

  it.each<RestartCondition>(['none', 'on-failure'])('reschedules whatever the condition (%s) and without counting against MaxAttempts', Condition => {
    const store = twoReplicas(Condition, 1)
    store.setNode('b', { availability: 'drain' })
    const r = store.step()
    expect(r.create.map(t => [t.slot, t.restartTimesMs])).toEqual([[2, []]])
  })

  it('orphans a down node\'s tasks after orphanedTaskAfterMs (24 h), asking to be woken then', () => {
    const store = twoReplicas()
    const downAt = store.nowMs
    const old = store.inSlot(2)
    store.setNode('b', { ready: false, downSinceMs: downAt })
    const first = store.step()
    expect(first.nextWakeMs).toBe(downAt + 5 * SECOND)
    store.nowMs = downAt + 5 * SECOND
    expect(store.step().nextWakeMs).toBe(downAt + DEFAULT_ORPHANED_TASK_AFTER_MS)
    store.nowMs = downAt + 24 * HOUR
    const version = store.tasks.get(old.id)!.version
    const r = store.step()
    expect(r.update).toEqual([{
      id: old.id, version, updatedAtMs: store.nowMs,
      status: { state: 'orphaned', timestampMs: store.nowMs, message: 'node b is down', err: null, exitCode: null }
    }])
    expect(r.create).toEqual([])
    expect(r.nextWakeMs).toBeNull()
    // Node b comes back: nothing more to do (its old task stays as slot 2's history).
    store.setNode('b', { ready: true, downSinceMs: null })
    expect(store.step()).toEqual({ create: [], update: [], delete: [], nextWakeMs: null })
  })

  it('uses the configured orphaning delay, and never orphans when the down time is unknown', () => {
    const store = twoReplicas()
    store.config = orchestratorConfig({ orphanedTaskAfterMs: 0 })
    store.setNode('b', { ready: false, downSinceMs: null })
    store.nowMs += 48 * HOUR
    store.step()
    expect(store.list().filter(t => t.status.state === 'orphaned')).toEqual([])
    store.setNode('b', { ready: false, downSinceMs: store.nowMs })
    const r = store.step()
    expect(r.update.map(u => u.status?.state)).toEqual(['orphaned'])
  })

  it('leaves terminal and unassigned tasks on a down node as they are', () => {
    const store = twoReplicas()
    const done = store.inSlot(2)
    store.report(done.id, 'complete')
    store.step()
    store.setNode('b', { ready: false, downSinceMs: store.nowMs })
    store.nowMs += 25 * HOUR
    const r = store.step()
    expect(r.update.filter(u => u.id === done.id)).toEqual([])
  })

  it.each([{ taskHistoryRetentionLimit: 1.5 }, { orphanedTaskAfterMs: -1 }])('orchestratorConfig refuses %j', init => {
    expect(() => orchestratorConfig(init)).toThrow(/invalid/)
  })
})
