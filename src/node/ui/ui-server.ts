/**
 * The dashboard's HTTP listener (`flotilla agent --ui [IP:PORT]`): one page and its script and style,
 * its JSON and Server-Sent Events feed, the actions (with `--ui-actions`) and `/metrics`. Every request
 * passes the Host/Origin check first (guard.ts); unknown paths are 404s. Reads and actions go through
 * the control socket's handler in-process (reads.ts, actions.ts), never through the socket file.
 */
import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { FlotillaError, asFlotillaError, formatHostPort, type HostPort, type Logger } from '../../membership/index.js'
import { errorResponse, parseJson, type ApiHandler, type ApiRequest, type ApiResponse } from '../control/http-server.js'
import { Router } from '../control/router.js'
import { parseAction, runAction } from './actions.js'
import { allowedHosts, checkHostAndOrigin, csrfMatches } from './guard.js'
import { LiveHub } from './live.js'
import type { DashboardState } from './model.js'
import { ApiCallError, MAX_LOG_LINES, UiReads } from './reads.js'

/** A page's POST body is a few fields. */
const MAX_BODY_BYTES = 64 * 1024
/** A comment on every open feed this often, so that a dead connection is noticed and proxies keep it. */
const KEEPALIVE_MS = 15_000
const ASSETS: Readonly<Record<string, string>> = {
  '/app.js': 'text/javascript; charset=utf-8',
  '/app.css': 'text/css; charset=utf-8',
  '/favicon.svg': 'image/svg+xml'
}
/** Every answer: no framing (clickjacking the actions), nothing but this origin's own script and style. */
const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Frame-Options': 'DENY',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store'
}

export interface UiDeps {
  readonly listen: HostPort
  readonly actions: boolean
  /** The control socket's handler (controlApi's). */
  readonly api: ApiHandler
  readonly self: () => DashboardState['self']
  /** The machine's names, accepted as Host on a listener others reach. */
  readonly hostnames: readonly string[]
  readonly metrics: () => Promise<{ readonly contentType: string, readonly text: string }>
  /** Told of each answered request: method, route template, status, seconds to the response's head. */
  readonly observe?: (method: string, route: string, status: number, seconds: number) => void
  readonly logger: Logger
  readonly nowMs?: () => number
  readonly refreshMs?: number
}

export interface UiServer {
  /** `http://IP:PORT/`. */
  readonly url: string
  readonly hub: LiveHub
  stop(): Promise<void>
}

async function readBody (req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > MAX_BODY_BYTES) throw new FlotillaError('too-large', 'request body is over the 64 KiB limit')
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks)
}

function send (res: ServerResponse, r: ApiResponse, head: boolean): void {
  const body = r.json !== undefined ? JSON.stringify(r.json) : r.text ?? ''
  const type = r.json !== undefined ? 'application/json' : 'text/plain; charset=utf-8'
  res.writeHead(r.status, { ...SECURITY_HEADERS, 'Content-Type': type, ...r.headers, 'Content-Length': String(Buffer.byteLength(body)) })
  res.end(head ? undefined : body)
}

/** An API refusal as the page sees it: the API's own status and message. */
function refusal (err: unknown): ApiResponse {
  if (err instanceof ApiCallError) return { status: err.status, json: { message: err.message } }
  return errorResponse(err)
}

/** Start the dashboard's listener. Fails (EADDRINUSE, EACCES) as the agent's start does: loudly. */
export async function startUi (deps: UiDeps): Promise<UiServer> {
  const log = deps.logger.child('ui')
  const nowMs = deps.nowMs ?? Date.now
  const token = randomBytes(32).toString('base64url')
  const reads = new UiReads(deps.api)
  const hub = new LiveHub({ reads, self: deps.self, actions: deps.actions, logger: deps.logger, nowMs, refreshMs: deps.refreshMs })
  const dir = new URL('./assets/', import.meta.url)
  const page = (await readFile(new URL('index.html', dir), 'utf8')).replace('{{CSRF_TOKEN}}', token)
  const assets = new Map<string, Buffer>()
  for (const name of Object.keys(ASSETS)) assets.set(name, await readFile(new URL(name.slice(1), dir)))
  const feeds = new Set<ServerResponse>()

  const router = new Router()
    .add('GET', '/', async () => ({ status: 200, text: page, headers: { 'Content-Type': 'text/html; charset=utf-8' } }))
    .add('GET', '/api/state', async () => ({ status: 200, json: await hub.current() }))
    .add('GET', '/api/services/{id}/tasks', async (_req, p) => ({ status: 200, json: await reads.serviceTasks(p.id!) }))
    .add('GET', '/api/tasks/{id}/logs', async (req, p) => {
      const tail = Math.min(MAX_LOG_LINES, Math.max(1, Number(req.query.get('tail') ?? '50') || 50))
      return { status: 200, json: await reads.taskLogs(p.id!, tail) }
    })
    .add('GET', '/metrics', async () => {
      const m = await deps.metrics()
      return { status: 200, text: m.text, headers: { 'Content-Type': m.contentType } }
    })
  for (const name of Object.keys(ASSETS)) router.add('GET', name, async () => ({ status: 200, text: '', headers: { 'Content-Type': ASSETS[name]! } }))
  const act = async (req: ApiRequest, what: string, id: string): Promise<ApiResponse> => {
    if (!deps.actions) return { status: 403, json: { message: 'this dashboard is read-only: start the agent with --ui-actions to act from the page' } }
    if (!csrfMatches(token, req.headers['x-csrf-token'])) return { status: 403, json: { message: 'missing or wrong CSRF token: reload the page' } }
    const action = parseAction(what, id, parseJson(req))
    await runAction(deps.api, action)
    log.info('dashboard action', { ...action })
    return { status: 200, json: { ok: true } }
  }
  for (const what of ['scale', 'image', 'rollback']) router.add('POST', `/api/services/{id}/${what}`, async (req, p) => await act(req, what, p.id!))
  router.add('POST', '/api/nodes/{id}/availability', async (req, p) => await act(req, 'availability', p.id!))
  router.add('GET', '/api/stream', async () => ({ status: 200, headers: { 'Content-Type': 'text/event-stream' } }))
  const handle = router.handler()

  let allowed = new Set<string>()
  const server: Server = createServer((req, res) => {
    const started = performance.now()
    const method = req.method ?? 'GET'
    const url = new URL(req.url ?? '/', 'http://dashboard')
    const route = router.routeOf(method, url.pathname)
    const done = (status: number): void => { deps.observe?.(method, route, status, (performance.now() - started) / 1000) }
    const verdict = checkHostAndOrigin({ host: req.headers.host, origin: req.headers.origin }, allowed)
    if (!verdict.ok) {
      send(res, { status: verdict.status, json: { message: verdict.message } }, false)
      done(verdict.status)
      return
    }
    if (route === '/api/stream' && method === 'GET') {
      openFeed(res)
      done(200)
      return
    }
    const run = async (): Promise<ApiResponse> => {
      const body = method === 'POST' ? await readBody(req) : Buffer.alloc(0)
      const r = await handle({ method, path: url.pathname, query: url.searchParams, body, headers: req.headers })
      const asset = assets.get(url.pathname)
      return asset === undefined || r.status !== 200 ? r : { ...r, text: asset.toString('utf8') }
    }
    run().catch(refusal).then(r => {
      if (r.status >= 500) log.warn('dashboard request failed', { method, url: req.url, status: r.status, body: JSON.stringify(r.json) })
      send(res, r, method === 'HEAD')
      done(r.status)
    }, (err: unknown) => {
      log.error('dashboard response failed', { err: asFlotillaError(err).message })
      res.destroy()
    })
  })

  /** A page's event stream: `retry` so that EventSource reconnects after a second, then the hub's messages. */
  function openFeed (res: ServerResponse): void {
    res.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': 'text/event-stream; charset=utf-8', Connection: 'keep-alive' })
    res.write('retry: 1000\n\n')
    feeds.add(res)
    const remove = hub.add({
      send: (event, data) => { res.write(event === null ? `: ${data}\n\n` : `event: ${event}\ndata: ${data}\n\n`) }
    })
    const keepalive = setInterval(() => { res.write(': keepalive\n\n') }, KEEPALIVE_MS)
    res.once('close', () => {
      clearInterval(keepalive)
      feeds.delete(res)
      remove()
    })
  }

  server.headersTimeout = 10_000
  server.requestTimeout = 0 // the event feed stays open
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(deps.listen.port, deps.listen.ip, () => { server.off('error', reject); resolve() })
  })
  allowed = allowedHosts(deps.listen, deps.hostnames)
  const url = `http://${formatHostPort(deps.listen)}/`
  log.info('dashboard ready', { url, actions: deps.actions })
  return {
    url,
    hub,
    async stop () {
      hub.stop()
      for (const f of feeds) f.destroy()
      await new Promise<void>(resolve => { server.close(() => { resolve() }); server.closeAllConnections() })
    }
  }
}
