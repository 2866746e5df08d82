import { request } from 'node:http'

/** A response from the agent's socket. */
export interface SocketResponse {
  readonly status: number
  readonly body: unknown
}

/** A failed call: the agent's `{"message"}` or a connection error, with what to do next. */
export class CliError extends Error {
  constructor (message: string, readonly hint?: string) {
    super(message)
    this.name = 'CliError'
  }
}

/** Resolve `--host`: `unix:///path` or a bare path. */
export function socketPathOf (host: string): string {
  if (host.startsWith('unix://')) return host.slice('unix://'.length)
  if (host.startsWith('/')) return host
  throw new CliError(`--host "${host}" is not unix:///path`, 'the CLI talks only to the local agent\'s socket')
}

/**
 * Call the agent's control socket. Non-2xx answers throw a CliError carrying the agent's message;
 * the CLI never speaks libp2p.
 */
export async function call (socketPath: string, method: string, path: string, body?: unknown): Promise<SocketResponse> {
  const payload = body === undefined ? undefined : JSON.stringify(body)
  return await new Promise((resolve, reject) => {
    const req = request({
      socketPath,
      method,
      path: `/v1.41${path}`,
      headers: payload === undefined ? {} : { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) },
      timeout: 60_000
    }, res => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        let parsed: unknown = text
        if (text !== '' && (res.headers['content-type'] ?? '').includes('json')) {
          try { parsed = JSON.parse(text) } catch { parsed = text }
        }
        const status = res.statusCode ?? 0
        if (status >= 200 && status < 300) resolve({ status, body: parsed })
        else {
          const msg = typeof parsed === 'object' && parsed !== null && 'message' in parsed ? String((parsed).message) : text
          reject(new CliError(msg))
        }
      })
    })
    req.on('timeout', () => { req.destroy(new Error('timed out after 60 s')) })
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') {
        reject(new CliError(`Cannot connect to the flotilla agent at unix://${socketPath}. Is the agent running?`,
          'start it with `flotilla agent` (or `npm start`), or point --host / FLOTILLA_HOST at its socket'))
      } else if (err.code === 'EACCES') {
        reject(new CliError(`permission denied on unix://${socketPath}`, 'the socket is 0660: run as its owner or a member of its group'))
      } else reject(new CliError(err.message))
    })
    req.end(payload)
  })
}

/**
 * A GET whose answer streams (`service logs -f`): `onChunk` hears each piece of a 2xx body until it ends
 * or `signal` aborts (then it resolves); a non-2xx answer throws as `call` does.
 */
export async function stream (socketPath: string, path: string, onChunk: (chunk: Buffer) => void, signal: AbortSignal): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const req = request({ socketPath, method: 'GET', path: `/v1.41${path}`, signal }, res => {
      const status = res.statusCode ?? 0
      if (status < 200 || status >= 300) {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8')
          try { const m = (JSON.parse(text) as { message?: unknown }).message; reject(new CliError(typeof m === 'string' ? m : text)) } catch { reject(new CliError(text)) }
        })
        return
      }
      res.on('data', onChunk)
      res.on('end', () => { resolve() })
      res.on('error', () => { resolve() })
    })
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (signal.aborted) resolve()
      else if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') reject(new CliError(`Cannot connect to the flotilla agent at unix://${socketPath}. Is the agent running?`))
      else reject(new CliError(err.message))
    })
    req.end()
  })
}
