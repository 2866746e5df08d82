import { describe, expect, it } from 'vitest'
import type { DesiredState, TaskState } from '../../../../src/tasks/executor/index.js'
import { historyToDelete, orchestratorConfig, type HistoryTask } from '../../../../src/tasks/orchestrator/index.js'
import { node, SECOND, service, Store } from './helpers.js'

function h (id: string, createdAtMs: number, state: TaskState, desiredState: DesiredState = 'shutdown', version: number | null = createdAtMs): HistoryTask {
  return { id, version, createdAtMs, desiredState, state }
}

describe('historyToDelete', () => {
  const slot = [
    h('e', 5, 'running', 'running'),
    h('a', 1, 'failed'),
    h('c', 3, 'shutdown'),
    h('b', 2, 'rejected'),
    h('d', 4, 'complete')
  ]
  it.each<[string, readonly HistoryTask[], number, boolean, string[]]>([
    ['within the limit', slot, 5, false, []],
    ['one over', slot, 4, false, ['a']],
    ['limit 2, oldest first', slot, 2, false, ['a', 'b', 'c']],
    ['limit 0 keeps the live task', slot, 0, false, ['a', 'b', 'c', 'd']],
    ['negative: keep all', slot, -1, false, []],
    ['removed slot: every stopped task', slot, 5, true, ['a', 'b', 'c', 'd']],
    ['a still-stopping task is kept', [h('a', 1, 'running'), h('b', 2, 'failed'), h('c', 3, 'new', 'running', null)], 1, false, ['b']],
    ['a task shut down before reaching a node goes', [h('a', 1, 'pending'), h('b', 2, 'assigned')], 0, false, ['a']],
    ['ties broken by version, then ID', [h('y', 1, 'failed', 'shutdown', 7), h('x', 1, 'failed', 'shutdown', 7), h('w', 1, 'failed', 'shutdown', 3)], 1, false, ['w', 'x']]
  ])('%s', (_name, tasks, limit, removed, expected) => {
    expect(historyToDelete(tasks, limit, removed).map(t => t.id)).toEqual(expected)
  })
})

describe('task history retention', () => {
  /** Fail slot 1's task `n` times, one second apart, reconciling after each; returns what was deleted, in order. */
  function churn (store: Store, n: number): string[][] {
    const deleted: string[][] = []
    for (let i = 0; i < n; i++) {
      store.nowMs += SECOND
      const t = store.inSlot(1)
      if (t.status.state === 'new') store.report(t.id, 'running', { nodeId: 'a' })
      store.report(t.id, 'failed', { exitCode: 1 })
      deleted.push(store.step().delete.map(d => d.id))
      const limit = store.config?.taskHistoryRetentionLimit ?? 5
      if (limit >= 0) expect(store.list().filter(x => x.slot === 1).length).toBeLessThanOrEqual(limit)
    }
    return deleted
  }

  it('keeps at most 5 tasks per slot (the live one included), deleting the oldest', () => {
    const store = new Store(service({ replicas: 2, restart: { Delay: 0 } }), [node('a')])
    store.step()
    const deleted = churn(store, 7)
    expect(deleted).toEqual([[], [], [], [], ['t1'], ['t3'], ['t4']])
    expect(store.list().filter(t => t.slot === 1).map(t => t.id)).toEqual(['t5', 't6', 't7', 't8', 't9'])
    expect(store.list().filter(t => t.slot === 2)).toHaveLength(1)
  })

  it.each<[number, number]>([[1, 1], [3, 3], [-1, 7]])('limit %d keeps %d', (limit, kept) => {
    const store = new Store(service({ replicas: 1, restart: { Delay: 0 } }), [node('a')])
    store.config = orchestratorConfig({ taskHistoryRetentionLimit: limit })
    store.step()
    churn(store, 6)
    expect(store.list()).toHaveLength(kept)
    expect(store.running()).toHaveLength(1)
  })

  it('keeps history per node for a global service', () => {
    const store = new Store(service({ global: true, restart: { Delay: 0 } }), [node('a'), node('b')])
    store.config = orchestratorConfig({ taskHistoryRetentionLimit: 2 })
    store.step()
    for (let i = 0; i < 4; i++) {
      store.nowMs += SECOND
      store.report(store.onNode('a').id, 'failed')
      store.step()
    }
    expect(store.list().filter(t => t.nodeId === 'a')).toHaveLength(2)
    expect(store.list().filter(t => t.nodeId === 'b')).toHaveLength(1)
  })
})
