/**
 * The dashboard's reads, made in-process through the control socket's own handler (so a worker's page
 * shows the cluster as its socket does: through clusterCall to the leader). Only an allow-list of
 * read routes is ever called: nothing that returns a join token (GET /swarm), a secret or a config.
 */
import { FlotillaError, isRecord } from '../../membership/index.js'
import { MuxParser } from '../../tasks/index.js'
import type { ApiHandler, ApiRequest, ApiResponse } from '../control/http-server.js'
import { byServiceSlot, clusterView, taskView, type DashboardState, type TaskView } from './model.js'

/** The routes the dashboard may read, and nothing else. */
const READ_ROUTES: readonly RegExp[] = [/^\/nodes$/, /^\/services$/, /^\/tasks$/, /^\/tasks\/[^/]+\/logs$/, /^\/events$/]
/** A task's last lines: at most this many, this many bytes, read for at most this long. */
export const MAX_LOG_LINES = 500
const MAX_LOG_BYTES = 256 * 1024
const LOG_READ_MS = 5000

/** An API answer other than 2xx, with the API's status and message (shown as they are on the page). */
export class ApiCallError extends FlotillaError {
  constructor (readonly status: number, message: string) {
    super(status === 404 ? 'not-found' : status === 400 ? 'invalid-argument' : status === 409 ? 'conflict' : 'unavailable', message)
  }
}

function request (method: string, path: string, query: Record<string, string> = {}, body?: unknown): ApiRequest {
  return {
    method,
    path,
    query: new URLSearchParams(query),
    body: body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(body), 'utf8'),
    headers: body === undefined ? {} : { 'content-type': 'application/json' }
  }
}

/** The JSON of a 2xx answer, else an ApiCallError with the API's own message. */
export function okJson (res: ApiResponse): unknown {
  if (res.status >= 200 && res.status < 300) return res.json
  const message = isRecord(res.json) && typeof res.json.message === 'string' ? res.json.message : `status ${res.status}`
  throw new ApiCallError(res.status, message)
}

export class UiReads {
  constructor (private readonly api: ApiHandler) {}

  /** A GET of an allowed read route; anything else is a programming error, refused before the API sees it. */
  async get (path: string, query: Record<string, string> = {}): Promise<ApiResponse> {
    if (!READ_ROUTES.some(r => r.test(path))) throw new FlotillaError('internal', `the dashboard does not read ${path}`)
    return await this.api(request('GET', path, query))
  }

  /** The cluster's nodes, services and tasks meant to run; throws when the cluster cannot be read. */
  async cluster (): Promise<Pick<DashboardState, 'nodes' | 'services' | 'tasks'>> {
    const running = JSON.stringify({ 'desired-state': ['running'] })
    const [nodes, services, tasks, upToDate] = await Promise.all([
      this.get('/nodes'),
      this.get('/services', { status: 'true' }),
      this.get('/tasks', { filters: running }),
      this.get('/tasks', { filters: JSON.stringify({ 'desired-state': ['running'], '_up-to-date': ['true'] }) })
    ])
    const ids = new Set((okJson(upToDate) as unknown[]).map(t => isRecord(t) && typeof t.ID === 'string' ? t.ID : ''))
    return clusterView({ nodes: okJson(nodes), services: okJson(services), tasks: okJson(tasks), upToDate: ids })
  }

  /** Every task of service `id` the store keeps (the current ones and their history), `service ps` order. */
  async serviceTasks (id: string): Promise<TaskView[]> {
    const [services, tasks] = await Promise.all([
      this.get('/services'),
      this.get('/tasks', { filters: JSON.stringify({ service: [id] }) })
    ])
    const names = new Map((okJson(services) as unknown[]).flatMap(s => isRecord(s) && typeof s.ID === 'string' && isRecord(s.Spec) ? [[s.ID, String(s.Spec.Name)] as const] : []))
    return (okJson(tasks) as unknown[]).map(t => taskView(t, names)).sort(byServiceSlot)
  }

  /**
   * Task `id`'s last `tail` lines (stdout and stderr, with timestamps), read through the logs route:
   * from this node's engine or over /flotilla/logs from the node that ran it.
   */
  async taskLogs (id: string, tail: number): Promise<Array<{ readonly stream: 'stdout' | 'stderr', readonly text: string }>> {
    const res = await this.get(`/tasks/${encodeURIComponent(id)}/logs`, { stdout: '1', stderr: '1', timestamps: '1', tail: String(tail) })
    okJson(res)
    if (res.stream === undefined) return []
    const chunks: Buffer[] = []
    let size = 0
    const done = new AbortController()
    const timer = setTimeout(() => { done.abort() }, LOG_READ_MS)
    try {
      await res.stream(async chunk => {
        size += chunk.length
        if (size > MAX_LOG_BYTES) { done.abort(); return }
        chunks.push(chunk)
      }, done.signal)
    } finally {
      clearTimeout(timer)
    }
    const raw = Buffer.concat(chunks)
    const tty = res.headers?.['Content-Type']?.includes('raw-stream') === true
    const frames = tty ? [{ stream: 1, payload: raw }] : new MuxParser().push(raw)
    return frames.flatMap(f => f.payload.toString('utf8').split('\n').filter(l => l !== '')
      .map(text => ({ stream: f.stream === 2 || f.stream === 3 ? 'stderr' as const : 'stdout' as const, text })))
      .slice(-tail)
  }

  /**
   * Follow the cluster's events (GET /events, from `sinceS` in Unix seconds) until `signal` aborts or
   * the stream ends; each event is handed to `onEvent` as Docker's JSON.
   */
  async followEvents (sinceS: number, onEvent: (e: Record<string, unknown>) => void, signal: AbortSignal): Promise<void> {
    const res = await this.get('/events', { since: sinceS.toFixed(3) })
    okJson(res)
    if (res.stream === undefined) return
    let pending = ''
    await res.stream(async chunk => {
      pending += chunk.toString('utf8')
      const lines = pending.split('\n')
      pending = lines.pop() ?? ''
      for (const line of lines) {
        if (line.trim() === '') continue
        const e = JSON.parse(line) as unknown
        if (isRecord(e)) onEvent(e)
      }
    }, signal)
  }
}
