/**
 * The orchestrator on the leader: runs the pure `reconcile` for every service whose service, tasks or
 * nodes changed, and writes each result as one `tasks.reconcile` entry (all or nothing; refused when a
 * task moved on meanwhile, and then reconciled again from the newer state). Also reaps the tasks of
 * removed services. One timer per service serves `nextWakeMs` (restart delays, orphaning).
 */
import { FlotillaError, asFlotillaError, newObjectId, type Logger } from '../../membership/index.js'
import type { Command, StoreEvent, StoreState } from '../../election/index.js'
import { isTerminal } from '../executor/index.js'
import { allocatePorts, allocateVirtualIps, portsTaken } from '../allocator/index.js'
import {
  DEFAULT_ORCHESTRATOR_CONFIG, orchestratorConfig, reconcile, type OrchestratorConfig, type OrchestratorNode, type ServiceObject, type TaskDeletion,
  type TaskObject, type UpdateStatus
} from '../orchestrator/index.js'
import { orchestratorNode } from './views.js'
import { MAX_TASKS_PER_ENTRY, type LeaderDeps } from './store-view.js'

/**
 * What one orchestration pass reads of the store, computed once per pass rather than once per dirty
 * service: the tasks grouped by service, the nodes as the core sees them, the history limit.
 */
export interface PassView {
  readonly state: StoreState
  readonly tasksByService: ReadonlyMap<string, readonly TaskObject[]>
  readonly nodes: readonly OrchestratorNode[]
  readonly config: OrchestratorConfig
}

export function passView (state: StoreState): PassView {
  const tasksByService = new Map<string, TaskObject[]>()
  for (const t of state.tasks.values()) {
    const list = tasksByService.get(t.serviceId)
    if (list === undefined) tasksByService.set(t.serviceId, [t])
    else list.push(t)
  }
  return { state, tasksByService, nodes: [...state.nodes.values()].map(orchestratorNode), config: clusterConfig(state) }
}

/**
 * The writes that reconcile `serviceId` at `nowMs`: none when nothing is to be done. A task of a removed
 * service is deleted once it has ended, or at once when its node is gone or down (nothing will report on it).
 */
export function orchestrationPass (view: PassView, serviceId: string, nowMs: number, newId: () => string): { commands: Command[], nextWakeMs: number | null } {
  const { state } = view
  const service = state.services.get(serviceId)
  const tasks = view.tasksByService.get(serviceId) ?? []
  if (service === undefined) {
    const doomed: TaskDeletion[] = tasks.filter(t => reapable(state, t)).map(t => ({ id: t.id, version: t.version }))
    return { commands: chunks(doomed).map(d => ({ op: 'tasks.reconcile', serviceId, serviceVersion: null, create: [], update: [], delete: d })), nextWakeMs: null }
  }
  const r = reconcile({ service, tasks, nodes: view.nodes, nowMs, newId, config: view.config })
  const commands: Command[] = []
  let updateStatus = r.updateStatus
  if (r.rollback !== undefined) {
    const rollback = rollbackCommand(state, service, r.rollback, nowMs)
    if ('op' in rollback) commands.push(rollback)
    else updateStatus = rollback
  }
  const serviceChange = { ...(updateStatus !== undefined ? { updateStatus } : {}), ...(r.rebalanced === true ? { rebalanced: true } : {}) }
  if (r.create.length + r.update.length + r.delete.length === 0 && Object.keys(serviceChange).length === 0) return { commands, nextWakeMs: r.nextWakeMs }
  // One entry when it fits (the common case, and all-or-nothing); a scale to thousands is split, each
  // part still checked against the service version and the tasks it touches. The service's own
  // change goes with the first part; the rollback, a new spec, after the tasks written from the old one.
  const creates = chunks(r.create)
  const updates = chunks(r.update)
  const deletes = chunks(r.delete)
  const n = Math.max(1, creates.length, updates.length, deletes.length)
  const parts: Command[] = []
  for (let i = 0; i < n; i++) {
    parts.push({
      op: 'tasks.reconcile', serviceId, serviceVersion: service.version, create: creates[i] ?? [], update: updates[i] ?? [], delete: deletes[i] ?? [], ...(i === 0 ? serviceChange : {})
    })
  }
  return { commands: [...parts, ...commands], nextWakeMs: r.nextWakeMs }
}

/**
 * The updater's FailureAction rollback as a store command: the service's PreviousSpec with its ports
 * allocated among the other services' (keeping the ones it has). When they cannot be (another service
 * took a port meanwhile), the update is paused instead, saying why.
 */
function rollbackCommand (state: StoreState, service: ServiceObject, request: { message: string, pausedMessage: string }, nowMs: number): Command | UpdateStatus {
  try {
    const ports = allocatePorts(service.previousSpec?.EndpointSpec, portsTaken(state.services.values(), service.id), service.endpoint.ports).ports
    const virtualIps = service.previousSpec === null ? [] : allocateVirtualIps(state, service.previousSpec, ports, service)
    return { op: 'service.rollback', id: service.id, version: service.version, ports, virtualIps, message: request.message, nowMs }
  } catch (err) {
    const status = service.updateStatus ?? { state: 'updating', startedAtMs: nowMs, completedAtMs: null, message: '' }
    return { ...status, state: 'paused', message: `${request.pausedMessage}; it cannot be rolled back: ${asFlotillaError(err).message}` }
  }
}

/** The swarm spec's Orchestration.TaskHistoryRetentionLimit (`swarm update --task-history-limit`). */
function clusterConfig (state: StoreState): OrchestratorConfig {
  const o = state.cluster?.spec.Orchestration as { TaskHistoryRetentionLimit?: unknown } | undefined
  const limit = o?.TaskHistoryRetentionLimit
  return typeof limit === 'number' && Number.isSafeInteger(limit) ? orchestratorConfig({ taskHistoryRetentionLimit: limit }) : DEFAULT_ORCHESTRATOR_CONFIG
}

function reapable (state: StoreState, t: TaskObject): boolean {
  if (isTerminal(t.status.state) || t.nodeId === null) return true
  const node = state.nodes.get(t.nodeId)
  return node === undefined || node.status.state !== 'ready'
}

function chunks<T> (xs: readonly T[]): T[][] {
  const out: T[][] = []
  for (let i = 0; i < xs.length; i += MAX_TASKS_PER_ENTRY) out.push(xs.slice(i, i + MAX_TASKS_PER_ENTRY))
  return out
}

export class OrchestratorDriver {
  private readonly log: Logger
  private unwatch: (() => void) | null = null
  private readonly dirty = new Set<string>()
  /**
   * The services removed whose tasks are still in the store are dirty too: found by the next pass in
   * its own view of the tasks, rather than by a scan of every task at every node event.
   */
  private removedDirty = false
  private readonly timers = new Map<string, { atMs: number, timer: NodeJS.Timeout }>()
  private running = false
  private stopped = false

  constructor (private readonly deps: LeaderDeps, private readonly newId: () => string = newObjectId) {
    this.log = deps.logger.child('orchestrator')
  }

  start (): void {
    this.unwatch = this.deps.store.watch((events, state) => { this.onEvents(events, state) })
    this.markAll(this.deps.store.state)
  }

  stop (): void {
    this.stopped = true
    this.unwatch?.()
    for (const t of this.timers.values()) clearTimeout(t.timer)
    this.timers.clear()
  }

  private markAll (state: StoreState): void {
    for (const id of state.services.keys()) this.dirty.add(id)
    this.removedDirty = true
    this.kick()
  }

  private onEvents (events: readonly StoreEvent[], state: StoreState): void {
    for (const e of events) {
      if (e.kind === 'service') this.dirty.add(e.id)
      else if (e.kind === 'task') this.dirty.add(e.serviceId)
      else if (e.kind === 'node-added' || e.kind === 'node-updated' || e.kind === 'node-removed' || e.kind === 'cluster') {
        this.markAll(state)
        return
      }
    }
    this.kick()
  }

  private kick (): void {
    if (this.running || this.stopped || (this.dirty.size === 0 && !this.removedDirty)) return
    this.running = true
    setImmediate(() => {
      this.loop().catch((err: unknown) => { this.log.warn('orchestration failed', { err: asFlotillaError(err).message }) })
        .finally(() => { this.running = false; this.kick() })
    })
  }

  private async loop (): Promise<void> {
    while ((this.dirty.size > 0 || this.removedDirty) && !this.stopped) {
      const view = passView(this.deps.store.state)
      if (this.removedDirty) {
        this.removedDirty = false
        // Tasks of services removed before this leader took over, or not reaped yet.
        for (const id of view.tasksByService.keys()) if (!view.state.services.has(id)) this.dirty.add(id)
      }
      const ids = [...this.dirty]
      this.dirty.clear()
      const now = this.deps.now()
      const writes: Array<Promise<void>> = []
      for (const id of ids) {
        let pass
        try {
          pass = orchestrationPass(view, id, now, this.newId)
        } catch (err) {
          // A spec the API let through but the core refuses: logged, not retried until the service changes.
          this.log.warn('cannot reconcile service', { service: id, err: asFlotillaError(err).message })
          continue
        }
        this.wakeAt(id, pass.nextWakeMs)
        for (const cmd of pass.commands) {
          writes.push(this.deps.propose(cmd).catch((err: unknown) => {
            const e = asFlotillaError(err)
            // Refused because something moved on: reconcile again from the newer state.
            if (e instanceof FlotillaError && e.code === 'conflict') this.dirty.add(id)
            else if (!this.stopped) this.log.debug('orchestration write failed', { service: id, err: e.message })
          }))
        }
      }
      await Promise.all(writes)
    }
  }

  private wakeAt (serviceId: string, atMs: number | null): void {
    const existing = this.timers.get(serviceId)
    if (existing !== undefined && (atMs === null || existing.atMs !== atMs)) {
      clearTimeout(existing.timer)
      this.timers.delete(serviceId)
    }
    if (atMs === null || this.timers.has(serviceId)) return
    const timer = setTimeout(() => {
      this.timers.delete(serviceId)
      this.dirty.add(serviceId)
      this.kick()
    }, Math.max(0, atMs - this.deps.now()))
    this.timers.set(serviceId, { atMs, timer })
  }
}
