/**
 * `GET /services/{id}/logs` and `GET /tasks/{id}/logs` (`docker service logs`), on every node's socket.
 * The node that gets the request resolves the service or task by a cluster read, asks every node
 * holding its tasks for their containers' lines (itself through its executor, the others over
 * LOGS_PROTOCOL), and writes them as they come in Docker's log stream format (moby
 * daemon/server/httputils/logstream): multiplexed frames, each line `[<RFC3339Nano> ][<details> ]<text>`,
 * the details being `com.docker.swarm.node.id=…,com.docker.swarm.service.id=…,com.docker.swarm.task.id=…`.
 * Streams are never forwarded: the answer would have to be buffered.
 */
import { FlotillaError, isRecord } from '../../membership/index.js'
import { TASK_STATES, muxFrame, taskStateRank, type LogLine, type LogOptions, type LogSelector, type TaskState } from '../../tasks/index.js'
import type { ApiHandler, ApiRequest, ApiResponse } from './http-server.js'
import type { LogRequest } from './logs-protocol.js'
import type { Router } from './router.js'
import { queryFlag } from './schemas.js'

/** Docker's media types (api/types): a multiplexed stream, or a TTY's raw one. */
export const MULTIPLEXED_STREAM = 'application/vnd.docker.multiplexed-stream'
export const RAW_STREAM = 'application/vnd.docker.raw-stream'
/** How often a follow re-reads the task list for nodes that got tasks of the service since. */
const TASK_POLL_MS = 1000

export interface LogRouteDeps {
  /** This node's API, for the cluster reads (`GET /services/{id}`, `GET /tasks/{id}`, `GET /tasks?filters=`). */
  readonly api: ApiHandler
  /** Open node `nodeId`'s lines (this node's own through its executor); ends quietly when `signal` aborts. */
  readonly open: (nodeId: string, request: LogRequest, signal: AbortSignal) => AsyncIterable<LogLine>
  readonly taskPollMs?: number
}

/** What the query asks for (Docker's ContainerLogsOptions as the swarm router reads them). */
export interface LogQuery {
  readonly stdout: boolean
  readonly stderr: boolean
  readonly details: boolean
  readonly timestamps: boolean
  readonly options: LogOptions
}

/** The query, validated as moby's swarmLogs and ServiceLogs do (same messages); 400 otherwise. */
export function parseLogQuery (q: URLSearchParams): LogQuery {
  const stdout = queryFlag(q, 'stdout')
  const stderr = queryFlag(q, 'stderr')
  if (!stdout && !stderr) throw new FlotillaError('invalid-argument', "must specify at least one of 'stdout' or 'stderr'")
  const rawTail = q.get('tail') ?? ''
  let tail: number | 'all' = 'all'
  if (rawTail !== '' && rawTail !== 'all') {
    if (!/^-?\d{1,9}$/.test(rawTail)) throw new FlotillaError('invalid-argument', 'tail value must be a positive integer or "all"')
    tail = Number(rawTail)
    if (tail < 0) throw new FlotillaError('invalid-argument', 'negative tail values not supported')
  }
  const rawSince = q.get('since') ?? ''
  if (rawSince !== '' && !/^\d{1,12}(\.\d{1,9})?$/.test(rawSince)) {
    throw new FlotillaError('invalid-argument', `invalid value for "since": ${rawSince} is not a unix timestamp (seconds[.nanoseconds])`)
  }
  return {
    stdout,
    stderr,
    details: queryFlag(q, 'details'),
    timestamps: queryFlag(q, 'timestamps'),
    options: { follow: queryFlag(q, 'follow'), tail, since: rawSince === '' ? null : rawSince }
  }
}

/** One line as Docker writes it: `[<timestamp> ][<details> ]<text>`, always ending in a newline. */
export function formatLogLine (line: LogLine, q: Pick<LogQuery, 'details' | 'timestamps'>): Buffer {
  let out = line.text.endsWith('\n') ? line.text : line.text + '\n'
  if (q.details) {
    // Sorted by key and query-escaped, as moby's attrsByteSlice.
    const attrs = [['com.docker.swarm.node.id', line.nodeId], ['com.docker.swarm.service.id', line.serviceId], ['com.docker.swarm.task.id', line.taskId]]
    out = attrs.map(([k, v]) => `${encodeURIComponent(k!)}=${encodeURIComponent(v!)}`).join(',') + ' ' + out
  }
  if (q.timestamps) out = `${line.timestamp} ${out}`
  return Buffer.from(out, 'utf8')
}

/** Docker's words for logs it could not get (SwarmKit logbroker subscription.Err). */
export function incompleteMessage (reasons: readonly string[]): string {
  return `warning: incomplete log stream. some logs could not be retrieved for the following reasons: ${reasons.join(', ')}`
}

/** A task as far as the logs need it, from the API's Docker-shaped JSON. */
export interface TaskRef {
  readonly id: string
  readonly nodeId: string | null
  readonly state: TaskState
}

function taskRef (json: unknown): TaskRef | null {
  if (!isRecord(json) || typeof json.ID !== 'string') return null
  const status = isRecord(json.Status) ? json.Status : {}
  const state = (TASK_STATES as readonly unknown[]).includes(status.State) ? status.State as TaskState : 'new'
  return { id: json.ID, nodeId: typeof json.NodeID === 'string' && json.NodeID !== '' ? json.NodeID : null, state }
}

function isTty (containerSpec: unknown): boolean {
  return isRecord(containerSpec) && containerSpec.TTY === true
}

/** What the logs are of: the service or task, and how to find the nodes to ask. */
export interface Target {
  readonly selector: LogSelector
  readonly tty: boolean
  /** The tasks whose nodes to ask, now (read again while following a service). */
  readonly tasks: () => Promise<TaskRef[]>
}

function localCall (path: string, query = ''): ApiRequest {
  return { method: 'GET', path, query: new URLSearchParams(query), body: Buffer.alloc(0), headers: {} }
}

/** Throw the API's answer as an error when it is not a 200 (its status becomes the logs call's). */
function ok (res: ApiResponse): unknown {
  if (res.status === 200) return res.json
  const message = isRecord(res.json) && typeof res.json.message === 'string' ? res.json.message : `status ${res.status}`
  const code = res.status === 404 ? 'not-found' : res.status === 400 ? 'invalid-argument' : res.status === 503 ? 'unavailable' : 'internal'
  throw new FlotillaError(code, message)
}

async function serviceTarget (api: ApiHandler, ref: string): Promise<Target> {
  const svc = ok(await api(localCall(`/services/${encodeURIComponent(ref)}`)))
  if (!isRecord(svc) || typeof svc.ID !== 'string' || !isRecord(svc.Spec)) throw new FlotillaError('internal', `service ${ref} came back malformed`)
  const serviceId = svc.ID
  const template = isRecord(svc.Spec.TaskTemplate) ? svc.Spec.TaskTemplate : {}
  const filters = JSON.stringify({ service: { [serviceId]: true } })
  return {
    selector: { serviceId, taskIds: [] },
    tty: isTty(template.ContainerSpec),
    tasks: async () => {
      const list = ok(await api(localCall('/tasks', `filters=${encodeURIComponent(filters)}`)))
      return Array.isArray(list) ? list.map(taskRef).filter(t => t !== null) : []
    }
  }
}

async function taskTarget (api: ApiHandler, ref: string): Promise<Target> {
  const json = ok(await api(localCall(`/tasks/${encodeURIComponent(ref)}`)))
  const task = taskRef(json)
  if (task === null || !isRecord(json)) throw new FlotillaError('internal', `task ${ref} came back malformed`)
  const spec = isRecord(json.Spec) ? json.Spec : {}
  return { selector: { serviceId: null, taskIds: [task.id] }, tty: isTty(spec.ContainerSpec), tasks: async () => [task] }
}

/**
 * The nodes to ask: those holding the tasks. Without follow, as SwarmKit, only tasks that got as far
 * as running (the others have no logs yet); a task not placed yet is left for a later poll.
 */
function nodesOf (tasks: readonly TaskRef[], follow: boolean): Set<string> {
  const nodes = new Set<string>()
  for (const t of tasks) {
    if (t.nodeId === null) continue
    if (!follow && taskStateRank(t.state) < taskStateRank('running')) continue
    nodes.add(t.nodeId)
  }
  return nodes
}

/**
 * Gather the logs of `target` and write them through `write` until every node is done (or, following,
 * until `signal` aborts). A node that fails loses its lines only: without follow, Docker's
 * incomplete-stream warning names it after the other lines, as an error frame (the CLI prints it and
 * exits 1); following, a stderr line of one of its tasks says so, and the stream goes on.
 */
export async function streamLogs (deps: LogRouteDeps, target: Target, q: LogQuery, write: (chunk: Buffer) => Promise<void>, signal: AbortSignal): Promise<void> {
  const mux = !target.tty
  let writing = Promise.resolve()
  const send = async (chunk: Buffer): Promise<void> => {
    const p = writing.then(async () => { await write(chunk) })
    writing = p.catch(() => {})
    await p
  }
  const sendLine = async (line: LogLine): Promise<void> => {
    if (line.stream === 'stdout' ? !q.stdout : !q.stderr) return
    const bytes = formatLogLine(line, q)
    await send(mux ? muxFrame(line.stream === 'stdout' ? 1 : 2, bytes) : bytes)
  }
  const reasons: string[] = []
  const request: LogRequest = { selector: target.selector, options: q.options }
  const pumps = new Set<Promise<void>>()
  const asked = new Set<string>()
  const pump = async (nodeId: string, someTask: string | undefined): Promise<void> => {
    try {
      for await (const line of deps.open(nodeId, request, signal)) {
        if (signal.aborted) return
        await sendLine(line)
      }
    } catch (err) {
      if (signal.aborted) return
      const reason = (err as Error).message
      if (!q.options.follow || someTask === undefined) { reasons.push(reason); return }
      await sendLine({
        nodeId, serviceId: target.selector.serviceId ?? '', taskId: someTask, stream: 'stderr',
        timestamp: new Date().toISOString().replace(/Z$/, '000000Z'), text: `${incompleteMessage([reason])}\n`
      })
    }
  }
  const askNew = (tasks: readonly TaskRef[]): void => {
    for (const nodeId of nodesOf(tasks, q.options.follow)) {
      if (asked.has(nodeId)) continue
      asked.add(nodeId)
      const p: Promise<void> = pump(nodeId, tasks.find(t => t.nodeId === nodeId)?.id).finally(() => { pumps.delete(p) })
      pumps.add(p)
    }
  }
  askNew(await target.tasks())
  if (q.options.follow) {
    // New tasks of the service may land on nodes not asked yet; nodes already asked pick up their new containers.
    const pollMs = deps.taskPollMs ?? TASK_POLL_MS
    while (!signal.aborted) {
      await new Promise<void>(resolve => {
        const t = setTimeout(done, pollMs)
        function done (): void { clearTimeout(t); signal.removeEventListener('abort', done); resolve() }
        signal.addEventListener('abort', done, { once: true })
      })
      if (signal.aborted) break
      try {
        askNew(await target.tasks())
      } catch (err) {
        // The task list is unavailable for now (no leader): the nodes already asked go on.
        if (!signal.aborted) reasons.push((err as Error).message)
      }
    }
  }
  await Promise.all(pumps)
  if (reasons.length > 0 && !signal.aborted) {
    const text = Buffer.from(`Error grabbing logs: ${incompleteMessage(reasons)}\n`)
    await send(mux ? muxFrame(3, text) : text)
  }
}

/**
 * Add the logs routes. Errors before the stream starts are Docker's (404 `service X not found`, 400 for
 * the query); once it has started, the status is 200 and errors travel in the stream.
 */
export function addLogRoutes (router: Router, deps: LogRouteDeps): Router {
  const serve = async (req: ApiRequest, resolve: () => Promise<Target>): Promise<ApiResponse> => {
    if (req.forwarded === true) throw new FlotillaError('invalid-argument', 'logs are gathered by the node that got the request; they are never forwarded')
    const q = parseLogQuery(req.query)
    const target = await resolve()
    return {
      status: 200,
      headers: { 'Content-Type': target.tty ? RAW_STREAM : MULTIPLEXED_STREAM },
      stream: async (write, signal) => { await streamLogs(deps, target, q, write, signal) }
    }
  }
  return router
    .add('GET', '/services/{id}/logs', async (req, p) => await serve(req, async () => await serviceTarget(deps.api, p.id!)))
    .add('GET', '/tasks/{id}/logs', async (req, p) => await serve(req, async () => await taskTarget(deps.api, p.id!)))
}
