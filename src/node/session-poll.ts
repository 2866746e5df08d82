import type { Logger, Membership, NodeRole } from '../membership/index.js'
import { SessionChannel, type Manager, type SessionAnswer } from '../election/index.js'

/** How often a node asks the leader about itself: role changes, removal, removed peers. */
export const SESSION_POLL_MS = 3000

/** What a session answer asks of this node. */
export type SessionAction =
  | { readonly kind: 'none' }
  | { readonly kind: 'removed' }
  | { readonly kind: 'role', readonly role: NodeRole, readonly certificate: Uint8Array }

/** What `answer` asks of a node that holds `role`; `revokedSelf` when the removed list names this node. */
export function sessionAction (answer: SessionAnswer, role: NodeRole, revokedSelf: boolean): SessionAction {
  if (revokedSelf || answer.node === null) return { kind: 'removed' }
  if (answer.node.role !== role) return { kind: 'role', role: answer.node.role, certificate: new Uint8Array(answer.node.certificate) }
  return { kind: 'none' }
}

/** What the session poll reads from, and does to, the agent it runs in. */
export interface SessionPollHost {
  /** The active membership, or null. */
  readonly membership: () => Membership | null
  /** The local manager role, when this node has one (the leader answers itself without a round trip). */
  readonly manager: () => Manager | null
  /** Carry out `action` for membership `m` (still the active one). */
  readonly act: (m: Membership, action: Exclude<SessionAction, { kind: 'none' }>) => Promise<void>
}

/**
 * A node's periodic session with the leader (SwarmKit's dispatcher session, for what is not a task): at
 * most one poll at a time; a poll that fails is logged at debug and tried again at the next period.
 */
export class SessionPoll {
  private timer: NodeJS.Timeout | null = null
  private busy = false
  private readonly channel = new SessionChannel()
  /**
   * The leader this node last reached, for its membership. A node that was removed is refused by every
   * member on every protocol but this one, so its own view soon loses the leader (it suspects everyone);
   * it keeps polling the last leader it knew, which is the one that tells it it was removed.
   */
  private lastLeader: { readonly membership: Membership, readonly nodeId: string } | null = null
  private readonly log: Logger

  constructor (private readonly host: SessionPollHost, logger: Logger) {
    this.log = logger.child('session')
  }

  start (): void {
    this.timer = setInterval(() => { this.poll() }, SESSION_POLL_MS)
    this.timer.unref()
  }

  stop (): void {
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
    this.channel.close()
  }

  private poll (): void {
    const m = this.host.membership()
    if (m === null || this.busy || this.timer === null) return
    this.busy = true
    this.once(m)
      .catch((err: unknown) => { this.log.debug('session poll failed', { err: (err as Error).message }) })
      .finally(() => { this.busy = false })
  }

  private async once (m: Membership): Promise<void> {
    const local = this.host.manager()
    let answer: SessionAnswer
    if (local !== null && local.isLeader) {
      this.channel.close()
      answer = local.sessionFor(m.nodeId)
    } else {
      const last = this.lastLeader?.membership === m ? this.lastLeader.nodeId : null
      const leader = m.leaderHint() ?? last
      if (leader === null || leader === m.nodeId) {
        this.channel.close()
        return
      }
      const res = await this.channel.poll(m, leader)
      if ('notLeader' in res) {
        this.lastLeader = res.notLeader === '' ? null : { membership: m, nodeId: res.notLeader }
        return
      }
      this.lastLeader = { membership: m, nodeId: leader }
      answer = res
    }
    if (this.host.membership() !== m) return
    const action = sessionAction(answer, m.role, m.setRevoked(answer.revoked))
    if (action.kind !== 'none') await this.host.act(m, action)
  }
}
