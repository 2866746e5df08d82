import { FlotillaError, asFlotillaError, parseHostPort, DEFAULT_PORT, newTokenSecret, type HostPort, type Member } from '../../membership/index.js'
import { DEFAULT_ADDRESS_POOL, type Manager, type NodeObject } from '../../election/index.js'
import type { Agent } from '../agent.js'
import { errorResponse, parseJson, type ApiHandler, type ApiRequest, type ApiResponse } from './http-server.js'
import { Router } from './router.js'
import { SwarmInitSchema, SwarmJoinSchema, SwarmSpecSchema, labelMatches, normalizeSwarmSpec, parseBody, parseFilters, queryFlag } from './schemas.js'
import { NodeSpecSchema } from './node-schemas.js'
import { API_VERSION, infoJson, nodeJson, swarmJson, versionJson } from './docker-shapes.js'
import { clusterCall } from './cluster-call.js'
import { Forwarder } from './forward.js'
import { addServiceRoutes } from './service-api.js'
import { addNetworkRoutes } from './network-api.js'
import { addBlobRoutes } from './blob-api.js'
import { addLogRoutes } from './logs-api.js'
import { nodeLogs } from './logs-protocol.js'
import { addEventRoutes, type EventRouteDeps } from './events-api.js'

/**
 * The docker CLI always sends its own default listen address; flotilla reads that exact value as "not
 * named" so that the agent's --listen-addr applies (several agents on one host cannot all take 2377).
 */
const DOCKER_CLI_DEFAULT_LISTEN = '0.0.0.0:2377'

function requiredVersion (q: URLSearchParams): number {
  const raw = q.get('version')
  const v = Number(raw)
  if (raw === null || raw === '' || !Number.isSafeInteger(v) || v < 0) {
    throw new FlotillaError('invalid-argument', `invalid version "${raw ?? ''}": the object's Version.Index is required`, { hint: 'inspect the object and pass its Version.Index as ?version=' })
  }
  return v
}

/** Look a node up as Docker does: full ID, then hostname, then unique ID prefix. */
export function findNode (nodes: readonly NodeObject[], ref: string): NodeObject {
  const exact = nodes.find(n => n.id === ref)
  if (exact !== undefined) return exact
  const byName = nodes.filter(n => n.hostname === ref)
  if (byName.length === 1) return byName[0]!
  const byPrefix = nodes.filter(n => n.id.startsWith(ref))
  if (byPrefix.length === 1) return byPrefix[0]!
  if (byName.length > 1 || byPrefix.length > 1) {
    throw new FlotillaError('invalid-argument', `node ${ref} is ambiguous (${Math.max(byName.length, byPrefix.length)} matches found)`)
  }
  throw new FlotillaError('not-found', `node ${ref} not found`)
}

function matchesNodeFilters (n: NodeObject, filters: Map<string, string[]>): boolean {
  for (const [key, values] of filters) {
    const ok = values.some(v => {
      switch (key) {
        case 'id': return n.id.startsWith(v)
        case 'name': return n.hostname.startsWith(v)
        case 'role': return n.spec.role === v
        case 'membership': return v === 'accepted'
        case 'label':
        case 'node.label': return labelMatches(n.spec.labels, v)
        default: return false
      }
    })
    if (!ok) return false
  }
  return true
}

function listenOf (raw: string | undefined): HostPort | undefined {
  if (raw === undefined || raw === '' || raw === DOCKER_CLI_DEFAULT_LISTEN) return undefined
  return parseHostPort(raw, 'ListenAddr', DEFAULT_PORT)
}

function advertiseOf (raw: string | undefined, listen: HostPort | undefined, agent: Agent): HostPort | undefined {
  if (raw === undefined || raw === '') return undefined
  return parseHostPort(raw, 'AdvertiseAddr', (listen ?? agent.config.listen).port)
}

/** The control socket's API: its handler, and the route template a request matches (for metrics labels). */
export interface ControlApi {
  readonly handle: ApiHandler
  readonly routeOf: (method: string, path: string) => string
}

/** The control socket's API: Docker's swarm, node, service, task and system endpoints, served from `agent`. */
export function controlApi (agent: Agent, events: Omit<EventRouteDeps, 'agent'>): ControlApi {
  const liveness = (id: string): Member | undefined => agent.membership?.member(id)
  const nodeView = (mgr: Manager, n: NodeObject): Record<string, unknown> => nodeJson(n, liveness(n.id), mgr.leaderId, new Set(mgr.voters()))

  const forwarder = new Forwarder()
  const cluster = async (req: ApiRequest, write: boolean, local: (mgr: Manager) => Promise<ApiResponse>): Promise<ApiResponse> =>
    await clusterCall(agent, forwarder, req, write, local)

  const pingHeaders = (): Record<string, string> => {
    const m = agent.membership
    return {
      OSType: 'linux',
      'Docker-Experimental': 'false',
      'Cache-Control': 'no-cache, no-store, must-revalidate',
      Swarm: m === null ? agent.localNodeState : `active/${agent.manager === null ? 'worker' : 'manager'}`
    }
  }

  const router = new Router()
    .add('GET', '/_ping', async () => ({ status: 200, text: 'OK', headers: pingHeaders() }))
    .add('GET', '/version', async () => ({ status: 200, json: versionJson() }))
    .add('GET', '/info', async (req) => {
      const json = infoJson(agent)
      // A worker's socket takes cluster control too (ControlAvailable), so it shows the cluster as a
      // manager's does: read from the leader, as the worker forwards any cluster read.
      if (agent.membership !== null && agent.manager === null) {
        const swarm = json.Swarm as Record<string, unknown>
        try {
          const r = await cluster({ ...req, path: '/swarm', query: new URLSearchParams() }, false, async mgr => ({ status: 200, json: swarmJson(mgr.store.state.cluster!) }))
          if (r.status !== 200) throw new FlotillaError('unavailable', (r.json as { message?: string } | undefined)?.message ?? `status ${r.status}`)
          const { JoinTokens: _tokens, ...info } = r.json as Record<string, unknown>
          swarm.Cluster = info
        } catch (err) {
          // Control is not available while no leader answers (and the CLI prints no cluster section then).
          swarm.ControlAvailable = false
          swarm.Error = `the cluster's leader did not answer: ${asFlotillaError(err).message}`
        }
      }
      return { status: 200, json }
    })
    .add('POST', '/swarm/init', async (req) => {
      const body = parseBody(SwarmInitSchema, parseJson(req), 'swarm init request')
      if (body.AutoLockManagers === true) throw new FlotillaError('invalid-argument', 'autolock is not supported by flotilla')
      if (body.ForceNewCluster === true) return { status: 200, json: await agent.forceNewCluster() }
      if (body.Availability !== undefined && body.Availability !== '' && body.Availability !== 'active') {
        throw new FlotillaError('invalid-argument', `Availability "${body.Availability}" is not supported at init; use "active"`)
      }
      const listen = listenOf(body.ListenAddr)
      // Docker's CLI sends an empty pool and SubnetSize 0 for "the defaults".
      const pools = body.DefaultAddrPool ?? []
      const addressPool = pools.length === 0 && (body.SubnetSize ?? 0) === 0
        ? undefined
        : { defaultAddrPool: pools.length === 0 ? DEFAULT_ADDRESS_POOL.defaultAddrPool : pools, subnetSize: body.SubnetSize === undefined || body.SubnetSize === 0 ? DEFAULT_ADDRESS_POOL.subnetSize : body.SubnetSize }
      const nodeId = await agent.init({ listen, advertise: advertiseOf(body.AdvertiseAddr, listen, agent), spec: normalizeSwarmSpec(body.Spec), addressPool })
      return { status: 200, json: nodeId }
    })
    .add('POST', '/swarm/join', async (req) => {
      const body = parseBody(SwarmJoinSchema, parseJson(req), 'swarm join request')
      if (body.Availability !== undefined && body.Availability !== '' && body.Availability !== 'active') {
        throw new FlotillaError('invalid-argument', `Availability "${body.Availability}" is not supported at join; use "active"`)
      }
      const listen = listenOf(body.ListenAddr)
      const remotes = body.RemoteAddrs.map((a, i) => parseHostPort(a, `RemoteAddrs[${i}]`, DEFAULT_PORT))
      await agent.join({ listen, advertise: advertiseOf(body.AdvertiseAddr, listen, agent), remotes, token: body.JoinToken })
      return { status: 200 }
    })
    .add('POST', '/swarm/leave', async (req) => {
      await agent.leave(queryFlag(req.query, 'force'))
      return { status: 200 }
    })
    .add('GET', '/swarm', async (req) => await cluster(req, false, async mgr => ({ status: 200, json: swarmJson(mgr.store.state.cluster!) })))
    .add('POST', '/swarm/update', async (req) => {
      const version = requiredVersion(req.query)
      const spec = normalizeSwarmSpec(parseBody(SwarmSpecSchema, parseJson(req), 'swarm spec'))
      return await cluster(req, true, async mgr => {
        const c = mgr.store.state.cluster!
        const secrets = {
          worker: queryFlag(req.query, 'rotateWorkerToken') ? newTokenSecret() : c.secrets.worker,
          manager: queryFlag(req.query, 'rotateManagerToken') ? newTokenSecret() : c.secrets.manager
        }
        await mgr.propose({ op: 'cluster.update', version, spec, secrets, nowMs: Date.now() })
        return { status: 200 }
      })
    })
    .add('POST', '/swarm/unlock', async () => { throw new FlotillaError('invalid-argument', 'autolock is not supported by flotilla; there is nothing to unlock') })
    .add('GET', '/swarm/unlockkey', async () => { throw new FlotillaError('invalid-argument', 'autolock is not supported by flotilla; there is no unlock key') })
    .add('GET', '/nodes', async (req: ApiRequest) => {
      const filters = parseFilters(req.query.get('filters'), ['id', 'name', 'role', 'membership', 'label', 'node.label'])
      return await cluster(req, false, async mgr => ({
        status: 200,
        json: [...mgr.store.state.nodes.values()].filter(n => matchesNodeFilters(n, filters)).map(n => nodeView(mgr, n))
      }))
    })
    .add('GET', '/nodes/{id}', async (req, p) => await cluster(req, false, async mgr =>
      ({ status: 200, json: nodeView(mgr, findNode([...mgr.store.state.nodes.values()], p.id!)) })))
    .add('POST', '/nodes/{id}/update', async (req, p) => {
      const version = requiredVersion(req.query)
      const spec = parseBody(NodeSpecSchema, parseJson(req), 'node spec')
      return await cluster(req, true, async mgr => {
        const node = findNode([...mgr.store.state.nodes.values()], p.id!)
        if (node.spec.role === 'manager' && spec.Role === 'worker') refuseQuorumLoss(mgr, node.id, 'demote')
        await mgr.propose({
          op: 'node.update', id: node.id, version, nowMs: Date.now(),
          spec: { role: spec.Role, availability: spec.Availability, labels: spec.Labels ?? {} }
        })
        return { status: 200 }
      })
    })
    .add('DELETE', '/nodes/{id}', async (req, p) => {
      const force = queryFlag(req.query, 'force')
      return await cluster(req, true, async mgr => {
        const node = findNode([...mgr.store.state.nodes.values()], p.id!)
        const state = liveness(node.id)?.liveness
        if (!force && (state === 'ready' || state === 'suspect')) {
          throw new FlotillaError('conflict', `node ${node.id} is not down and can't be removed`, { hint: 'stop its agent first, or pass --force' })
        }
        if (node.spec.role === 'manager') {
          if (!force) {
            throw new FlotillaError('conflict', `node ${node.id} is a cluster manager and is a member of the raft cluster. It must be demoted to worker before removal`, {
              hint: 'demote it first (`flotilla node demote`), or pass --force'
            })
          }
          refuseQuorumLoss(mgr, node.id, 'remove')
        }
        await mgr.propose({ op: 'node.remove', id: node.id, nowMs: Date.now() })
        return { status: 200 }
      })
    })
  addServiceRoutes(router, { cluster, requiredVersion, findNode })
  addNetworkRoutes(router, { cluster })
  addBlobRoutes(router, { cluster })
  addLogRoutes(router, { api: async req => await handle(req), open: (node, req, signal) => nodeLogs(agent.requireMembership(), agent.executor, node, req, signal) })
  addEventRoutes(router, { agent, ...events })
  const handle = router.handler()

  /**
   * Refuse taking manager `id` out of the voters when the managers left that are reachable would not
   * make a majority of the new voter set: the cluster would stop taking writes.
   */
  function refuseQuorumLoss (mgr: Manager, id: string, verb: string): void {
    const voters = mgr.voters().filter(v => v !== id)
    const reachable = voters.filter(v => { const s = liveness(v)?.liveness; return s === 'ready' || s === 'suspect' }).length
    const quorum = Math.floor(voters.length / 2) + 1
    if (voters.length === 0) throw new FlotillaError('conflict', `can't ${verb} the last manager of the swarm`)
    if (reachable < quorum) {
      throw new FlotillaError('conflict', `can't ${verb} manager ${id}: only ${reachable} of the ${voters.length} remaining managers are reachable, fewer than the ${quorum} a quorum needs`, {
        hint: 'bring the unreachable managers back first'
      })
    }
  }

  return {
    routeOf: (method, path) => router.routeOf(method, path),
    handle: async (req) => {
      let res: ApiResponse
      try {
        res = await handle(req)
      } catch (err) {
        res = errorResponse(err)
      }
      return { ...res, headers: { 'Api-Version': API_VERSION, Server: 'flotilla', ...res.headers } }
    }
  }
}
