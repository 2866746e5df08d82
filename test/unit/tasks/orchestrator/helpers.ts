import { expect } from 'vitest'
import { isTerminal, taskStateRank, type TaskState } from '../../../../src/tasks/executor/index.js'
import {
  reconcile, type OrchestratorConfig, type OrchestratorNode, type ReconcileResult, type RestartPolicy, type ServiceObject,
  type ServiceSpec, type TaskObject
} from '../../../../src/tasks/orchestrator/index.js'
import { rng } from '../../../support/rng.js'
import { node as schedulerNode } from '../scheduler/helpers.js'
export { rng }

export const SECOND = 1000
export const NS_PER_MS = 1_000_000

/** The scheduler tests' node, with the orchestrator's `downSinceMs`. */
export function node (id: string, over: Partial<OrchestratorNode> = {}): OrchestratorNode {
  return { ...schedulerNode(id), downSinceMs: null, ...over }
}

export interface SpecInit {
  replicas?: number
  global?: boolean
  restart?: RestartPolicy
  constraints?: string[]
}

export function spec (init: SpecInit = {}): ServiceSpec {
  return {
    Name: 'web',
    TaskTemplate: {
      ContainerSpec: { Image: 'nginx:alpine' },
      ...(init.restart !== undefined ? { RestartPolicy: init.restart } : {}),
      ...(init.constraints !== undefined ? { Placement: { Constraints: init.constraints } } : {})
    },
    Mode: init.global === true ? { Global: {} } : { Replicated: { Replicas: init.replicas ?? 1 } }
  }
}

export function service (init: SpecInit = {}, version = 10): ServiceObject {
  return { id: 'svc', name: 'web', version, createdAtMs: 0, updatedAtMs: 0, spec: spec(init), previousSpec: null, endpoint: { ports: [], virtualIps: [] }, updateStatus: null, rebalance: null }
}

/** IDs `<prefix>1`, `<prefix>2`, … */
export function idSequence (prefix = 't'): () => string {
  let n = 0
  return () => `${prefix}${++n}`
}

/**
 * A tiny store: applies a reconcile result as the driver would (creates get the next Raft index,
 * updates are refused when the version moved on), and an agent's reports. It asserts on every write
 * that no task moves backwards.
 */
export class Store {
  index = 100
  tasks = new Map<string, TaskObject>()
  nodes = new Map<string, OrchestratorNode>()
  nowMs = 1_000_000
  readonly newId: () => string
  config: OrchestratorConfig | undefined

  constructor (public service: ServiceObject, nodes: OrchestratorNode[] = [], prefix = 't') {
    for (const n of nodes) this.nodes.set(n.id, n)
    this.newId = idSequence(prefix)
  }

  list (): TaskObject[] {
    return [...this.tasks.values()]
  }

  /** Reconcile once and apply the result. */
  step (): ReconcileResult {
    const result = reconcile({
      service: this.service,
      tasks: this.list(),
      nodes: [...this.nodes.values()],
      nowMs: this.nowMs,
      newId: this.newId,
      ...(this.config !== undefined ? { config: this.config } : {})
    })
    this.apply(result)
    return result
  }

  apply (r: ReconcileResult): void {
    this.index++
    if (r.updateStatus !== undefined) this.service = { ...this.service, updateStatus: r.updateStatus }
    if (r.rebalanced === true) this.service = { ...this.service, rebalance: null }
    if (r.rollback !== undefined) {
      // As the store's service.rollback: PreviousSpec is used up, StartedAt kept.
      const status = this.service.updateStatus!
      this.service = {
        ...this.service,
        spec: this.service.previousSpec!,
        previousSpec: null,
        version: this.index,
        updatedAtMs: this.nowMs,
        updateStatus: { ...status, state: 'rollback_started', message: r.rollback.message }
      }
    }
    for (const t of r.create) {
      expect(this.tasks.has(t.id)).toBe(false)
      this.tasks.set(t.id, { ...t, networks: [], version: this.index })
    }
    for (const u of r.update) {
      const t = this.tasks.get(u.id)!
      expect(t.version).toBe(u.version)
      if (u.desiredState !== undefined) {
        expect(t.desiredState).toBe('running')
        expect(['shutdown', 'remove']).toContain(u.desiredState)
      }
      if (u.status !== undefined) expect(taskStateRank(u.status.state)).toBeGreaterThan(taskStateRank(t.status.state))
      this.tasks.set(u.id, {
        ...t,
        ...(u.desiredState !== undefined ? { desiredState: u.desiredState } : {}),
        ...(u.status !== undefined ? { status: u.status } : {}),
        updatedAtMs: u.updatedAtMs,
        version: this.index
      })
    }
    for (const d of r.delete) {
      expect(this.tasks.get(d.id)?.version).toBe(d.version)
      this.tasks.delete(d.id)
    }
  }

  /** The agent (or scheduler) reports a task's state; states only move forward. */
  report (id: string, state: TaskState, over: { exitCode?: number, nodeId?: string } = {}): void {
    const t = this.tasks.get(id)!
    expect(taskStateRank(state)).toBeGreaterThanOrEqual(taskStateRank(t.status.state))
    this.index++
    this.tasks.set(id, {
      ...t,
      ...(over.nodeId !== undefined ? { nodeId: over.nodeId } : {}),
      status: {
        state,
        timestampMs: this.nowMs,
        message: state,
        err: state === 'failed' ? `task: non-zero exit (${over.exitCode ?? 1})` : null,
        exitCode: over.exitCode ?? (state === 'complete' ? 0 : state === 'failed' ? 1 : null)
      },
      runningAtMs: t.runningAtMs ?? (state === 'running' ? this.nowMs : null),
      updatedAtMs: this.nowMs,
      version: this.index
    })
  }

  /** The agents stop what they were asked to stop: each such task still live is reported shut down. */
  settle (): void {
    for (const t of this.list()) {
      if (t.desiredState !== 'running' && t.nodeId !== null && !isTerminal(t.status.state)) this.report(t.id, 'shutdown')
    }
  }

  /** Update the service spec (a new version, as the store's apply would give it). */
  updateService (init: SpecInit): void {
    this.index++
    this.service = { ...this.service, version: this.index, updatedAtMs: this.nowMs, spec: spec(init), previousSpec: this.service.spec, updateStatus: null }
  }

  setNode (id: string, over: Partial<OrchestratorNode>): void {
    this.nodes.set(id, { ...(this.nodes.get(id) ?? node(id)), ...over })
  }

  /** Tasks meant to run, by slot (replicated) or node (global). */
  running (): TaskObject[] {
    return this.list().filter(t => t.desiredState === 'running')
  }

  runningSlots (): number[] {
    return this.running().map(t => t.slot!).sort((a, b) => a - b)
  }

  runningNodes (): string[] {
    return this.running().map(t => t.nodeId!).sort()
  }

  /** The task meant to run in `slot` (exactly one). */
  inSlot (slot: number): TaskObject {
    const ts = this.running().filter(t => t.slot === slot)
    expect(ts).toHaveLength(1)
    return ts[0]!
  }

  onNode (nodeId: string): TaskObject {
    const ts = this.running().filter(t => t.nodeId === nodeId)
    expect(ts).toHaveLength(1)
    return ts[0]!
  }
}

