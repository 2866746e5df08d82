/**
 * The dashboard's view of the cluster, built from the control API's Docker-shaped JSON (GET /nodes,
 * /services?status=true, /tasks). Pure: the UI server reads the API, this shapes what the page gets.
 * Only the fields the page shows leave the agent: no service spec (its environment may hold
 * credentials), no join token, no secret or config.
 */
import { isRecord } from '../../membership/index.js'

export interface NodeView {
  readonly id: string
  readonly hostname: string
  readonly role: string
  readonly leader: boolean
  /** The store's status (ready, down, unknown, disconnected), as `docker node ls` shows it. */
  readonly state: string
  readonly availability: string
  readonly engine: string
  readonly addr: string
  readonly message: string
  /** Tasks of this node that run now. */
  readonly running: number
  /** NanoCPUs and bytes: reserved by the tasks meant to run here, and what the engine has. */
  readonly cpu: { readonly reserved: number, readonly total: number }
  readonly memory: { readonly reserved: number, readonly total: number }
}

export interface UpdateView {
  readonly state: string
  readonly message: string
  /** Tasks meant to run that run the current spec, of `total` meant to run. */
  readonly updated: number
  readonly total: number
}

export interface ServiceView {
  readonly id: string
  readonly name: string
  readonly mode: 'replicated' | 'global'
  readonly running: number
  readonly desired: number
  readonly image: string
  /** `8080:80/tcp` (ingress) or `8080:80/tcp (host)`. */
  readonly ports: readonly string[]
  readonly update: UpdateView | null
  readonly hasPreviousSpec: boolean
}

export interface TaskView {
  readonly id: string
  /** `web.3`, or `web.<node id>` for a global task, as `service ps` names them. */
  readonly name: string
  readonly serviceId: string
  readonly serviceName: string
  readonly slot: number | null
  readonly nodeId: string | null
  readonly state: string
  readonly desired: string
  /** The error (a pending task's reason) or else the status message. */
  readonly message: string
  readonly image: string
  /** When the task reached its state (ISO 8601). */
  readonly since: string
}

/** Everything the page draws, pushed on each change. */
export interface DashboardState {
  readonly atMs: number
  readonly self: { readonly nodeId: string, readonly hostname: string, readonly role: string }
  readonly actions: boolean
  /** Why the cluster could not be read (no leader, not in a swarm); the rest is then the last known view. */
  readonly error: string | null
  readonly nodes: readonly NodeView[]
  readonly services: readonly ServiceView[]
  /** Tasks meant to run (placed or pending). */
  readonly tasks: readonly TaskView[]
}

const str = (v: unknown): string => typeof v === 'string' ? v : ''
const num = (v: unknown): number => typeof v === 'number' && Number.isFinite(v) ? v : 0
const rec = (v: unknown): Record<string, unknown> => isRecord(v) ? v : {}
const list = (v: unknown): unknown[] => Array.isArray(v) ? v as unknown[] : []

/** A task of the API in the page's shape; `services` names its service. */
export function taskView (json: unknown, services: ReadonlyMap<string, string>): TaskView {
  const t = rec(json)
  const status = rec(t.Status)
  const serviceId = str(t.ServiceID)
  const serviceName = services.get(serviceId) ?? serviceId.slice(0, 12)
  const slot = typeof t.Slot === 'number' ? t.Slot : null
  const nodeId = str(t.NodeID) === '' ? null : str(t.NodeID)
  return {
    id: str(t.ID),
    name: slot !== null ? `${serviceName}.${slot}` : `${serviceName}.${nodeId ?? ''}`,
    serviceId,
    serviceName,
    slot,
    nodeId,
    state: str(status.State),
    desired: str(t.DesiredState),
    message: str(status.Err) !== '' ? str(status.Err) : str(status.Message),
    image: str(rec(rec(t.Spec).ContainerSpec).Image),
    since: str(status.Timestamp)
  }
}

function reservations (task: unknown): { cpu: number, memory: number } {
  const r = rec(rec(rec(rec(task).Spec).Resources).Reservations)
  return { cpu: num(r.NanoCPUs), memory: num(r.MemoryBytes) }
}

function nodeView (json: unknown, tasks: readonly unknown[]): NodeView {
  const n = rec(json)
  const spec = rec(n.Spec)
  const desc = rec(n.Description)
  const res = rec(desc.Resources)
  const status = rec(n.Status)
  const id = str(n.ID)
  let running = 0
  let cpu = 0
  let memory = 0
  for (const t of tasks) {
    const tr = rec(t)
    if (str(tr.NodeID) !== id) continue
    if (str(rec(tr.Status).State) === 'running') running++
    const r = reservations(t)
    cpu += r.cpu
    memory += r.memory
  }
  return {
    id,
    hostname: str(desc.Hostname),
    role: str(spec.Role),
    leader: rec(n.ManagerStatus).Leader === true,
    state: str(status.State),
    availability: str(spec.Availability),
    engine: str(rec(desc.Engine).EngineVersion),
    addr: str(status.Addr),
    message: str(status.Message),
    running,
    cpu: { reserved: cpu, total: num(res.NanoCPUs) },
    memory: { reserved: memory, total: num(res.MemoryBytes) }
  }
}

function portText (p: unknown): string {
  const port = rec(p)
  const text = `${num(port.PublishedPort)}:${num(port.TargetPort)}/${str(port.Protocol) === '' ? 'tcp' : str(port.Protocol)}`
  return str(port.PublishMode) === 'host' ? `${text} (host)` : text
}

function serviceView (json: unknown, upToDate: ReadonlySet<string>, tasks: readonly unknown[]): ServiceView {
  const s = rec(json)
  const spec = rec(s.Spec)
  const id = str(s.ID)
  const status = rec(s.ServiceStatus)
  const mode = 'Global' in rec(spec.Mode) ? 'global' : 'replicated'
  const u = isRecord(s.UpdateStatus) ? s.UpdateStatus : null
  const mine = tasks.filter(t => str(rec(t).ServiceID) === id)
  const update = u === null
    ? null
    : {
        state: str(u.State),
        message: str(u.Message),
        updated: mine.filter(t => upToDate.has(str(rec(t).ID)) && str(rec(rec(t).Status).State) === 'running').length,
        total: num(status.DesiredTasks)
      }
  return {
    id,
    name: str(spec.Name),
    mode,
    running: num(status.RunningTasks),
    desired: num(status.DesiredTasks),
    image: str(rec(rec(spec.TaskTemplate).ContainerSpec).Image),
    ports: list(rec(s.Endpoint).Ports).map(portText),
    update,
    hasPreviousSpec: isRecord(s.PreviousSpec)
  }
}

export interface ModelInput {
  readonly nodes: unknown
  readonly services: unknown
  /** Tasks meant to run (GET /tasks?filters={"desired-state":["running"]}). */
  readonly tasks: unknown
  /** The IDs of the tasks meant to run that run their service's current spec (the `_up-to-date` filter). */
  readonly upToDate: ReadonlySet<string>
}

/** The cluster part of the page's state, sorted as `docker node ls` and `service ls` sort. */
export function clusterView (input: ModelInput): Pick<DashboardState, 'nodes' | 'services' | 'tasks'> {
  const tasks = list(input.tasks)
  const servicesJson = list(input.services)
  const names = new Map(servicesJson.map(s => [str(rec(s).ID), str(rec(rec(s).Spec).Name)]))
  return {
    nodes: list(input.nodes).map(n => nodeView(n, tasks)).sort((a, b) => a.hostname.localeCompare(b.hostname) || a.id.localeCompare(b.id)),
    services: servicesJson.map(s => serviceView(s, input.upToDate, tasks)).sort((a, b) => a.name.localeCompare(b.name)),
    tasks: tasks.map(t => taskView(t, names)).sort(byServiceSlot)
  }
}

/** By service name, then slot (or node), newest first within a slot: `service ps` order. */
export function byServiceSlot (a: TaskView, b: TaskView): number {
  return a.serviceName.localeCompare(b.serviceName) || (a.slot ?? 0) - (b.slot ?? 0) ||
    (a.nodeId ?? '').localeCompare(b.nodeId ?? '') || b.since.localeCompare(a.since)
}
