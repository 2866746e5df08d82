import type { ApiRequest, ApiResponse } from './http-server.js'
import { unversioned } from './router.js'

/**
 * `docker swarm join-token worker|manager` on a worker's socket.
 *
 * The docker CLI sends `GET /swarm`, `GET /info`, then `GET /nodes/{Info.Swarm.NodeID}`, and prints the
 * join command with that node's `ManagerStatus.Addr`; without a ManagerStatus it prints nothing and exits 0.
 * dockerd refuses the command on a worker (its `GET /swarm` is a 503 there). flotilla serves every
 * cluster call on every socket, a worker's included (it forwards them to the leader), so it completes
 * the command instead: when a docker CLI asks for the worker's own node right after `GET /swarm` and
 * `GET /info` on the same connection (the command's exact sequence), the answer carries a ManagerStatus
 * whose Addr is the leader's address, the address a new node joins through. Any other client or sequence
 * (`docker node inspect self` is `GET /info`, `GET /nodes/{id}`) sees the node as it is.
 */
export class JoinTokenShim {
  /** The last two unversioned `METHOD path`s served on each client connection. */
  private readonly recent = new WeakMap<object, string[]>()

  /** Note a request served on the local socket (forwarded calls carry no connection and are ignored). */
  record (req: ApiRequest): void {
    if (req.connection === undefined) return
    const seen = this.recent.get(req.connection) ?? []
    this.recent.set(req.connection, [...seen.slice(-1), `${req.method} ${unversioned(req.path)}`])
  }

  /**
   * The answer to `GET /nodes/{id}` (`res`, the node as served), amended as the module comment says when
   * `req` completes the join-token sequence, `selfId` is this worker's node ID and `leaderAddr` is known.
   */
  amendNode (req: ApiRequest, res: ApiResponse, selfId: string | null, leaderAddr: string | null): ApiResponse {
    if (req.connection === undefined || selfId === null || leaderAddr === null || res.status !== 200) return res
    if (!String(req.headers['user-agent'] ?? '').startsWith('Docker-Client/')) return res
    const seen = this.recent.get(req.connection) ?? []
    if (seen[0] !== 'GET /swarm' || seen[1] !== 'GET /info') return res
    const node = res.json as Record<string, unknown> | undefined
    if (node?.ID !== selfId || node.ManagerStatus !== undefined) return res
    return { ...res, json: { ...node, ManagerStatus: { Leader: false, Reachability: 'reachable', Addr: leaderAddr } } }
  }
}
