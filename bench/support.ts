/**
 * What the benchmarks share: flag parsing, statistics, bounded polling, and a main loop that stops the
 * agents on SIGINT/SIGTERM and maps errors to exit codes (0 ran, 1 error, 2 bad flags).
 */
import { readFileSync } from 'node:fs'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import type { TestCluster } from '../test/support/cluster.js'

/** A bad flag: exit 2 with the message. */
export class UsageError extends Error {}

/** An agent process exited while the bench still needed it: no point in waiting for a deadline. */
export class AgentDiedError extends Error {}

export const progress = (s: string): void => { process.stderr.write(`${s}\n`) }

export function positiveInt (text: string | undefined, flag: string, max: number, min = 1): number {
  const v = Number(text)
  if (text === undefined || !/^\d+$/.test(text) || !Number.isSafeInteger(v) || v < min || v > max) {
    throw new UsageError(`${flag} needs a whole number from ${min} to ${max}, got ${text === undefined ? 'nothing' : `"${text}"`}`)
  }
  return v
}

/** `--flag value` and `--flag=value` pairs, in order. */
export function flagPairs (argv: readonly string[]): Array<{ flag: string, value: string | undefined, arg: string }> {
  const out: Array<{ flag: string, value: string | undefined, arg: string }> = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    const eq = arg.indexOf('=')
    out.push({ arg, flag: eq < 0 ? arg : arg.slice(0, eq), value: eq < 0 ? argv[++i] : arg.slice(eq + 1) })
  }
  return out
}

/** VmRSS of process `pid` (or this one), in kB, from /proc/<pid>/status. */
export function vmRssKb (pid: number | 'self'): number {
  const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  if (m === null) throw new Error(`cannot read VmRSS of ${pid}`)
  return Number(m[1])
}

export function median (xs: readonly number[]): number {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

/** Nearest-rank percentile `p` (0 < p ≤ 100). */
export function percentile (xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length, Math.max(1, Math.ceil(p / 100 * s.length))) - 1]!
}

/**
 * Run `check` at a fixed rate of one per `intervalMs` until it returns a value other than undefined,
 * and return it. Errors from `check` count as "not yet", except AgentDiedError, which is thrown at once.
 * Throws after `timeoutMs`.
 */
export async function pollUntil<T> (what: string, check: () => Promise<T | undefined>, timeoutMs: number, intervalMs: number): Promise<T> {
  const start = performance.now()
  const maxPolls = Math.ceil(timeoutMs / intervalMs) + 1
  let lastErr: unknown
  for (let i = 0; i < maxPolls; i++) {
    try {
      const v = await check()
      if (v !== undefined) return v
    } catch (err) {
      if (err instanceof AgentDiedError) throw err
      lastErr = err
    }
    const now = performance.now()
    if (now - start >= timeoutMs) break
    const next = start + (i + 1) * intervalMs
    if (next > now) await sleep(next - now)
  }
  const why = lastErr === undefined ? '' : ` (last error: ${(lastErr as Error).message})`
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`)
}

/** The cluster a bench is running now, stopped if the bench is interrupted. */
export interface Live { cluster: TestCluster | null }

/**
 * Parse the flags, run `body`, and set the exit code: 2 on a UsageError, 1 on any other error, else
 * `body`'s. SIGINT/SIGTERM stop the live cluster before exiting.
 */
export function runBench<A> (name: string, parse: (argv: readonly string[]) => A, body: (args: A, live: Live) => Promise<void>): void {
  const main = async (): Promise<number> => {
    let args: A
    try {
      args = parse(process.argv.slice(2))
    } catch (err) {
      if (!(err instanceof UsageError)) throw err
      progress(`${name} bench: ${err.message}`)
      return 2
    }
    const live: Live = { cluster: null }
    const onSignal = (signal: NodeJS.Signals): void => {
      progress(`${signal}: stopping the agents`)
      const exit = (): void => { process.exit(signal === 'SIGINT' ? 130 : 143) }
      const stopping = live.cluster === null ? Promise.resolve() : live.cluster.stop()
      stopping.then(exit, (err: unknown) => { progress(`could not stop the agents: ${(err as Error).message}`); exit() })
    }
    process.once('SIGINT', onSignal)
    process.once('SIGTERM', onSignal)
    await body(args, live)
    return 0
  }
  main().then(code => { process.exitCode = code }, (err: unknown) => {
    progress(`${name} bench failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`)
    process.exitCode = 1
  })
}
