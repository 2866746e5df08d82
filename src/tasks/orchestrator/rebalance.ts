/**
 * Rebalancing a replicated service (not in Swarm, which never moves a running task; asked for since
 * moby/moby#24103): when one node holds at least two more of the service's tasks than an eligible node,
 * one task is moved, start-first, so the service never drops below its count:
 *
 *   balanced ──(max − min ≥ 2)──▶ a second task is made in the busiest node's highest slot; the
 *   scheduler, which spreads by fewest tasks of the service, places it on the least used node
 *   ──(it runs)──▶ the slot's older task is shut down (replicated.ts) ──(Delay after it ran)──▶ again
 *
 * Moves happen only while nothing else is in flight (no task starting, none out of date, no update
 * paused), one at a time, UpdateConfig.Delay apart. A one-shot request (`flotilla service rebalance`,
 * ServiceObject.rebalance) is cleared once the spread is even; the `flotilla.rebalance=true` label keeps
 * the service balanced for good, e.g. whenever a node comes back.
 */
import { nodeMatches, parseConstraints } from '../scheduler/index.js'
import type { Plan } from './plan.js'
import type { OrchestratorNode, ServiceObject, TaskObject } from './types.js'

/** The service label that keeps a service balanced continuously (`--rebalance` on create and update). */
export const REBALANCE_LABEL = 'flotilla.rebalance'

/** Whether the orchestrator rebalances the service now: a pending request, or the label. */
export function rebalanceWanted (service: ServiceObject): boolean {
  return service.rebalance !== null || service.spec.Labels?.[REBALANCE_LABEL] === 'true'
}

/**
 * The slot whose task is to move in this pass, or null. `live`: per slot, the tasks meant to run (after
 * this pass's other decisions) that have not ended; `creating`: tasks this pass already creates.
 * Marks a pending request done (plan.markRebalanced) when the spread is even and nothing is in flight.
 */
export function rebalanceMove (
  plan: Plan, live: ReadonlyMap<number, readonly TaskObject[]>, nodes: ReadonlyMap<string, OrchestratorNode>, creating: number, delayMs: number
): number | null {
  const service = plan.service
  if (creating > 0) return null
  let lastRunningMs: number | null = null
  const perNode = new Map<string, number[]>()
  for (const [slot, tasks] of live) {
    const t = tasks[0]
    // A slot with none or two tasks, or one still starting or out of date: something is in flight.
    if (tasks.length !== 1 || t === undefined || t.nodeId === null || t.status.state !== 'running' || !plan.upToDate(t)) return null
    const at = t.runningAtMs ?? t.status.timestampMs
    if (lastRunningMs === null || at > lastRunningMs) lastRunningMs = at
    perNode.set(t.nodeId, [...(perNode.get(t.nodeId) ?? []), slot])
  }
  const constraints = parseConstraints(service.spec.TaskTemplate.Placement?.Constraints ?? [])
  let least: number | null = null
  for (const n of nodes.values()) {
    if (!n.ready || n.availability !== 'active' || !nodeMatches(constraints, n)) continue
    const count = perNode.get(n.id)?.length ?? 0
    if (least === null || count < least) least = count
  }
  let busiest: { id: string, slots: number[] } | null = null
  for (const [id, slots] of [...perNode].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (busiest === null || slots.length > busiest.slots.length) busiest = { id, slots }
  }
  // Placement preferences spread over labels, not nodes: an even spread per node may undo them.
  const preferences = (service.spec.TaskTemplate.Placement?.Preferences ?? []).length > 0
  if (least === null || busiest === null || preferences || busiest.slots.length - least < 2) {
    if (service.rebalance !== null) plan.markRebalanced()
    return null
  }
  if (delayMs > 0 && lastRunningMs !== null && plan.nowMs < lastRunningMs + delayMs) {
    plan.wakeAt(lastRunningMs + delayMs)
    return null
  }
  return Math.max(...busiest.slots)
}
