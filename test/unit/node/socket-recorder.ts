/**
 * A control socket handler that records every request before passing it on, so that CLI tests can
 * assert what a command sent and that a refused command wrote nothing.
 */
import type { ApiHandler } from '../../../src/node/control/http-server.js'

export interface RecordedCall {
  readonly method: string
  /** Without the API version prefix. */
  readonly path: string
  readonly query: string
  /** The JSON body, parsed; undefined when empty. */
  readonly body: any
}

export interface Recorder {
  readonly handler: ApiHandler
  /** Every request, in order. */
  readonly calls: RecordedCall[]
  /** The writes among `calls` (every method but GET). */
  readonly writes: () => RecordedCall[]
}

export function recording (next: ApiHandler): Recorder {
  const calls: RecordedCall[] = []
  const handler: ApiHandler = async (req) => {
    const text = req.body.toString('utf8')
    calls.push({ method: req.method, path: req.path.replace(/^\/v1\.\d+/, ''), query: req.query.toString(), body: text === '' ? undefined : JSON.parse(text) })
    return await next(req)
  }
  return { handler, calls, writes: () => calls.filter(c => c.method !== 'GET') }
}
