/**
 * The sequential specification of a compare-and-set register holding a string (or nothing: `null`),
 * Knossos's `cas-register` with string values:
 * - `read()` returns the value;
 * - `cas(expected, next)` succeeds (`ok`) when the value is `expected` and sets it to `next`, or fails
 *   (`failed` with failure `conflict`) when the value is not `expected`, changing nothing.
 * A CAS of unknown result is the "took effect" case here (value was `expected`, now `next`); the
 * checker supplies the "did not" case. A read of unknown result constrains nothing.
 */
import type { Model } from './checker.js'
import type { Operation } from './history.js'

/** The register's value; `null` when it holds none (the label is absent). */
export type RegisterValue = string | null

export type RegisterInput =
  | { readonly kind: 'read' }
  | { readonly kind: 'cas', readonly expected: RegisterValue, readonly next: string }

/** What an `ok` read returned; CAS operations carry no output. */
export type RegisterOutput = RegisterValue

export type RegisterOp = Operation<RegisterInput, RegisterOutput>

/** The CAS-register model, starting from `initial`. */
export function casRegister (initial: RegisterValue): Model<RegisterValue, RegisterInput, RegisterOutput> {
  return {
    init: () => initial,
    step: (state, op) => {
      const input = op.input
      if (input.kind === 'read') {
        // Only `ok` reads reach the model: unknown ones are left out as read-only, refused ones as refused.
        return { ok: op.result === 'ok' && op.output === state, state }
      }
      const matches = state === input.expected
      switch (op.result) {
        case 'ok':
        case 'unknown':
          return matches ? { ok: true, state: input.next } : { ok: false, state }
        case 'failed':
          return { ok: !matches, state }
      }
    },
    equal: (a, b) => a === b,
    // Distinguishes null from every string: strings are prefixed.
    hash: s => s === null ? '\u0000' : `=${s}`,
    readOnly: input => input.kind === 'read',
    describeOp: op => describeRegisterOp(op),
    describeState: s => JSON.stringify(s)
  }
}

/** `read → "v"`, `cas("a" → "b")`. */
export function describeRegisterOp (op: RegisterOp): string {
  const input = op.input
  if (input.kind === 'read') return op.result === 'ok' ? `read → ${JSON.stringify(op.output ?? null)}` : 'read'
  return `cas(${JSON.stringify(input.expected)} → ${JSON.stringify(input.next)})`
}
