import { FlotillaError, parseHostPort, DEFAULT_PORT, type HostPort, type Member } from '../../membership/index.js'
import type { Agent } from '../agent.js'
import { errorResponse, parseJson, type ApiHandler, type ApiRequest, type ApiResponse } from './http-server.js'
import { Router } from './router.js'
import { SwarmInitSchema, SwarmJoinSchema, SwarmSpecSchema, normalizeSwarmSpec, parseBody, parseFilters } from './schemas.js'
import { API_VERSION, infoJson, nodeJson, swarmJson, versionJson } from './docker-shapes.js'

/**
 * The docker CLI always sends its own default listen address; flotilla reads that exact value as "not
 * named" so that the agent's --listen-addr applies (several agents on one host cannot all take 2377).
 */
const DOCKER_CLI_DEFAULT_LISTEN = '0.0.0.0:2377'

function flag (q: URLSearchParams, name: string): boolean {
  const v = q.get(name)
  return v === '1' || v === 'true' || v === 'True'
}

function requiredVersion (q: URLSearchParams): number {
  const raw = q.get('version')
  const v = Number(raw)
  if (raw === null || raw === '' || !Number.isSafeInteger(v) || v < 0) {
    throw new FlotillaError('invalid-argument', `invalid version "${raw ?? ''}": the object's Version.Index is required`, { hint: 'inspect the object and pass its Version.Index as ?version=' })
  }
  return v
}

/** Look a node up as Docker does: full ID, then hostname, then unique ID prefix. */
export function findNode (members: readonly Member[], ref: string): Member {
  const exact = members.find(m => m.nodeId === ref)
  if (exact !== undefined) return exact
  const byName = members.filter(m => m.hostname === ref)
  if (byName.length === 1) return byName[0]!
  const byPrefix = members.filter(m => m.nodeId.startsWith(ref))
  if (byPrefix.length === 1) return byPrefix[0]!
  if (byName.length > 1 || byPrefix.length > 1) {
    throw new FlotillaError('not-found', `node ${ref} is ambiguous (${Math.max(byName.length, byPrefix.length)} matches found)`)
  }
  throw new FlotillaError('not-found', `node ${ref} not found`)
}

function matchesNodeFilters (m: Member, filters: Map<string, string[]>): boolean {
  for (const [key, values] of filters) {
    const ok = values.some(v => {
      switch (key) {
        case 'id': return m.nodeId.startsWith(v)
        case 'name': return m.hostname.startsWith(v)
        case 'role': return m.role === v
        case 'membership': return v === 'accepted'
        default: return false // labels: nodes carry none until node update exists
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

/** The control socket's API: Docker's swarm, node and system endpoints, served from `agent`. */
export function controlApi (agent: Agent): ApiHandler {
  const pingHeaders = (): Record<string, string> => {
    const m = agent.membership
    return {
      OSType: 'linux',
      'Docker-Experimental': 'false',
      'Cache-Control': 'no-cache, no-store, must-revalidate',
      Swarm: m === null ? agent.localNodeState : `active/${m.role}`
    }
  }
  const router = new Router()
    .add('GET', '/_ping', async () => ({ status: 200, text: 'OK', headers: pingHeaders() }))
    .add('GET', '/version', async () => ({ status: 200, json: versionJson() }))
    .add('GET', '/info', async () => ({ status: 200, json: infoJson(agent) }))
    .add('POST', '/swarm/init', async (req) => {
      const body = parseBody(SwarmInitSchema, parseJson(req), 'swarm init request')
      if (body.ForceNewCluster === true) {
        throw new FlotillaError('invalid-argument', 'ForceNewCluster needs the replicated manager store, which this flotilla version does not have')
      }
      if (body.AutoLockManagers === true) throw new FlotillaError('invalid-argument', 'autolock is not supported by flotilla')
      if (body.Availability !== undefined && body.Availability !== '' && body.Availability !== 'active') {
        throw new FlotillaError('invalid-argument', `Availability "${body.Availability}" is not supported at init; use "active"`)
      }
      const listen = listenOf(body.ListenAddr)
      const nodeId = await agent.init({ listen, advertise: advertiseOf(body.AdvertiseAddr, listen, agent), spec: normalizeSwarmSpec(body.Spec) })
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
      await agent.leave(flag(req.query, 'force'))
      return { status: 200 }
    })
    .add('GET', '/swarm', async () => ({ status: 200, json: swarmJson(agent.requireMembership().clusterConfig()) }))
    .add('POST', '/swarm/update', async (req) => {
      const m = agent.requireMembership()
      const version = requiredVersion(req.query)
      const spec = normalizeSwarmSpec(parseBody(SwarmSpecSchema, parseJson(req), 'swarm spec'))
      const rotate = [
        ...(flag(req.query, 'rotateWorkerToken') ? ['worker' as const] : []),
        ...(flag(req.query, 'rotateManagerToken') ? ['manager' as const] : [])
      ]
      await m.updateConfig(version, { rotate, spec })
      return { status: 200 }
    })
    .add('POST', '/swarm/unlock', async () => { throw new FlotillaError('invalid-argument', 'autolock is not supported by flotilla; there is nothing to unlock') })
    .add('GET', '/swarm/unlockkey', async () => { throw new FlotillaError('invalid-argument', 'autolock is not supported by flotilla; there is no unlock key') })
    .add('GET', '/nodes', async (req: ApiRequest) => {
      const filters = parseFilters(req.query.get('filters'), ['id', 'name', 'role', 'membership', 'label', 'node.label'])
      const members = agent.requireMembership().members().filter(m => matchesNodeFilters(m, filters))
      return { status: 200, json: members.map(nodeJson) }
    })
    .add('GET', '/nodes/{id}', async (_req, p) => ({ status: 200, json: nodeJson(findNode(agent.requireMembership().members(), p.id!)) }))
  const handle = router.handler()
  return async (req) => {
    let res: ApiResponse
    try {
      res = await handle(req)
    } catch (err) {
      res = errorResponse(err)
    }
    return { ...res, headers: { 'Api-Version': API_VERSION, Server: 'flotilla', ...res.headers } }
  }
}
