/**
 * The changes one reconcile pass decides, gathered before they are returned (internal to the orchestrator).
 * Every change only moves a task forward: desired state from 'running' to 'shutdown', observed state to
 * 'orphaned' from assigned…running.
 */
import { isTerminal, taskStateRank, type DesiredState, type TaskState } from '../executor/index.js'
import type { HistoryTask } from './history.js'
import { isTaskUpToDate } from './up-to-date.js'
import type { NewTask, ReconcileResult, ServiceObject, TaskDeletion, TaskObject, TaskStatus, TaskUpdate, UpdateStatus } from './types.js'

interface Change {
  readonly task: TaskObject
  desiredState?: DesiredState
  status?: TaskStatus
}

/** A task that is to be created: its slot (replicated) or node (global), delay and restart history. */
export interface CreateIntent {
  readonly slot: number | null
  readonly nodeId: string | null
  readonly delayUntilMs: number | null
  readonly restartTimesMs: readonly number[]
}

/** Whether an observed state is one a down node's task is orphaned from (SwarmKit dispatcher: assigned…running). */
export function orphanable (state: TaskState): boolean {
  const rank = taskStateRank(state)
  return rank >= taskStateRank('assigned') && rank <= taskStateRank('running')
}

export class Plan {
  private readonly created: NewTask[] = []
  private readonly changes = new Map<string, Change>()
  private wakeMs: number | null = null
  private status: UpdateStatus | null
  private statusChanged = false
  private rollbackRequest: { message: string, pausedMessage: string } | null = null
  private rebalanceDone = false
  private readonly upToDateById = new Map<string, boolean>()

  constructor (readonly service: ServiceObject, readonly nowMs: number, private readonly newId: () => string) {
    this.status = service.updateStatus
  }

  /** The service's UpdateStatus after this pass's changes. */
  updateStatus (): UpdateStatus | null {
    return this.status
  }

  /** Write a new UpdateStatus with this pass's tasks. */
  setUpdateStatus (status: UpdateStatus): void {
    this.status = status
    this.statusChanged = true
  }

  /** Ask for the service to go back to its PreviousSpec (the updater's FailureAction rollback). */
  requestRollback (message: string, pausedMessage: string): void {
    this.rollbackRequest = { message, pausedMessage }
  }

  /** A pending one-shot rebalance is done. */
  markRebalanced (): void {
    this.rebalanceDone = true
  }

  /** How many tasks this pass creates so far. */
  createCount (): number {
    return this.created.length
  }

  /**
   * `isTaskUpToDate(task, this.service)`, worked out once per task and pass: the restart supervisor, the
   * updater, its status and rebalancing each ask, and the answer is a deep comparison of specs.
   */
  upToDate (task: TaskObject): boolean {
    let v = this.upToDateById.get(task.id)
    if (v === undefined) {
      v = isTaskUpToDate(task, this.service)
      this.upToDateById.set(task.id, v)
    }
    return v
  }

  /** Whether this pass changes the task's desired state (asks it to stop, or to go). */
  changesDesiredState (task: TaskObject): boolean {
    return this.changes.get(task.id)?.desiredState !== undefined
  }

  /** The task's desired state after this pass's changes. */
  desiredState (task: TaskObject): DesiredState {
    return this.changes.get(task.id)?.desiredState ?? task.desiredState
  }

  private change (task: TaskObject): Change {
    let c = this.changes.get(task.id)
    if (c === undefined) {
      c = { task }
      this.changes.set(task.id, c)
    }
    return c
  }

  /**
   * Ask for the task to stop (a no-op when it already is asked to). A task lost with its node (down or
   * removed) is asked to be removed instead: it has been replaced elsewhere, so when that node comes
   * back it must not keep the container, not even stopped.
   */
  shutdown (task: TaskObject, lostWithNode = false): void {
    if (this.desiredState(task) === 'running') this.change(task).desiredState = lostWithNode && !isTerminal(task.status.state) ? 'remove' : 'shutdown'
  }

  /** Move a task whose node is gone or long down to 'orphaned' (a no-op unless it is in assigned…running). */
  orphan (task: TaskObject, message: string): void {
    if (!orphanable(task.status.state)) return
    this.change(task).status = { state: 'orphaned', timestampMs: this.nowMs, message, err: null, exitCode: null }
  }

  /** Come back at `ms` if it is after now (the earliest such time wins). */
  wakeAt (ms: number): void {
    if (ms > this.nowMs && (this.wakeMs === null || ms < this.wakeMs)) this.wakeMs = ms
  }

  /** Create tasks, drawing their IDs in the given order. */
  create (intents: readonly CreateIntent[]): void {
    for (const i of intents) {
      const name = `${this.service.name}.${i.slot !== null ? String(i.slot) : i.nodeId ?? ''}`
      this.created.push({
        id: this.newId(),
        serviceId: this.service.id,
        serviceName: this.service.name,
        name,
        slot: i.slot,
        nodeId: i.nodeId,
        desiredState: 'running',
        status: { state: 'new', timestampMs: this.nowMs, message: 'created', err: null, exitCode: null },
        specVersion: this.service.version,
        spec: this.service.spec.TaskTemplate,
        ports: this.service.endpoint.ports,
        delayUntilMs: i.delayUntilMs,
        restartTimesMs: [...i.restartTimesMs],
        runningAtMs: null,
        createdAtMs: this.nowMs,
        updatedAtMs: this.nowMs
      })
      if (i.delayUntilMs !== null) this.wakeAt(i.delayUntilMs)
    }
  }

  /** `tasks` as they will be once this pass is applied, with the created ones: what the reaper weighs. */
  view (tasks: readonly TaskObject[]): Array<HistoryTask & { readonly slot: number | null, readonly nodeId: string | null }> {
    const out: Array<HistoryTask & { readonly slot: number | null, readonly nodeId: string | null }> = []
    for (const t of tasks) {
      const c = this.changes.get(t.id)
      out.push({
        id: t.id,
        version: t.version,
        createdAtMs: t.createdAtMs,
        desiredState: c?.desiredState ?? t.desiredState,
        state: c?.status?.state ?? t.status.state,
        slot: t.slot,
        nodeId: t.nodeId
      })
    }
    for (const t of this.created) {
      out.push({ id: t.id, version: null, createdAtMs: t.createdAtMs, desiredState: t.desiredState, state: t.status.state, slot: t.slot, nodeId: t.nodeId })
    }
    return out
  }

  result (deletions: readonly TaskDeletion[]): ReconcileResult {
    const deleted = new Set(deletions.map(d => d.id))
    const update: TaskUpdate[] = []
    for (const c of this.changes.values()) {
      if (deleted.has(c.task.id)) continue
      update.push({
        id: c.task.id,
        version: c.task.version,
        updatedAtMs: this.nowMs,
        ...(c.desiredState !== undefined ? { desiredState: c.desiredState } : {}),
        ...(c.status !== undefined ? { status: c.status } : {})
      })
    }
    return {
      create: this.created,
      update,
      delete: [...deletions],
      nextWakeMs: this.wakeMs,
      ...(this.statusChanged && this.status !== null ? { updateStatus: this.status } : {}),
      ...(this.rollbackRequest !== null ? { rollback: this.rollbackRequest } : {}),
      ...(this.rebalanceDone ? { rebalanced: true as const } : {})
    }
  }
}
