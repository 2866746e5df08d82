import type { ConfChange, Entry, Message } from './types.js'

/**
 * Shape checks for messages from the network (decoded from peers, so untrusted): a message that fails
 * them is dropped by `RaftCore.step` before it can touch any state. They check types and ranges only;
 * the Raft rules (terms, log matching) are the core's.
 */

function isIndex (x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0
}

function isId (x: unknown): x is string {
  return typeof x === 'string' && x.length > 0 && x.length <= 256
}

function isIdList (x: unknown): x is string[] {
  return Array.isArray(x) && x.every(isId)
}

function isConfChange (c: unknown): c is ConfChange {
  if (typeof c !== 'object' || c === null) return false
  const r = c as Record<string, unknown>
  switch (r['type']) {
    case 'add-voter':
    case 'remove-voter': return isId(r['id'])
    case 'reset-voters': return isIdList(r['voters'])
    default: return false
  }
}

/** An entry that is well formed, at `index`, with a term in [minTerm, maxTerm]. */
function isEntry (e: unknown, index: number, minTerm: number, maxTerm: number): e is Entry {
  if (typeof e !== 'object' || e === null) return false
  const r = e as Record<string, unknown>
  if (r['index'] !== index || !isIndex(r['term']) || r['term'] < minTerm || r['term'] > maxTerm || r['term'] === 0) return false
  if (r['kind'] === 'normal') return r['data'] instanceof Uint8Array
  if (r['kind'] === 'conf') return isConfChange(r['change'])
  return false
}

/** Entries contiguous after `prevIndex`, terms non-decreasing from `prevTerm` and at most `term` (Raft §5.3 log shape). */
function isEntryRun (entries: unknown, prevIndex: number, prevTerm: number, term: number): boolean {
  if (!Array.isArray(entries)) return false
  let minTerm = prevTerm
  for (let i = 0; i < entries.length; i++) {
    const e: unknown = entries[i]
    if (!isEntry(e, prevIndex + 1 + i, minTerm, term)) return false
    minTerm = e.term
  }
  return true
}

/** True when `m` is a well-formed Message (every field of the right type and range). */
export function isValidMessage (m: unknown): m is Message {
  if (typeof m !== 'object' || m === null) return false
  const r = m as Record<string, unknown>
  if (!isId(r['from']) || !isId(r['to']) || !isIndex(r['term'])) return false
  const term = r['term']
  switch (r['type']) {
    case 'pre-vote':
      return isIndex(r['lastIndex']) && isIndex(r['lastTerm']) && r['lastTerm'] <= term
    case 'vote':
      return isIndex(r['lastIndex']) && isIndex(r['lastTerm']) && r['lastTerm'] <= term && typeof r['transfer'] === 'boolean'
    case 'pre-vote-resp':
    case 'vote-resp':
      return typeof r['granted'] === 'boolean'
    case 'append':
      return isIndex(r['prevIndex']) && isIndex(r['prevTerm']) && r['prevTerm'] <= term && isIndex(r['commit']) &&
        isEntryRun(r['entries'], r['prevIndex'], r['prevTerm'], term)
    case 'append-resp':
      return typeof r['success'] === 'boolean' && isIndex(r['matchIndex']) && isIndex(r['hintIndex']) && isIndex(r['hintTerm'])
    case 'heartbeat':
      return isIndex(r['commit']) && isIndex(r['context'])
    case 'heartbeat-resp':
      return isIndex(r['context'])
    case 'snapshot':
      return isIndex(r['index']) && isIndex(r['snapTerm']) && r['snapTerm'] <= term && isIdList(r['voters']) &&
        isIndex(r['offset']) && r['chunk'] instanceof Uint8Array && typeof r['done'] === 'boolean'
    case 'snapshot-resp':
      return isIndex(r['index']) && isIndex(r['offset']) && typeof r['success'] === 'boolean'
    case 'timeout-now':
      return true
    default:
      return false
  }
}
