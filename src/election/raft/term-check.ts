import type { RaftLog } from './log.js'
import type { Message, RaftId } from './types.js'

/** What a message's term asks of a node before the message itself is handled (Raft §5.1). */
export type TermVerdict =
  /** Handle the message in this node's term (the same term, or a pre-vote's that changes no term). */
  | { readonly kind: 'continue' }
  /** A higher term: become a follower in it, of `leader` when the message comes from one. */
  | { readonly kind: 'follow', readonly leader: RaftId | null }
  /** Refuse a pre-vote, and do nothing else. */
  | { readonly kind: 'refuse-pre-vote' }
  /** A stale leader: tell it our term with a failed append response, and do nothing else. */
  | { readonly kind: 'tell-stale-leader' }
  | { readonly kind: 'drop' }

/**
 * Judge `m` against this node's `term`. `inLease`: it heard from a live leader within the minimum
 * election timeout (thesis §4.2.3, §9.6), so a (pre-)candidate may not disrupt it, unless the vote is a
 * leadership transfer.
 */
export function judgeTerm (m: Message, term: number, inLease: boolean): TermVerdict {
  const fromLeader = m.type === 'append' || m.type === 'heartbeat' || m.type === 'snapshot'
  if (m.term > term) {
    if ((m.type === 'pre-vote' || m.type === 'vote') && inLease && !(m.type === 'vote' && m.transfer)) {
      return m.type === 'pre-vote' ? { kind: 'refuse-pre-vote' } : { kind: 'drop' }
    }
    // PreVote (thesis §9.6): asking and granting a pre-vote never changes anyone's term.
    if (m.type === 'pre-vote' || (m.type === 'pre-vote-resp' && m.granted)) return { kind: 'continue' }
    return { kind: 'follow', leader: fromLeader ? m.from : null }
  }
  if (m.term < term) {
    // Stale sender (§5.1). A stale leader learns our term (it may have been partitioned while we moved
    // on, and with CheckQuorum it could not learn it from our votes); a stale pre-candidate is refused.
    if (fromLeader) return { kind: 'tell-stale-leader' }
    return m.type === 'pre-vote' ? { kind: 'refuse-pre-vote' } : { kind: 'drop' }
  }
  return { kind: 'continue' }
}

/** What a voter knows when it is asked for a vote. */
export interface VoterView {
  readonly term: number
  readonly vote: RaftId | null
  readonly leader: RaftId | null
  readonly log: RaftLog
}

/**
 * Whether a voter grants the (pre-)vote `m` that passed judgeTerm: it has not voted for another in this
 * term and knows no leader (or it is a pre-vote for a later term), and the candidate's log is at least
 * as up to date as its own (§5.4.1, the election restriction).
 */
export function grantsVote (m: Extract<Message, { type: 'pre-vote' | 'vote' }>, v: VoterView): boolean {
  const canVote = v.vote === m.from || (v.vote === null && v.leader === null) || (m.type === 'pre-vote' && m.term > v.term)
  return canVote && v.log.isUpToDate(m.lastIndex, m.lastTerm)
}
