import { CliError } from './client.js'
import { formatTable } from './table.js'

/**
 * The subset of docker's `--format` (Go templates, cli/command/formatter) that flotilla's list and
 * inspect commands read: `table` (the default), `json` (one object per line), `table TEMPLATE` (a
 * table of the template's tab-separated columns) and TEMPLATE (one line per object), where a template
 * is text with `{{.Field}}`, `{{.Field.Sub}}`, `{{json .}}` and `{{json .Field}}`; `\t` and `\n` are
 * a tab and a newline, as docker reads them. Any other action is refused, never printed as is.
 */

const ACTION = /\{\{\s*(json\s+)?\.([A-Za-z0-9_.]*)\s*\}\}|\{\{([^}]*)\}\}/g

function lookup (data: unknown, path: string): unknown {
  if (path === '') return data
  let v = data
  for (const k of path.split('.')) {
    if (typeof v !== 'object' || v === null || !Object.hasOwn(v, k)) throw new CliError(`template: can't evaluate field ${k} in ${path}`)
    v = (v as Record<string, unknown>)[k]
  }
  return v
}

/** Go's JSON for a value: objects with their keys sorted, as encoding/json writes a map. */
function goJson (v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => typeof x === 'object' && x !== null && !Array.isArray(x)
    ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0))
    : x)
}

function text (v: unknown): string {
  if (typeof v === 'string') return v
  if (v === null || v === undefined) return '<no value>'
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v)
  return goJson(v)
}

/** Execute `template` on `data`. */
export function renderTemplate (template: string, data: unknown): string {
  const t = template.replace(/\\t/g, '\t').replace(/\\n/g, '\n')
  return t.replace(ACTION, (_m, json: string | undefined, path: string | undefined, other: string | undefined) => {
    if (other !== undefined) throw new CliError(`unsupported --format action {{${other}}}`, 'flotilla reads {{.Field}}, {{.Field.Sub}}, {{json .}} and {{json .Field}}')
    const v = lookup(data, path ?? '')
    return json !== undefined ? goJson(v) : text(v)
  })
}

/**
 * A list command's output. `columns` are the default table's fields, `headers` the header of each field,
 * `rows` the values by field (as docker's formatter contexts show them).
 */
export function formatList (format: string | undefined, columns: readonly string[], headers: Readonly<Record<string, string>>, rows: ReadonlyArray<Readonly<Record<string, string>>>): string {
  const f = format ?? ''
  if (f === '' || f === 'table') return formatTable(columns.map(c => headers[c] ?? c), rows.map(r => columns.map(c => r[c] ?? '')))
  if (f === 'json') return rows.map(r => goJson(r) + '\n').join('')
  if (f.startsWith('table ')) {
    const tmpl = f.slice('table '.length).trim()
    const header = renderTemplate(tmpl, headers).split('\t')
    return formatTable(header, rows.map(r => renderTemplate(tmpl, r).split('\t')))
  }
  return rows.map(r => renderTemplate(f, r) + '\n').join('')
}

/**
 * `inspect`'s output: an indented JSON array of the objects (docker's IndentedInspector; `[]` when
 * none), `json` for one compact array, or a template run on each object, one line each.
 */
export function formatInspect (format: string | undefined, objects: readonly unknown[]): string {
  const f = format ?? ''
  if (f === '') return objects.length === 0 ? '[]\n' : JSON.stringify(objects, null, 4) + '\n'
  if (f === 'json') return JSON.stringify(objects) + '\n'
  return objects.map(o => renderTemplate(f, o) + '\n').join('')
}
