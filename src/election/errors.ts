import { FlotillaError } from '../membership/index.js'

/**
 * A call this manager refused because it is not, or is no longer, the Raft leader, and that certainly
 * changed nothing: a proposal never placed in its log, a proposal whose index another term's entry took,
 * or a read barrier. The control socket sends such a call on to the leader.
 */
export class NotLeaderError extends FlotillaError {
  constructor (message = 'this manager is not the leader') {
    super('unavailable', message, { retryable: true })
    this.name = 'NotLeaderError'
  }
}
