import { describe, expect, it } from 'vitest'
import { actionFor, classifyError, isTerminal, taskStateRank, taskStep, type TaskStep } from '../../../../src/tasks/executor/task-step.js'
import {
  TASK_STATES, type ControllerCall, type ControllerResult, type DesiredState, type TaskState
} from '../../../../src/tasks/executor/types.js'

const ok = (action: ControllerCall, exitCode?: number): ControllerResult => ({ action, ok: true, ...(exitCode === undefined ? {} : { exitCode }) })
const fail = (action: ControllerCall, retryable: boolean, message = 'boom'): ControllerResult => ({ action, ok: false, message, retryable })

/** Run the step loop with `results` answering each call, as a driver would; returns the steps taken. */
function drive (observed: TaskState, desired: DesiredState, results: (call: ControllerCall) => ControllerResult, maxSteps = 30): TaskStep[] {
  const steps: TaskStep[] = []
  let last: ControllerResult | undefined
  for (let i = 0; i < maxSteps; i++) {
    const step = taskStep({ observed, desired, ...(last === undefined ? {} : { last }) })
    steps.push(step)
    expect(taskStateRank(step.state)).toBeGreaterThanOrEqual(taskStateRank(observed))
    const moved = step.state !== observed
    observed = step.state
    if (step.action !== 'none') last = results(step.action)
    else if (moved) last = undefined
    else return steps
  }
  throw new Error('the task never settled')
}

describe('taskStep', () => {
  it('walks a task from new to running, one state per step (SwarmKit exec.Do)', () => {
    let waits = 0
    const steps = drive('new', 'running', call => call === 'wait' && waits++ === 0 ? fail('wait', true) : ok(call, call === 'wait' ? 0 : undefined))
      .map(s => [s.state, s.action, s.message])
    expect(steps).toEqual([
      ['accepted', 'none', 'accepted'],
      ['preparing', 'prepare', 'preparing'],
      ['ready', 'none', 'prepared'],
      ['starting', 'start', 'starting'],
      ['running', 'wait', 'started'],
      ['running', 'wait', 'wait'], // the interrupted wait is retried
      ['complete', 'none', 'finished'],
      ['complete', 'none', 'complete'] // settled
    ])
  })

  it.each<[TaskState, DesiredState, ControllerResult | undefined, TaskState, string]>([
    // pure transitions towards running
    ['pending', 'running', undefined, 'accepted', 'none'],
    ['assigned', 'running', undefined, 'accepted', 'none'],
    ['accepted', 'running', undefined, 'preparing', 'prepare'],
    ['ready', 'running', undefined, 'starting', 'start'],
    // calls asked for and not yet answered
    ['preparing', 'running', undefined, 'preparing', 'prepare'],
    ['starting', 'running', undefined, 'starting', 'start'],
    ['running', 'running', undefined, 'running', 'wait'],
    // successes
    ['preparing', 'running', ok('prepare'), 'ready', 'none'],
    ['starting', 'running', ok('start'), 'running', 'wait'],
    ['running', 'running', ok('wait', 0), 'complete', 'none'],
    ['running', 'running', ok('wait', 2), 'failed', 'none'],
    // shutdown
    ['new', 'shutdown', undefined, 'new', 'shutdown'],
    ['running', 'shutdown', undefined, 'running', 'shutdown'],
    // shut down: the stopped container stays (task history) until the task is removed
    ['running', 'shutdown', ok('shutdown'), 'shutdown', 'none'],
    ['ready', 'shutdown', ok('shutdown'), 'shutdown', 'none'],
    ['failed', 'shutdown', undefined, 'failed', 'none'],
    ['complete', 'shutdown', undefined, 'complete', 'none'],
    ['orphaned', 'shutdown', undefined, 'orphaned', 'none'],
    // a wait that ended as the shutdown was asked: the exit counts
    ['running', 'shutdown', ok('wait', 0), 'complete', 'none'],
    ['running', 'shutdown', ok('wait', 137), 'failed', 'none'],
    // remove: stop first, then the container goes
    ['running', 'remove', undefined, 'running', 'shutdown'],
    ['running', 'remove', ok('shutdown'), 'shutdown', 'remove'],
    ['ready', 'remove', ok('shutdown'), 'shutdown', 'remove'],
    ['failed', 'remove', undefined, 'failed', 'remove'],
    ['complete', 'remove', undefined, 'complete', 'remove'],
    ['orphaned', 'remove', undefined, 'orphaned', 'remove'],
    ['running', 'remove', ok('wait', 137), 'failed', 'remove'],
    // an interrupted wait under shutdown: stop it
    ['running', 'shutdown', fail('wait', true), 'running', 'shutdown'],
    // terminal and past-desired states do not move
    ['complete', 'running', undefined, 'complete', 'none'],
    ['failed', 'running', undefined, 'failed', 'none'],
    ['rejected', 'running', undefined, 'rejected', 'none'],
    ['shutdown', 'running', undefined, 'shutdown', 'none'],
    // a result that is not the call for this state is stale, and ignored
    ['running', 'running', ok('prepare'), 'running', 'wait'],
    ['preparing', 'running', ok('wait', 1), 'preparing', 'prepare'],
    ['complete', 'running', ok('shutdown'), 'complete', 'none']
  ])('%s, desired %s, last %j → %s, %s', (observed, desired, last, state, action) => {
    const step = taskStep({ observed, desired, ...(last === undefined ? {} : { last }) })
    expect([step.state, step.action]).toEqual([state, action])
  })

  it.each<[TaskState, ControllerResult, TaskState, string]>([
    ['preparing', fail('prepare', false, 'pull nope: access denied'), 'rejected', 'rejected'],
    ['preparing', fail('prepare', true), 'preparing', 'retry'],
    ['starting', fail('start', false), 'failed', 'failed'],
    ['starting', fail('start', true), 'starting', 'retry'],
    ['running', fail('wait', false), 'failed', 'failed'],
    ['running', fail('wait', true), 'running', 'retry']
  ])('classifies a failed call in %s (%j) → %s as %s', (observed, last, state, errorClass) => {
    const step = taskStep({ observed, desired: 'running', last })
    expect(step).toMatchObject({ state, errorClass, err: last.ok ? undefined : last.message })
  })

  it('reports a non-zero exit with its code, as Docker does', () => {
    expect(taskStep({ observed: 'running', desired: 'running', last: { action: 'wait', ok: true, exitCode: 3, message: 'OOM killed' } }))
      .toEqual({ state: 'failed', action: 'none', message: 'started', err: 'task: non-zero exit (3): OOM killed', errorClass: 'failed', exitCode: 3 })
    expect(taskStep({ observed: 'running', desired: 'running', last: ok('wait', 0) }))
      .toEqual({ state: 'complete', action: 'none', message: 'finished', exitCode: 0 })
  })

  it('fails a task whose stop failed after it started, and rejects one that never started', () => {
    expect(taskStep({ observed: 'running', desired: 'shutdown', last: fail('shutdown', false) }))
      .toMatchObject({ state: 'failed', action: 'none', errorClass: 'failed' })
    expect(taskStep({ observed: 'ready', desired: 'remove', last: fail('shutdown', false) }))
      .toMatchObject({ state: 'rejected', action: 'remove', errorClass: 'rejected' })
    expect(taskStep({ observed: 'running', desired: 'shutdown', last: fail('shutdown', true) }))
      .toMatchObject({ state: 'running', action: 'shutdown', errorClass: 'retry' })
  })

  it('settles once the container is removed; a failed removal is reported, and retried only when retryable', () => {
    expect(taskStep({ observed: 'shutdown', desired: 'remove', last: ok('remove') }))
      .toEqual({ state: 'shutdown', action: 'none', message: 'removed', removed: true })
    expect(taskStep({ observed: 'shutdown', desired: 'remove', last: fail('remove', true) }))
      .toMatchObject({ state: 'shutdown', action: 'remove', errorClass: 'retry' })
    expect(taskStep({ observed: 'failed', desired: 'remove', last: fail('remove', false, 'driver error') }))
      .toEqual({ state: 'failed', action: 'none', message: 'remove', err: 'driver error', errorClass: 'failed' })
  })

  it('drives a task to rejected when its image cannot be pulled, then removes it when asked', () => {
    const running = drive('new', 'running', call => call === 'prepare' ? fail('prepare', false, 'pull nope: not found') : ok(call))
    expect(running.at(-1)).toMatchObject({ state: 'rejected', action: 'none' })
    expect(running.find(s => s.errorClass === 'rejected')?.err).toBe('pull nope: not found')
    expect(drive('rejected', 'shutdown', call => ok(call)).map(s => [s.state, s.action])).toEqual([['rejected', 'none']])
    const stopped = drive('rejected', 'remove', call => ok(call))
    expect(stopped.map(s => [s.state, s.action])).toEqual([['rejected', 'remove'], ['rejected', 'none']])
  })

  it('never moves a state backwards, from any state, desired state and result', () => {
    const calls: ControllerCall[] = ['prepare', 'start', 'wait', 'shutdown', 'remove']
    const results: Array<ControllerResult | undefined> = [undefined]
    for (const c of calls) results.push(ok(c), ok(c, 1), fail(c, true), fail(c, false))
    for (const observed of TASK_STATES) {
      for (const desired of ['running', 'shutdown', 'remove'] as const) {
        for (const last of results) {
          const step = taskStep({ observed, desired, ...(last === undefined ? {} : { last }) })
          expect(taskStateRank(step.state)).toBeGreaterThanOrEqual(taskStateRank(observed))
          if (isTerminal(observed)) expect(step.state).toBe(observed)
          if (desired === 'shutdown' && step.action !== 'none') expect(step.action).toBe('shutdown')
          if (desired === 'remove' && step.action !== 'none') expect(['shutdown', 'remove']).toContain(step.action)
        }
      }
    }
  })

  it('names the call for each state, and classifies errors like SwarmKit', () => {
    expect(TASK_STATES.map(s => actionFor(s, 'running'))).toEqual([
      'none', 'none', 'none', 'none', 'prepare', 'none', 'start', 'wait', 'none', 'none', 'none', 'none', 'none'
    ])
    expect(TASK_STATES.map(s => actionFor(s, 'remove')).filter(a => a === 'remove')).toHaveLength(5)
    expect(classifyError('ready', false)).toBe('rejected')
    expect(classifyError('starting', false)).toBe('failed')
    expect(classifyError('running', true)).toBe('retry')
  })
})
