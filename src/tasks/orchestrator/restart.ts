/**
 * The restart supervisor's decisions (SwarmKit manager/orchestrator/restart): whether an ended task is
 * replaced, after what delay, and the restart history its replacement carries. Pure: the history lives
 * on the tasks (`restartTimesMs`), not in the leader's memory, so a new leader decides as the old one would.
 */
import { FlotillaError } from '../../membership/errors.js'
import type { TaskState } from '../executor/index.js'
import type { RestartCondition, ServiceSpec, TaskObject } from './types.js'

/** Docker's default restart delay, 5 s, in nanoseconds (SwarmKit api/defaults). */
export const DEFAULT_RESTART_DELAY_NS = 5_000_000_000

/** A service's RestartPolicy with defaults filled in and durations in milliseconds. */
export interface ResolvedRestartPolicy {
  readonly condition: RestartCondition
  /** Rounded up to whole milliseconds: a restart never starts early. */
  readonly delayMs: number
  /** 0 = unlimited. */
  readonly maxAttempts: number
  /** 0 = no window: MaxAttempts counts every restart since the service's last update. */
  readonly windowMs: number
}

function nonNegative (value: number | undefined, field: string, integer: boolean): number {
  const v = value ?? 0
  if (!Number.isFinite(v) || v < 0 || (integer && !Number.isInteger(v))) {
    throw new FlotillaError('invalid-argument', `invalid RestartPolicy.${field} ${String(value)}`, {
      hint: `${field} must be a non-negative ${integer ? 'integer' : 'number of nanoseconds'}`
    })
  }
  return v
}

/** Resolve `spec.TaskTemplate.RestartPolicy`; throws FlotillaError('invalid-argument') on a negative or non-finite field. */
export function restartPolicy (spec: ServiceSpec): ResolvedRestartPolicy {
  const p = spec.TaskTemplate.RestartPolicy ?? {}
  return {
    condition: p.Condition ?? 'any',
    delayMs: Math.ceil(nonNegative(p.Delay ?? DEFAULT_RESTART_DELAY_NS, 'Delay', false) / 1e6),
    maxAttempts: nonNegative(p.MaxAttempts, 'MaxAttempts', true),
    windowMs: nonNegative(p.Window, 'Window', false) / 1e6
  }
}

/** Whether the task ended by itself (the container exited or could not start) rather than being stopped. */
export function endedOnItsOwn (state: TaskState): boolean {
  return state === 'complete' || state === 'failed' || state === 'rejected'
}

/**
 * SwarmKit's shouldRestart for an ended task, under the service's current policy:
 * - 'none' never restarts; 'on-failure' restarts unless the task completed (exit 0); 'any' always;
 * - with MaxAttempts > 0, the restarts already made count against it: all those under the task's
 *   spec version when Window is 0, else those in (end − Window, end), `end` being the task's status
 *   timestamp (when it ended).
 */
export function shouldRestart (task: TaskObject, policy: ResolvedRestartPolicy): boolean {
  switch (policy.condition) {
    case 'none': return false
    case 'on-failure': if (task.status.state === 'complete') return false; break
    case 'any': break
  }
  if (policy.maxAttempts === 0) return true
  if (policy.windowMs === 0) return task.restartTimesMs.length < policy.maxAttempts
  const endMs = task.status.timestampMs
  const lookbackMs = endMs - policy.windowMs
  const counted = task.restartTimesMs.filter(t => t > lookbackMs && t < endMs).length
  return counted < policy.maxAttempts
}

/**
 * The restart history a replacement of `old` carries: `old`'s when made from the same service version
 * (SwarmKit clears it on a spec change), plus `nowMs` when this replacement counts as a restart; only
 * the last MaxAttempts entries can ever matter, so only those are kept. Empty when MaxAttempts is 0.
 */
export function restartTimesAfter (old: TaskObject, policy: ResolvedRestartPolicy, specVersion: number, nowMs: number, counts: boolean): number[] {
  if (policy.maxAttempts === 0) return []
  const times = old.specVersion === specVersion ? [...old.restartTimesMs] : []
  if (counts) times.push(nowMs)
  return times.slice(-policy.maxAttempts)
}

/**
 * Whether a slot (a node, global) whose newest task is `newest` and that has no task meant to run is
 * held as it is: that task ended by itself, the policy declined its restart, and the service has not
 * changed since it was made (SwarmKit's UpdatableTasksInSlot, where such a slot waits for the updater).
 * A held slot counts towards the replicas and is not refilled.
 */
export function holdsSlot (newest: TaskObject, serviceVersion: number, policy: ResolvedRestartPolicy): boolean {
  return newest.specVersion === serviceVersion && endedOnItsOwn(newest.status.state) && !shouldRestart(newest, policy)
}
