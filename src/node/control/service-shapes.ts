import { isTaskUpToDate, taskStateRank, type ServiceObject, type TaskObject } from '../../tasks/index.js'
import type { NetworkObject } from '../../election/index.js'

/**
 * Services and tasks as Docker's JSON (Engine API 1.41 `Service` and `Task`), with Go's `omitempty`
 * where the API has it, so that the docker CLI reads them as it reads dockerd's.
 */

/** Go's RFC 3339 with nanoseconds (`time.Time`'s JSON): trailing zeros of the fraction dropped. */
export function goTime (ms: number): string {
  return new Date(ms).toISOString().replace(/\.?0+Z$/, 'Z')
}

/** Docker's Service.ServiceStatus (`GET /services?status=true`). */
export interface ServiceStatusJson {
  readonly RunningTasks: number
  readonly DesiredTasks: number
  readonly CompletedTasks: number
}

/**
 * SwarmKit's ListServiceStatuses: running = tasks meant to run that run; desired = Replicas, or (global)
 * the tasks meant to run. CompletedTasks counts job tasks only, and flotilla has no jobs.
 */
export function serviceStatus (service: ServiceObject, tasks: Iterable<TaskObject>): ServiceStatusJson {
  let running = 0
  let meant = 0
  for (const t of tasks) {
    if (t.serviceId !== service.id || t.desiredState !== 'running') continue
    meant++
    if (t.status.state === 'running') running++
  }
  const mode = service.spec.Mode
  return { RunningTasks: running, DesiredTasks: 'Replicated' in mode ? mode.Replicated.Replicas : meant, CompletedTasks: 0 }
}

/** GET /services/{id}: the stored spec, the endpoint with its allocated ports, UpdateStatus, and (when given) the status. */
export function serviceJson (service: ServiceObject, status?: ServiceStatusJson): Record<string, unknown> {
  const endpointSpec = service.spec.EndpointSpec ?? {}
  const endpoint: Record<string, unknown> = { Spec: { ...endpointSpec, Mode: endpointSpec.Mode ?? 'vip' } }
  if (service.endpoint.ports.length > 0) endpoint.Ports = service.endpoint.ports
  if (service.endpoint.virtualIps.length > 0) endpoint.VirtualIPs = service.endpoint.virtualIps.map(v => ({ NetworkID: v.networkId, Addr: v.addr }))
  const json: Record<string, unknown> = {
    ID: service.id,
    Version: { Index: service.version },
    CreatedAt: goTime(service.createdAtMs),
    UpdatedAt: goTime(service.updatedAtMs),
    Spec: service.spec,
    ...(service.previousSpec !== null ? { PreviousSpec: service.previousSpec } : {}),
    Endpoint: endpoint
  }
  const u = service.updateStatus
  if (u !== null) {
    json.UpdateStatus = {
      State: u.state,
      ...(u.startedAtMs !== null ? { StartedAt: goTime(u.startedAtMs) } : {}),
      ...(u.completedAtMs !== null ? { CompletedAt: goTime(u.completedAtMs) } : {}),
      Message: u.message
    }
  }
  if (status !== undefined) json.ServiceStatus = status
  // flotilla's own (Docker's clients ignore it): a pending `flotilla service rebalance`.
  if (service.rebalance !== null) json.Rebalance = { RequestedAt: goTime(service.rebalance.requestedAtMs) }
  return json
}

/**
 * The ports a task publishes on its node (Docker's Status.PortStatus), from when its container may
 * have bound them: a task that never reached 'starting' (or was rejected) publishes nothing.
 */
function publishedPorts (t: TaskObject): TaskObject['ports'] {
  if (t.status.state === 'rejected' || taskStateRank(t.status.state) < taskStateRank('starting')) return []
  // As Docker's: a task's PortStatus lists what its node's engine publishes, the host-mode ports.
  return t.ports.filter(p => p.PublishMode === 'host')
}

/** A network as SwarmKit's api.Network inside a task's NetworksAttachments (not the Engine's network shape). */
function swarmNetworkJson (n: NetworkObject): Record<string, unknown> {
  return {
    ID: n.id,
    Version: { Index: n.version },
    CreatedAt: goTime(n.createdAtMs),
    UpdatedAt: goTime(n.updatedAtMs),
    Spec: {
      Name: n.name,
      Labels: n.spec.Labels,
      DriverConfiguration: { Name: 'overlay', ...(Object.keys(n.spec.Options).length > 0 ? { Options: n.spec.Options } : {}) },
      ...(n.spec.Ingress ? { Ingress: true } : {}),
      ...(n.spec.Attachable ? { Attachable: true } : {}),
      ...(n.spec.Internal ? { Internal: true } : {}),
      IPAMOptions: { Driver: { Name: 'default' }, Configs: [{ Subnet: n.subnet, Gateway: n.gateway }] },
      Scope: 'swarm'
    },
    DriverState: { Name: 'overlay', Options: { 'com.docker.network.driver.overlay.vxlanid_list': String(n.vxlanId) } },
    IPAMOptions: { Driver: { Name: 'default' }, Configs: [{ Subnet: n.subnet, Gateway: n.gateway }] }
  }
}

/**
 * GET /tasks/{id}. Docker's Task has no Name (the CLI builds `<service>.<slot>` or `<service>.<nodeID>`
 * from ServiceID, Slot and NodeID); Slot is omitted for a global task, NodeID until the task is placed.
 * `networks` (the store's) fills NetworksAttachments.
 */
export function taskJson (t: TaskObject, networks: ReadonlyMap<string, NetworkObject> = new Map()): Record<string, unknown> {
  const status: Record<string, unknown> = { Timestamp: goTime(t.status.timestampMs), State: t.status.state }
  if (t.status.message !== '') status.Message = t.status.message
  if (t.status.err !== null && t.status.err !== '') status.Err = t.status.err
  // The store keeps no container ID: ContainerStatus carries the exit code, once a container may exist.
  if (taskStateRank(t.status.state) >= taskStateRank('starting')) status.ContainerStatus = { ExitCode: t.status.exitCode ?? 0 }
  const ports = publishedPorts(t)
  status.PortStatus = ports.length > 0 ? { Ports: ports } : {}
  const json: Record<string, unknown> = {
    ID: t.id,
    Version: { Index: t.version },
    CreatedAt: goTime(t.createdAtMs),
    UpdatedAt: goTime(t.updatedAtMs),
    Labels: {},
    Spec: t.spec,
    ServiceID: t.serviceId
  }
  if (t.slot !== null) json.Slot = t.slot
  if (t.nodeId !== null) json.NodeID = t.nodeId
  json.Status = status
  json.DesiredState = t.desiredState
  const attachments = t.networks.flatMap(a => {
    const n = networks.get(a.networkId)
    return n === undefined ? [] : [{ Network: swarmNetworkJson(n), Addresses: [a.address] }]
  })
  if (attachments.length > 0) json.NetworksAttachments = attachments
  return json
}

/** The hidden `_up-to-date` task filter the docker CLI's progress display uses: the orchestrator's own test. */
export { isTaskUpToDate }
