import { describe, expect, it } from 'vitest'
import { isTerminal, type TaskState } from '../../../../src/tasks/executor/index.js'
import { nodeMatches, parseConstraints } from '../../../../src/tasks/scheduler/index.js'
import { OLD_TASK_TIMEOUT_MS, isTaskUpToDate, nodeCondition, reconcile, type ReconcileResult, type RestartPolicy, type TaskObject } from '../../../../src/tasks/orchestrator/index.js'
import { node, rng, SECOND, service, Store, type SpecInit } from './helpers.js'

const NODE_IDS = ['a', 'b', 'c', 'd']
const CONSTRAINTS = [[], ['node.labels.zone==eu'], ['node.labels.zone!=eu']]

interface Run {
  readonly results: ReconcileResult[]
  readonly store: Store
}

/**
 * A seeded random walk: nodes go down, come back, drain, pause, leave and rejoin; tasks move forward as an
 * agent would move them; the service scales and changes; time passes. After every change the orchestrator
 * reconciles; the store asserts that no write moves a task backwards, and a second pass at once must find
 * nothing to do. `check` asserts the mode's invariants.
 */
function walk (seed: number, global: boolean, steps: number, policies: readonly RestartPolicy[], check: (s: Store) => void): Run {
  const random = rng(seed)
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!
  let init: SpecInit = { global, replicas: 3, restart: pick(policies), constraints: global ? pick(CONSTRAINTS) : [] }
  const store = new Store(service(init), NODE_IDS.map(id => node(id, { labels: { zone: random() < 0.5 ? 'eu' : 'us' } })))
  const results: ReconcileResult[] = []
  for (let i = 0; i < steps; i++) {
    const roll = random()
    const id = pick(NODE_IDS)
    if (roll < 0.08) {
      store.setNode(id, { ready: false, downSinceMs: store.nowMs })
    } else if (roll < 0.16) {
      store.setNode(id, { ready: true, downSinceMs: null })
    } else if (roll < 0.22) {
      store.setNode(id, { availability: pick(['active', 'pause', 'drain'] as const) })
    } else if (roll < 0.25) {
      store.nodes.delete(id)
    } else if (roll < 0.28) {
      store.setNode(id, { labels: { zone: random() < 0.5 ? 'eu' : 'us' } })
    } else if (roll < 0.34) {
      init = { ...init, replicas: Math.floor(random() * 6), restart: pick(policies), constraints: global ? pick(CONSTRAINTS) : [] }
      store.updateService(init)
    } else if (roll < 0.44) {
      store.nowMs += random() < 0.1 ? 25 * 3600 * SECOND : Math.floor(random() * 30 * SECOND)
    } else {
      const live = store.list().filter(t => !isTerminal(t.status.state))
      if (live.length > 0) {
        const t = pick(live)
        let next: TaskState
        let nodeId: string | undefined
        if (t.desiredState !== 'running') next = 'shutdown'
        else if (t.status.state === 'new') next = 'pending'
        else if (t.status.state === 'pending') {
          next = 'assigned'
          nodeId = t.nodeId ?? pick(NODE_IDS)
        } else if (t.status.state !== 'running') next = 'running'
        else next = pick(['complete', 'failed', 'rejected'] as const)
        store.report(t.id, next, nodeId !== undefined ? { nodeId } : {})
      }
    }
    results.push(store.step())
    const again = reconcile({ service: store.service, tasks: store.list(), nodes: [...store.nodes.values()], nowMs: store.nowMs, newId: () => 'unused' })
    expect({ ...again, nextWakeMs: null }).toEqual({ create: [], update: [], delete: [], nextWakeMs: null })
    check(store)
  }
  const count = (f: (r: ReconcileResult) => number): number => results.reduce((n, r) => n + f(r), 0)
  // The walk must exercise the orchestrator: creations, shutdowns, orphaning and reaping all happen.
  expect(count(r => r.create.length)).toBeGreaterThan(10)
  expect(count(r => r.update.filter(u => u.desiredState !== undefined).length)).toBeGreaterThan(5)
  expect(count(r => r.delete.length)).toBeGreaterThan(0)
  expect(count(r => r.update.filter(u => u.status?.state === 'orphaned').length) + count(r => r.delete.length)).toBeGreaterThan(0)
  return { results, store }
}

/**
 * Old tasks a stop-first update asked to stop that are still stopping on a usable node (within
 * OLD_TASK_TIMEOUT_MS): their slot or node gets its replacement once they have stopped.
 */
function stopping (store: Store): TaskObject[] {
  return store.list().filter(t => t.desiredState === 'shutdown' && !isTerminal(t.status.state) && t.nodeId !== null &&
    nodeCondition(store.nodes.get(t.nodeId)) === 'usable' && !isTaskUpToDate(t, store.service) && store.nowMs < t.updatedAtMs + OLD_TASK_TIMEOUT_MS)
}

function replicatedInvariants (store: Store): void {
  const mode = store.service.spec.Mode
  if (!('Replicated' in mode)) throw new Error('not replicated')
  // With restart condition 'any' and no MaxAttempts, no slot is ever held: exactly slots 1..N run, but
  // while a stop-first update waits for old tasks to stop: their slots count, and are refilled (the lowest
  // free numbers) once they have.
  const waiting = new Set(stopping(store).map(t => t.slot!))
  const replicas = mode.Replicated.Replicas
  const slots = store.runningSlots()
  if (waiting.size === 0) {
    expect(slots).toEqual(Array.from({ length: replicas }, (_, i) => i + 1))
  } else {
    // Waiting slots may also be ones scaled away meanwhile, which are not refilled.
    expect(new Set(slots).size).toBe(slots.length)
    expect(slots.length).toBeLessThanOrEqual(replicas)
    expect(new Set([...slots, ...waiting]).size).toBeGreaterThanOrEqual(replicas)
  }
}

function slotsAtMostReplicas (store: Store): void {
  const mode = store.service.spec.Mode
  if (!('Replicated' in mode)) throw new Error('not replicated')
  const slots = store.runningSlots()
  expect(new Set(slots).size).toBe(slots.length)
  expect(slots.length).toBeLessThanOrEqual(mode.Replicated.Replicas)
  expect(slots.every(s => s >= 1)).toBe(true)
}

function globalInvariants (store: Store): void {
  const constraints = parseConstraints(store.service.spec.TaskTemplate.Placement?.Constraints ?? [])
  const running = store.runningNodes()
  expect(new Set(running).size).toBe(running.length)
  for (const n of store.nodes.values()) {
    const eligible = n.ready && n.availability === 'active' && nodeMatches(constraints, n)
    if (eligible && !stopping(store).some(t => t.nodeId === n.id)) expect(running).toContain(n.id)
  }
  for (const id of running) {
    const n = store.nodes.get(id)
    expect(n !== undefined && n.ready && n.availability !== 'drain' && nodeMatches(constraints, n)).toBe(true)
  }
}

const ANY: RestartPolicy[] = [{}, { Delay: 0 }, { Condition: 'any', Delay: 1e9 }]
const MIXED: RestartPolicy[] = [{}, { Condition: 'none' }, { Condition: 'on-failure', MaxAttempts: 2, Window: 10e9 }, { MaxAttempts: 1, Delay: 0 }]

describe('invariants over seeded random walks', () => {
  it.each([1, 2, 3, 4, 5, 6])('replicated, restart any (seed %d): slots 1..Replicas run, one task each', seed => {
    walk(seed, false, 300, ANY, replicatedInvariants)
  })

  it.each([11, 12, 13, 14])('replicated, mixed policies (seed %d): never more slots than Replicas', seed => {
    walk(seed, false, 300, MIXED, slotsAtMostReplicas)
  })

  it.each([21, 22, 23, 24, 25])('global, restart any (seed %d): one task on every eligible node, none on unusable ones', seed => {
    walk(seed, true, 300, ANY, globalInvariants)
  })

  it.each([[31, false], [32, true]] as const)('determinism (seed %d, global %s): the same input and ID sequence give the same output', (seed, global) => {
    const first = walk(seed, global, 200, MIXED, () => {})
    const second = walk(seed, global, 200, MIXED, () => {})
    expect(second.results).toEqual(first.results)
    expect(JSON.stringify(second.results)).toBe(JSON.stringify(first.results))
  })

  it('is a pure function of its input: the input is not mutated and a replay gives the same result', () => {
    const { store } = walk(41, false, 100, MIXED, () => {})
    const input = { service: store.service, tasks: store.list(), nodes: [...store.nodes.values()], nowMs: store.nowMs + 30 * SECOND }
    const frozen = JSON.stringify(input)
    const ids = (): (() => string) => { let n = 0; return () => `x${++n}` }
    const a = reconcile({ ...input, newId: ids() })
    const b = reconcile({ ...input, newId: ids() })
    expect(b).toEqual(a)
    expect(JSON.stringify(input)).toBe(frozen)
  })
})
