/**
 * A linearizability checker: the Wing–Gong search with Lowe's memoisation ("WGL": Wing & Gong,
 * "Testing and verifying concurrent objects", JPDC 1993; Lowe, "Testing for linearizability", CCPE
 * 2017), as Knossos (`knossos.wgl`) and porcupine implement it. Synchronous and deterministic: the
 * same history and model always give the same verdict, the same explanation and the same count.
 *
 * The history becomes a list of call and return events sorted by time (a call before a return at the
 * same instant: operations that touch are taken as concurrent, which can only accept more). The
 * search walks the list: at a call it tries to linearize that operation now (the model's step must
 * accept it), lifting its call and return out of the list; at a return whose operation is not yet
 * linearized it backtracks. Each (set of linearized operations, model state) configuration is
 * explored once; the count of them is the budget.
 *
 * Unknown operations (completion +Infinity) return after everything else: the search succeeds once
 * every operation with a known completion is linearized, so an unknown operation either took effect
 * (it was linearized somewhere after its invocation) or did not (it was left out). Unknown
 * operations the model calls read-only, and failed operations refused without evaluation, constrain
 * nothing and are left out before the search.
 */
import { Rng } from '../rng.js'
import type { Operation } from './history.js'

/** What a model's step answers: whether the operation, with the result it had, is legal in `state`; and the state after it. */
export interface StepResult<S> {
  readonly ok: boolean
  readonly state: S
}

/**
 * A sequential specification. `step` gets the whole operation, result included: for an `ok` op it
 * checks the output; for a `failed` op with failure `conflict` it checks that the precondition did not
 * hold; for an `unknown` op it is the "took effect" case (the checker supplies "did not").
 * States are values: `step` must not mutate its argument. `hash` must agree with `equal`.
 */
export interface Model<S, I, O> {
  init: () => S
  step: (state: S, op: Operation<I, O>) => StepResult<S>
  equal: (a: S, b: S) => boolean
  hash: (state: S) => string
  /** Whether an operation with this input never changes the state (a read); such ops with an unknown result are left out. Default: none is. */
  readOnly?: (input: I) => boolean
  /** One line for an operation in reports; default JSON of the input and output. */
  describeOp?: (op: Operation<I, O>) => string
  /** One line for a state in reports; default JSON. */
  describeState?: (state: S) => string
}

export interface CheckOptions<I, O> {
  /** Most (linearized set, state) configurations to explore before answering `unknown`; default 1,000,000. */
  readonly maxStates?: number
  /**
   * Split the history into independent sub-histories by key (P-compositionality: Horn & Kroening,
   * 2015), each checked on its own from `model.init()`; e.g. one register per key. Default: one history.
   */
  readonly partition?: (op: Operation<I, O>) => string
}

interface Common {
  /** Configurations explored, over every partition. */
  readonly statesExplored: number
  /** Operations searched (after leaving out those that constrain nothing). */
  readonly opsChecked: number
}

export interface Linearizable<I, O> extends Common {
  readonly verdict: 'ok'
  /** One valid linearization (per partition, concatenated): the operations that took effect, in order. */
  readonly linearization: ReadonlyArray<Operation<I, O>>
}

export interface NotLinearizable<S, I, O> extends Common {
  readonly verdict: 'fail'
  /** The partition that failed (undefined without `partition`). */
  readonly key?: string
  /** The longest linearizable prefix the search found, in linearization order. */
  readonly longestPrefix: ReadonlyArray<Operation<I, O>>
  /** The model's state after that prefix. */
  readonly stateAfterPrefix: S
  /** The operation whose completion came before it could be linearized after that prefix. */
  readonly blocked: Operation<I, O>
  /** Operations invoked before `blocked` completed and not in the prefix: none of them could come next either. */
  readonly candidates: ReadonlyArray<Operation<I, O>>
  /** A readable account of the above. */
  readonly message: string
}

export interface SearchExhausted extends Common {
  readonly verdict: 'unknown'
  readonly key?: string
  readonly message: string
}

export type CheckResult<S, I, O> = Linearizable<I, O> | NotLinearizable<S, I, O> | SearchExhausted

export const DEFAULT_MAX_STATES = 1_000_000

/** Check `history` against `model`. See the module comment for the algorithm and the treatment of results. */
export function checkLinearizable<S, I, O> (model: Model<S, I, O>, history: ReadonlyArray<Operation<I, O>>, opts: CheckOptions<I, O> = {}): CheckResult<S, I, O> {
  const maxStates = opts.maxStates ?? DEFAULT_MAX_STATES
  const relevant = history.filter(op => !leftOut(model, op))
  const parts = new Map<string, Array<Operation<I, O>>>()
  for (const op of relevant) {
    const key = opts.partition?.(op) ?? ''
    let part = parts.get(key)
    if (part === undefined) parts.set(key, part = [])
    part.push(op)
  }
  let statesExplored = 0
  const linearization: Array<Operation<I, O>> = []
  for (const key of [...parts.keys()].sort()) {
    const r = searchOne(model, parts.get(key)!, maxStates - statesExplored)
    statesExplored += r.states
    const keyed = opts.partition === undefined ? {} : { key }
    const where = opts.partition === undefined ? '' : ` (partition ${key})`
    if (r.kind === 'exhausted') {
      return { verdict: 'unknown', ...keyed, statesExplored, opsChecked: relevant.length, message: `unknown: search budget exhausted after ${statesExplored} states${where}` }
    }
    if (r.kind === 'fail') {
      return { verdict: 'fail', ...keyed, statesExplored, opsChecked: relevant.length, ...r.failure, message: r.failure.message + where }
    }
    linearization.push(...r.order)
  }
  return { verdict: 'ok', statesExplored, opsChecked: relevant.length, linearization }
}

/** An operation that constrains nothing: refused without evaluation, or a read-only op of unknown result. */
function leftOut<S, I, O> (model: Model<S, I, O>, op: Operation<I, O>): boolean {
  if (op.result === 'failed') return op.failure === 'refused'
  if (op.result === 'unknown') return model.readOnly?.(op.input) === true
  return false
}

interface Entry {
  /** Index into the partition's ops. */
  readonly op: number
  readonly isCall: boolean
  readonly timeMs: number
  /** A call's return entry (and a return's call). */
  match: Entry | null
  prev: Entry | null
  next: Entry | null
}

type Failure<S, I, O> = Omit<NotLinearizable<S, I, O>, 'verdict' | 'key' | 'statesExplored' | 'opsChecked'>

type SearchResult<S, I, O> =
  | { kind: 'ok', states: number, order: Array<Operation<I, O>> }
  | { kind: 'fail', states: number, failure: Failure<S, I, O> }
  | { kind: 'exhausted', states: number }

/** 32-bit FNV-1a of a string. */
function fnv1a (s: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/** The memo of explored configurations: Zobrist-hashed bitsets of linearized ops, with the state. */
class Memo<S> {
  readonly #buckets = new Map<number, Array<{ bits: Uint32Array, state: S }>>()
  size = 0
  constructor (private readonly equal: (a: S, b: S) => boolean) {}

  /** Add the configuration; false when it was there already. */
  add (hash: number, bits: Uint32Array, state: S): boolean {
    let bucket = this.#buckets.get(hash)
    if (bucket === undefined) this.#buckets.set(hash, bucket = [])
    for (const c of bucket) {
      if (this.equal(c.state, state) && sameBits(c.bits, bits)) return false
    }
    bucket.push({ bits: bits.slice(), state })
    this.size++
    return true
  }
}

function sameBits (a: Uint32Array, b: Uint32Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

function searchOne<S, I, O> (model: Model<S, I, O>, ops: ReadonlyArray<Operation<I, O>>, budget: number): SearchResult<S, I, O> {
  const n = ops.length
  // Events by time; a call before a return at the same instant; ties by op id for determinism.
  const events: Entry[] = []
  for (let i = 0; i < n; i++) {
    const op = ops[i]!
    if (!(op.completedMs >= op.invokedMs)) throw new RangeError(`operation ${op.id} completes (${op.completedMs}) before its invocation (${op.invokedMs})`)
    const call: Entry = { op: i, isCall: true, timeMs: op.invokedMs, match: null, prev: null, next: null }
    const ret: Entry = { op: i, isCall: false, timeMs: op.completedMs, match: call, prev: null, next: null }
    call.match = ret
    events.push(call, ret)
  }
  events.sort((a, b) => a.timeMs - b.timeMs || (a.isCall === b.isCall ? 0 : a.isCall ? -1 : 1) || ops[a.op]!.id - ops[b.op]!.id)
  // Unknown returns (+Infinity) sort after every finite time; among themselves (Infinity - Infinity is
  // NaN, and NaN || … falls through) by op id.
  const head: Entry = { op: -1, isCall: true, timeMs: Number.NEGATIVE_INFINITY, match: null, prev: null, next: null }
  let prev = head
  for (const e of events) { prev.next = e; e.prev = prev; prev = e }

  const zobrist = new Uint32Array(n)
  const rng = new Rng(0x5eed)
  for (let i = 0; i < n; i++) zobrist[i] = Math.floor(rng.next() * 4294967296)
  const bits = new Uint32Array(Math.ceil(n / 32))
  let bitsHash = 0
  const memo = new Memo<S>(model.equal)

  const lift = (e: Entry): void => {
    e.prev!.next = e.next
    e.next!.prev = e.prev
    const m = e.match!
    m.prev!.next = m.next
    if (m.next !== null) m.next.prev = m.prev
  }
  const unlift = (e: Entry): void => {
    const m = e.match!
    m.prev!.next = m
    if (m.next !== null) m.next.prev = m
    e.prev!.next = e
    e.next!.prev = e
  }

  let state = model.init()
  const stack: Array<{ entry: Entry, before: S }> = []
  let best: Failure<S, I, O> | null = null
  let bestDepth = -1
  let entry = head.next
  for (;;) {
    if (entry === null || (!entry.isCall && entry.timeMs === Number.POSITIVE_INFINITY)) {
      // Every op with a known completion is linearized; unknown ops still listed did not take effect.
      return { kind: 'ok', states: memo.size, order: stack.map(s => ops[s.entry.op]!) }
    }
    if (entry.isCall) {
      const i = entry.op
      const r = model.step(state, ops[i]!)
      if (r.ok) {
        const word = i >>> 5
        const bit = 1 << (i & 31)
        bits[word]! |= bit
        const h = (bitsHash ^ zobrist[i]!) >>> 0
        if (memo.add((h ^ fnv1a(model.hash(r.state))) >>> 0, bits, r.state)) {
          if (memo.size > budget) return { kind: 'exhausted', states: memo.size }
          stack.push({ entry, before: state })
          state = r.state
          bitsHash = h
          lift(entry)
          entry = head.next
          continue
        }
        bits[word]! &= ~bit
      }
      entry = entry.next
      continue
    }
    // A return whose op is not linearized: no order of the ops so far explains the history.
    if (stack.length > bestDepth) {
      bestDepth = stack.length
      best = explain(model, ops, stack.map(s => ops[s.entry.op]!), state, entry, head)
    }
    const top = stack.pop()
    if (top === undefined) return { kind: 'fail', states: memo.size, failure: best! }
    const i = top.entry.op
    bits[i >>> 5]! &= ~(1 << (i & 31))
    bitsHash = (bitsHash ^ zobrist[i]!) >>> 0
    state = top.before
    unlift(top.entry)
    entry = top.entry.next
  }
}

function describeOp<S, I, O> (model: Model<S, I, O>, op: Operation<I, O>): string {
  const what = model.describeOp?.(op) ?? `${JSON.stringify(op.input)}${op.output === undefined ? '' : ` → ${JSON.stringify(op.output)}`}`
  const end = op.completedMs === Number.POSITIVE_INFINITY ? '∞' : op.completedMs.toFixed(1)
  return `#${op.id} client ${op.client} ${what} ${op.result}${op.failure === undefined ? '' : `(${op.failure})`} [${op.invokedMs.toFixed(1)}, ${end}] ms${op.note === undefined ? '' : ` (${op.note})`}`
}

function explain<S, I, O> (model: Model<S, I, O>, ops: ReadonlyArray<Operation<I, O>>, prefix: Array<Operation<I, O>>, state: S, blockedAt: Entry, head: Entry): Failure<S, I, O> {
  const blocked = ops[blockedAt.op]!
  const candidates: Array<Operation<I, O>> = []
  for (let e = head.next; e !== null && e !== blockedAt; e = e.next) {
    if (e.isCall) candidates.push(ops[e.op]!)
  }
  // Those with a known completion first: the unknown ones can wait for ever and are rarely the story.
  candidates.sort((a, b) => Number(a.result === 'unknown') - Number(b.result === 'unknown') || a.id - b.id)
  const stateText = model.describeState?.(state) ?? JSON.stringify(state)
  const tail = prefix.slice(-5).map(op => `  ${describeOp(model, op)}`)
  const message = [
    `not linearizable: ${describeOp(model, blocked)} completed before it could be linearized`,
    `after the longest linearizable prefix (${prefix.length} ops${prefix.length > 5 ? ', the last 5' : ''}), the state is ${stateText}:`,
    ...tail,
    `no pending operation could come next (${candidates.length} tried):`,
    ...candidates.slice(0, 10).map(op => `  ${describeOp(model, op)}`)
  ].join('\n')
  return { longestPrefix: prefix, stateAfterPrefix: state, blocked, candidates, message }
}
