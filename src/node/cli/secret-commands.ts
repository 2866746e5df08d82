import type { Command } from 'commander'
import { readFile } from 'node:fs/promises'
import { call, CliError } from './client.js'
import { filterArgs } from './service-commands.js'
import { humanDuration, naturalCompare } from './service-format.js'
import { parseLabels } from './service-flags.js'
import { capitalize } from './table.js'
import { formatInspect, formatList } from './template-format.js'

/**
 * `flotilla secret create|ls|inspect|rm` and `flotilla config create|ls|inspect|rm`, with docker's
 * arguments, columns and messages (docker/cli cli/command/secret and cli/command/config), over the
 * socket's `/secrets` and `/configs` endpoints. Secrets and configs differ as in docker: a secret's
 * list shows a DRIVER column and its data is never shown; a config's inspect shows its Data (base64 in
 * JSON, as text with --pretty).
 */

type Out = (s: string) => void

/** What the commands need of the process: stderr, stdin (`-`), files, the clock. */
export interface BlobCliIo {
  readonly err: Out
  readonly readStdin: () => Promise<Buffer>
  readonly readFile: (path: string) => Promise<Buffer>
  readonly nowMs: () => number
}

async function readAll (stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const c of stream) chunks.push(typeof c === 'string' ? Buffer.from(c) : c)
  return Buffer.concat(chunks)
}

/** The real process: stderr, stdin, the file system, the clock. */
export function processBlobIo (): BlobCliIo {
  return {
    err: s => { process.stderr.write(s) },
    readStdin: async () => await readAll(process.stdin),
    readFile: async p => await readFile(p),
    nowMs: () => Date.now()
  }
}

/** Docker's Secret and Config as the socket returns them. */
export interface BlobJson {
  readonly ID: string
  readonly Version: { readonly Index: number }
  readonly CreatedAt: string
  readonly UpdatedAt: string
  readonly Spec: {
    readonly Name: string
    readonly Labels?: Readonly<Record<string, string>> | null
    readonly Driver?: { readonly Name?: string } | null
    /** Configs only: base64. */
    readonly Data?: string
  }
}

type Kind = 'secret' | 'config'

/** docker's readSecretData/readConfigData: a file, or stdin for `-`; empty data is refused. */
async function readData (kind: Kind, file: string | undefined, io: BlobCliIo): Promise<Buffer> {
  const wrap = (why: string): CliError => kind === 'config' ? new CliError(`error reading content from ${JSON.stringify(file ?? '')}: ${why}`) : new CliError(why)
  if (file === undefined || file === '') throw wrap(`${kind} file is required`)
  if (file === '-') {
    const data = await io.readStdin()
    if (data.length === 0) throw wrap('error reading from STDIN: data is empty')
    return data
  }
  let data: Buffer
  try {
    data = await io.readFile(file)
  } catch (e) {
    throw wrap(`error reading from ${file}: ${(e as Error).message}`)
  }
  if (data.length === 0) throw wrap(`error reading from ${file}: data is empty`)
  return data
}

function sinceText (iso: string, nowMs: number): string {
  const t = Date.parse(iso)
  return Number.isNaN(t) ? '' : `${capitalize(humanDuration(Math.max(0, nowMs - t)))} ago`
}

/** Go's time.Time String() for a UTC timestamp (`2025-01-02 03:04:05.6 +0000 UTC`), as `--pretty` prints it. */
export function goTimeString (iso: string): string {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.(\d+))?Z$/.exec(iso)
  if (m === null) return iso
  const frac = (m[3] ?? '').replace(/0+$/, '')
  return `${m[1]!} ${m[2]!}${frac === '' ? '' : `.${frac}`} +0000 UTC`
}

function labelsText (labels: Readonly<Record<string, string>> | null | undefined): string {
  return Object.entries(labels ?? {}).map(([k, v]) => `${k}=${v}`).sort().join(',')
}

/** The fields of docker's secretContext/configContext, as the list shows them. */
function listRow (b: BlobJson, nowMs: number): Record<string, string> {
  return {
    ID: b.ID,
    Name: b.Spec.Name,
    Driver: b.Spec.Driver?.Name ?? '',
    CreatedAt: sinceText(b.CreatedAt, nowMs),
    UpdatedAt: sinceText(b.UpdatedAt, nowMs),
    Labels: labelsText(b.Spec.Labels)
  }
}

const HEADERS: Readonly<Record<string, string>> = { ID: 'ID', Name: 'NAME', Driver: 'DRIVER', CreatedAt: 'CREATED', UpdatedAt: 'UPDATED', Labels: 'LABELS' }

/** docker's secretInspectPrettyTemplate / configInspectPrettyTemplate. */
function pretty (kind: Kind, b: BlobJson): string {
  const labels = Object.entries(b.Spec.Labels ?? {}).sort(([x], [y]) => x < y ? -1 : x > y ? 1 : 0)
  const labelLines = labels.length === 0 ? '' : '\nLabels:' + labels.map(([k, v]) => `\n - ${k}${v === '' ? '' : `=${v}`}`).join('')
  if (kind === 'secret') {
    return `ID:              ${b.ID}\nName:              ${b.Spec.Name}${labelLines}\nDriver:            ${b.Spec.Driver?.Name ?? ''}\n` +
      `Created at:        ${goTimeString(b.CreatedAt)}\nUpdated at:        ${goTimeString(b.UpdatedAt)}\n`
  }
  return `ID:\t\t\t${b.ID}\nName:\t\t\t${b.Spec.Name}${labelLines}\nCreated at:            \t${goTimeString(b.CreatedAt)}\n` +
    `Updated at:            \t${goTimeString(b.UpdatedAt)}\nData:\n${Buffer.from(b.Spec.Data ?? '', 'base64').toString('utf8')}\n`
}

const collect = (v: string, prev: string[]): string[] => [...prev, v]

function addBlobCommands (kind: Kind, program: Command, socket: () => string, out: Out, io: BlobCliIo): void {
  const base = `/${kind}s`
  const group = program.command(kind).description(kind === 'secret' ? 'Manage swarm secrets' : 'Manage swarm configs')

  const create = group.command('create')
    .description(kind === 'secret' ? 'Create a secret from a file or STDIN as content' : 'Create a config from a file or STDIN')
    .argument(`<${kind}>`, `${kind} name`)
  if (kind === 'secret') create.argument('[file]', 'file to read the data from, or - for STDIN')
  else create.argument('<file>', 'file to read the data from, or - for STDIN')
  create
    .option('-l, --label <key=value>', `${kind} labels`, collect, [] as string[])
    .action(async (name: string, file: string | undefined, o: { label: string[] }) => {
      const labels = parseLabels(o.label)
      const data = await readData(kind, file, io)
      const res = (await call(socket(), 'POST', `${base}/create`, { Name: name, Labels: labels, Data: data.toString('base64') })).body as { ID: string }
      out(`${res.ID}\n`)
    })

  group.command('ls')
    .alias('list')
    .description(`List ${kind}s`)
    .option('-q, --quiet', 'only display IDs')
    .option('-f, --filter <key=value>', 'filter: id=, name=, label=', collect, [] as string[])
    .option('--format <format>', 'table (default), json, or a template such as \'{{.ID}}\\t{{.Name}}\'')
    .action(async (o: { quiet?: boolean, filter: string[], format?: string }) => {
      const f = filterArgs(o.filter)
      const q = Object.keys(f).length === 0 ? '' : `?filters=${encodeURIComponent(JSON.stringify(f))}`
      const list = ((await call(socket(), 'GET', `${base}${q}`)).body as BlobJson[]).slice().sort((a, b) => naturalCompare(a.Spec.Name, b.Spec.Name))
      const rows = list.map(b => listRow(b, io.nowMs()))
      if (o.quiet === true && (o.format === undefined || o.format === 'table')) {
        out(rows.map(r => `${r.ID!}\n`).join(''))
        return
      }
      const columns = kind === 'secret' ? ['ID', 'Name', 'Driver', 'CreatedAt', 'UpdatedAt'] : ['ID', 'Name', 'CreatedAt', 'UpdatedAt']
      out(formatList(o.format, columns, HEADERS, rows))
    })

  group.command('inspect')
    .description(`Display detailed information on one or more ${kind}s`)
    .argument(`<${kind}...>`, `${kind} names or IDs`)
    .option('-f, --format <format>', 'format the output using a template, e.g. \'{{.Spec.Name}}\'')
    .option('--pretty', 'print the information in a human friendly format')
    .action(async (refs: string[], o: { format?: string, pretty?: boolean }) => {
      if (o.format !== undefined && o.format.startsWith('pretty') && o.format !== 'pretty') throw new CliError('cannot supply extra formatting options to the pretty template')
      const s = socket()
      const found: BlobJson[] = []
      const errors: string[] = []
      for (const ref of refs) {
        try {
          found.push((await call(s, 'GET', `${base}/${encodeURIComponent(ref)}`)).body as BlobJson)
        } catch (e) {
          if (!(e instanceof CliError)) throw e
          errors.push(e.message)
        }
      }
      if (o.pretty === true || o.format === 'pretty') out(found.map(b => pretty(kind, b)).join(''))
      else out(formatInspect(o.format, found))
      if (errors.length > 0) throw new CliError(errors.join('\n'))
    })

  group.command('rm')
    .alias('remove')
    .description(`Remove one or more ${kind}s`)
    .argument(`<${kind}...>`, `${kind} names or IDs`)
    .action(async (refs: string[]) => {
      const s = socket()
      const errors: string[] = []
      for (const ref of refs) {
        try {
          await call(s, 'DELETE', `${base}/${encodeURIComponent(ref)}`)
          out(`${ref}\n`)
        } catch (e) {
          if (!(e instanceof CliError)) throw e
          errors.push(e.message)
        }
      }
      if (errors.length > 0) throw new CliError(errors.join('\n'))
    })
}

/** `flotilla secret create|ls|inspect|rm`. */
export function addSecretCommands (program: Command, socket: () => string, out: Out, io: BlobCliIo = processBlobIo()): void {
  addBlobCommands('secret', program, socket, out, io)
}

/** `flotilla config create|ls|inspect|rm`. */
export function addConfigCommands (program: Command, socket: () => string, out: Out, io: BlobCliIo = processBlobIo()): void {
  addBlobCommands('config', program, socket, out, io)
}
