import { describe, expect, it } from 'vitest'
import { FlotillaError } from '../../../../src/membership/errors.js'
import { reconcile } from '../../../../src/tasks/orchestrator/index.js'
import { catchError } from '../../../support/errors.js'
import { node, SECOND, service, Store, type SpecInit } from './helpers.js'

function globalStore (nodes = ['a', 'b', 'c'], init: SpecInit = {}): Store {
  const store = new Store(service({ global: true, ...init }), nodes.map(id => node(id)))
  store.step()
  for (const t of store.running()) store.report(t.id, 'running')
  return store
}

describe('global services', () => {
  it('creates one task per eligible node, node ID preset, named <service>.<node>, in node order', () => {
    const store = new Store(service({ global: true }), [node('c'), node('a'), node('b')])
    const r = store.step()
    expect(r.create.map(t => [t.id, t.nodeId, t.slot, t.name])).toEqual([['t1', 'a', null, 'web.a'], ['t2', 'b', null, 'web.b'], ['t3', 'c', null, 'web.c']])
    expect(store.step()).toEqual({ create: [], update: [], delete: [], nextWakeMs: null })
  })

  it.each<[string, (s: Store) => void, string[], string[]]>([
    // name, change, nodes that lose their task (desired shutdown), nodes that get a new one
    ['a node joins', s => s.setNode('d', { labels: { zone: 'eu' } }), [], ['d']],
    ['a node joining paused gets nothing', s => s.setNode('d', { labels: { zone: 'eu' }, availability: 'pause' }), [], []],
    ['a node joining not ready gets nothing', s => s.setNode('d', { labels: { zone: 'eu' }, ready: false }), [], []],
    ['a node joining unmatched gets nothing', s => s.setNode('d', {}), [], []],
    ['a node is drained', s => s.setNode('b', { availability: 'drain' }), ['b'], []],
    ['a node is paused: its task stays', s => s.setNode('b', { availability: 'pause' }), [], []],
    ['a node goes down', s => s.setNode('b', { ready: false, downSinceMs: s.nowMs }), ['b'], []],
    ['a node stops matching', s => s.setNode('b', { labels: { zone: 'us' } }), ['b'], []],
    ['a node starts matching', s => s.setNode('c', { labels: { zone: 'eu' } }), [], ['c']]
  ])('%s', (_name, change, lose, gain) => {
    const store = new Store(service({ global: true, constraints: ['node.labels.zone==eu'] }), [
      node('a', { labels: { zone: 'eu' } }), node('b', { labels: { zone: 'eu' } }), node('c')
    ])
    store.step()
    for (const t of store.running()) store.report(t.id, 'running')
    expect(store.runningNodes()).toEqual(['a', 'b'])
    change(store)
    const before = new Map(store.list().map(t => [t.id, t]))
    const r = store.step()
    // A task lost with a down node is removed (it was replaced), one on a drained or unmatched node stopped.
    const lost = _name === 'a node goes down' ? 'remove' : 'shutdown'
    expect(r.update.map(u => [before.get(u.id)!.nodeId, u.desiredState])).toEqual(lose.map(n => [n, lost]))
    expect(r.create.map(t => t.nodeId)).toEqual(gain)
    expect(r.delete).toEqual([])
    expect(store.step().create).toEqual([])
  })

  it('a node that leaves the cluster loses its tasks from the store', () => {
    const store = globalStore()
    const onB = store.onNode('b').id
    store.nodes.delete('b')
    const r = store.step()
    // Shut down and orphaned (no one will ever report on it), hence reaped in the same pass.
    expect(r.update).toEqual([])
    expect(r.delete.map(d => d.id)).toEqual([onB])
    expect(r.create).toEqual([])
    expect(store.runningNodes()).toEqual(['a', 'c'])
  })

  it('a drained node gets a task again once active', () => {
    const store = globalStore()
    const old = store.onNode('b')
    store.setNode('b', { availability: 'drain' })
    store.step()
    store.report(old.id, 'shutdown')
    expect(store.step().create).toEqual([])
    store.setNode('b', { availability: 'active' })
    const r = store.step()
    expect(r.create.map(t => [t.nodeId, t.delayUntilMs])).toEqual([['b', null]])
    // The old task is history of node b.
    expect(store.tasks.has(old.id)).toBe(true)
  })

  it('restarts an ended task on the same node, after the delay', () => {
    const store = globalStore()
    const old = store.onNode('a')
    store.report(old.id, 'failed', { exitCode: 2 })
    const r = store.step()
    expect(r.update.map(u => [u.id, u.desiredState])).toEqual([[old.id, 'shutdown']])
    expect(r.create.map(t => [t.nodeId, t.delayUntilMs])).toEqual([['a', store.nowMs + 5 * SECOND]])
    expect(r.nextWakeMs).toBe(store.nowMs + 5 * SECOND)
  })

  it('holds a node whose task may not restart, until the service changes', () => {
    const store = globalStore(['a', 'b'], { restart: { Condition: 'on-failure' } })
    store.report(store.onNode('a').id, 'complete')
    expect(store.step().create).toEqual([])
    expect(store.step()).toEqual({ create: [], update: [], delete: [], nextWakeMs: null })
    store.updateService({ global: true, restart: { Condition: 'on-failure' } })
    expect(store.step().create.map(t => t.nodeId)).toEqual(['a'])
  })

  it('does not restart an ended task on a paused node, and gives it a task once active', () => {
    const store = globalStore(['a'])
    store.setNode('a', { availability: 'pause' })
    const old = store.onNode('a')
    store.report(old.id, 'failed')
    const r = store.step()
    expect(r.update.map(u => [u.id, u.desiredState])).toEqual([[old.id, 'shutdown']])
    expect(r.create).toEqual([])
    store.setNode('a', { availability: 'active' })
    expect(store.step().create.map(t => [t.nodeId, t.delayUntilMs])).toEqual([['a', null]])
  })

  it('keeps the newest of several running tasks on one node', () => {
    const store = globalStore(['a'])
    const t = store.onNode('a')
    store.tasks.set('older', { ...t, id: 'older', createdAtMs: t.createdAtMs - 1 })
    const r = store.step()
    expect(r.update.map(u => [u.id, u.desiredState])).toEqual([['older', 'shutdown']])
  })

  it('refuses malformed constraints', () => {
    const err = catchError(() => reconcile({ service: service({ global: true, constraints: ['node.role=manager'] }), tasks: [], nodes: [], nowMs: 0, newId: () => 'x' }))
    expect(err).toBeInstanceOf(FlotillaError)
    expect((err as FlotillaError).code).toBe('invalid-argument')
  })
})
