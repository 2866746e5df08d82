/** Structured log sink every component receives; only src/node decides where lines go and at which level. */
export interface Logger {
  debug(msg: string, fields?: Readonly<Record<string, unknown>>): void
  info(msg: string, fields?: Readonly<Record<string, unknown>>): void
  warn(msg: string, fields?: Readonly<Record<string, unknown>>): void
  error(msg: string, fields?: Readonly<Record<string, unknown>>): void
  /** A logger whose lines carry `component`. */
  child(component: string): Logger
}
