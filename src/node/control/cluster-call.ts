import { FlotillaError, type Membership } from '../../membership/index.js'
import { NotLeaderError, PROPOSAL_TIMEOUT_MS, QUORUM_HINT, type Manager } from '../../election/index.js'
import type { Agent } from '../agent.js'
import type { ApiRequest, ApiResponse } from './http-server.js'
import { ForwardNotSentError, ForwardUnansweredError, RETRY_HEADER, type Forwarder } from './forward.js'

/** How long a call waits for a leader while this node reaches fewer managers than a quorum. */
const NO_QUORUM_WAIT_MS = 1000
const RETRY_EVERY_MS = 100
/** How long a forwarded call may take: the leader's own bound on a proposal or a read barrier, and a margin. */
const FORWARD_BUDGET_MS = PROPOSAL_TIMEOUT_MS + 2000
/** How often a forwarded call checks that its target still leads and is heard from. */
const WATCH_EVERY_MS = 100

/** The leader as this node knows it: its own Raft view on a manager, else the freshest gossip claim. */
function knownLeader (agent: Agent, m: Membership): string | null {
  return agent.manager?.leaderId ?? m.leaderHint()
}

/** `node`'s liveness when the membership has stopped hearing it (suspect or down), else null. */
function silence (m: Membership, node: string): 'suspect' | 'down' | null {
  const liveness = m.member(node)?.liveness
  return liveness === 'suspect' || liveness === 'down' ? liveness : null
}

/**
 * Send `req` to `target`, abandoning it as soon as this node learns that the target no longer leads
 * (another leader is known) or has gone silent (suspect or down in the membership): a leader cut off
 * by a partition that drops packets would otherwise hold the call until the forward's own timeout.
 */
async function forwardWatched (agent: Agent, forwarder: Forwarder, m: Membership, target: string, req: ApiRequest, write: boolean, budgetMs: number): Promise<ApiResponse> {
  const abort = new AbortController()
  const watch = setInterval(() => {
    const leader = knownLeader(agent, m)
    const silent = silence(m, target)
    if (leader !== null && leader !== target) abort.abort(new Error(`node ${target} no longer leads (the leader is now ${leader})`))
    else if (silent !== null) abort.abort(new Error(`node ${target} went silent (${silent})`))
  }, WATCH_EVERY_MS)
  const budget = setTimeout(() => { abort.abort(new Error(`no answer within ${budgetMs} ms`)) }, budgetMs)
  try {
    // A call given up fails with the abort's reason in its message.
    return await forwarder.call(m, target, req, write, abort.signal)
  } finally {
    clearInterval(watch)
    clearTimeout(budget)
  }
}

/** A refusal that tells a forwarding node to try again (elsewhere, or once a leader exists). */
function retryElsewhere (message: string): ApiResponse {
  return { status: 503, json: { message }, headers: { [RETRY_HEADER]: '1' } }
}

/** The managers this node's membership reaches, and how many a quorum needs. */
function quorumView (m: Membership): { readonly managers: number, readonly reachable: number, readonly quorum: number, readonly unreachable: string[] } {
  const managers = m.members().filter(x => x.role === 'manager')
  const up = managers.filter(x => x.nodeId === m.nodeId || x.liveness === 'ready')
  const down = managers.filter(x => !up.includes(x)).map(x => x.hostname === '' ? x.nodeId : x.hostname)
  return { managers: managers.length, reachable: up.length, quorum: Math.floor(managers.length / 2) + 1, unreachable: down }
}

function noQuorum (v: ReturnType<typeof quorumView>): FlotillaError {
  return new FlotillaError('unavailable',
    `no Raft leader: this node reaches ${v.reachable} of ${v.managers} managers, fewer than the ${v.quorum} a quorum needs` +
    `${v.unreachable.length === 0 ? '' : ` (unreachable: ${v.unreachable.join(', ')})`}; nothing was changed`,
    { retryable: true, hint: QUORUM_HINT })
}

/**
 * Serve a cluster-scoped call on the Raft leader: here if this node leads, else forwarded over libp2p
 * to the leader (as SwarmKit's managers proxy to theirs), waiting up to 10 s for one. Reads run after a
 * read barrier, so a read through any node sees every write acknowledged before it; `write` calls skip it.
 *
 * A call is sent again only when it certainly changed nothing: it never left this node (no channel to
 * the leader could be opened, or a write found the leader silent on its channel: see WRITE_FRESH_MS in
 * forward.ts), or the leader answered that it no longer leads. A forwarded write whose leader went
 * silent after receiving it fails with an outcome left unknown, never retried into a false conflict. While this node reaches
 * fewer managers than a quorum, the call fails after a second, naming the quorum it cannot reach.
 */
export async function clusterCall (agent: Agent, forwarder: Forwarder, req: ApiRequest, write: boolean, local: (mgr: Manager) => Promise<ApiResponse>): Promise<ApiResponse> {
  const m = agent.requireMembership()
  const leaderHere = (): Manager | null => {
    const mgr = agent.manager
    return mgr !== null && mgr.isLeader && mgr.store.state.cluster !== null ? mgr : null
  }
  /** The leader's answer, or undefined when it turned out not to lead (nothing changed). */
  const serve = async (mgr: Manager): Promise<ApiResponse | undefined> => {
    try {
      if (!write) await mgr.readBarrier()
      return await local(mgr)
    } catch (err) {
      if (err instanceof NotLeaderError) return undefined
      throw err
    }
  }
  const here = leaderHere()
  if (here !== null) {
    const res = await serve(here)
    if (res !== undefined) return res
  }
  if (req.forwarded === true) return retryElsewhere('this manager is not the leader')
  const startMs = Date.now()
  let last = 'no manager is reachable'
  for (;;) {
    // This node may itself win the election while the call waits.
    const became = leaderHere()
    if (became !== null) {
      const res = await serve(became)
      if (res !== undefined) return res
    }
    const target = knownLeader(agent, m)
    // A leader gone silent (suspect or down) is not sent the call: it could not answer, and a write
    // sent to it would end with an unknown outcome. The call waits for the next leader instead.
    const silent = target === null ? null : silence(m, target)
    if (silent !== null) last = `the leader (node ${target ?? ''}) went silent (${silent})`
    else if (target !== null && target !== m.nodeId) {
      try {
        const res = await forwardWatched(agent, forwarder, m, target, req, write, Math.max(1000, startMs + FORWARD_BUDGET_MS - Date.now()))
        if (res.headers?.[RETRY_HEADER] === undefined) return res
        last = typeof (res.json as { message?: unknown } | undefined)?.message === 'string' ? (res.json as { message: string }).message : 'retry'
      } catch (err) {
        if (write && !(err instanceof ForwardNotSentError)) {
          const why = err instanceof ForwardUnansweredError && err.cause instanceof Error ? err.cause.message : (err as Error).message
          throw new FlotillaError('unavailable', `the leader (node ${target}) did not answer: ${why}; the write may or may not have been applied: inspect before retrying`, {
            retryable: false, hint: QUORUM_HINT, cause: err
          })
        }
        last = (err as Error).message
      }
    }
    const view = quorumView(m)
    const waitedMs = Date.now() - startMs
    if (view.reachable < view.quorum && waitedMs > NO_QUORUM_WAIT_MS) throw noQuorum(view)
    if (waitedMs > PROPOSAL_TIMEOUT_MS) {
      throw new FlotillaError('unavailable', `no Raft leader could serve this within 10 s (${view.reachable} of ${view.managers} managers reachable; last error: ${last}); nothing was changed`, {
        retryable: true, hint: QUORUM_HINT
      })
    }
    await new Promise(resolve => setTimeout(resolve, RETRY_EVERY_MS))
  }
}
