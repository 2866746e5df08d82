import { spawn, spawnSync } from 'node:child_process'
import { openSync, closeSync } from 'node:fs'
import { BedError } from './errors.js'

/** What a finished command printed and how it ended (`code` null when a signal ended it). */
export interface CommandResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

export interface RunOptions {
  /** Killed with SIGKILL after this long, and the call fails (default 10 000 ms). */
  readonly timeoutMs?: number
  /** A file fed to the command's stdin. */
  readonly stdinFile?: string
  /** Resolve with the result instead of failing when the command exits non-zero (default false). */
  readonly allowFailure?: boolean
}

/**
 * Run `file args…` without a shell and collect its output. Fails with a `bed-command` BedError on a
 * non-zero exit (unless `allowFailure`), and with `bed-timeout` after `timeoutMs` (the command is
 * SIGKILLed then): every external command the bed runs is bounded in time.
 */
export async function run (file: string, args: readonly string[], opts: RunOptions = {}): Promise<CommandResult> {
  const timeoutMs = opts.timeoutMs ?? 10_000
  const stdinFd = opts.stdinFile === undefined ? undefined : openSync(opts.stdinFile, 'r')
  try {
    return await new Promise((resolveRun, reject) => {
      const child = spawn(file, args, { stdio: [stdinFd ?? 'ignore', 'pipe', 'pipe'] })
      let stdout = ''
      let stderr = ''
      child.stdout!.setEncoding('utf8').on('data', (c: string) => { stdout += c })
      child.stderr!.setEncoding('utf8').on('data', (c: string) => { stderr += c })
      const timer = setTimeout(() => {
        child.kill('SIGKILL')
        reject(new BedError('bed-timeout', `${describe(file, args)} timed out after ${timeoutMs} ms`))
      }, timeoutMs)
      child.once('error', err => { clearTimeout(timer); reject(new BedError('bed-command', `${describe(file, args)} could not run: ${err.message}`, undefined, { cause: err })) })
      child.once('close', code => {
        clearTimeout(timer)
        if (code !== 0 && opts.allowFailure !== true) {
          reject(new BedError('bed-command', `${describe(file, args)} exited with ${code ?? 'a signal'}: ${stderr.trim() || stdout.trim()}`))
        } else {
          resolveRun({ code, stdout, stderr })
        }
      })
    })
  } finally {
    if (stdinFd !== undefined) closeSync(stdinFd)
  }
}

/**
 * Run a command synchronously, for exit handlers and leftover removal where nothing async can run.
 * Never throws: a failure or timeout (default 5 000 ms) comes back as a non-zero or null `code`.
 */
export function runSync (file: string, args: readonly string[], timeoutMs = 5_000): CommandResult {
  const r = spawnSync(file, args, { encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL', stdio: ['ignore', 'pipe', 'pipe'] })
  return { code: r.error === undefined ? r.status : null, stdout: r.stdout ?? '', stderr: r.stderr ?? (r.error?.message ?? '') }
}

function describe (file: string, args: readonly string[]): string {
  return [file, ...args].join(' ').slice(0, 300)
}
