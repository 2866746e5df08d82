/**
 * The scheduler on the leader (SwarmKit manager/scheduler): whenever tasks wait for a node or the nodes
 * change, one pass of the pure `scheduleBatch` over every waiting task, written back as `tasks.schedule`
 * entries. A 1,000-task service is one pass and a couple of entries, not 1,000 round trips.
 */
import { asFlotillaError, type Logger } from '../../membership/index.js'
import type { StoreEvent, StoreState, TaskObject, TaskPlacement } from '../../election/index.js'
import { scheduleBatch } from '../scheduler/index.js'
import { AddressBook, ingressNetwork, publishesIngress } from '../allocator/addresses.js'
import { holdsNode, needsPlacement, placedTask, schedulerNode, taskToPlace } from './views.js'
import { MAX_TASKS_PER_ENTRY, type LeaderDeps } from './store-view.js'
import { StoreDrivenLoop } from './store-driven-loop.js'

/**
 * The placements one pass over `state` decides, leaving out a pending task whose reason did not change.
 * A placed task also gets its address on each of its networks (SwarmKit allocates before scheduling;
 * allocating at placement gives the same addresses one entry earlier); a task whose network is full
 * stays pending with that reason, which `service ps` shows.
 */
export function schedulingPass (state: StoreState): TaskPlacement[] {
  const waiting = [...state.tasks.values()].filter(needsPlacement)
  if (waiting.length === 0) return []
  const nodes = [...state.nodes.values()].map(schedulerNode)
  const placed = [...state.tasks.values()].filter(holdsNode).map(placedTask)
  const result = scheduleBatch(nodes, placed, waiting.map(taskToPlace))
  const out: TaskPlacement[] = []
  const pending = (t: TaskObject, message: string): void => {
    if (t.status.state === 'pending' && t.status.err === message) return
    out.push({ id: t.id, version: t.version, pending: message })
  }
  const book = new AddressBook(state)
  const ingressId = ingressNetwork(state)?.id ?? null
  for (const a of result.assignments) {
    const t = state.tasks.get(a.taskId)!
    const targets = taskNetworkIds(t, ingressId)
    if (targets.length === 0) {
      out.push({ id: t.id, version: t.version, nodeId: a.nodeId })
      continue
    }
    const aliases = (id: string): readonly string[] => t.spec.Networks?.find(n => n.Target === id)?.Aliases ?? []
    const got = book.allocate(targets, aliases)
    if ('reason' in got) pending(t, got.reason)
    else out.push({ id: t.id, version: t.version, nodeId: a.nodeId, networks: got.networks })
  }
  for (const u of result.unschedulable) pending(state.tasks.get(u.taskId)!, u.message)
  return out
}

/** The networks a task attaches to: its spec's, and ingress when its ports publish in ingress mode. */
export function taskNetworkIds (t: TaskObject, ingressId: string | null): string[] {
  const ids = (t.spec.Networks ?? []).map(n => n.Target)
  if (ingressId !== null && publishesIngress(t.ports) && !ids.includes(ingressId)) ids.push(ingressId)
  return ids
}

export class SchedulerDriver {
  private readonly log: Logger
  private readonly loop: StoreDrivenLoop

  constructor (private readonly deps: LeaderDeps) {
    this.log = deps.logger.child('scheduler')
    this.loop = new StoreDrivenLoop(deps.store, relevant, async () => { await this.pass() })
  }

  start (): void {
    this.loop.start()
  }

  stop (): void {
    this.loop.stop()
  }

  private async pass (): Promise<void> {
    const started = performance.now()
    const placements = schedulingPass(this.deps.store.state)
    if (placements.length === 0) return
    const assigned = placements.filter(p => 'nodeId' in p).length
    this.log.debug('scheduling pass', { assigned, pending: placements.length - assigned, ms: Math.round(performance.now() - started) })
    const writes: Array<Promise<void>> = []
    for (let i = 0; i < placements.length; i += MAX_TASKS_PER_ENTRY) {
      writes.push(this.deps.propose({ op: 'tasks.schedule', placements: placements.slice(i, i + MAX_TASKS_PER_ENTRY), nowMs: this.deps.now() }))
    }
    for (const r of await Promise.allSettled(writes)) {
      if (r.status === 'rejected' && !this.loop.isStopped) this.log.debug('scheduling write failed', { err: asFlotillaError(r.reason).message })
    }
  }
}

/**
 * Events after which a pass may place something: a task to place, a task that freed a node, a node
 * change; and a service or network change, which may have taken (or freed) an address a placement of
 * the last pass wanted (the store then skipped that placement, and the task still waits).
 */
function relevant (e: StoreEvent): boolean {
  return e.kind === 'task' || e.kind === 'node-added' || e.kind === 'node-updated' || e.kind === 'node-removed' || e.kind === 'cluster' ||
    e.kind === 'service' || e.kind === 'network'
}
