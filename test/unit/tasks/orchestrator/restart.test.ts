import { describe, expect, it } from 'vitest'
import { FlotillaError } from '../../../../src/membership/errors.js'
import type { TaskState } from '../../../../src/tasks/executor/index.js'
import {
  restartPolicy, restartTimesAfter, shouldRestart, type RestartCondition, type RestartPolicy, type TaskObject
} from '../../../../src/tasks/orchestrator/index.js'
import { catchError } from '../../../support/errors.js'
import { node, NS_PER_MS, SECOND, service, spec, Store } from './helpers.js'

/** Run slot `slot`'s task on node a and end it in `state`. */
function end (store: Store, slot: number, state: TaskState, exitCode?: number): TaskObject {
  const t = store.inSlot(slot)
  if (t.status.state === 'new') store.report(t.id, 'running', { nodeId: 'a' })
  store.report(t.id, state, exitCode !== undefined ? { exitCode } : {})
  return store.tasks.get(t.id)!
}

function replicated (restart: RestartPolicy, replicas = 1): Store {
  const store = new Store(service({ replicas, restart }), [node('a')])
  store.step()
  return store
}

describe('restart policy: conditions', () => {
  it.each<[RestartCondition, TaskState, number | undefined, boolean]>([
    ['none', 'complete', 0, false],
    ['none', 'failed', 1, false],
    ['none', 'rejected', undefined, false],
    ['on-failure', 'complete', 0, false],
    ['on-failure', 'failed', 137, true],
    ['on-failure', 'rejected', undefined, true],
    ['any', 'complete', 0, true],
    ['any', 'failed', 1, true],
    ['any', 'rejected', undefined, true]
  ])('%s after %s (exit %s): replaced %s', (Condition, state, exitCode, replaced) => {
    const store = replicated({ Condition })
    const old = end(store, 1, state, exitCode)
    const r = store.step()
    // The ended task is always asked to stop (SwarmKit's Restart sets desired state first).
    expect(r.update).toEqual([{ id: old.id, version: old.version, updatedAtMs: store.nowMs, desiredState: 'shutdown' }])
    expect(r.create.map(t => [t.slot, t.name, t.nodeId])).toEqual(replaced ? [[1, 'web.1', null]] : [])
    // Either way the slot is settled: a declined slot is held, not refilled.
    expect(store.step()).toEqual({ create: [], update: [], delete: [], nextWakeMs: replaced ? store.nowMs + 5 * SECOND : null })
  })

  it('revives a held slot when the service changes (the updater\'s job in SwarmKit)', () => {
    const store = replicated({ Condition: 'none' }, 2)
    end(store, 2, 'complete', 0)
    expect(store.step().create).toEqual([])
    store.nowMs += 3600 * SECOND
    expect(store.step().create).toEqual([])
    store.updateService({ replicas: 2, restart: { Condition: 'none' } })
    const r = store.step()
    expect(r.create.map(t => [t.slot, t.delayUntilMs, t.specVersion])).toEqual([[2, null, store.service.version]])
  })

  it('a held slot counts towards Replicas on scale-up', () => {
    const store = replicated({ Condition: 'none' }, 2)
    end(store, 1, 'failed', 1)
    store.step()
    // Held slots are only held under the version they ended in: scaling revives them too.
    store.updateService({ replicas: 3, restart: { Condition: 'none' } })
    expect(store.step().create.map(t => t.slot)).toEqual([1, 3])
  })
})

describe('restart policy: delay', () => {
  it.each<[string, number | undefined, number | null]>([
    ['default 5 s', undefined, 5 * SECOND],
    ['2 s', 2000 * NS_PER_MS, 2 * SECOND],
    ['0: none', 0, null],
    ['1 ns rounds up to 1 ms', 1, 1]
  ])('delays the replacement: %s', (_name, Delay, delayMs) => {
    const store = replicated(Delay === undefined ? {} : { Delay })
    end(store, 1, 'failed', 1)
    const r = store.step()
    expect(r.create.map(t => t.delayUntilMs)).toEqual([delayMs === null ? null : store.nowMs + delayMs])
    expect(r.nextWakeMs).toBe(delayMs === null ? null : store.nowMs + delayMs)
  })

  it('a replacement that ends before its delayed start is restarted only once that start is due', () => {
    const store = replicated({ Delay: 10_000 * NS_PER_MS })
    end(store, 1, 'failed', 1)
    store.step()
    const replacement = store.inSlot(1)
    expect(replacement.delayUntilMs).toBe(store.nowMs + 10 * SECOND)
    // Rejected during prepare, 1 s later: nothing yet, come back when its start was due.
    store.nowMs += SECOND
    store.report(replacement.id, 'rejected')
    const waiting = store.step()
    expect(waiting).toEqual({ create: [], update: [], delete: [], nextWakeMs: replacement.delayUntilMs })
    store.nowMs = replacement.delayUntilMs!
    const r = store.step()
    expect(r.update.map(u => [u.id, u.desiredState])).toEqual([[replacement.id, 'shutdown']])
    expect(r.create.map(t => [t.slot, t.delayUntilMs])).toEqual([[1, store.nowMs + 10 * SECOND]])
  })
})

describe('restart policy: MaxAttempts within Window (virtual time)', () => {
  /** Fail slot 1's task at each of `atMs` (offsets from the start), reconciling after each; the replacements made. */
  function failAt (restart: RestartPolicy, atMs: number[]): boolean[] {
    const store = replicated({ Delay: 0, ...restart })
    const start = store.nowMs
    return atMs.map(at => {
      store.nowMs = start + at
      end(store, 1, 'failed', 1)
      return store.step().create.length === 1
    })
  }

  it.each<[string, RestartPolicy, number[], boolean[]]>([
    ['no limit', {}, [0, 1, 2, 3, 4, 5].map(s => s * SECOND), [true, true, true, true, true, true]],
    ['3 attempts, no window', { MaxAttempts: 3 }, [0, 1, 2, 3, 4].map(s => s * SECOND), [true, true, true, false]],
    ['1 attempt, no window', { MaxAttempts: 1 }, [0, 100].map(s => s * SECOND), [true, false]],
    ['2 in 60 s, failing each second', { MaxAttempts: 2, Window: 60_000 * NS_PER_MS }, [0, 1, 2].map(s => s * SECOND), [true, true, false]],
    // Restarts at 0 s and 40 s; the failure at 80 s sees only the one at 40 s within (20 s, 80 s).
    ['2 in 60 s, failing every 40 s', { MaxAttempts: 2, Window: 60_000 * NS_PER_MS }, [0, 40, 80, 120, 160].map(s => s * SECOND), [true, true, true, true, true]],
    // Restarts at 0 s and 10 s; the failure at 59 s sees both within (−1 s, 59 s): held.
    ['2 in 60 s, third failure inside the window', { MaxAttempts: 2, Window: 60_000 * NS_PER_MS }, [0, 10, 59].map(s => s * SECOND), [true, true, false]],
    // … and at 61 s only the one at 10 s counts.
    ['2 in 60 s, third failure after the window', { MaxAttempts: 2, Window: 60_000 * NS_PER_MS }, [0, 10, 61].map(s => s * SECOND), [true, true, true]]
  ])('%s', (_name, restart, atMs, expected) => {
    const attempts = expected.length
    const made = failAt(restart, atMs.slice(0, attempts))
    expect(made).toEqual(expected)
  })

  it('the history is carried from task to replacement, capped to MaxAttempts', () => {
    const store = replicated({ Delay: 0, MaxAttempts: 2, Window: 3600_000 * NS_PER_MS })
    const t0 = store.nowMs
    end(store, 1, 'failed', 1)
    store.step()
    expect(store.inSlot(1).restartTimesMs).toEqual([t0])
    store.nowMs += SECOND
    end(store, 1, 'failed', 1)
    store.step()
    expect(store.inSlot(1).restartTimesMs).toEqual([t0, t0 + SECOND])
  })

  it('counts restarts per spec version: a task from an older version gets a fresh replacement', () => {
    const store = replicated({ Delay: 0, MaxAttempts: 1 })
    end(store, 1, 'failed', 1)
    store.step()
    store.updateService({ replicas: 1, restart: { Delay: 0, MaxAttempts: 1 } })
    // The running task is still of the old version, its one attempt spent: SwarmKit's updater would
    // replace it; here it gets a fresh task of the new version, with a clean history.
    store.nowMs += SECOND
    end(store, 1, 'failed', 1)
    expect(store.step().create.map(t => [t.restartTimesMs, t.specVersion, t.delayUntilMs])).toEqual([[[], store.service.version, null]])
    store.nowMs += SECOND
    end(store, 1, 'failed', 1)
    expect(store.step().create.map(t => t.restartTimesMs)).toEqual([[store.nowMs]])
    store.nowMs += SECOND
    end(store, 1, 'failed', 1)
    expect(store.step().create).toEqual([])
    expect(store.step()).toEqual({ create: [], update: [], delete: [], nextWakeMs: null })
  })
})

describe('restartPolicy / shouldRestart', () => {
  it('fills Docker\'s defaults', () => {
    expect(restartPolicy(spec())).toEqual({ condition: 'any', delayMs: 5000, maxAttempts: 0, windowMs: 0 })
    expect(restartPolicy(spec({ restart: { Condition: 'on-failure', Delay: 1.5e9, MaxAttempts: 3, Window: 2e9 } })))
      .toEqual({ condition: 'on-failure', delayMs: 1500, maxAttempts: 3, windowMs: 2000 })
  })

  it.each<RestartPolicy>([{ Delay: -1 }, { MaxAttempts: -1 }, { MaxAttempts: 1.5 }, { Window: Number.POSITIVE_INFINITY }])('refuses %j', restart => {
    const err = catchError(() => restartPolicy(spec({ restart })))
    expect(err).toBeInstanceOf(FlotillaError)
    expect((err as FlotillaError).code).toBe('invalid-argument')
  })

  it('counts restarts strictly inside (end − Window, end)', () => {
    const policy = restartPolicy(spec({ restart: { MaxAttempts: 1, Window: 10e9 } }))
    const at = (restartTimesMs: number[]): boolean => shouldRestart({
      id: 't', serviceId: 's', name: 'web.1', slot: 1, nodeId: 'a', desiredState: 'running', specVersion: 1, delayUntilMs: null,
      restartTimesMs, runningAtMs: null, createdAtMs: 0, updatedAtMs: 0, version: 1,
      status: { state: 'failed', timestampMs: 100_000, message: '', err: 'x', exitCode: 1 }
    }, policy)
    expect(at([])).toBe(true)
    expect(at([90_000])).toBe(true) // exactly at the lookback: outside
    expect(at([90_001])).toBe(false)
    expect(at([100_000])).toBe(true) // not before the end: ignored
  })

  it('restartTimesAfter keeps nothing when MaxAttempts is 0', () => {
    const policy = restartPolicy(spec())
    const old = { specVersion: 1, restartTimesMs: [1, 2] } as unknown as TaskObject
    expect(restartTimesAfter(old, policy, 1, 5, true)).toEqual([])
  })
})
