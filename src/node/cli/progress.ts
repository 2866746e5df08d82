import { CliError } from './client.js'
import { truncateId, type ServiceJson, type TaskJson } from './service-format.js'

/**
 * The convergence display of `service create|update|scale` without --detach, as the docker CLI's
 * (cli/command/service/progress/progress.go): every 200 ms it reads the service, its up-to-date tasks
 * (`_up-to-date` filter) and the nodes, and shows `overall progress: N out of M tasks`, one line per slot
 * (at most 20; per node for a global service) with the task's state or its error (e.g. `1/1: no suitable
 * node (insufficient resources on 3 nodes)`), then waits the monitor period (5 s, or
 * Spec.UpdateConfig.Monitor) and ends with `verify: Service <ref> converged`. It waits as long as it
 * takes, as docker does; an abort (Ctrl-C) ends it with "Operation continuing in background."
 */

/** Where the display goes. On a TTY, lines are redrawn in place; otherwise a line is printed when its text changes. */
export interface ProgressOutput {
  readonly write: (s: string) => void
  readonly isTty: boolean
  /** Terminal width: the `[===>]` bar is drawn only on a TTY wider than 110 columns, as docker draws it. */
  readonly columns: number
}

export interface WaitOptions {
  /** Ends the wait (Ctrl-C): the service keeps converging in the background. */
  readonly signal?: AbortSignal
  /** Between polls; default 200 ms, as docker. */
  readonly pollMs?: number
  /** Wall clock, ms; default Date.now. */
  readonly now?: () => number
  /** The command that lists tasks, for the "check progress" hint; default `flotilla`. */
  readonly cliName?: string
}

/** GET a path on the agent's socket and return the parsed body. */
export type Get = (path: string) => Promise<unknown>

/** Task states in docker's progress order; 0 (absent) = not shown (e.g. desired state 'remove'). */
const NUMBERED_STATES: Readonly<Record<string, number>> = {
  new: 1, allocated: 2, pending: 3, assigned: 4, accepted: 5, preparing: 6, ready: 7, starting: 8, running: 9,
  complete: 10, shutdown: 11, failed: 12, rejected: 13
}
const RUNNING = 9
const MAX_PROGRESS_BARS = 20
/** The longest non-terminal state name ('allocated', 'preparing'): states are padded to it. */
const LONGEST_STATE = 9
const MAX_ERROR_WIDTH = 75

function rank (state: string): number {
  return NUMBERED_STATES[state] ?? 0
}

function terminal (state: string): boolean {
  return rank(state) > RUNNING
}

/** docker's truncError: one line, at most 75 characters. */
export function truncError (message: string): string {
  const one = message.replaceAll('\n', ' ')
  const chars = [...one]
  return chars.length > MAX_ERROR_WIDTH ? chars.slice(0, MAX_ERROR_WIDTH - 1).join('') + '…' : one
}

/** Lines keyed by ID (`overall progress`, `1/3`, `verify`), as docker's JSON progress stream renders them. */
export class ProgressLines {
  private readonly ids: string[] = []
  private readonly lines = new Map<string, string>()

  constructor (private readonly out: ProgressOutput) {}

  /** Set line `id`'s text; `bar` (current of total) draws docker's progress bar on a wide TTY. */
  set (id: string, text: string, bar?: { readonly current: number, readonly total: number }): void {
    let line = `${id}: ${text}`
    if (bar !== undefined && this.out.isTty && this.out.columns > 110) {
      const filled = Math.min(50, Math.floor(Math.floor(bar.current / bar.total * 100) / 2))
      line += ` [${'='.repeat(filled)}>${' '.repeat(50 - filled)}]`
    }
    line = line.trimEnd()
    if (this.lines.get(id) === line) return
    this.lines.set(id, line)
    const at = this.ids.indexOf(id)
    if (!this.out.isTty || at < 0) {
      if (at < 0) this.ids.push(id)
      this.out.write(`${line}\n`)
      return
    }
    const up = this.ids.length - at
    this.out.write(`\x1b[${up}A\r\x1b[2K${line}\n${up > 1 ? `\x1b[${up - 1}B` : ''}`)
  }

  /** A line of its own, below the others. */
  message (text: string): void {
    this.out.write(`${text}\n`)
  }
}

interface Updater {
  update: (service: ServiceJson, tasks: readonly TaskJson[], activeNodes: ReadonlySet<string>) => boolean
}

function overall (lines: ProgressLines, running: number, total: number): void {
  lines.set('overall progress', `${running} out of ${total} tasks`)
}

function taskLine (lines: ProgressLines, id: string, t: TaskJson): void {
  if ((t.Status.Err ?? '') !== '') {
    lines.set(id, truncError(t.Status.Err!))
  } else if (!terminal(t.DesiredState) && !terminal(t.Status.State)) {
    lines.set(id, t.Status.State.padEnd(LONGEST_STATE), { current: rank(t.Status.State), total: RUNNING })
  }
}

/** Of several tasks in one group, docker's choice: the lowest desired state, then the lowest observed state. */
function preferred (existing: TaskJson | undefined, t: TaskJson): boolean {
  if (existing === undefined) return true
  if (rank(existing.DesiredState) < rank(t.DesiredState)) return false
  return !(rank(existing.DesiredState) === rank(t.DesiredState) && rank(existing.Status.State) <= rank(t.Status.State))
}

class ReplicatedProgress implements Updater {
  private readonly slotMap = new Map<number, number>()
  private initialized = false
  private done = false

  constructor (private readonly lines: ProgressLines) {}

  update (service: ServiceJson, tasks: readonly TaskJson[], activeNodes: ReadonlySet<string>): boolean {
    const replicas = service.Spec.Mode.Replicated?.Replicas
    if (replicas === undefined) throw new CliError('no replica count')
    if (!this.initialized) {
      overall(this.lines, 0, replicas)
      if (replicas <= MAX_PROGRESS_BARS) for (let i = 1; i <= replicas; i++) this.lines.set(`${i}/${replicas}`, ' ')
      this.initialized = true
    }
    const bySlot = new Map<number, TaskJson>()
    for (const t of tasks) {
      if (rank(t.DesiredState) === 0 || rank(t.Status.State) === 0) continue
      const slot = t.Slot ?? 0
      if (!preferred(bySlot.get(slot), t)) continue
      // A task on a node that is down (or gone) does not count, as docker.
      if (t.NodeID !== undefined && t.NodeID !== '' && !activeNodes.has(t.NodeID)) continue
      bySlot.set(slot, t)
    }
    if (this.done && [...bySlot.values()].some(t => t.Status.State !== 'running')) this.done = false
    let running = 0
    for (const [slot, t] of [...bySlot].sort((a, b) => a[0] - b[0])) {
      let mapped = this.slotMap.get(slot)
      if (mapped === undefined) {
        mapped = this.slotMap.size + 1
        this.slotMap.set(slot, mapped)
      }
      if (!terminal(t.DesiredState) && t.Status.State === 'running') running++
      if (!this.done && replicas <= MAX_PROGRESS_BARS && mapped <= replicas) taskLine(this.lines, `${mapped}/${replicas}`, t)
    }
    if (!this.done) {
      overall(this.lines, running, replicas)
      if (running === replicas) this.done = true
    }
    return running === replicas
  }
}

class GlobalProgress implements Updater {
  private initialized = false
  private done = false

  constructor (private readonly lines: ProgressLines) {}

  update (_service: ServiceJson, tasks: readonly TaskJson[], activeNodes: ReadonlySet<string>): boolean {
    const byNode = new Map<string, TaskJson>()
    for (const t of tasks) {
      if (rank(t.DesiredState) === 0 || rank(t.Status.State) === 0) continue
      const node = t.NodeID ?? ''
      if (preferred(byNode.get(node), t)) byNode.set(node, t)
    }
    const nodeCount = byNode.size
    if (!this.initialized) {
      if (nodeCount === 0) {
        // Either the orchestrator has not made the tasks yet, or no node meets the constraints: wait.
        this.lines.set('overall progress', 'waiting for new tasks')
        return false
      }
      overall(this.lines, 0, nodeCount)
      this.initialized = true
    }
    if (this.done && [...byNode.values()].some(t => t.Status.State !== 'running')) this.done = false
    let running = 0
    for (const [node, t] of [...byNode].sort((a, b) => a[0].localeCompare(b[0]))) {
      if (!activeNodes.has(node)) continue
      if (!terminal(t.DesiredState) && t.Status.State === 'running') running++
      if (!this.done && nodeCount <= MAX_PROGRESS_BARS) taskLine(this.lines, truncateId(node), t)
    }
    if (!this.done) {
      overall(this.lines, running, nodeCount)
      if (running === nodeCount) this.done = true
    }
    return running === nodeCount
  }
}

/** Wait `ms`, or until `signal` aborts. */
export async function pause (ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (signal?.aborted === true) return
  await new Promise<void>(resolve => {
    const done = (): void => { clearTimeout(timer); resolve() }
    const timer = setTimeout(() => { signal?.removeEventListener('abort', done); resolve() }, ms)
    signal?.addEventListener('abort', done, { once: true })
  })
}

/**
 * Show service `ref` (ID or name) converging until it has, plus the monitor period; see the module
 * comment. Throws a CliError when the service cannot be read (e.g. removed meanwhile), has no known
 * mode, or its update is paused.
 */
export async function waitOnService (get: Get, ref: string, out: ProgressOutput, o: WaitOptions = {}): Promise<void> {
  const lines = new ProgressLines(out)
  const now = o.now ?? Date.now
  const pollMs = o.pollMs ?? 200
  let updater: Updater | null = null
  let converged = false
  let convergedAt: number | null = null
  let rollback = false
  let rollbackMessage: string | null = null
  for (;;) {
    const service = await get(`/services/${encodeURIComponent(ref)}?insertDefaults=false`) as ServiceJson
    const monitorNs = service.Spec.UpdateConfig?.Monitor ?? 0
    const monitorMs = monitorNs > 0 ? monitorNs / 1e6 : 5000
    if (updater === null) {
      if (service.Spec.Mode.Replicated !== undefined && service.Spec.Mode.Replicated !== null) updater = new ReplicatedProgress(lines)
      else if (service.Spec.Mode.Global !== undefined && service.Spec.Mode.Global !== null) updater = new GlobalProgress(lines)
      else throw new CliError('unrecognized service mode')
    }
    const update = service.UpdateStatus
    if (update?.State === 'completed' && !converged) return
    if (update?.State === 'paused') throw new CliError(`service update paused: ${update.Message ?? ''}`)
    if (update?.State === 'rollback_paused') throw new CliError(`service rollback paused: ${update.Message ?? ''}`)
    if (update?.State === 'updating') rollback = false
    // As docker: a rollback (requested, or the update's failure action) is announced once, and its
    // completion printed after "converged".
    if (update?.State === 'rollback_started') {
      if (!rollback && (update.Message ?? '') !== '') lines.set('rollback', update.Message!)
      rollback = true
    }
    if (update?.State === 'rollback_completed') {
      if (!converged) rollbackMessage = update.Message ?? ''
      rollback = true
    }
    if (converged && convergedAt !== null && now() - convergedAt >= monitorMs) {
      lines.set('verify', `Service ${ref} converged`)
      if (rollbackMessage !== null) lines.set('rollback', rollbackMessage)
      return
    }
    const filters = encodeURIComponent(JSON.stringify({ service: { [service.ID]: true }, '_up-to-date': { true: true } }))
    const tasks = await get(`/tasks?filters=${filters}`) as TaskJson[]
    const nodes = await get('/nodes') as Array<{ ID: string, Status: { State: string } }>
    const active = new Set(nodes.filter(n => n.Status.State !== 'down').map(n => n.ID))
    converged = updater.update(service, tasks, active)
    if (converged) {
      convergedAt ??= now()
      const wait = monitorMs - (now() - convergedAt)
      if (wait >= 0) lines.set('verify', `Waiting ${Math.floor(wait / 1000) + 1} seconds to verify that tasks are stable...`)
    } else {
      if (convergedAt !== null) lines.set('verify', 'Detected task failure')
      convergedAt = null
    }
    await pause(pollMs, o.signal)
    if (o.signal?.aborted === true) {
      if (!converged) {
        lines.message('Operation continuing in background.')
        lines.message(`Use \`${o.cliName ?? 'flotilla'} service ps ${ref}\` to check progress.`)
      }
      return
    }
  }
}
