/**
 * The one logger of the agent. Every component receives a `Logger`; only src/node decides where lines go
 * (stderr) and at which level, by calling `createLogger` once.
 */

/** Structured log sink every component receives. */
export interface Logger {
  debug(msg: string, fields?: Readonly<Record<string, unknown>>): void
  info(msg: string, fields?: Readonly<Record<string, unknown>>): void
  warn(msg: string, fields?: Readonly<Record<string, unknown>>): void
  error(msg: string, fields?: Readonly<Record<string, unknown>>): void
  /** A logger whose lines carry `component`. */
  child(component: string): Logger
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error'
export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error']

function formatValue (v: unknown): string {
  const s = typeof v === 'string' ? v : v instanceof Error ? v.message : JSON.stringify(v)
  return /[\s"=]/.test(s) ? JSON.stringify(s) : s
}

/**
 * One line per event on `write` (stderr in the agent): `<ISO time> <LEVEL> [component] message k=v …`.
 * Lines below `level` are dropped before they are formatted.
 */
export function createLogger (level: LogLevel, write: (line: string) => void, component = 'agent'): Logger {
  const min = LOG_LEVELS.indexOf(level)
  const emit = (lvl: LogLevel, msg: string, fields?: Readonly<Record<string, unknown>>): void => {
    if (LOG_LEVELS.indexOf(lvl) < min) return
    const kv = fields === undefined ? '' : Object.entries(fields).filter(([, v]) => v !== undefined).map(([k, v]) => ` ${k}=${formatValue(v)}`).join('')
    write(`${new Date().toISOString()} ${lvl.toUpperCase().padEnd(5)} [${component}] ${msg}${kv}\n`)
  }
  return {
    debug: (m, f) => { emit('debug', m, f) },
    info: (m, f) => { emit('info', m, f) },
    warn: (m, f) => { emit('warn', m, f) },
    error: (m, f) => { emit('error', m, f) },
    child: (c) => createLogger(level, write, c)
  }
}

/** A logger that drops every line (tests, and tools that print their own output). */
export const silentLogger: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {}, child: () => silentLogger }
