/** Why the bed could not do what was asked; `hint` says what to do next. */
export type BedErrorCode = 'bed-prerequisite' | 'bed-command' | 'bed-timeout' | 'bed-state'

/** A failure of the multi-host test bed, with a stable `code` and, where a person can act, a `hint`. */
export class BedError extends Error {
  override readonly name = 'BedError'
  readonly retryable = false
  constructor (readonly code: BedErrorCode, message: string, readonly hint?: string, options?: { cause?: unknown }) {
    super(hint === undefined ? message : `${message}\n  hint: ${hint}`, options)
  }
}
