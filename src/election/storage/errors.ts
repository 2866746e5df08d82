import { FlotillaError } from '../../membership/index.js'

/**
 * What an operator can do when this manager's Raft data cannot be trusted. The cluster still holds the
 * log (on a quorum of other managers), so rejoining is always safe; a backup saves the re-sync.
 */
export const CORRUPTION_HINT =
  "restore this manager's data dir from a backup, or remove its raft dir and rejoin it to the cluster as a manager"

/**
 * Recovery found data it will not guess about: a bad record with valid data after it, a record that
 * decodes but contradicts the log, a missing or corrupt snapshot. Never retryable: the disk won't change.
 */
export function corruptionError (path: string, offset: number | null, reason: string): FlotillaError {
  const where = offset === null ? path : `${path} at byte offset ${offset}`
  return new FlotillaError('internal', `raft storage is corrupt: ${where}: ${reason}`, { hint: CORRUPTION_HINT })
}

/** An I/O call failed; `op` names it (e.g. "fsync") so the message says which step. */
export function ioError (op: string, path: string, cause: unknown): FlotillaError {
  const detail = cause instanceof Error ? cause.message : String(cause)
  return new FlotillaError('internal', `raft storage: ${op} ${path} failed: ${detail}`, {
    cause,
    hint: 'check the disk (space, permissions, errors in the kernel log), then restart the agent'
  })
}
