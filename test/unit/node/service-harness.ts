/**
 * The control socket's service, network, secret and config routes over an in-memory store that
 * applies proposals with the real apply function; `cluster` serves every call locally, as on the
 * leader. Shared by the service API and the service, secret, config and stack CLI tests.
 */
import { FlotillaError } from '../../../src/membership/errors.js'
import { applyCommand } from '../../../src/election/state/apply.js'
import type { Command } from '../../../src/election/state/commands.js'
import { DEFAULT_ADDRESS_POOL, EMPTY_STATE, UNKNOWN_NODE_STATUS, type NetworkObject, type NodeObject, type StoreState } from '../../../src/election/index.js'
import { allocateNetwork, ingressSpec } from '../../../src/tasks/allocator/index.js'
import type { TaskObject } from '../../../src/tasks/orchestrator/types.js'
import { findNode } from '../../../src/node/control/api.js'
import { errorResponse, type ApiHandler, type ApiRequest, type ApiResponse } from '../../../src/node/control/http-server.js'
import { Router } from '../../../src/node/control/router.js'
import { addServiceRoutes, type ClusterCall, type ServiceManager } from '../../../src/node/control/service-api.js'
import { addNetworkRoutes } from '../../../src/node/control/network-api.js'
import { addBlobRoutes } from '../../../src/node/control/blob-api.js'

export const NOW = Date.UTC(2025, 0, 2, 3, 4, 5, 600)
export const INGRESS_ID = 'ingress0000000000000000000'

export function node (id: string, hostname: string): NodeObject {
  return {
    id, peerId: `peer-${id}`, hostname, spec: { role: 'worker', availability: 'active', labels: {} }, certificate: new Uint8Array(),
    status: UNKNOWN_NODE_STATUS, description: null, networkAddresses: [], version: 1, createdAtMs: NOW, updatedAtMs: NOW
  }
}

function requiredVersion (q: URLSearchParams): number {
  const v = Number(q.get('version'))
  if (q.get('version') === null || !Number.isSafeInteger(v)) throw new FlotillaError('invalid-argument', 'invalid version')
  return v
}

export interface Harness {
  readonly call: (method: string, path: string, body?: unknown) => Promise<ApiResponse>
  readonly state: () => StoreState
  readonly proposed: Command[]
  /** Put a task straight into the store (as the orchestrator would). */
  readonly addTask: (t: Partial<TaskObject> & Pick<TaskObject, 'id' | 'serviceId'>) => void
  /** The routes as a socket handler (errors mapped to Docker's statuses), with `GET /nodes` for the CLI's progress. */
  readonly handler: ApiHandler
}

/** The service routes over a store that applies proposals with the real apply function; `cluster` serves locally. */
export function harness (): Harness {
  // The ingress network `swarm init` makes: the routing mesh publishes ports on it.
  const ingress: NetworkObject = { ...allocateNetwork(ingressSpec(), INGRESS_ID, [], DEFAULT_ADDRESS_POOL, NOW), version: 1 }
  let state: StoreState = {
    ...EMPTY_STATE,
    index: 10,
    cluster: {
      id: 'cluster1', createdAtMs: NOW, updatedAtMs: NOW, spec: {}, root: { publicKeyDer: new Uint8Array(), privateKeyDer: new Uint8Array(48).fill(7) },
      secrets: { worker: 'w', manager: 'm' }, addressPool: DEFAULT_ADDRESS_POOL, version: 1
    },
    nodes: new Map([['node1aaaaaa', node('node1aaaaaa', 'alpha')], ['node2bbbbbb', node('node2bbbbbb', 'beta')]]),
    networks: new Map([[ingress.id, ingress]])
  }
  const proposed: Command[] = []
  let ids = 0
  const mgr: ServiceManager = {
    store: { get state () { return state } },
    propose: async (cmd) => {
      proposed.push(cmd)
      const applied = applyCommand(state, state.index + 1, cmd)
      state = applied.state
      if (!applied.result.ok) throw new FlotillaError(applied.result.code, applied.result.message)
    }
  }
  const cluster: ClusterCall = async (_req, _write, local) => await local(mgr)
  let networkIds = 0
  let blobIds = 0
  const router = addBlobRoutes(addNetworkRoutes(addServiceRoutes(new Router(), { cluster, requiredVersion, findNode, now: () => NOW, newId: () => `svc${++ids}${'x'.repeat(21)}`, newName: () => 'brave_turing' }),
    { cluster, now: () => NOW, newId: () => `net${++networkIds}${'y'.repeat(21)}` }),
  { cluster, now: () => NOW, newId: () => `obj${++blobIds}${'z'.repeat(21)}` })
    .add('GET', '/nodes', async () => ({
      status: 200,
      json: [...state.nodes.values()].map(n => ({ ID: n.id, Description: { Hostname: n.hostname }, Status: { State: 'ready' } }))
    }))
  const handler = router.handler()
  const socketHandler: ApiHandler = async (req: ApiRequest): Promise<ApiResponse> => {
    try {
      return await handler(req)
    } catch (err) {
      return errorResponse(err)
    }
  }
  return {
    proposed,
    state: () => state,
    handler: socketHandler,
    call: async (method, path, body) => {
      const url = new URL(path, 'http://flotilla')
      return await socketHandler({ method, path: url.pathname, query: url.searchParams, body: Buffer.from(body === undefined ? '' : JSON.stringify(body)), headers: {} })
    },
    addTask: (t) => {
      const service = state.services.get(t.serviceId)!
      const task: TaskObject = {
        serviceName: service.name, name: `${service.name}.${t.slot ?? 1}`, slot: 1, nodeId: null, desiredState: 'running',
        status: { state: 'running', timestampMs: NOW, message: 'started', err: null, exitCode: null },
        specVersion: service.version, spec: service.spec.TaskTemplate, ports: service.endpoint.ports, delayUntilMs: null, restartTimesMs: [], runningAtMs: null, networks: [],
        createdAtMs: NOW, updatedAtMs: NOW, version: state.index, ...t
      }
      state = { ...state, tasks: new Map([...state.tasks, [task.id, task]]) }
    }
  }
}

