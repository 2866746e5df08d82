/**
 * The driver of one assigned task on this node (SwarmKit agent/task.go's taskManager): owns its
 * TaskRunner, runs it whenever there is something to do, holds a delayed task until its time, and
 * says when the task's container is gone.
 */
import type { Logger } from '../../membership/index.js'
import {
  TaskRunner, callController, isTerminal, taskStateRank, taskStep, type DesiredState, type TaskController, type TaskState,
  type TaskStep
} from '../executor/index.js'

/** The longest single timer of a delayed task; a longer delay re-arms, re-reading the clock (setTimeout caps at 2^31 ms). */
const MAX_DELAY_TIMER_MS = 60_000

export interface TaskManagerInit {
  readonly controller: TaskController
  /** Where the task resumes from. */
  readonly observed: TaskState
  readonly desired: DesiredState
  /** Do not begin before this time (ms since the epoch, compared with `now()`); null: at once. */
  readonly delayUntilMs: number | null
  readonly now: () => number
  readonly logger: Logger
  /** Hears each step that moved the task's state or carries an error, in order, from the current runner only. */
  readonly onStep: (step: TaskStep) => void
  /** The task's container is gone, or cannot be removed: the task needs nothing more of this node. */
  readonly onRemoved: () => void
  /** A run threw: a bug, which stops this task's driving. */
  readonly onFatal: (err: unknown) => void
}

/**
 * - paused: created, or held (adoption pending, engine down): nothing runs.
 * - driving: a run is in progress whenever `taskStep` has something to do.
 * - removed: the container is gone; inert.
 * - closed: the worker stopped; inert, the container left as it is.
 */
type Phase = 'paused' | 'driving' | 'removed' | 'closed'

/** One task's runner and its run loop. At most one run of the task is in flight at any time, across runners. */
export class TaskManager {
  private phase: Phase = 'paused'
  private runner: TaskRunner
  private desiredState: DesiredState
  private delayUntilMs: number | null
  private delayTimer: NodeJS.Timeout | null = null
  /** Whether a run has begun: the delay only holds a task's first run. */
  private begun = false
  private stopContainerFirst = false
  private run: { readonly abort: AbortController, readonly done: Promise<void> } | null = null

  constructor (private readonly init: TaskManagerInit) {
    this.desiredState = init.desired
    this.delayUntilMs = init.delayUntilMs
    this.runner = this.newRunner(init.observed)
  }

  get observed (): TaskState { return this.runner.observed }
  get desired (): DesiredState { return this.desiredState }
  get removed (): boolean { return this.phase === 'removed' }

  /** The leader's current word on the task; `delayUntilMs` only counts before the first run. */
  update (desired: DesiredState, delayUntilMs: number | null): void {
    if (!this.begun && delayUntilMs !== this.delayUntilMs) {
      this.delayUntilMs = delayUntilMs
      this.clearDelay()
    }
    this.setDesired(desired)
    this.kick() // re-arms the delay timer, or runs at once when the delay is over
  }

  /** A new desired state: picked up by the run in progress (which interrupts a wait), or starts one. */
  setDesired (desired: DesiredState): void {
    if (desired === this.desiredState) return
    this.desiredState = desired
    this.runner.setDesired(desired)
    if (desired !== 'running') this.clearDelay()
    this.kick()
  }

  /** Start driving (after adoption, or when the engine is back). */
  resume (): void {
    if (this.phase !== 'paused') return
    this.phase = 'driving'
    this.kick()
  }

  /** Stop driving: abort the run in progress (a controller call already made still completes). */
  pause (): void {
    if (this.phase !== 'driving') return
    this.phase = 'paused'
    this.run?.abort.abort(new Error('paused'))
    this.clearDelay()
  }

  /**
   * The task failed outside its controller (its engine went away): abort the run, report 'failed' with
   * `err`, and go on from 'failed'. False, and nothing done, when the task is terminal already.
   */
  fail (err: string): boolean {
    if (this.phase === 'removed' || this.phase === 'closed' || isTerminal(this.runner.observed)) return false
    this.run?.abort.abort(new Error(err))
    // A new runner, because a TaskRunner's state only moves by its own steps; the old run's late steps are dropped.
    this.runner = this.newRunner('failed')
    this.init.onStep({ state: 'failed', action: 'none', message: 'engine unavailable', err, errorClass: 'failed' })
    return true
  }

  /**
   * The task is terminal but its container was found running (it outlived its engine's outage, or the
   * agent): stop it before the next run, as the cluster has replaced the task.
   */
  stopContainer (): void {
    if (!isTerminal(this.runner.observed)) return
    this.stopContainerFirst = true
    this.kick()
  }

  /** Stop driving for good, leaving the container as it is; resolves when the run in flight has returned. */
  async close (): Promise<void> {
    this.phase = 'closed'
    this.clearDelay()
    const run = this.run
    if (run === null) return
    run.abort.abort(new Error('the worker is stopping'))
    await run.done
  }

  private newRunner (observed: TaskState): TaskRunner {
    const runner: TaskRunner = new TaskRunner({
      controller: this.init.controller,
      observed,
      desired: this.desiredState,
      onStep: step => { if (this.runner === runner && this.phase !== 'closed') this.init.onStep(step) }
    })
    return runner
  }

  private kick (): void {
    if (this.phase !== 'driving' || this.run !== null || this.delayed()) return
    this.begun = true
    const runner = this.runner
    const abort = new AbortController()
    const done = this.drive(runner, abort.signal).then(
      step => { this.run = null; this.settled(runner, abort.signal, step) },
      (err: unknown) => { this.run = null; this.phase = 'closed'; this.init.onFatal(err) }
    )
    this.run = { abort, done }
  }

  /** Whether the task must wait for its delay; arms the timer that ends the wait. */
  private delayed (): boolean {
    if (this.begun || this.delayUntilMs === null || this.desiredState !== 'running') return false
    if (taskStateRank(this.runner.observed) >= taskStateRank('running')) return false
    const waitMs = this.delayUntilMs - this.init.now()
    if (waitMs <= 0) return false
    // Re-checked when the timer fires: the injected clock, not the timer, decides when the delay is over.
    this.delayTimer ??= setTimeout(() => { this.delayTimer = null; this.kick() }, Math.min(waitMs, MAX_DELAY_TIMER_MS))
    return true
  }

  private clearDelay (): void {
    if (this.delayTimer !== null) clearTimeout(this.delayTimer)
    this.delayTimer = null
  }

  private async drive (runner: TaskRunner, signal: AbortSignal): Promise<TaskStep | null> {
    if (this.stopContainerFirst) {
      this.stopContainerFirst = false
      const result = await callController(this.init.controller, 'shutdown')
      if (!result.ok) this.init.logger.warn('could not stop the container of a terminal task', { err: result.message })
      else this.init.logger.info('stopped the container of a terminal task')
    }
    if (signal.aborted) return null
    return await runner.run(signal)
  }

  /** After a run returned: forget a removed task, run again if the desired state moved on meanwhile. */
  private settled (runner: TaskRunner, signal: AbortSignal, step: TaskStep | null): void {
    if (this.phase !== 'driving' && this.phase !== 'paused') return
    if (step === null || signal.aborted || runner !== this.runner) {
      this.kick() // a paused task stays put; a replaced runner starts its own run
      return
    }
    if (step.removed === true) {
      this.finish()
      return
    }
    if (step.action === 'none' && step.err !== undefined && this.desiredState === 'remove' && isTerminal(step.state)) {
      // taskStep settles a terminal task whose remove failed for good; the task is forgotten with its container.
      this.init.logger.warn('could not remove the container of a removed task', { err: step.err })
      this.finish()
      return
    }
    // A desired state set between the run's last step and its return was not seen by that run.
    const next = taskStep({ observed: runner.observed, desired: runner.desired })
    if (next.action !== 'none' || next.state !== runner.observed) this.kick()
  }

  private finish (): void {
    this.phase = 'removed'
    this.clearDelay()
    this.init.onRemoved()
  }
}
