import { isTerminal, taskStateRank } from '../../election/index.js'
import type { ControllerAction, ControllerCall, ControllerResult, DesiredState, ErrorClass, TaskState } from './types.js'

export { isTerminal, taskStateRank } from '../../election/index.js'

/** Where a task stands: its observed state, its desired state, and how the last controller call ended. */
export interface TaskStepInput {
  readonly observed: TaskState
  readonly desired: DesiredState
  /** The result of the call the previous step asked for; omitted on the first step and after a pure transition. */
  readonly last?: ControllerResult
}

/**
 * One step of a task. The driver reports `state` (with `message`, `err`, `exitCode`) when it differs from
 * the input's observed state, then:
 * - `action` is a call: make it (after a backoff when `errorClass` is 'retry'), and step again with its result;
 * - `action` is 'none' and `state` moved: step again at once, without a result;
 * - `action` is 'none' and `state` did not move: the task is settled until its desired state changes
 *   (`removed` says its container is gone: the driver may forget the task).
 */
export interface TaskStep {
  readonly state: TaskState
  readonly action: ControllerAction
  /** SwarmKit's status message for the state: 'accepted', 'preparing', 'prepared', 'started', 'finished'… */
  readonly message: string
  /** The error text when the last call failed, or a non-zero exit ("task: non-zero exit (N)"). */
  readonly err?: string
  readonly errorClass?: ErrorClass
  readonly exitCode?: number
  readonly removed?: true
}

/** The controller call that moves a task on from `state` towards `desired` ('none' for pure transitions and settled tasks). */
export function actionFor (state: TaskState, desired: DesiredState): ControllerAction {
  if (desired === 'remove') return isTerminal(state) ? 'remove' : 'shutdown'
  if (desired === 'shutdown') return isTerminal(state) ? 'none' : 'shutdown'
  switch (state) {
    case 'preparing': return 'prepare'
    case 'starting': return 'start'
    case 'running': return 'wait'
    default: return 'none'
  }
}

/** The state a successful call leads to, with its message. */
function afterSuccess (call: ControllerCall, state: TaskState): { state: TaskState, message: string } {
  switch (call) {
    case 'prepare': return { state: 'ready', message: 'prepared' }
    case 'start': return { state: 'running', message: 'started' }
    case 'wait': return { state: 'complete', message: 'finished' }
    case 'shutdown': return { state: 'shutdown', message: 'shutdown' }
    case 'remove': return { state, message: 'removed' }
  }
}

/** Transitions that need no controller call (SwarmKit exec.Do's pause states), taken only towards 'running'. */
function pureTransition (state: TaskState): { state: TaskState, message: string } | undefined {
  switch (state) {
    case 'new': case 'pending': case 'assigned': return { state: 'accepted', message: 'accepted' }
    case 'accepted': return { state: 'preparing', message: 'preparing' }
    case 'ready': return { state: 'starting', message: 'starting' }
    default: return undefined
  }
}

/**
 * Classify a failed call (SwarmKit exec.Do's `fatal`): a retryable error leaves the state alone; otherwise
 * a task that had not reached 'starting' is rejected (it never ran), one that had is failed.
 */
export function classifyError (state: TaskState, retryable: boolean): ErrorClass {
  if (retryable) return 'retry'
  return taskStateRank(state) < taskStateRank('starting') ? 'rejected' : 'failed'
}

/**
 * Move a task one step (SwarmKit agent/exec.Do, with the controller calls taken out: pure, synchronous,
 * no clock). First the last call's result is applied, if it is the call for the observed state (under
 * the desired state, or under 'running' for a call begun before a shutdown was asked): success moves
 * the task on, a non-zero exit fails it, an error is classified. Otherwise one pure transition is taken
 * towards 'running'. The returned action is the call for the resulting state. States never move back,
 * and terminal states never change.
 */
export function taskStep (input: TaskStepInput): TaskStep {
  const { observed, desired, last } = input
  if (last !== undefined && (last.action === actionFor(observed, desired) || last.action === actionFor(observed, 'running'))) {
    if (!last.ok) {
      const errorClass = classifyError(observed, last.retryable)
      if (errorClass === 'retry') {
        return { state: observed, action: actionFor(observed, desired), message: last.action, err: last.message, errorClass }
      }
      // A terminal task cannot fail again: the error is reported and the task settles.
      if (isTerminal(observed)) return { state: observed, action: 'none', message: last.action, err: last.message, errorClass }
      const state = errorClass === 'rejected' ? 'rejected' : 'failed'
      return { state, action: actionFor(state, desired), message: last.action, err: last.message, errorClass }
    }
    if (last.action === 'wait' && last.exitCode !== undefined && last.exitCode !== 0) {
      const err = `task: non-zero exit (${last.exitCode})${last.message !== undefined && last.message !== '' ? `: ${last.message}` : ''}`
      return { state: 'failed', action: actionFor('failed', desired), message: 'started', err, errorClass: 'failed', exitCode: last.exitCode }
    }
    if (last.action === 'remove') return { state: observed, action: 'none', message: 'removed', removed: true }
    const next = afterSuccess(last.action, observed)
    return { ...next, action: actionFor(next.state, desired), ...(last.action === 'wait' ? { exitCode: last.exitCode ?? 0 } : {}) }
  }
  if (desired === 'running' && taskStateRank(observed) < taskStateRank('running')) {
    const next = pureTransition(observed)
    if (next !== undefined) return { ...next, action: actionFor(next.state, desired) }
  }
  return { state: observed, action: actionFor(observed, desired), message: observed }
}
