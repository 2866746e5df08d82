import { createServer, type IncomingMessage, type ServerResponse, type Server } from 'node:http'
import { connect } from 'node:net'
import { chmod, unlink, mkdir } from 'node:fs/promises'
import { dirname } from 'node:path'
import { FlotillaError, asFlotillaError, type ErrorCode, type Logger } from '../../membership/index.js'

/** Largest request body the socket reads; a larger one is a 413 and is not read further. */
export const MAX_BODY_BYTES = 1024 * 1024

/** A parsed request as handlers see it: the API version prefix already stripped. */
export interface ApiRequest {
  readonly method: string
  readonly path: string
  readonly query: URLSearchParams
  /** Raw body; `json()` parses it. */
  readonly body: Buffer
  readonly headers: IncomingMessage['headers']
  /** Set when another node forwarded this call here: it is served here or refused, never forwarded again. */
  readonly forwarded?: boolean
  /** The client connection the request came on (an opaque key, the same for every request of a kept-alive connection); unset when forwarded. */
  readonly connection?: object
}

export interface ApiResponse {
  readonly status: number
  /** JSON-encoded when set; a string is still JSON-encoded (Docker answers `"id"` for swarm init). */
  readonly json?: unknown
  /** Raw text body (e.g. `OK` for ping). */
  readonly text?: string
  readonly headers?: Readonly<Record<string, string>>
  /**
   * A streamed body instead (`service logs -f`): the status and headers go out at once (Content-Type from
   * `headers`), then `stream` writes chunks, each `write` resolving once the socket takes more; the
   * response ends when it settles. `signal` aborts when the client goes away (then `write` rejects).
   * Not carried by forwarded calls: a streamed answer is served by the node that got the request.
   */
  readonly stream?: (write: (chunk: Buffer) => Promise<void>, signal: AbortSignal) => Promise<void>
}

export type ApiHandler = (req: ApiRequest) => Promise<ApiResponse>

const STATUS: Record<ErrorCode, number> = {
  'invalid-argument': 400,
  unauthenticated: 400,
  'not-found': 404,
  conflict: 409,
  'too-large': 413,
  unavailable: 503,
  internal: 500
}

/** Docker's error body: `{"message": "..."}`, the hint appended so that every client shows what to do next. */
export function errorResponse (err: unknown): ApiResponse {
  const e = asFlotillaError(err)
  const message = e.hint === undefined ? e.message : `${e.message} (${e.hint})`
  return { status: STATUS[e.code], json: { message } }
}

async function readBody (req: IncomingMessage): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? '0')
  if (declared > MAX_BODY_BYTES) throw new FlotillaError('too-large', `request body of ${declared} bytes is over the 1 MiB limit`)
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    const b = chunk as Buffer
    size += b.length
    if (size > MAX_BODY_BYTES) throw new FlotillaError('too-large', 'request body is over the 1 MiB limit')
    chunks.push(b)
  }
  return Buffer.concat(chunks)
}

function send (res: ServerResponse, r: ApiResponse, head: boolean): void {
  const headers: Record<string, string> = { ...r.headers }
  let body = ''
  if (r.json !== undefined) {
    body = JSON.stringify(r.json) + '\n'
    headers['Content-Type'] = 'application/json'
  } else if (r.text !== undefined) {
    body = r.text
    headers['Content-Type'] ??= 'text/plain; charset=utf-8'
  }
  headers['Content-Length'] = String(Buffer.byteLength(body))
  res.writeHead(r.status, headers)
  res.end(head ? undefined : body)
}

/** Send a streamed response (`ApiResponse.stream`), chunked, until it settles or the client goes away. */
async function sendStream (res: ServerResponse, r: ApiResponse, stream: NonNullable<ApiResponse['stream']>, log: Logger): Promise<void> {
  const gone = new AbortController()
  res.once('close', () => { gone.abort() })
  res.writeHead(r.status, { ...r.headers })
  res.flushHeaders() // a follow with nothing to say yet must still show the client its 200
  const write = async (chunk: Buffer): Promise<void> => {
    if (gone.signal.aborted) throw new FlotillaError('unavailable', 'the client closed the connection')
    if (res.write(chunk)) return
    await new Promise<void>(resolve => {
      const done = (): void => { res.off('drain', done); gone.signal.removeEventListener('abort', done); resolve() }
      res.once('drain', done)
      gone.signal.addEventListener('abort', done, { once: true })
    })
  }
  try {
    await stream(write, gone.signal)
  } catch (err) {
    if (!gone.signal.aborted) log.warn('streamed response failed', { err: (err as Error).message })
  } finally {
    res.end()
  }
}

/** Whether something still answers on a unix socket path (another agent), so we never steal it. */
async function socketInUse (path: string): Promise<boolean> {
  return await new Promise(resolve => {
    const s = connect(path)
    s.once('connect', () => { s.destroy(); resolve(true) })
    s.once('error', () => { resolve(false) })
  })
}

/**
 * HTTP/1.1 on a unix socket, mode 0660 (owner and group, as docker.sock). A stale socket file left by a
 * killed agent is replaced; a live one is refused.
 */
export async function listenControlSocket (path: string, handler: ApiHandler, logger: Logger): Promise<Server> {
  const log = logger.child('control')
  await mkdir(dirname(path), { recursive: true, mode: 0o755 })
  if (await socketInUse(path)) {
    throw new FlotillaError('unavailable', `another process answers on ${path}`, { hint: 'stop that agent or choose another --socket' })
  }
  await unlink(path).catch(() => {})
  const server = createServer((req, res) => {
    const head = req.method === 'HEAD'
    const run = async (): Promise<ApiResponse> => {
      const url = new URL(req.url ?? '/', 'http://flotilla')
      const body = await readBody(req)
      return await handler({ method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, body, headers: req.headers, connection: req.socket })
    }
    run().catch(errorResponse).then(r => {
      if (r.status >= 500) log.warn('request failed', { method: req.method, url: req.url, status: r.status, body: JSON.stringify(r.json) })
      else log.debug('request', { method: req.method, url: req.url, status: r.status })
      if (r.stream === undefined || head) { send(res, r, head); return }
      sendStream(res, r, r.stream, log).catch((err: unknown) => {
        log.error('streamed response failed', { err: (err as Error).message })
        res.destroy()
      })
    }, (err: unknown) => {
      log.error('response failed', { err: (err as Error).message })
      res.destroy()
    })
  })
  server.headersTimeout = 10_000
  server.requestTimeout = 0 // streaming endpoints (logs -f) stay open
  const umask = process.umask(0o117)
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(path, () => { server.off('error', reject); resolve() })
    })
  } finally {
    process.umask(umask)
  }
  await chmod(path, 0o660)
  return server
}

/** Parse a JSON body into `unknown`; 400 with the parser's words when it is not JSON. */
export function parseJson (req: ApiRequest): unknown {
  if (req.body.length === 0) return undefined
  try {
    return JSON.parse(req.body.toString('utf8')) as unknown
  } catch (err) {
    throw new FlotillaError('invalid-argument', `invalid JSON in request body: ${(err as Error).message}`)
  }
}
