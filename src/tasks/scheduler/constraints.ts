/**
 * Placement constraints in Docker's syntax (`docker service create --constraint`), parsed and matched as
 * SwarmKit's manager/constraint package does:
 *   - `key==value` or `key!=value`; `==` is looked for first and the text is split at its first
 *     occurrence, so `a!==b` is the key `a!` (invalid). Whitespace around key and value is dropped.
 *   - the key matches `[a-z_][a-z0-9-_.]+` and the value `[a-z0-9:-_ .*()?+[]\^$|/]+` (both
 *     case-insensitive, the value may hold inner whitespace): no other operator can hide in them.
 *   - key prefixes compare case-insensitively (`NODE.ROLE` works); a label name keeps its case.
 *   - values compare case-insensitively for every key (SwarmKit's strings.EqualFold), including
 *     node IDs and label values. A label the node lacks reads as "", so `!=` matches it and `==`
 *     does not (a value is never empty).
 * One deliberate difference: SwarmKit accepts any well-formed key at service create and then never
 * matches an unknown one, leaving the task pending forever; here an unknown key (including SwarmKit's
 * `node.ip`, which flotilla's node description does not carry) is refused when parsed.
 */
import { FlotillaError } from '../../membership/errors.js'
import type { SchedulerNode } from './types.js'

export type ConstraintOperator = '==' | '!='

export type ConstraintKey =
  | 'node.id'
  | 'node.hostname'
  | 'node.role'
  | 'node.platform.os'
  | 'node.platform.arch'
  | 'node.labels'
  | 'engine.labels'

/** One parsed constraint. `label` is set for `node.labels`/`engine.labels` only; `value` is lower-cased. */
export interface Constraint {
  readonly text: string
  readonly key: ConstraintKey
  readonly label: string
  readonly operator: ConstraintOperator
  readonly value: string
}

const KEY_PATTERN = /^[a-z_][a-z0-9\-_.]+$/i
// Go's \s is ASCII whitespace only; JavaScript's would also admit Unicode spaces.
const VALUE_PATTERN = /^[a-z0-9:\-_\t\n\f\r .*()?+[\]\\^$|/]+$/i
const OPERATORS: readonly ConstraintOperator[] = ['==', '!=']
const NODE_LABEL_PREFIX = 'node.labels.'
const ENGINE_LABEL_PREFIX = 'engine.labels.'
const PLAIN_KEYS: ReadonlySet<string> = new Set<ConstraintKey>(['node.id', 'node.hostname', 'node.role', 'node.platform.os', 'node.platform.arch'])
const HINT = 'write key==value or key!=value with a key among node.id, node.hostname, node.role, node.platform.os, ' +
  'node.platform.arch, node.labels.<name>, engine.labels.<name>'

function invalid (text: string, why: string): FlotillaError {
  return new FlotillaError('invalid-argument', `invalid constraint "${text}": ${why}`, { hint: HINT })
}

/** Parse one constraint; throws FlotillaError('invalid-argument') naming it when it is malformed. */
export function parseConstraint (text: string): Constraint {
  for (const operator of OPERATORS) {
    const at = text.indexOf(operator)
    if (at < 0) continue
    const rawKey = text.slice(0, at).trim()
    const rawValue = text.slice(at + operator.length).trim()
    if (!KEY_PATTERN.test(rawKey)) throw invalid(text, `key "${rawKey}" is invalid`)
    if (!VALUE_PATTERN.test(rawValue)) throw invalid(text, `value "${rawValue}" is invalid`)
    const lowerKey = rawKey.toLowerCase()
    let key: ConstraintKey
    let label = ''
    if (PLAIN_KEYS.has(lowerKey)) {
      key = lowerKey as ConstraintKey
    } else if (lowerKey.startsWith(NODE_LABEL_PREFIX) && rawKey.length > NODE_LABEL_PREFIX.length) {
      key = 'node.labels'
      label = rawKey.slice(NODE_LABEL_PREFIX.length)
    } else if (lowerKey.startsWith(ENGINE_LABEL_PREFIX) && rawKey.length > ENGINE_LABEL_PREFIX.length) {
      key = 'engine.labels'
      label = rawKey.slice(ENGINE_LABEL_PREFIX.length)
    } else {
      throw invalid(text, `unsupported key "${rawKey}"`)
    }
    return { text, key, label, operator, value: rawValue.toLowerCase() }
  }
  throw invalid(text, 'expected one operator from ==, !=')
}

/** Parse a service's constraints, in order; throws on the first malformed one. */
export function parseConstraints (texts: readonly string[]): Constraint[] {
  return texts.map(parseConstraint)
}

function nodeValue (c: Constraint, node: SchedulerNode): string {
  switch (c.key) {
    case 'node.id': return node.id
    case 'node.hostname': return node.hostname
    case 'node.role': return node.role
    case 'node.platform.os': return node.platform.os
    case 'node.platform.arch': return node.platform.arch
    case 'node.labels': return node.labels[c.label] ?? ''
    case 'engine.labels': return node.engineLabels[c.label] ?? ''
  }
}

/** Whether `node` satisfies one constraint. */
export function constraintMatches (c: Constraint, node: SchedulerNode): boolean {
  const equal = nodeValue(c, node).toLowerCase() === c.value
  return c.operator === '==' ? equal : !equal
}

/** Whether `node` satisfies every constraint (an empty list always matches). */
export function nodeMatches (constraints: readonly Constraint[], node: SchedulerNode): boolean {
  for (const c of constraints) {
    if (!constraintMatches(c, node)) return false
  }
  return true
}
