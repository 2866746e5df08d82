import { describe, expect, it } from 'vitest'
import { Rng } from '../../support/rng.js'
import { checkLinearizable } from '../../support/linearizability/checker.js'
import { casRegister, type RegisterInput, type RegisterOp, type RegisterValue } from '../../support/linearizability/cas-register.js'
import { countResults, HistoryRecorder, type FailureKind, type OpResult } from '../../support/linearizability/history.js'

const INF = Number.POSITIVE_INFINITY

/** A hand-written history: ops given as [client, input, invokedMs, completedMs, result, output or failure]. */
function history (...rows: Array<[number, RegisterInput, number, number, OpResult, RegisterValue?]>): RegisterOp[] {
  return rows.map(([client, input, invokedMs, completedMs, result, extra], id) => ({
    id,
    client,
    input,
    invokedMs,
    completedMs: result === 'unknown' ? INF : completedMs,
    result,
    ...(result === 'ok' && input.kind === 'read' ? { output: extra } : {}),
    ...(result === 'failed' ? { failure: (extra ?? 'conflict') as FailureKind } : {})
  }))
}
const read = { kind: 'read' } as const
const cas = (expected: RegisterValue, next: string): RegisterInput => ({ kind: 'cas', expected, next })
const check = (ops: RegisterOp[], initial: RegisterValue = 'a', maxStates?: number): ReturnType<typeof checkLinearizable<RegisterValue, RegisterInput, RegisterValue>> =>
  checkLinearizable(casRegister(initial), ops, maxStates === undefined ? {} : { maxStates })

describe('HistoryRecorder', () => {
  it('stamps invocation and completion on its clock, allots ids in invocation order, and reports ops in flight as unknown', () => {
    let now = 0
    const rec = new HistoryRecorder<RegisterInput, RegisterValue>(() => now)
    const a = rec.invoke(0, read)
    now = 1
    const b = rec.invoke(1, cas('a', 'b'))
    const c = rec.invoke(2, cas('a', 'c'))
    now = 3
    b.ok()
    a.ok('b')
    c.unknown('timed out')
    rec.invoke(0, read)
    const ops = rec.history()
    expect(ops.map(o => [o.id, o.client, o.invokedMs, o.completedMs, o.result, o.output])).toEqual([
      [0, 0, 0, 3, 'ok', 'b'], [1, 1, 1, 3, 'ok', undefined], [2, 2, 1, INF, 'unknown', undefined], [3, 0, 3, INF, 'unknown', undefined]
    ])
    expect(() => { a.fail('conflict') }).toThrow(/completed twice/)
    expect(countResults(ops)).toEqual({ read: { ok: 1, failed: 0, unknown: 1 }, cas: { ok: 1, failed: 0, unknown: 1 } })
  })
})

describe('checkLinearizable with the CAS register', () => {
  it('accepts an empty history and a sequential one', () => {
    expect(check([]).verdict).toBe('ok')
    const r = check(history([0, read, 0, 1, 'ok', 'a'], [0, cas('a', 'b'), 2, 3, 'ok'], [1, cas('a', 'c'), 4, 5, 'failed'], [1, read, 6, 7, 'ok', 'b']))
    expect(r.verdict).toBe('ok')
  })

  it('accepts a concurrent history only some orders explain', () => {
    // c1 reads the new value while the CAS is in flight, c2 the old one: CAS linearized between the two reads.
    const ops = history(
      [0, cas('a', 'b'), 0, 10, 'ok'],
      [1, read, 2, 5, 'ok', 'b'],
      [2, read, 1, 3, 'ok', 'a'],
      [2, cas('a', 'c'), 4, 9, 'failed'],
      [1, cas('b', 'd'), 6, 12, 'ok'],
      [2, read, 13, 14, 'ok', 'd']
    )
    const r = check(ops)
    expect(r.verdict).toBe('ok')
    if (r.verdict === 'ok') expect(r.linearization.map(o => o.id)).toEqual([2, 0, 1, 3, 4, 5])
  })

  it('rejects a stale read after a completed write, naming the read', () => {
    const r = check(history([0, cas('a', 'b'), 0, 1, 'ok'], [1, read, 2, 3, 'ok', 'a']))
    expect(r.verdict).toBe('fail')
    if (r.verdict !== 'fail') return
    expect(r.blocked.id).toBe(1)
    expect(r.longestPrefix.map(o => o.id)).toEqual([0])
    expect(r.stateAfterPrefix).toBe('b')
    expect(r.message).toMatch(/#1 client 1 read → "a" ok/)
  })

  it('rejects two successful CAS from the same expected value, even when concurrent', () => {
    const r = check(history([0, cas('a', 'b'), 0, 10, 'ok'], [1, cas('a', 'c'), 0, 10, 'ok']))
    expect(r.verdict).toBe('fail')
  })

  it('rejects a read of a value never written', () => {
    const r = check(history([0, cas('a', 'b'), 0, 10, 'ok'], [1, read, 1, 9, 'ok', 'z']))
    expect(r.verdict).toBe('fail')
    if (r.verdict === 'fail') expect(r.blocked.id).toBe(1)
  })

  it('rejects a CAS that failed on a value that was there all along, and accepts one a concurrent write explains', () => {
    expect(check(history([0, read, 0, 1, 'ok', 'a'], [0, cas('a', 'b'), 2, 3, 'failed'])).verdict).toBe('fail')
    expect(check(history([0, read, 0, 1, 'ok', 'a'], [0, cas('a', 'b'), 2, 5, 'failed'], [1, cas('a', 'c'), 3, 4, 'ok'])).verdict).toBe('ok')
  })

  it('leaves out refused operations and reads of unknown result', () => {
    const r = check(history([0, cas('a', 'b'), 0, 1, 'failed', 'refused'], [1, read, 0, 5, 'unknown'], [0, read, 2, 3, 'ok', 'a']))
    expect(r).toMatchObject({ verdict: 'ok', opsChecked: 1 })
  })

  it('accepts an unknown CAS that took effect, and one that did not', () => {
    // Took effect, long after the client gave up on it.
    expect(check(history([0, cas('a', 'b'), 0, 1, 'unknown'], [1, read, 2, 3, 'ok', 'a'], [1, read, 50, 51, 'ok', 'b'])).verdict).toBe('ok')
    // Did not.
    expect(check(history([0, cas('a', 'b'), 0, 1, 'unknown'], [1, read, 50, 51, 'ok', 'a'], [1, cas('a', 'c'), 52, 53, 'ok'])).verdict).toBe('ok')
    // But it takes effect at most once, and not before it was invoked.
    expect(check(history([0, cas('a', 'b'), 0, 1, 'unknown'], [1, read, 2, 3, 'ok', 'b'], [1, read, 4, 5, 'ok', 'a'])).verdict).toBe('fail')
    expect(check(history([1, read, 0, 1, 'ok', 'b'], [0, cas('a', 'b'), 2, 3, 'unknown'])).verdict).toBe('fail')
  })

  it('accepts a large random history of a real register within the budget, rejects it once a read is made stale, and is deterministic', () => {
    const { ops, staleable } = simulatedRegister(new Rng(42), 6, 400)
    expect(ops.length).toBeGreaterThan(2000)
    const started = performance.now()
    const r = check(ops, 'init')
    const ms = performance.now() - started
    console.log(`random history: ${ops.length} ops (${JSON.stringify(countResults(ops))}), ${r.statesExplored} states, ${ms.toFixed(0)} ms`)
    expect(r.verdict).toBe('ok')
    expect(r.statesExplored).toBeLessThan(100_000)

    // Make one read that follows a completed write return the value before that write.
    const { index, stale } = staleable!
    const broken = ops.map(op => op.id === index ? { ...op, output: stale } : op)
    const f1 = check(broken, 'init')
    const f2 = check(broken, 'init')
    expect(f1.verdict).toBe('fail')
    expect(f2).toEqual(f1)
    console.log(`stale read at #${index}: ${f1.statesExplored} states\n${f1.verdict === 'fail' ? f1.message : ''}`)
  })

  it('answers unknown when the search budget is exhausted', () => {
    // Many concurrent CAS of unknown result and a read nothing explains: every subset is worth a try.
    const rows: Array<[number, RegisterInput, number, number, OpResult, RegisterValue?]> = []
    for (let i = 0; i < 12; i++) rows.push([i, cas(i === 0 ? 'a' : `v${i - 1}`, `v${i}`), 0, 1, 'unknown'])
    rows.push([99, read, 2, 3, 'ok', 'nowhere'])
    const r = check(history(...rows), 'a', 5)
    expect(r).toMatchObject({ verdict: 'unknown', message: 'unknown: search budget exhausted after 6 states' })
    expect(check(history(...rows), 'a').verdict).toBe('fail')
  })

  it('checks independent keys apart when given a partition', () => {
    // Two registers as one model: the key is the value's prefix; each partition starts from 'a'.
    const ops = history(
      [0, cas('a', 'x1'), 0, 10, 'ok'], [1, cas('a', 'y1'), 0, 10, 'ok'],
      [0, read, 11, 12, 'ok', 'x1'], [1, read, 11, 12, 'ok', 'y1']
    )
    const key = (op: RegisterOp): string => op.input.kind === 'cas' ? op.input.next[0]! : (op.output ?? '')[0]!
    expect(checkLinearizable(casRegister('a'), ops).verdict).toBe('fail')
    expect(checkLinearizable(casRegister('a'), ops, { partition: key }).verdict).toBe('ok')
  })
})

/**
 * A history of a real register: `clients` clients, `opsPerClient` ops each, with random overlapping
 * intervals; each op takes effect at a random point inside its interval (its results come from the
 * register at that point), so the history is linearizable by construction. Some CAS time out
 * (unknown), taking effect or not. Also returns a read that can be made stale: one invoked after a
 * write completed, with the value that write replaced.
 */
function simulatedRegister (rng: Rng, clients: number, opsPerClient: number): { ops: RegisterOp[], staleable: { index: number, stale: RegisterValue } | null } {
  interface Draft { client: number, input: RegisterInput, invokedMs: number, completedMs: number, pointMs: number, unknown: boolean, applies: boolean }
  const drafts: Draft[] = []
  const written: string[] = ['init']
  let fresh = 0
  for (let c = 0; c < clients; c++) {
    let t = rng.next() * 5
    for (let i = 0; i < opsPerClient; i++) {
      const invokedMs = t + rng.next() * 3
      const completedMs = invokedMs + 0.5 + rng.next() * 20
      const pointMs = invokedMs + rng.next() * (completedMs - invokedMs)
      const isCas = rng.chance(0.4)
      const unknown = rng.chance(isCas ? 0.05 : 0.02)
      // Expected values are filled in at the linearization point (a client CASes from what it can see).
      drafts.push({ client: c, input: isCas ? cas(null, `w${fresh++}`) : read, invokedMs, completedMs, pointMs, unknown, applies: rng.chance(0.5) })
      t = completedMs
    }
  }
  const byPoint = [...drafts].sort((a, b) => a.pointMs - b.pointMs)
  let value: RegisterValue = 'init'
  const outcome = new Map<Draft, { result: OpResult, output?: RegisterValue, failure?: FailureKind }>()
  for (const d of byPoint) {
    if (d.input.kind === 'read') {
      outcome.set(d, d.unknown ? { result: 'unknown' } : { result: 'ok', output: value })
      continue
    }
    const expected = rng.chance(0.7) ? value : rng.pick(written)
    const next = d.input.next
    d.input = cas(expected, next)
    const matches = expected === value
    if (d.unknown) {
      if (matches && d.applies) { value = next; written.push(next) }
      outcome.set(d, { result: 'unknown' })
    } else if (matches) {
      value = next
      written.push(next)
      outcome.set(d, { result: 'ok' })
    } else {
      outcome.set(d, { result: 'failed', failure: 'conflict' })
    }
  }
  const ordered = [...drafts].sort((a, b) => a.invokedMs - b.invokedMs)
  const ops: RegisterOp[] = ordered.map((d, id) => {
    const o = outcome.get(d)!
    return {
      id,
      client: d.client,
      input: d.input,
      invokedMs: d.invokedMs,
      completedMs: o.result === 'unknown' ? INF : d.completedMs,
      result: o.result,
      ...(o.output === undefined ? {} : { output: o.output }),
      ...(o.failure === undefined ? {} : { failure: o.failure })
    }
  })
  // A read invoked after an ok CAS completed, made to return that CAS's expected value.
  let staleable: { index: number, stale: RegisterValue } | null = null
  for (const w of ops) {
    if (w.input.kind !== 'cas' || w.result !== 'ok' || w.id < ops.length / 2) continue
    const r = ops.find(op => op.input.kind === 'read' && op.result === 'ok' && op.invokedMs > w.completedMs + 1)
    if (r !== undefined) { staleable = { index: r.id, stale: w.input.expected }; break }
  }
  return { ops, staleable }
}
