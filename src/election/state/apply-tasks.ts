/**
 * Applying the service, task and node-status commands (the orchestration half of the store). Pure and
 * deterministic, like apply.ts: every manager applies the same entry to the same result.
 */
import { refuse, type Applied, type StoreEvent } from './applied.js'
import type { Command } from './commands.js'
import { isTerminal, portKey, taskStateRank, type ServiceObject, type StoreState, type TaskObject, type UpdateStatus } from '../objects/index.js'
import { addressClash } from './addresses.js'

type Op<K extends Command['op']> = Extract<Command, { op: K }>

function taskEvent (t: TaskObject, removed = false): StoreEvent {
  return { kind: 'task', id: t.id, serviceId: t.serviceId, nodeId: t.nodeId, removed }
}

/** Why `service` may not take its name or ports among the other services, or null. */
function collision (services: ReadonlyMap<string, ServiceObject>, service: Pick<ServiceObject, 'id' | 'name' | 'endpoint'>): string | null {
  const ports = new Set(service.endpoint.ports.map(p => portKey(p.Protocol, p.PublishedPort)))
  for (const other of services.values()) {
    if (other.id === service.id) continue
    if (other.name === service.name) return `service ${service.name} already exists`
    for (const p of other.endpoint.ports) {
      const key = portKey(p.Protocol, p.PublishedPort)
      if (ports.has(key)) return `published port ${key} is already in use by service ${other.name}`
    }
  }
  return null
}

/** The state with `service` stored, and its event. */
function putService (state: StoreState, index: number, service: ServiceObject): Applied {
  const services = new Map(state.services)
  services.set(service.id, service)
  return { state: { ...state, index, services }, result: { ok: true }, events: [{ kind: 'service', id: service.id }] }
}

/** `putService` for a service whose name or ports may change: refused when another service holds them. */
function putUnclashed (state: StoreState, index: number, service: ServiceObject): Applied {
  const clash = collision(state.services, service) ??
    addressClash(state, service.endpoint.virtualIps.map(v => ({ networkId: v.networkId, address: v.addr })), new Map(), { serviceId: service.id })
  return clash !== null ? refuse(state, index, 'conflict', clash) : putService(state, index, service)
}

export function applyServiceCreate (state: StoreState, index: number, cmd: Op<'service.create'>): Applied {
  if (state.services.has(cmd.service.id)) return refuse(state, index, 'conflict', `service ${cmd.service.id} exists already`)
  // Entries written before updates were tracked carry no updateStatus or rebalance.
  // ... nor, before networks, VIPs.
  const endpoint = { ports: cmd.service.endpoint.ports, virtualIps: cmd.service.endpoint.virtualIps ?? [] }
  return putUnclashed(state, index, { ...cmd.service, endpoint, updateStatus: cmd.service.updateStatus ?? null, rebalance: cmd.service.rebalance ?? null, version: index })
}

export function applyServiceUpdate (state: StoreState, index: number, cmd: Op<'service.update'>): Applied {
  const service = state.services.get(cmd.id)
  if (service === undefined) return refuse(state, index, 'not-found', `service ${cmd.id} not found`)
  if (service.version !== cmd.version) {
    return refuse(state, index, 'conflict', `update out of sequence: service ${service.name} is at version ${service.version}, not ${cmd.version}`)
  }
  if (cmd.spec.Name !== service.name) return refuse(state, index, 'invalid-argument', `renaming service ${service.name} is not supported`)
  // As SwarmKit: the spec replaced becomes PreviousSpec, so a rollback (an update back to it) swaps the
  // two; UpdateStatus is reset, so that the updater starts this update (and a paused one resumes).
  const updateStatus: UpdateStatus | null = cmd.rollback === true
    ? { state: 'rollback_started', startedAtMs: cmd.nowMs, completedAtMs: null, message: 'manually requested rollback' }
    : null
  return putUnclashed(state, index, {
    ...service, spec: cmd.spec, previousSpec: service.spec, endpoint: { ports: cmd.ports, virtualIps: cmd.virtualIps ?? [] }, updateStatus, version: index, updatedAtMs: cmd.nowMs
  })
}

export function applyServiceRollback (state: StoreState, index: number, cmd: Op<'service.rollback'>): Applied {
  const service = state.services.get(cmd.id)
  if (service === undefined) return refuse(state, index, 'not-found', `service ${cmd.id} not found`)
  if (service.version !== cmd.version) return refuse(state, index, 'conflict', `service ${service.name} moved on since the updater read it`)
  if (service.previousSpec === null) return refuse(state, index, 'invalid-argument', `service ${service.name} does not have a previous spec`)
  const status = service.updateStatus ?? { state: 'updating', startedAtMs: cmd.nowMs, completedAtMs: null, message: '' }
  // SwarmKit's rollbackUpdate: the previous spec is used up, and the update keeps its StartedAt.
  return putUnclashed(state, index, {
    ...service,
    spec: service.previousSpec,
    previousSpec: null,
    endpoint: { ports: cmd.ports, virtualIps: cmd.virtualIps ?? [] },
    updateStatus: { ...status, state: 'rollback_started', message: cmd.message },
    version: index,
    updatedAtMs: cmd.nowMs
  })
}

export function applyServiceRebalance (state: StoreState, index: number, cmd: Op<'service.rebalance'>): Applied {
  const service = state.services.get(cmd.id)
  if (service === undefined) return refuse(state, index, 'not-found', `service ${cmd.id} not found`)
  if (!('Replicated' in service.spec.Mode)) return refuse(state, index, 'invalid-argument', `service ${service.name} is global: it runs one task per node, there is nothing to rebalance`)
  return putService(state, index, { ...service, rebalance: { requestedAtMs: cmd.nowMs } })
}

export function applyServiceRemove (state: StoreState, index: number, cmd: Op<'service.remove'>): Applied {
  if (!state.services.has(cmd.id)) return refuse(state, index, 'not-found', `service ${cmd.id} not found`)
  const services = new Map(state.services)
  services.delete(cmd.id)
  const tasks = new Map(state.tasks)
  const events: StoreEvent[] = [{ kind: 'service', id: cmd.id }]
  for (const t of state.tasks.values()) {
    if (t.serviceId !== cmd.id || t.desiredState === 'remove') continue
    const next: TaskObject = { ...t, desiredState: 'remove', version: index, updatedAtMs: cmd.nowMs }
    tasks.set(t.id, next)
    events.push(taskEvent(next))
  }
  return { state: { ...state, index, services, tasks }, result: { ok: true }, events }
}

export function applyNodeStatus (state: StoreState, index: number, cmd: Op<'node.status'>): Applied {
  const node = state.nodes.get(cmd.id)
  if (node === undefined) return refuse(state, index, 'not-found', `node ${cmd.id} not found`)
  const sinceMs = node.status.state === cmd.state ? node.status.sinceMs : cmd.nowMs
  const nodes = new Map(state.nodes)
  nodes.set(cmd.id, {
    ...node,
    status: { state: cmd.state, message: cmd.message, sinceMs, addr: cmd.addr ?? node.status.addr },
    description: cmd.description ?? node.description,
    version: index,
    updatedAtMs: cmd.nowMs
  })
  return { state: { ...state, index, nodes }, result: { ok: true }, events: [{ kind: 'node-updated', id: cmd.id }] }
}

export function applyTasksReconcile (state: StoreState, index: number, cmd: Op<'tasks.reconcile'>): Applied {
  const service = state.services.get(cmd.serviceId)
  if (cmd.serviceVersion !== null && service?.version !== cmd.serviceVersion) {
    return refuse(state, index, 'conflict', `service ${cmd.serviceId} moved on since the orchestrator read it`)
  }
  if (cmd.create.length > 0 && service === undefined) return refuse(state, index, 'not-found', `service ${cmd.serviceId} not found`)
  for (const c of [...cmd.update, ...cmd.delete]) {
    const t = state.tasks.get(c.id)
    if (t === undefined || t.version !== c.version) return refuse(state, index, 'conflict', `task ${c.id} moved on since the orchestrator read it`)
  }
  for (const t of cmd.create) {
    if (state.tasks.has(t.id)) return refuse(state, index, 'conflict', `task ${t.id} exists already`)
  }
  const tasks = new Map(state.tasks)
  const events: StoreEvent[] = []
  let services = state.services
  if (service !== undefined && (cmd.updateStatus !== undefined || cmd.rebalanced === true)) {
    const changed = new Map(state.services)
    services = changed
    changed.set(service.id, {
      ...service,
      ...(cmd.updateStatus !== undefined ? { updateStatus: cmd.updateStatus } : {}),
      ...(cmd.rebalanced === true ? { rebalance: null } : {})
    })
    events.push({ kind: 'service', id: service.id })
  }
  for (const t of cmd.create) {
    const created: TaskObject = { ...t, runningAtMs: t.runningAtMs ?? null, networks: [], version: index }
    tasks.set(t.id, created)
    events.push(taskEvent(created))
  }
  for (const u of cmd.update) {
    const t = tasks.get(u.id)!
    let next: TaskObject = { ...t, version: index, updatedAtMs: u.updatedAtMs }
    // Desired states only move forward (running → shutdown → remove); observed ones too.
    if (u.desiredState !== undefined && desiredRank(u.desiredState) > desiredRank(t.desiredState)) next = { ...next, desiredState: u.desiredState }
    if (u.status !== undefined && taskStateRank(u.status.state) > taskStateRank(t.status.state)) next = { ...next, status: u.status }
    tasks.set(u.id, next)
    events.push(taskEvent(next))
  }
  for (const d of cmd.delete) {
    const t = tasks.get(d.id)!
    tasks.delete(d.id)
    events.push(taskEvent(t, true))
  }
  return { state: { ...state, index, services, tasks }, result: { ok: true }, events }
}

function desiredRank (d: TaskObject['desiredState']): number {
  return d === 'running' ? 0 : d === 'shutdown' ? 1 : 2
}

export function applyTasksSchedule (state: StoreState, index: number, cmd: Op<'tasks.schedule'>): Applied {
  const tasks = new Map(state.tasks)
  const events: StoreEvent[] = []
  // The addresses taken per network, kept current as this entry's placements take theirs.
  const used = new Map<string, Set<string>>()
  for (const p of cmd.placements) {
    const t = tasks.get(p.id)
    // Skipped, not refused: a task that moved on (shut down, already placed) is simply not this pass's.
    if (t === undefined || t.version !== p.version || t.desiredState !== 'running') continue
    if (t.status.state !== 'new' && t.status.state !== 'pending') continue
    let next: TaskObject
    if ('nodeId' in p) {
      if (!state.nodes.has(p.nodeId) || (t.nodeId !== null && t.nodeId !== p.nodeId)) continue
      const networks = p.networks ?? []
      // An address taken since the scheduler read the store: skipped; its next pass picks another.
      if (addressClash(state, networks, used) !== null) continue
      for (const a of networks) used.get(a.networkId)?.add(a.address.split('/')[0]!)
      next = {
        ...t,
        nodeId: p.nodeId,
        networks,
        status: { state: 'assigned', timestampMs: cmd.nowMs, message: 'scheduler assigned task to node', err: null, exitCode: null },
        version: index,
        updatedAtMs: cmd.nowMs
      }
    } else {
      if (t.status.state === 'pending' && t.status.err === p.pending) continue
      next = { ...t, status: { state: 'pending', timestampMs: cmd.nowMs, message: 'pending task scheduling', err: p.pending, exitCode: null }, version: index, updatedAtMs: cmd.nowMs }
    }
    tasks.set(t.id, next)
    events.push(taskEvent(next))
  }
  return { state: { ...state, index, tasks }, result: { ok: true }, events }
}

export function applyTasksReport (state: StoreState, index: number, cmd: Op<'tasks.report'>): Applied {
  const tasks = new Map(state.tasks)
  const events: StoreEvent[] = []
  for (const r of cmd.reports) {
    const t = tasks.get(r.id)
    // A node speaks only for its own tasks, and a state never moves back (a late report is dropped).
    if (t === undefined || t.nodeId !== cmd.nodeId) continue
    if (taskStateRank(r.state) <= taskStateRank(t.status.state) || isTerminal(t.status.state)) continue
    const next: TaskObject = {
      ...t,
      status: { state: r.state, timestampMs: r.timestampMs, message: r.message, err: r.err, exitCode: r.exitCode },
      runningAtMs: t.runningAtMs ?? (r.state === 'running' ? r.timestampMs : null),
      version: index,
      updatedAtMs: r.timestampMs
    }
    tasks.set(t.id, next)
    events.push(taskEvent(next))
  }
  return { state: { ...state, index, tasks }, result: { ok: true }, events }
}
