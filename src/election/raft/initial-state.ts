import { RaftLog } from './log.js'
import type { Entry, RaftId, RaftInitialState } from './types.js'

/**
 * `swarm init`: a one-voter cluster whose log starts with a conf entry adding `id` (term 1, committed),
 * so that members added later learn the first voter from the log. The driver persists it before use.
 */
export function bootstrapState (id: RaftId): RaftInitialState {
  const entry: Entry = { kind: 'conf', term: 1, index: 1, change: { type: 'add-voter', id } }
  return { hardState: { term: 1, vote: null, commit: 1 }, snapshot: null, entries: [entry] }
}

/**
 * Disaster recovery (swarmkit's --force-new-cluster): keep the whole log, append `reset-voters [id]`
 * at lastIndex + 1 with a term above any seen, and commit through it: this node alone is the cluster
 * and elects itself. The driver persists the result before constructing the core.
 */
export function forceNewClusterState (initial: RaftInitialState, id: RaftId): RaftInitialState {
  const log = new RaftLog(initial.snapshot, initial.entries)
  const term = Math.max(initial.hardState.term, log.lastTerm()) + 1
  const index = log.lastIndex() + 1
  const entry: Entry = { kind: 'conf', term, index, change: { type: 'reset-voters', voters: [id] } }
  return {
    hardState: { term, vote: null, commit: index },
    snapshot: initial.snapshot,
    entries: [...log.slice(log.firstIndex(), log.lastIndex()), entry]
  }
}
