/**
 * In-memory stand-ins for the worker's edges: an engine with containers (Executor, TaskController), a
 * leader reached through ConnectDispatcher, a logger and a node description. They model what the worker
 * relies on (idempotent calls, retryable errors while the engine is down, waits that an abort rejects),
 * not Docker itself, which the cluster and Docker tests cover.
 */
import { FlotillaError } from '../../../../src/membership/errors.js'
import type { Logger } from '../../../../src/membership/logger.js'
import type { NodeDescription } from '../../../../src/membership/node-view.js'
import type {
  AdoptResult, AdoptedTask, ContainerStatus, ControllerCall, Executor, ExitStatus, LogLine, TaskController, TaskDescription
} from '../../../../src/tasks/executor/types.js'
import type {
  Assignment, ConnectDispatcher, DispatcherLink, LeaderMessage, LinkHandlers, NodeMessage, Report
} from '../../../../src/tasks/dispatcher/protocol.js'
import { taskStateRank } from '../../../../src/tasks/executor/task-step.js'

export const NODE_ID = 'node-1'

/** Poll `probe` every 5 ms until it returns a value other than undefined/false; fail after `timeoutMs`. */
export async function until<T> (what: string, probe: () => T | undefined | false, timeoutMs = 2000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = probe()
    if (v !== undefined && v !== false) return v
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 5))
  }
}

export function silentLogger (lines: string[] = []): Logger {
  const log = (level: string) => (msg: string, fields?: Readonly<Record<string, unknown>>): void => {
    lines.push(`${level} ${msg}${fields === undefined ? '' : ' ' + JSON.stringify(fields)}`)
  }
  const logger: Logger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error'), child: () => logger }
  return logger
}

export function description (engine: NodeDescription['engine'] = { state: 'available', version: '27.0.0', labels: {} }): NodeDescription {
  return { os: 'linux', arch: 'x86_64', nanoCpus: 2e9, memoryBytes: 4 * 2 ** 30, engine }
}

export function assignment (taskId: string, over: Partial<Assignment> = {}): Assignment {
  return {
    taskId,
    serviceId: 'svc-1',
    serviceName: 'web',
    slot: 1,
    desiredState: 'running',
    state: 'assigned',
    spec: { ContainerSpec: { Image: 'busybox:latest', Args: ['sleep', '1000'] } },
    ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 30000, PublishMode: 'host' }],
    delayUntilMs: null,
    ...over
  }
}

interface Container {
  state: 'created' | 'running' | 'exited'
  exit?: ExitStatus
  readonly waiters: Set<{ readonly done: (exit: ExitStatus) => void, readonly fail: (err: Error) => void }>
}

const engineDown = (): FlotillaError => new FlotillaError('unavailable', 'engine does not answer', { retryable: true })

/** An engine holding this node's containers by task ID. `events` records every call, in order. */
export class FakeEngine implements Executor {
  readonly dataPlane = null
  async wipeTaskFiles (): Promise<void> { await Promise.resolve() }
  up = true
  /** ms each prepare takes (a pull and a create), so that reports of different states land in different ticks. */
  prepareMs = 0
  adoptFailures = 0
  readonly events: string[] = []
  readonly adoptCalls: string[][] = []
  readonly containers = new Map<string, Container>()
  readonly tasks = new Map<string, TaskDescription>()

  async describe (): Promise<NodeDescription> { return description() }

  controller (task: TaskDescription): TaskController {
    this.tasks.set(task.taskId, task)
    return new FakeController(this, task)
  }

  async adopt (nodeId: string, assigned: ReadonlySet<string>): Promise<AdoptResult> {
    this.events.push('adopt')
    this.adoptCalls.push([...assigned].sort())
    if (nodeId !== NODE_ID) throw new Error(`adopt for ${nodeId}`)
    if (!this.up || this.adoptFailures-- > 0) throw engineDown()
    const adopted: AdoptedTask[] = []
    const removed: string[] = []
    for (const [taskId, c] of this.containers) {
      if (!assigned.has(taskId)) {
        this.containers.delete(taskId)
        removed.push(`c-${taskId}`)
        continue
      }
      const observed = c.state === 'created' ? 'ready' : c.state === 'running' ? 'running' : c.exit?.exitCode === 0 ? 'complete' : 'failed'
      adopted.push({ taskId, containerId: `c-${taskId}`, observed, ...(c.exit === undefined ? {} : { exit: c.exit }) })
    }
    return { adopted, removed }
  }

  /** No logs: the worker never reads them. */
  async * logs (): AsyncIterable<LogLine> {}

  async close (): Promise<void> {}

  /** A container as a previous agent left it. */
  seed (taskId: string, state: Container['state'], exitCode = 0): void {
    this.containers.set(taskId, { state, waiters: new Set(), ...(state === 'exited' ? { exit: exitOf(exitCode) } : {}) })
  }

  /** The container of `taskId` exits with `exitCode`. */
  exit (taskId: string, exitCode: number): void {
    const c = this.containers.get(taskId)
    if (c === undefined || c.state !== 'running') throw new Error(`container of ${taskId} is not running`)
    c.state = 'exited'
    c.exit = exitOf(exitCode)
    for (const w of c.waiters) w.done(c.exit)
    c.waiters.clear()
  }

  /** The engine stops answering: calls fail, retryably, and so do waits (the events stream drops). Its containers die with it. */
  goDown (): void {
    this.up = false
    for (const c of this.containers.values()) {
      if (c.state === 'running') { c.state = 'exited'; c.exit = exitOf(137) }
      for (const w of c.waiters) w.fail(engineDown())
      c.waiters.clear()
    }
  }

  calls (taskId: string): ControllerCall[] {
    return this.events.filter(e => e.endsWith(` ${taskId}`)).map(e => e.split(' ')[0] as ControllerCall)
  }
}

function exitOf (exitCode: number): ExitStatus {
  return { exitCode, error: '', startedAt: '2024-01-01T00:00:00Z', finishedAt: '2024-01-01T00:00:01Z' }
}

class FakeController implements TaskController {
  constructor (private readonly engine: FakeEngine, readonly task: TaskDescription) {}

  private call (name: ControllerCall): Container | undefined {
    this.engine.events.push(`${name} ${this.task.taskId}`)
    if (!this.engine.up) throw engineDown()
    return this.engine.containers.get(this.task.taskId)
  }

  async prepare (): Promise<void> {
    this.call('prepare')
    if (this.engine.prepareMs > 0) await new Promise(resolve => setTimeout(resolve, this.engine.prepareMs))
    if (!this.engine.up) throw engineDown()
    if (!this.engine.containers.has(this.task.taskId)) this.engine.containers.set(this.task.taskId, { state: 'created', waiters: new Set() })
  }

  async start (): Promise<void> {
    const c = this.call('start')
    if (c === undefined) throw new FlotillaError('not-found', 'no such container')
    if (c.state === 'created') c.state = 'running'
  }

  async wait (signal?: AbortSignal): Promise<ExitStatus> {
    const c = this.call('wait')
    if (c === undefined) throw new FlotillaError('not-found', 'no such container')
    if (c.exit !== undefined) return c.exit
    return await new Promise<ExitStatus>((resolve, reject) => {
      const waiter = {
        done: (exit: ExitStatus): void => { signal?.removeEventListener('abort', onAbort); resolve(exit) },
        fail: (err: Error): void => { signal?.removeEventListener('abort', onAbort); reject(err) }
      }
      const onAbort = (): void => {
        c.waiters.delete(waiter)
        reject(new FlotillaError('unavailable', 'wait interrupted', { retryable: true }))
      }
      c.waiters.add(waiter)
      if (signal?.aborted === true) onAbort()
      else signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  async shutdown (): Promise<void> {
    const c = this.call('shutdown')
    if (c !== undefined && c.state === 'running') this.engine.exit(this.task.taskId, 143)
    else if (c !== undefined && c.state === 'created') { c.state = 'exited'; c.exit = exitOf(0) }
  }

  async remove (): Promise<void> {
    this.call('remove')
    this.engine.containers.delete(this.task.taskId)
  }

  async inspect (): Promise<ContainerStatus | undefined> { return undefined }
  async subscribe (): Promise<() => void> { return () => {} }
}

/**
 * The leader as the node sees it: answers 'open' with the full set of `tasks`, records every frame, and
 * (like the store) moves a task's state forward on its reports unless `recordReports` is off.
 */
export class FakeLeader {
  readonly tasks = new Map<string, Assignment>()
  readonly links: FakeLink[] = []
  /** Connect attempts to refuse before one succeeds. */
  refuse = 0
  connects = 0
  recordReports = true

  readonly connect: ConnectDispatcher = async (handlers: LinkHandlers): Promise<DispatcherLink> => {
    this.connects++
    if (this.refuse > 0) {
      this.refuse--
      throw new FlotillaError('unavailable', 'no leader is known yet', { retryable: true })
    }
    const link = new FakeLink(this, handlers)
    this.links.push(link)
    return link
  }

  set (...tasks: Assignment[]): void {
    for (const t of tasks) this.tasks.set(t.taskId, t)
  }

  get link (): FakeLink | undefined { return this.links.at(-1) }

  /** Every frame the node sent, on every link. */
  get frames (): NodeMessage[] { return this.links.flatMap(l => l.sent) }

  get statusFrames (): Report[][] {
    return this.frames.flatMap(m => m.t === 'status' ? [[...m.reports]] : [])
  }

  /** The states reported for `taskId`, in order. */
  reported (taskId: string): Report[] {
    return this.statusFrames.flat().filter(r => r.id === taskId)
  }

  latest (taskId: string): Report | undefined { return this.reported(taskId).at(-1) }

  received (link: FakeLink, msg: NodeMessage): void {
    if (msg.t === 'open') link.deliver({ t: 'assignments', full: true, tasks: [...this.tasks.values()], removed: [] })
    if (msg.t === 'status' && this.recordReports) {
      for (const r of msg.reports) {
        const t = this.tasks.get(r.id)
        if (t !== undefined && taskStateRank(r.state) > taskStateRank(t.state)) this.tasks.set(r.id, { ...t, state: r.state })
      }
    }
  }

  /** Send a change of the set on the current link. */
  change (tasks: readonly Assignment[], removed: readonly string[] = []): void {
    for (const t of tasks) this.tasks.set(t.taskId, t)
    for (const id of removed) this.tasks.delete(id)
    this.link!.deliver({ t: 'assignments', full: false, tasks, removed })
  }
}

export class FakeLink implements DispatcherLink {
  readonly sent: NodeMessage[] = []
  closed = false

  constructor (private readonly leader: FakeLeader, private readonly handlers: LinkHandlers) {}

  send (msg: NodeMessage): void {
    if (this.closed) return
    this.sent.push(msg)
    this.leader.received(this, msg)
  }

  close (): void { this.closed = true }

  /** A leader frame, delivered asynchronously as over a stream. */
  deliver (msg: LeaderMessage): void {
    queueMicrotask(() => { if (!this.closed) this.handlers.onMessage(msg) })
  }

  /** The leader's end goes away. */
  drop (reason: string): void {
    if (this.closed) return
    this.closed = true
    queueMicrotask(() => { this.handlers.onClose(reason) })
  }
}
