import { setTimeout as sleep } from 'node:timers/promises'
import { asFlotillaError } from '../../membership/index.js'
import { taskStep, type TaskStep } from './task-step.js'
import type { ControllerCall, ControllerResult, DesiredState, TaskController, TaskState } from './types.js'

export interface TaskRunnerInit {
  readonly controller: TaskController
  /** Where the task stands now: its last reported state, or an adopted container's (AdoptedTask.observed). */
  readonly observed: TaskState
  readonly desired: DesiredState
  /** Hears every step that moved the state or carries an error, in order. The caller stamps and reports it. */
  readonly onStep: (step: TaskStep) => void
  /** Delay before retrying a call after its `attempt`-th retryable failure (from 1). Default: 100 ms doubling to 5 s. */
  readonly retryDelayMs?: (attempt: number) => number
}

/** Make one controller call and describe how it ended; never throws. */
export async function callController (controller: TaskController, call: ControllerCall, signal?: AbortSignal): Promise<ControllerResult> {
  try {
    if (call === 'wait') {
      const exit = await controller.wait(signal)
      return { action: call, ok: true, exitCode: exit.exitCode, ...(exit.error === '' ? {} : { message: exit.error }) }
    }
    await controller[call]()
    return { action: call, ok: true }
  } catch (err) {
    const e = asFlotillaError(err)
    return { action: call, ok: false, message: e.message, retryable: e.retryable }
  }
}

/**
 * The async driver of one task: applies `taskStep` to its controller until the task settles. A new
 * desired state interrupts a wait in progress. Owns the retry timers; no state lives here that the step
 * function does not see.
 */
export class TaskRunner {
  private state: TaskState
  private desiredState: DesiredState
  private waiting: AbortController | null = null

  constructor (private readonly init: TaskRunnerInit) {
    this.state = init.observed
    this.desiredState = init.desired
  }

  get observed (): TaskState { return this.state }
  get desired (): DesiredState { return this.desiredState }

  /** Change the desired state. A running `run` picks it up; a settled task needs `run` again. */
  setDesired (desired: DesiredState): void {
    if (desired === this.desiredState) return
    this.desiredState = desired
    this.waiting?.abort(new Error(`desired state is now ${desired}`))
  }

  /** Step until the task settles or `signal` aborts; resolves with the last step. */
  async run (signal?: AbortSignal): Promise<TaskStep> {
    let last: ControllerResult | undefined
    let attempt = 0
    for (;;) {
      const desired = this.desiredState
      const step = taskStep({ observed: this.state, desired, ...(last === undefined ? {} : { last }) })
      const moved = step.state !== this.state
      this.state = step.state
      if (moved || step.err !== undefined) this.init.onStep(step)
      if (step.action === 'none' && !moved) return step
      if (signal?.aborted === true) return step
      if (step.action === 'none') { last = undefined; continue }
      if (step.errorClass === 'retry') {
        attempt++
        try {
          await sleep(this.init.retryDelayMs?.(attempt) ?? Math.min(5000, 100 * 2 ** (attempt - 1)), undefined, signal === undefined ? {} : { signal })
        } catch {
          return step // aborted
        }
      } else {
        attempt = 0
      }
      if (this.desiredState !== desired) { last = undefined; continue } // changed during the backoff
      const waiting = step.action === 'wait' ? new AbortController() : null
      this.waiting = waiting
      const onAbort = (): void => { waiting?.abort(signal?.reason) }
      signal?.addEventListener('abort', onAbort, { once: true })
      try {
        last = await callController(this.init.controller, step.action, waiting?.signal)
        // A wait we interrupted ourselves is no error: step again from the same state.
        if (waiting?.signal.aborted === true && !last.ok) last = undefined
      } finally {
        signal?.removeEventListener('abort', onAbort)
        this.waiting = null
      }
    }
  }
}
