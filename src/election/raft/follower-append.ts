import type { RaftLog } from './log.js'
import type { Entry, Message } from './types.js'

/** What a follower does with an append (Raft §5.3), decided from its log and commit index alone. */
export type AppendDecision =
  /** Would erase a committed entry: cannot come from a real leader. */
  | { readonly kind: 'drop' }
  /** The consistency check failed: hint where the leader should resume. */
  | { readonly kind: 'reject', readonly hintIndex: number, readonly hintTerm: number }
  /** Truncate from `truncateFrom` (when not null), append `entries`, commit up to `commit`, answer `matchIndex`. */
  | { readonly kind: 'accept', readonly truncateFrom: number | null, readonly entries: readonly Entry[], readonly commit: number, readonly matchIndex: number }

export function judgeAppend (log: RaftLog, commit: number, m: Extract<Message, { type: 'append' }>): AppendDecision {
  let prevIndex = m.prevIndex
  let entries = m.entries
  if (prevIndex < commit) {
    // Entries up to our commit index are committed, hence in the leader's log (§5.4): skip them.
    const skip = Math.min(commit - prevIndex, entries.length)
    entries = entries.slice(skip)
    prevIndex += skip
    if (prevIndex < commit) return { kind: 'accept', truncateFrom: null, entries: [], commit, matchIndex: commit }
  } else if (!log.matchTerm(prevIndex, m.prevTerm)) {
    // §5.3 consistency check failed. Fast back-off: hint the last index whose term is ≤ prevTerm, so
    // the leader skips a whole conflicting term per round trip.
    let hintIndex = log.lastIndex()
    if (prevIndex <= hintIndex) hintIndex = log.findConflictByTerm(prevIndex, m.prevTerm)
    return { kind: 'reject', hintIndex, hintTerm: log.term(hintIndex) ?? 0 }
  }
  let conflict: number | null = null
  let i = 0
  for (; i < entries.length; i++) {
    const e = entries[i] as Entry
    const t = log.term(e.index)
    if (t === undefined) break
    if (t !== e.term) { conflict = e.index; break }
  }
  if (conflict !== null && conflict <= commit) return { kind: 'drop' }
  const lastNew = prevIndex + entries.length
  return { kind: 'accept', truncateFrom: conflict, entries: entries.slice(i), commit: Math.min(m.commit, lastNew), matchIndex: lastNew }
}
