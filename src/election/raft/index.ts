/**
 * The Raft consensus core: pure and synchronous (see core.ts). The driver (../) feeds it ticks, messages
 * and proposals, and applies each `Ready` in order: persist, send, apply, advance.
 */
export { RaftCore } from './core.js'
export type { Proposed, RaftStatus, ProgressStatus } from './status.js'
export { RaftLog, EMPTY_SNAPSHOT, NO_DATA } from './log.js'
export { applyConfChange, quorumSize, votersAfter } from './quorum.js'
export { isValidMessage } from './validate.js'
export type { ProgressState } from './progress.js'
export type * from './types.js'
