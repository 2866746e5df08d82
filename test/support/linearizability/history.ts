/**
 * The operation record of a Jepsen-style test: what each client asked for, when (invocation and
 * completion on one monotonic clock, `performance.now()` milliseconds), and what it learnt.
 *
 * Results, as Jepsen's :ok / :fail / :info:
 * - `ok`: the operation took effect (a read carries the value it returned in `output`);
 * - `failed`: it definitely did not take effect. `failure` says why: `conflict` when the system
 *   evaluated the operation's precondition and found it false (a CAS whose expected value did not
 *   match: the model checks that claim), `refused` when it was turned away without evaluating it
 *   (a malformed request, a connection that never opened: it constrains nothing and the checker
 *   leaves it out);
 * - `unknown`: a timeout, a reset connection, a 5xx that may have been applied. It may or may not
 *   have taken effect, at any time after its invocation: its completion is +Infinity (Knossos).
 */

export type OpResult = 'ok' | 'failed' | 'unknown'
export type FailureKind = 'conflict' | 'refused'

/** One completed (or abandoned) operation of a history. */
export interface Operation<I, O> {
  /** Position in the history, in invocation order; unique; the checker reports ops by it. */
  readonly id: number
  /** Which client (one logical thread: its operations never overlap one another) issued it. */
  readonly client: number
  /** The operation and its arguments, e.g. `{ kind: 'cas', expected, next }`. */
  readonly input: I
  /** When the client sent it, monotonic ms. */
  readonly invokedMs: number
  /** When the client learnt its result, monotonic ms; +Infinity when `result` is `unknown`. */
  readonly completedMs: number
  readonly result: OpResult
  /** What an `ok` operation returned (a read's value); absent otherwise. */
  readonly output?: O
  /** Why a `failed` operation failed; absent otherwise. */
  readonly failure?: FailureKind
  /** Free text for reports: an HTTP status, an error message. The checker never reads it. */
  readonly note?: string
}

/** What a client holds while its operation is in flight: exactly one of the three ends it. */
export interface PendingOp<O> {
  readonly id: number
  ok: (output?: O, note?: string) => void
  fail: (failure: FailureKind, note?: string) => void
  unknown: (note?: string) => void
}

/**
 * Collects the operations of clients running concurrently (on one event loop: appends never
 * interleave). `invoke` stamps the invocation time and allots the id; the returned handle stamps the
 * completion. An operation still in flight when `history()` is called is reported `unknown`.
 */
export class HistoryRecorder<I, O> {
  readonly #now: () => number
  readonly #invoked: Array<{ client: number, input: I, invokedMs: number }> = []
  readonly #ended = new Map<number, Operation<I, O>>()

  /** `now` defaults to `performance.now`; tests may inject a fake clock. */
  constructor (now: () => number = () => performance.now()) {
    this.#now = now
  }

  invoke (client: number, input: I): PendingOp<O> {
    const id = this.#invoked.length
    const invokedMs = this.#now()
    this.#invoked.push({ client, input, invokedMs })
    const end = (op: Omit<Operation<I, O>, 'id' | 'client' | 'input' | 'invokedMs'>): void => {
      if (this.#ended.has(id)) throw new Error(`operation ${id} completed twice`)
      this.#ended.set(id, { id, client, input, invokedMs, ...op })
    }
    return {
      id,
      ok: (output, note) => { end({ completedMs: this.#now(), result: 'ok', ...(output === undefined ? {} : { output }), ...(note === undefined ? {} : { note }) }) },
      fail: (failure, note) => { end({ completedMs: this.#now(), result: 'failed', failure, ...(note === undefined ? {} : { note }) }) },
      unknown: note => { end({ completedMs: Number.POSITIVE_INFINITY, result: 'unknown', ...(note === undefined ? {} : { note }) }) }
    }
  }

  /** Every operation so far, by id (invocation order); those in flight as `unknown`. */
  history (): Array<Operation<I, O>> {
    return this.#invoked.map((inv, id) => this.#ended.get(id) ?? {
      id, ...inv, completedMs: Number.POSITIVE_INFINITY, result: 'unknown' as const, note: 'still in flight'
    })
  }
}

/** How many operations of each kind ended with each result, e.g. `{ read: { ok: 10, failed: 0, unknown: 1 } }`. */
export function countResults<I extends { readonly kind: string }, O> (ops: ReadonlyArray<Operation<I, O>>): Record<string, Record<OpResult, number>> {
  const out: Record<string, Record<OpResult, number>> = {}
  for (const op of ops) {
    const byResult = out[op.input.kind] ??= { ok: 0, failed: 0, unknown: 0 }
    byResult[op.result]++
  }
  return out
}
