/**
 * The error type every flotilla layer throws. `code` is stable (tests and the control socket map on it),
 * `retryable` says whether the same call may succeed later, and `hint` tells a user what to do next.
 * The control socket maps codes to HTTP statuses; the CLI prints message and hint.
 */
export type ErrorCode =
  | 'invalid-argument' // the caller's input is wrong (HTTP 400)
  | 'not-found' // no such object (404)
  | 'conflict' // name taken, stale version, wrong state for the call (409)
  | 'unavailable' // the cluster cannot serve this now: no swarm, not a manager, peer unreachable (503)
  | 'unauthenticated' // a token, certificate or signature did not verify (401 on the wire to peers, 400 to users)
  | 'too-large' // a body or frame over its cap (413)
  | 'internal' // a bug or an I/O failure (500)

export interface FlotillaErrorInit {
  retryable?: boolean
  hint?: string
  cause?: unknown
}

export class FlotillaError extends Error {
  readonly code: ErrorCode
  readonly retryable: boolean
  readonly hint: string | undefined

  constructor (code: ErrorCode, message: string, init: FlotillaErrorInit = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause })
    this.name = 'FlotillaError'
    this.code = code
    this.retryable = init.retryable ?? false
    this.hint = init.hint
  }
}

/** Narrow an unknown thrown value to a FlotillaError, wrapping anything else as `internal`. */
export function asFlotillaError (err: unknown): FlotillaError {
  if (err instanceof FlotillaError) return err
  const message = err instanceof Error ? err.message : String(err)
  return new FlotillaError('internal', message, { cause: err })
}
