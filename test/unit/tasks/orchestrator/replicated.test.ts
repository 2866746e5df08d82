import { describe, expect, it } from 'vitest'
import { FlotillaError } from '../../../../src/membership/errors.js'
import { reconcile } from '../../../../src/tasks/orchestrator/index.js'
import { catchError } from '../../../support/errors.js'
import { node, service, Store } from './helpers.js'

describe('replicated services: scaling', () => {
  it('creates Replicas tasks in slots 1..N, named <service>.<slot>, meant to run, IDs drawn in slot order', () => {
    const store = new Store(service({ replicas: 3 }, 7))
    const r = store.step()
    expect(r.create).toEqual([1, 2, 3].map(slot => ({
      id: `t${slot}`,
      serviceId: 'svc',
      serviceName: 'web',
      name: `web.${slot}`,
      slot,
      nodeId: null,
      desiredState: 'running',
      status: { state: 'new', timestampMs: store.nowMs, message: 'created', err: null, exitCode: null },
      specVersion: 7,
      spec: store.service.spec.TaskTemplate,
      ports: [],
      delayUntilMs: null,
      restartTimesMs: [], runningAtMs: null,
      createdAtMs: store.nowMs,
      updatedAtMs: store.nowMs
    })))
    expect(r.update).toEqual([])
    expect(r.delete).toEqual([])
    expect(r.nextWakeMs).toBeNull()
    // Applied, the next pass has nothing to do.
    expect(store.step()).toEqual({ create: [], update: [], delete: [], nextWakeMs: null })
  })

  it.each<[string, number[], number[], number[]]>([
    // name, replicas in turn, slots meant to run at the end, slots shut down by the last step (in order)
    ['0 → 3 → 1', [0, 3, 1], [1], [2, 3]],
    ['0 → 3 → 2', [0, 3, 2], [1, 2], [3]],
    ['0 → 3 → 0', [0, 3, 0], [], [1, 2, 3]],
    ['0 → 3 → 1 → 3', [0, 3, 1, 3], [1, 2, 3], []],
    ['0 → 5 → 3 → 4', [0, 5, 3, 4], [1, 2, 3, 4], []]
  ])('scales %s, shutting down the highest slots first', (_name, steps, slots, shutDown) => {
    const store = new Store(service({ replicas: steps[0]! }), [node('a')])
    let shut: number[] = []
    for (const [i, replicas] of steps.entries()) {
      if (i > 0) store.updateService({ replicas })
      const before = new Map(store.list().map(t => [t.id, t]))
      const r = store.step()
      expect(r.update.every(u => u.desiredState === 'shutdown' && u.status === undefined)).toBe(true)
      shut = r.update.map(u => before.get(u.id)!.slot!)
      for (const t of store.running()) if (t.status.state === 'new') store.report(t.id, 'running', { nodeId: 'a' })
    }
    expect(store.runningSlots()).toEqual(slots)
    expect(shut).toEqual(shutDown)
    expect(store.step()).toEqual({ create: [], update: [], delete: [], nextWakeMs: null })
  })

  it('shuts down the highest slots even when lower ones are not running yet', () => {
    const store = new Store(service({ replicas: 3 }), [node('a')])
    store.step()
    store.report(store.inSlot(1).id, 'pending')
    store.report(store.inSlot(2).id, 'assigned', { nodeId: 'a' })
    store.report(store.inSlot(3).id, 'running', { nodeId: 'a' })
    store.updateService({ replicas: 1 })
    const r = store.step()
    expect(r.update.map(u => [store.tasks.get(u.id)!.slot, u.desiredState])).toEqual([[2, 'shutdown'], [3, 'shutdown']])
    expect(store.runningSlots()).toEqual([1])
  })

  it('deletes a scaled-away slot\'s tasks once they have stopped (or never reached a node)', () => {
    const store = new Store(service({ replicas: 3 }), [node('a')])
    store.step()
    store.report(store.inSlot(2).id, 'running', { nodeId: 'a' })
    const slot2 = store.inSlot(2).id
    const slot3 = store.inSlot(3).id
    store.updateService({ replicas: 1 })
    const r = store.step()
    // Slot 3's task never reached a node: it goes at once. Slot 2's is still stopping.
    expect(r.delete.map(d => d.id)).toEqual([slot3])
    expect(r.update.map(u => u.id)).toEqual([slot2])
    store.report(slot2, 'shutdown')
    expect(store.step().delete.map(d => d.id)).toEqual([slot2])
    expect(store.list().map(t => t.slot)).toEqual([1])
  })

  it('fills the lowest free slots first', () => {
    const store = new Store(service({ replicas: 3 }))
    store.step()
    // Slot 2 is gone from the store (a crash between writes, say): the scale-up refills 2, then 4.
    store.tasks.delete(store.inSlot(2).id)
    store.updateService({ replicas: 4 })
    expect(store.step().create.map(t => t.slot)).toEqual([2, 4])
    expect(store.runningSlots()).toEqual([1, 2, 3, 4])
  })

  it('asks a task without a slot to stop, and deletes it once stopped', () => {
    const store = new Store(service({ replicas: 1 }), [node('a')])
    store.step()
    const t = store.inSlot(1)
    store.tasks.set('stray', { ...t, id: 'stray', slot: null, nodeId: 'a', status: { ...t.status, state: 'running' } })
    const r = store.step()
    expect(r.update.map(u => [u.id, u.desiredState])).toEqual([['stray', 'shutdown']])
    expect(r.create).toEqual([])
    store.report('stray', 'shutdown')
    expect(store.step().delete.map(d => d.id)).toEqual(['stray'])
  })

  it.each([-1, 1.5, Number.NaN])('refuses Replicas %d', replicas => {
    const err = catchError(() => reconcile({ service: service({ replicas }), tasks: [], nodes: [], nowMs: 0, newId: () => 'x' }))
    expect(err).toBeInstanceOf(FlotillaError)
    expect((err as FlotillaError).code).toBe('invalid-argument')
  })

  it('ignores tasks of other services', () => {
    const store = new Store(service({ replicas: 1 }))
    store.step()
    const t = store.inSlot(1)
    const other = { ...t, id: 'other', serviceId: 'svc-2', slot: 7 }
    const r = reconcile({ service: store.service, tasks: [...store.list(), other], nodes: [], nowMs: store.nowMs, newId: () => 'x' })
    expect(r).toEqual({ create: [], update: [], delete: [], nextWakeMs: null })
  })
})
