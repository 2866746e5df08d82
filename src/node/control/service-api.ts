import { FlotillaError, newObjectId } from '../../membership/index.js'
import type { Command, NodeObject, StoreState } from '../../election/index.js'
import { allocatePorts, allocateVirtualIps, portsTaken, TASK_STATES, type AllocatedPort, type ServiceObject, type ServiceSpec, type TaskObject } from '../../tasks/index.js'
import { parseJson, type ApiRequest, type ApiResponse } from './http-server.js'
import type { Router } from './router.js'
import { findByRef, labelMatches, parseFilters, queryFlag } from './schemas.js'
import { parseServiceSpec, randomServiceName } from './service-schemas.js'
import { resolveServiceNetworks } from './service-networks.js'
import { resolveServiceBlobs } from './service-blobs.js'
import { isTaskUpToDate, serviceJson, serviceStatus, taskJson } from './service-shapes.js'

/** What the service routes need of the leader's manager: its store and proposals. */
export interface ServiceManager {
  readonly store: { readonly state: StoreState }
  /** Propose on the leader; a refusal at apply comes back as a FlotillaError. */
  propose: (cmd: Command) => Promise<void>
}

/**
 * api.ts's `cluster`: serve `local` on the Raft leader, or forward the whole call to it. Reads pass
 * `write = false` (they wait for the read barrier), writes `true`.
 */
export type ClusterCall = (req: ApiRequest, write: boolean, local: (mgr: ServiceManager) => Promise<ApiResponse>) => Promise<ApiResponse>

export interface ServiceRouteDeps {
  readonly cluster: ClusterCall
  /** `?version=` of an update; throws a 400 when missing or malformed. */
  readonly requiredVersion: (q: URLSearchParams) => number
  /** Docker's node lookup (ID, hostname, ID prefix); throws a 404. */
  readonly findNode: (nodes: readonly NodeObject[], ref: string) => NodeObject
  /** Wall clock (ms) for the proposals' times; default Date.now. */
  readonly now?: () => number
  /** Service IDs; default newObjectId. */
  readonly newId?: () => string
  /** The name of a service created without one; default randomServiceName. */
  readonly newName?: () => string
}

const SERVICE_FILTERS = ['id', 'name', 'label', 'mode'] as const
const TASK_FILTERS = ['id', 'name', 'label', 'service', 'node', 'desired-state', '_up-to-date', 'runtime'] as const
const DESIRED_STATES: ReadonlySet<string> = new Set([...TASK_STATES, 'remove'])

/** SwarmKit's lookup (controlapi getService): full ID, then exact name, then unique ID prefix. */
export function findService (services: Iterable<ServiceObject>, ref: string): ServiceObject {
  return findByRef(services, ref, 'service', 'list the services with `flotilla service ls` or `docker service ls`')
}

/** A task by full ID or unique ID prefix. */
export function findTask (tasks: Iterable<TaskObject>, ref: string): TaskObject {
  const all = [...tasks]
  const exact = all.find(t => t.id === ref)
  if (exact !== undefined) return exact
  const byPrefix = all.filter(t => t.id.startsWith(ref))
  if (byPrefix.length === 1) return byPrefix[0]!
  if (byPrefix.length > 1) throw new FlotillaError('invalid-argument', `task ${ref} is ambiguous (${byPrefix.length} matches found)`)
  throw new FlotillaError('not-found', `task ${ref} not found`)
}

function matchesServiceFilters (s: ServiceObject, filters: ReadonlyMap<string, readonly string[]>): boolean {
  for (const [key, values] of filters) {
    const ok = values.some(v => {
      switch (key) {
        case 'id': return s.id.startsWith(v)
        case 'name': return s.name.startsWith(v)
        case 'label': return labelMatches(s.spec.Labels ?? {}, v)
        case 'mode': return v === 'global' ? 'Global' in s.spec.Mode : 'Replicated' in s.spec.Mode
        default: return false
      }
    })
    if (!ok) return false
  }
  return true
}

/** The allocator's ports for `spec`, its errors naming the field (`EndpointSpec.Ports: ...`) as every other spec error does. */
function allocate (spec: ServiceSpec, taken: ReadonlySet<string>, previous?: readonly AllocatedPort[]): readonly AllocatedPort[] {
  try {
    return allocatePorts(spec.EndpointSpec, taken, previous).ports
  } catch (err) {
    if (!(err instanceof FlotillaError) || err.message.startsWith('EndpointSpec.Ports')) throw err
    throw new FlotillaError(err.code, `EndpointSpec.Ports: ${err.message}`, { hint: err.hint, cause: err })
  }
}

/** How many times a create or update allocates its VIPs again after another entry took one of them. */
const ADDRESS_RACE_ATTEMPTS = 3

/**
 * Run `attempt` (read the store, allocate, propose) again when the store refused it because an address
 * it allocated was taken meanwhile (the scheduler places tasks concurrently): the next attempt reads the
 * store after that entry and picks another. Any other refusal is the caller's.
 */
export async function retryAddressRace<T> (attempt: () => Promise<T>): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await attempt()
    } catch (err) {
      const raced = err instanceof FlotillaError && err.code === 'conflict' && /^address \S+ on network \S+ is in use$/.test(err.message)
      if (!raced || i >= ADDRESS_RACE_ATTEMPTS) throw err
    }
  }
}

/**
 * A task filter resolved against the store: service and node references become IDs (404 when one does
 * not exist, as dockerd), as SwarmKit's ListTasks filters.
 */
function taskMatcher (state: StoreState, filters: ReadonlyMap<string, readonly string[]>, findNode: ServiceRouteDeps['findNode']): (t: TaskObject) => boolean {
  const services = [...state.services.values()]
  const serviceIds = filters.has('service') ? new Set(filters.get('service')!.map(ref => findService(services, ref).id)) : null
  const nodes = [...state.nodes.values()]
  const nodeIds = filters.has('node') ? new Set(filters.get('node')!.map(ref => findNode(nodes, ref).id)) : null
  const upToDate = filters.has('_up-to-date')
  return t => {
    if (serviceIds !== null && !serviceIds.has(t.serviceId)) return false
    if (nodeIds !== null && (t.nodeId === null || !nodeIds.has(t.nodeId))) return false
    for (const [key, values] of filters) {
      switch (key) {
        case 'id': if (!values.some(v => t.id.startsWith(v))) return false; break
        // SwarmKit matches name prefixes on the full task name, `<service>.<slot|node>.<task id>`.
        case 'name': if (!values.some(v => `${t.name}.${t.id}`.startsWith(v))) return false; break
        // As SwarmKit's ListTasks: a task's labels are its service's (`docker stack ps` filters on them).
        case 'label': if (!values.some(v => labelMatches(state.services.get(t.serviceId)?.spec.Labels ?? {}, v))) return false; break
        case 'desired-state': if (!values.includes(t.desiredState)) return false; break
        case 'runtime': if (!values.some(v => v === '' || v === 'container')) return false; break
        default: break
      }
    }
    if (upToDate) {
      const s = state.services.get(t.serviceId)
      if (s === undefined || !isTaskUpToDate(t, s)) return false
    }
    return true
  }
}

/**
 * Docker's service and task endpoints on the control socket: `POST /services/create`, `GET /services`,
 * `GET|DELETE /services/{id}`, `POST /services/{id}/update`, `GET /tasks`, `GET /tasks/{id}`; and
 * flotilla's `POST /services/{id}/rebalance`. Every call
 * is served on the Raft leader through `cluster`; the handlers only read the store and propose
 * `service.create|update|remove`. Nothing is stored when a call fails.
 */
export function addServiceRoutes (router: Router, deps: ServiceRouteDeps): Router {
  const { cluster, requiredVersion, findNode } = deps
  const now = deps.now ?? Date.now
  const newId = deps.newId ?? newObjectId
  const newName = deps.newName ?? randomServiceName

  return router
    .add('POST', '/services/create', async (req) => {
      const parsed = parseServiceSpec(parseJson(req), newName)
      const warnings = parsed.warnings
      return await cluster(req, true, async mgr => await retryAddressRace(async () => {
        const state = mgr.store.state
        const spec = resolveServiceBlobs(resolveServiceNetworks(parsed.spec, state.networks.values()), state)
        const services = [...state.services.values()]
        for (const s of services) {
          if (s.name === spec.Name) throw new FlotillaError('conflict', `service ${spec.Name} already exists`, { hint: 'choose another --name, or update the existing service' })
        }
        const ports = allocate(spec, portsTaken(services, null))
        const virtualIps = allocateVirtualIps(state, spec, ports, null)
        const id = newId()
        const nowMs = now()
        await mgr.propose({ op: 'service.create', service: { id, name: spec.Name, createdAtMs: nowMs, updatedAtMs: nowMs, spec, previousSpec: null, endpoint: { ports, virtualIps }, updateStatus: null, rebalance: null } })
        return { status: 201, json: { ID: id, Warnings: warnings } }
      }))
    })
    .add('GET', '/services', async (req) => {
      const filters = parseFilters(req.query.get('filters'), SERVICE_FILTERS)
      for (const v of filters.get('mode') ?? []) {
        if (v !== 'replicated' && v !== 'global') throw new FlotillaError('invalid-argument', `invalid filter 'mode=${v}'`, { hint: 'use mode=replicated or mode=global' })
      }
      const withStatus = queryFlag(req.query, 'status')
      return await cluster(req, false, async mgr => {
        const { services, tasks } = mgr.store.state
        const json = [...services.values()]
          .filter(s => matchesServiceFilters(s, filters))
          .map(s => serviceJson(s, withStatus ? serviceStatus(s, tasks.values()) : undefined))
        return { status: 200, json }
      })
    })
    .add('GET', '/services/{id}', async (req, p) => await cluster(req, false, async mgr =>
      ({ status: 200, json: serviceJson(findService(mgr.store.state.services.values(), p.id!)) })))
    .add('POST', '/services/{id}/update', async (req, p) => {
      const version = requiredVersion(req.query)
      const rollback = req.query.get('rollback') === 'previous'
      // A rollback's body is the current spec (the CLI sends it back); the spec it goes to is PreviousSpec.
      const parsed = parseServiceSpec(parseJson(req), newName)
      const warnings = parsed.warnings
      return await cluster(req, true, async mgr => await retryAddressRace(async () => {
        const state = mgr.store.state
        const service = findService(state.services.values(), p.id!)
        let spec = resolveServiceBlobs(resolveServiceNetworks(parsed.spec, state.networks.values()), state)
        if (rollback) {
          if (service.previousSpec === null) {
            throw new FlotillaError('invalid-argument', `service ${service.name} does not have a previous spec`, { hint: 'a service can be rolled back only after an update' })
          }
          spec = service.previousSpec
        }
        if (spec.Name !== service.name) throw new FlotillaError('invalid-argument', `Name: renaming services is not supported (service ${service.name})`)
        if (('Global' in spec.Mode) !== ('Global' in service.spec.Mode)) {
          throw new FlotillaError('invalid-argument', 'Mode: service mode change is not allowed', { hint: 'remove the service and create it again in the other mode' })
        }
        const ports = allocate(spec, portsTaken(state.services.values(), service.id), service.endpoint.ports)
        const virtualIps = allocateVirtualIps(state, spec, ports, service)
        await mgr.propose({ op: 'service.update', id: service.id, version, spec, ports, virtualIps, nowMs: now(), rollback })
        return { status: 200, json: { Warnings: warnings } }
      }))
    })
    // flotilla's own: ask the orchestrator to even out a replicated service's spread (src/tasks/orchestrator/rebalance.ts).
    .add('POST', '/services/{id}/rebalance', async (req, p) => await cluster(req, true, async mgr => {
      const service = findService(mgr.store.state.services.values(), p.id!)
      if (!('Replicated' in service.spec.Mode)) {
        throw new FlotillaError('invalid-argument', `service ${service.name} is global: it runs one task per node, there is nothing to rebalance`)
      }
      await mgr.propose({ op: 'service.rebalance', id: service.id, nowMs: now() })
      return { status: 200, json: { ID: service.id } }
    }))
    .add('DELETE', '/services/{id}', async (req, p) => await cluster(req, true, async mgr => {
      const service = findService(mgr.store.state.services.values(), p.id!)
      await mgr.propose({ op: 'service.remove', id: service.id, nowMs: now() })
      return { status: 200 }
    }))
    .add('GET', '/tasks', async (req) => {
      const filters = parseFilters(req.query.get('filters'), TASK_FILTERS)
      for (const v of filters.get('desired-state') ?? []) {
        if (!DESIRED_STATES.has(v)) throw new FlotillaError('invalid-argument', `Invalid desired-state filter: '${v}'`, { hint: 'use running, shutdown or remove' })
      }
      return await cluster(req, false, async mgr => {
        const state = mgr.store.state
        const matches = taskMatcher(state, filters, findNode)
        return { status: 200, json: [...state.tasks.values()].filter(matches).map(t => taskJson(t, state.networks)) }
      })
    })
    .add('GET', '/tasks/{id}', async (req, p) => await cluster(req, false, async mgr =>
      ({ status: 200, json: taskJson(findTask(mgr.store.state.tasks.values(), p.id!), mgr.store.state.networks) })))
}
