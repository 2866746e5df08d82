import { execFile } from 'node:child_process'
import { FlotillaError } from '../../../../membership/index.js'

/** How long one host command may run before it is killed and counts as failed. */
export const COMMAND_TIMEOUT_MS = 10_000
/** The most a command may print on stdout (an `iptables-save` of a busy host stays well under it). */
const MAX_OUTPUT_BYTES = 16 << 20

/** What builds a `HostCommands`. */
export interface HostCommandsInit {
  /**
   * Prepended to every command, e.g. `['ip', 'netns', 'exec', 'ns1']` to program a test host's network
   * namespace; empty (the default) in production. It goes before `nsenter -t PID -n` commands too:
   * nsenter enters the target's network namespace by its pid, so whatever namespace the prefix puts it
   * in first does not matter, and one rule for every command is simpler than two.
   */
  readonly prefix?: readonly string[]
  /** Per command (default COMMAND_TIMEOUT_MS). */
  readonly timeoutMs?: number
}

/**
 * The host's network tools, run without a shell: iproute2's `ip` and `bridge`, `iptables-save` and
 * `iptables-restore` (always with `-w`, waiting for the xtables lock rather than failing on it), in the
 * host's network namespace or, through `nsenter -t PID -n`, in a container's. Every command has a
 * timeout; a failure is a FlotillaError that quotes the command and its stderr: `unavailable` when the
 * tool is missing, timed out or was killed, `internal` when it exited non-zero. Both are `retryable`:
 * the kernel state a command met (a device busy, a chain in use) may have changed by the next try.
 */
export class HostCommands {
  private readonly prefix: readonly string[]
  private readonly timeoutMs: number

  constructor (init: HostCommandsInit = {}) {
    this.prefix = init.prefix ?? []
    this.timeoutMs = init.timeoutMs ?? COMMAND_TIMEOUT_MS
  }

  /** `ip args…`; returns stdout. */
  async ip (args: readonly string[]): Promise<string> {
    return await this.run(['ip', ...args])
  }

  /** `bridge args…`; returns stdout. */
  async bridge (args: readonly string[]): Promise<string> {
    return await this.run(['bridge', ...args])
  }

  /** `iptables -w args…` in the host's namespace (or the container's of `pid`). */
  async iptables (args: readonly string[], pid?: number): Promise<string> {
    return await this.run(this.inNetns(pid, ['iptables', '-w', ...args]))
  }

  /** `iptables-save` of the host's namespace (or the container's of `pid`): every table. */
  async iptablesSave (pid?: number): Promise<string> {
    return await this.run(this.inNetns(pid, ['iptables-save']))
  }

  /**
   * `iptables-restore -w --noflush` fed `input` on stdin: each table block commits atomically, and
   * chains the input does not declare keep their rules.
   */
  async iptablesRestore (input: string, pid?: number): Promise<void> {
    await this.run(this.inNetns(pid, ['iptables-restore', '-w', '--noflush']), input)
  }

  /** The command line as run: the prefix, then `argv`. */
  commandLine (argv: readonly string[]): string[] {
    return [...this.prefix, ...argv]
  }

  private inNetns (pid: number | undefined, argv: readonly string[]): string[] {
    if (pid === undefined) return [...argv]
    if (!Number.isInteger(pid) || pid <= 0) throw new FlotillaError('invalid-argument', `pid ${pid} names no process`)
    return ['nsenter', '-t', String(pid), '-n', ...argv]
  }

  private async run (argv: readonly string[], input?: string): Promise<string> {
    const [file, ...args] = this.commandLine(argv)
    if (file === undefined) throw new FlotillaError('invalid-argument', 'empty command')
    const shown = [file, ...args].join(' ')
    return await new Promise((resolve, reject) => {
      const child = execFile(file, args, { timeout: this.timeoutMs, killSignal: 'SIGKILL', maxBuffer: MAX_OUTPUT_BYTES, encoding: 'utf8' }, (err, stdout, stderr) => {
        if (err === null) { resolve(stdout); return }
        const e = err as NodeJS.ErrnoException & { killed?: boolean, code?: unknown, signal?: unknown }
        const detail = stderr.trim() === '' ? '' : `: ${stderr.trim()}`
        if (e.code === 'ENOENT') {
          reject(new FlotillaError('unavailable', `\`${shown}\` could not run: ${file} not found`, {
            retryable: true, cause: err, hint: 'install iproute2, iptables and util-linux (nsenter) on this host'
          }))
        } else if (e.killed === true || typeof e.signal === 'string') {
          const why = e.killed === true ? `timed out after ${this.timeoutMs} ms` : `was killed by ${String(e.signal)}`
          reject(new FlotillaError('unavailable', `\`${shown}\` ${why}${detail}`, { retryable: true, cause: err }))
        } else {
          reject(new FlotillaError('internal', `\`${shown}\` exited with ${String(e.code)}${detail}`, { retryable: true, cause: err }))
        }
      })
      // A command that exits before reading its input closes the pipe: that failure is the command's to report.
      child.stdin?.on('error', () => {})
      child.stdin?.end(input)
    })
  }
}
