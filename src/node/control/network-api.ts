import { z } from 'zod'
import { FlotillaError, newObjectId } from '../../membership/index.js'
import type { NetworkObject, NetworkSpec } from '../../election/index.js'
import { allocateNetwork } from '../../tasks/index.js'
import { parseJson } from './http-server.js'
import type { Router } from './router.js'
import { findByRef, labelMatches, parseBody, parseFilters } from './schemas.js'
import type { ClusterCall } from './service-api.js'

const stringMap = z.record(z.string()).nullable().optional()

/** Docker's NetworkCreateRequest (API 1.41), as `docker network create` and dockerode send it. */
const NetworkCreateSchema = z.object({
  Name: z.string(),
  CheckDuplicate: z.boolean().optional(),
  Driver: z.string().optional(),
  Scope: z.string().optional(),
  Internal: z.boolean().optional(),
  Attachable: z.boolean().optional(),
  Ingress: z.boolean().optional(),
  EnableIPv6: z.boolean().optional(),
  ConfigOnly: z.boolean().optional(),
  ConfigFrom: z.object({ Network: z.string().optional() }).nullable().optional(),
  IPAM: z.object({
    Driver: z.string().optional(),
    Config: z.array(z.object({
      Subnet: z.string().optional(),
      IPRange: z.string().optional(),
      Gateway: z.string().optional(),
      AuxiliaryAddresses: stringMap
    })).nullable().optional(),
    Options: stringMap
  }).nullable().optional(),
  Options: stringMap,
  Labels: stringMap
})

/** Docker's network name rule (daemon/network: the same as container names'). */
const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/

/** The request as a NetworkSpec; a 400 naming the field for what flotilla cannot honour. */
export function parseNetworkSpec (body: unknown): NetworkSpec {
  const b = parseBody(NetworkCreateSchema, body, 'network create request')
  if (b.Name === '' || !NAME.test(b.Name)) throw new FlotillaError('invalid-argument', `Name: "${b.Name}" is not a valid network name; only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`)
  const driver = b.Driver ?? ''
  if (driver !== '' && driver !== 'overlay') {
    throw new FlotillaError('invalid-argument', `Driver: flotilla makes overlay networks only, not "${driver}"`, { hint: 'use `-d overlay` (a swarm-scoped network)' })
  }
  if (b.Scope !== undefined && b.Scope !== '' && b.Scope !== 'swarm') throw new FlotillaError('invalid-argument', `Scope: overlay networks are swarm-scoped, not "${b.Scope}"`)
  if (b.EnableIPv6 === true) throw new FlotillaError('invalid-argument', 'EnableIPv6: flotilla networks are IPv4 only')
  // Refused rather than stored: a user who asks for encryption must not get plaintext VXLAN silently.
  if (b.Options !== undefined && b.Options !== null && 'encrypted' in b.Options) {
    throw new FlotillaError('invalid-argument', 'Options.encrypted: flotilla does not encrypt overlay traffic between hosts', {
      hint: 'leave out --opt encrypted, and protect the hosts\' link (a private network or a VPN) instead'
    })
  }
  if (b.ConfigOnly === true || (b.ConfigFrom?.Network ?? '') !== '') throw new FlotillaError('invalid-argument', 'ConfigOnly and ConfigFrom networks are not supported by flotilla')
  const ipamDriver = b.IPAM?.Driver ?? ''
  if (ipamDriver !== '' && ipamDriver !== 'default') throw new FlotillaError('invalid-argument', `IPAM.Driver: only the default IPAM driver is supported, not "${ipamDriver}"`)
  const config = b.IPAM?.Config ?? []
  if (config.length > 1) throw new FlotillaError('invalid-argument', 'IPAM.Config: one IPv4 pool per network is supported')
  const pool = config[0]
  if (pool !== undefined && (pool.IPRange ?? '') !== '') throw new FlotillaError('invalid-argument', 'IPAM.Config[0].IPRange is not supported by flotilla; give a Subnet of the size wanted')
  if (pool !== undefined && Object.keys(pool.AuxiliaryAddresses ?? {}).length > 0) throw new FlotillaError('invalid-argument', 'IPAM.Config[0].AuxiliaryAddresses are not supported by flotilla')
  return {
    Name: b.Name,
    Labels: b.Labels ?? {},
    Driver: 'overlay',
    Options: b.Options ?? {},
    Attachable: b.Attachable ?? false,
    Internal: b.Internal ?? false,
    Ingress: b.Ingress ?? false,
    IPAM: {
      Driver: 'default',
      Config: pool === undefined ? [] : [{ ...(pool.Subnet === undefined || pool.Subnet === '' ? {} : { Subnet: pool.Subnet }), ...(pool.Gateway === undefined || pool.Gateway === '' ? {} : { Gateway: pool.Gateway }) }],
      Options: b.IPAM?.Options ?? {}
    }
  }
}

/** A network as Docker's API shows it (GET /networks, GET /networks/{id}). */
export function networkJson (n: NetworkObject): Record<string, unknown> {
  return {
    Name: n.name,
    Id: n.id,
    Created: new Date(n.createdAtMs).toISOString(),
    Scope: 'swarm',
    Driver: 'overlay',
    EnableIPv6: false,
    IPAM: { Driver: 'default', Options: n.spec.IPAM.Options, Config: [{ Subnet: n.subnet, Gateway: n.gateway }] },
    Internal: n.spec.Internal,
    Attachable: n.spec.Attachable,
    Ingress: n.spec.Ingress,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: {},
    Options: { ...n.spec.Options, 'com.docker.network.driver.overlay.vxlanid_list': String(n.vxlanId) },
    Labels: n.spec.Labels
  }
}

/** Docker's lookup of a network: full ID, then exact name, then unique ID prefix. */
export function findNetwork (networks: Iterable<NetworkObject>, ref: string): NetworkObject {
  return findByRef(networks, ref, 'network', 'list the networks with `docker network ls`')
}

const NETWORK_FILTERS = ['name', 'id', 'driver', 'scope', 'label', 'type'] as const

function matches (n: NetworkObject, filters: ReadonlyMap<string, readonly string[]>): boolean {
  for (const [key, values] of filters) {
    const ok = values.some(v => {
      switch (key) {
        case 'name': return n.name.includes(v)
        case 'id': return n.id.startsWith(v)
        case 'driver': return v === 'overlay'
        case 'scope': return v === 'swarm'
        case 'label': return labelMatches(n.spec.Labels, v)
        // Every cluster network is user-defined; Docker's builtin ones (bridge, host, none) are the engine's.
        case 'type': return v === 'custom'
        default: return false
      }
    })
    if (!ok) return false
  }
  return true
}

/**
 * Docker's network endpoints for swarm-scoped networks: `POST /networks/create`, `GET /networks`,
 * `GET /networks/{id}`, `DELETE /networks/{id}`, served on the Raft leader through `cluster`. The
 * leader allocates the subnet and VXLAN ID (src/tasks/allocator) and proposes `network.create`; the
 * store refuses a removal while a service attaches to the network.
 */
export function addNetworkRoutes (router: Router, deps: { readonly cluster: ClusterCall, readonly now?: () => number, readonly newId?: () => string }): Router {
  const now = deps.now ?? Date.now
  const newId = deps.newId ?? newObjectId
  return router
    .add('POST', '/networks/create', async (req) => {
      const spec = parseNetworkSpec(parseJson(req))
      return await deps.cluster(req, true, async mgr => {
        const { networks, cluster } = mgr.store.state
        if (cluster === null) throw new FlotillaError('unavailable', 'this node is not part of a swarm yet', { hint: 'run `docker swarm init` or `docker swarm join` first' })
        if (spec.Ingress && [...networks.values()].some(n => n.spec.Ingress)) {
          throw new FlotillaError('conflict', 'an ingress network already exists', { hint: 'remove it first (`docker network rm ingress`) to replace it' })
        }
        const network = allocateNetwork(spec, newId(), networks.values(), cluster.addressPool, now())
        await mgr.propose({ op: 'network.create', network })
        return { status: 201, json: { Id: network.id, Warning: '' } }
      })
    })
    .add('GET', '/networks', async (req) => {
      const filters = parseFilters(req.query.get('filters'), NETWORK_FILTERS)
      return await deps.cluster(req, false, async mgr => ({
        status: 200,
        json: [...mgr.store.state.networks.values()].filter(n => matches(n, filters)).sort((a, b) => a.createdAtMs - b.createdAtMs || a.id.localeCompare(b.id)).map(networkJson)
      }))
    })
    .add('GET', '/networks/{id}', async (req, p) => {
      const scope = req.query.get('scope')
      if (scope !== null && scope !== '' && scope !== 'swarm') throw new FlotillaError('not-found', `network ${p.id!} not found in scope ${scope}`)
      return await deps.cluster(req, false, async mgr => ({ status: 200, json: networkJson(findNetwork(mgr.store.state.networks.values(), decodeURIComponent(p.id!))) }))
    })
    .add('DELETE', '/networks/{id}', async (req, p) => await deps.cluster(req, true, async mgr => {
      const n = findNetwork(mgr.store.state.networks.values(), decodeURIComponent(p.id!))
      await mgr.propose({ op: 'network.remove', id: n.id, nowMs: now() })
      return { status: 204 }
    }))
}
