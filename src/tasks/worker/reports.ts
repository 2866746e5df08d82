/**
 * The node's outbox of task reports (SwarmKit agent/reporter.go's statusReporter): one pending report
 * per task, the furthest along. The store only moves a task forward, so an intermediate state the
 * leader never hears is no loss, and a node that reports faster than it can send does not grow a backlog.
 */
import { taskStateRank, type TaskStep } from '../executor/index.js'
import type { Report } from '../dispatcher/protocol.js'

/** The report of one runner step, stamped `timestampMs` (the node's clock, ms since the epoch). */
export function reportOf (taskId: string, step: TaskStep, timestampMs: number): Report {
  return { id: taskId, state: step.state, timestampMs, message: step.message, err: step.err ?? null, exitCode: step.exitCode ?? null }
}

/** Pending reports, at most one per task; pure data, no timers (the worker decides when to flush). */
export class ReportQueue {
  /** Insertion order is send order: the oldest pending task goes first when a frame cannot hold them all. */
  private readonly pending = new Map<string, Report>()

  get size (): number { return this.pending.size }

  has (taskId: string): boolean { return this.pending.has(taskId) }

  /**
   * Queue `report`, replacing the task's pending one unless that one is further along: a later report of
   * the same state wins, as it carries the newer message and error.
   */
  put (report: Report): void {
    const queued = this.pending.get(report.id)
    if (queued !== undefined && taskStateRank(queued.state) > taskStateRank(report.state)) return
    this.pending.set(report.id, report) // a replaced report keeps the task's place in line
  }

  /** Remove and return up to `max` reports, oldest first. */
  take (max: number): Report[] {
    const out: Report[] = []
    for (const [id, report] of this.pending) {
      if (out.length >= max) break
      out.push(report)
      this.pending.delete(id)
    }
    return out
  }
}
