import type { ConfChange, Entry, RaftId } from './types.js'

/** Majority of `n` voters (Raft §5.2): ⌊n/2⌋ + 1. */
export function quorumSize (n: number): number {
  return Math.floor(n / 2) + 1
}

/** The voter set after one change (Raft thesis §4.1, one server at a time). Adding a voter twice or removing an absent one is a no-op. */
export function applyConfChange (voters: readonly RaftId[], change: ConfChange): RaftId[] {
  switch (change.type) {
    case 'add-voter': return voters.includes(change.id) ? [...voters] : [...voters, change.id]
    case 'remove-voter': return voters.filter(v => v !== change.id)
    case 'reset-voters': return [...new Set(change.voters)]
  }
}

/** The voter set after `entries`' conf entries, applied in order from `base` (thesis §4.1: effective once appended). */
export function votersAfter (base: readonly RaftId[], entries: Iterable<Entry>): RaftId[] {
  let voters = [...base]
  for (const e of entries) if (e.kind === 'conf') voters = applyConfChange(voters, e.change)
  return voters
}

/** The largest index that a quorum of `voters` has acknowledged (`match` gives each voter's match index); 0 with no voters. */
export function quorumIndex (voters: readonly RaftId[], match: (id: RaftId) => number): number {
  if (voters.length === 0) return 0
  const sorted = voters.map(match).sort((a, b) => b - a)
  return sorted[quorumSize(voters.length) - 1] ?? 0
}

export type VoteResult = 'won' | 'lost' | 'pending'

/** Tally of an election (Raft §5.2) among `voters`: only their answers count. */
export function voteResult (voters: readonly RaftId[], votes: ReadonlyMap<RaftId, boolean>): VoteResult {
  let granted = 0
  let rejected = 0
  for (const v of voters) {
    const vote = votes.get(v)
    if (vote === true) granted++
    else if (vote === false) rejected++
  }
  const q = quorumSize(voters.length)
  if (granted >= q) return 'won'
  if (rejected > voters.length - q) return 'lost'
  return 'pending'
}
