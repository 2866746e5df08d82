import type { Command } from 'commander'
import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { call, CliError } from './client.js'
import { processBlobIo } from './secret-commands.js'
import { filterArgs } from './service-commands.js'
import { serviceRows, type ServiceJson } from './service-format.js'
import { listTasks } from './task-list.js'
import { formatList } from './template-format.js'
import type { Environment, ReadFile } from './stack/compose-types.js'
import { convertStack, LABEL_NAMESPACE, validateStackName } from './stack/convert.js'
import { loadCompose, type ComposeSource } from './stack/load.js'
import {
  planDeploy, planRemove, resolveReferences, stackSummaries, type BlobSummary, type ClusterView, type NetworkSummary, type ResolveImage, type ServiceSummary
} from './stack/plan.js'

/**
 * `flotilla stack deploy|ls|services|ps|rm`: docker's swarm stacks, done client-side as docker's CLI
 * does them (docker/cli cli/command/stack): the Compose files are loaded, validated and converted
 * first (src/node/cli/stack), the cluster's objects listed and the deploy planned, and only then is
 * anything written — so a refused file, a missing external object or a taken name changes nothing.
 */

type Out = (s: string) => void

/** What the stack commands need of the process. */
export interface StackCliIo {
  readonly err: Out
  /** For variable substitution and `environment: [KEY]`. */
  readonly env: Environment
  /** Where `-c -` (stdin) takes relative paths from. */
  readonly cwd: string
  readonly readStdin: () => Promise<Buffer>
  /** Compose files, env files, secret and config files. */
  readonly readFile: ReadFile
}

function processIo (): StackCliIo {
  const blob = processBlobIo()
  return { err: blob.err, env: process.env, cwd: process.cwd(), readStdin: blob.readStdin, readFile: p => readFileSync(p) }
}

const collect = (v: string, prev: string[]): string[] => [...prev, v]

function stackFilter (namespace: string | null, extra: Record<string, Record<string, boolean>> = {}): string {
  const label = namespace === null ? LABEL_NAMESPACE : `${LABEL_NAMESPACE}=${namespace}`
  return encodeURIComponent(JSON.stringify({ ...extra, label: { ...extra.label, [label]: true } }))
}

const RESOLVE_IMAGE: readonly ResolveImage[] = ['always', 'changed', 'never']

/** `flotilla stack ...`. */
export function addStackCommands (program: Command, socket: () => string, out: Out, io: StackCliIo = processIo()): void {
  const stack = program.command('stack').description('Manage swarm stacks')
  const get = async <T>(s: string, path: string): Promise<T> => (await call(s, 'GET', path)).body as T

  /** Read the `-c` files (`-` once, from stdin), in order; the working directory is the first file's (docker's rule). */
  const readSources = async (files: readonly string[]): Promise<{ sources: ComposeSource[], workingDir: string }> => {
    const sources: ComposeSource[] = []
    for (const f of files) {
      if (f === '-') {
        sources.push({ filename: '-', text: (await io.readStdin()).toString('utf8') })
        continue
      }
      const abs = resolve(io.cwd, f)
      let text: string
      try {
        text = io.readFile(abs).toString('utf8')
      } catch (e) {
        throw new CliError(`cannot read Compose file ${f}: ${(e as Error).message}`)
      }
      sources.push({ filename: f, text })
    }
    const first = files[0]
    return { sources, workingDir: first === undefined || first === '-' ? io.cwd : dirname(resolve(io.cwd, first)) }
  }

  stack.command('deploy')
    .alias('up')
    .description('Deploy a new stack or update an existing stack')
    .argument('<stack>', 'stack name')
    .option('-c, --compose-file <file>', 'path to a Compose file, or "-" to read from stdin (repeatable, or comma-separated)', collect, [] as string[])
    .option('--prune', 'prune services that are no longer referenced')
    .option('--resolve-image <when>', 'keep the running image when the file names the same one: "always" sends the file\'s image each time (docker\'s default), "changed" or "never" keep it', 'always')
    .action(async (namespace: string, o: { composeFile: string[], prune?: boolean, resolveImage: string }) => {
      validateStackName(namespace)
      if (!(RESOLVE_IMAGE as readonly string[]).includes(o.resolveImage)) throw new CliError(`invalid option ${o.resolveImage} for flag --resolve-image`)
      const files = o.composeFile.flatMap(f => f.split(',')).filter(f => f !== '')
      if (files.length === 0) throw new CliError('specify a Compose file (with --compose-file)')
      const { sources, workingDir } = await readSources(files)
      const objects = convertStack(namespace, loadCompose(sources, { workingDir, env: io.env, readFile: io.readFile }), io.readFile)

      const s = socket()
      const needSecrets = objects.secrets.length + objects.externalSecrets.length > 0
      const needConfigs = objects.configs.length + objects.externalConfigs.length > 0
      const view: ClusterView = {
        services: await get<ServiceSummary[]>(s, '/services'),
        networks: await get<NetworkSummary[]>(s, '/networks'),
        secrets: needSecrets ? await get<BlobSummary[]>(s, '/secrets') : [],
        configs: needConfigs ? await get<BlobSummary[]>(s, '/configs') : []
      }
      const plan = planDeploy(objects, view, { prune: o.prune === true, resolveImage: o.resolveImage as ResolveImage })
      for (const w of plan.warnings) io.err(`${w}\n`)

      for (const p of plan.prune) {
        out(`Removing service ${p.name}\n`)
        try {
          await call(s, 'DELETE', `/services/${p.id}`)
        } catch (e) {
          if (!(e instanceof CliError)) throw e
          io.err(`Failed to remove service ${p.id}: ${e.message}\n`)
        }
      }
      const step = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
        try {
          return await f()
        } catch (e) {
          if (!(e instanceof CliError)) throw e
          throw new CliError(`failed to ${what}: ${e.message}`, e.hint)
        }
      }
      for (const n of plan.createNetworks) {
        out(`Creating network ${n.name}\n`)
        await step(`create network ${n.name}`, async () => await call(s, 'POST', '/networks/create', n.body))
      }
      const secretIds = new Map(plan.secretIds)
      const configIds = new Map(plan.configIds)
      for (const [kind, updates, creates, ids] of [
        ['secret', plan.updateSecrets, plan.createSecrets, secretIds],
        ['config', plan.updateConfigs, plan.createConfigs, configIds]
      ] as const) {
        for (const u of updates) {
          await step(`update ${kind} ${u.name}`, async () => await call(s, 'POST', `/${kind}s/${u.id}/update?version=${u.version}`, { Name: u.name, Labels: u.labels }))
        }
        for (const c of creates) {
          out(`Creating ${kind} ${c.name}\n`)
          const res = await step(`create ${kind} ${c.name}`, async () => await call(s, 'POST', `/${kind}s/create`, { Name: c.name, Labels: c.labels, Data: c.data.toString('base64') }))
          ids.set(c.name, (res.body as { ID: string }).ID)
        }
      }
      for (const a of plan.services) {
        const spec = resolveReferences(a.spec, secretIds, configIds)
        let res
        if (a.action === 'create') {
          out(`Creating service ${a.name}\n`)
          res = await step(`create service ${a.name}`, async () => await call(s, 'POST', '/services/create', spec))
        } else {
          out(`Updating service ${a.name} (id: ${a.id})\n`)
          res = await step(`update service ${a.name}`, async () => await call(s, 'POST', `/services/${a.id}/update?version=${a.version}`, spec))
        }
        for (const w of (res.body as { Warnings?: string[] | null } | undefined)?.Warnings ?? []) io.err(`${w}\n`)
      }
    })

  stack.command('ls')
    .alias('list')
    .description('List stacks')
    .option('--format <format>', 'table (default), json, or a template such as \'{{.Name}}\'')
    .action(async (o: { format?: string }) => {
      const services = await get<ServiceSummary[]>(socket(), `/services?filters=${stackFilter(null)}`)
      const rows = stackSummaries(services).map(x => ({ Name: x.name, Services: String(x.services) }))
      out(formatList(o.format, ['Name', 'Services'], { Name: 'NAME', Services: 'SERVICES' }, rows))
    })

  stack.command('services')
    .description('List the services in the stack')
    .argument('<stack>', 'stack name')
    .option('-q, --quiet', 'only display IDs')
    .option('-f, --filter <key=value>', 'filter: id=, name=, label=, mode=', collect, [] as string[])
    .option('--format <format>', 'table (default), json, or a template such as \'{{.Name}}\'')
    .action(async (namespace: string, o: { quiet?: boolean, filter: string[], format?: string }) => {
      validateStackName(namespace)
      const query = `filters=${stackFilter(namespace, filterArgs(o.filter))}${o.quiet === true ? '' : '&status=true'}`
      const services = await get<ServiceJson[]>(socket(), `/services?${query}`)
      if (services.length === 0) {
        io.err(`Nothing found in stack: ${namespace}\n`)
        return
      }
      const rows = serviceRows(services)
      if (o.quiet === true && (o.format === undefined || o.format === 'table')) {
        out(rows.map(r => `${r[0]!}\n`).join(''))
        return
      }
      const fields = ['ID', 'Name', 'Mode', 'Replicas', 'Image', 'Ports']
      out(formatList(o.format, fields, { ID: 'ID', Name: 'NAME', Mode: 'MODE', Replicas: 'REPLICAS', Image: 'IMAGE', Ports: 'PORTS' },
        rows.map(r => Object.fromEntries(fields.map((f, i) => [f, r[i] ?? ''])))))
    })

  stack.command('ps')
    .description('List the tasks in the stack')
    .argument('<stack>', 'stack name')
    .option('-q, --quiet', 'only display task IDs')
    .option('--no-trunc', 'do not truncate output')
    .option('--no-resolve', 'do not map IDs to names')
    .option('-f, --filter <key=value>', 'filter: id=, name=, node=, desired-state=', collect, [] as string[])
    .action(async (namespace: string, o: { quiet?: boolean, trunc: boolean, resolve: boolean, filter: string[] }) => {
      validateStackName(namespace)
      const s = socket()
      const services = await get<ServiceJson[]>(s, `/services?filters=${stackFilter(namespace)}`)
      if (services.length === 0) throw new CliError(`nothing found in stack: ${namespace}`)
      // The stack's tasks are its services' tasks (docker filters tasks by the label; flotilla's tasks carry none).
      const { text, count } = await listTasks(s, services, filterArgs(o.filter), o)
      if (count === 0) throw new CliError(`nothing found in stack: ${namespace}`)
      out(text)
    })

  stack.command('rm')
    .aliases(['remove', 'down'])
    .description('Remove one or more stacks')
    .argument('<stack...>', 'stack names')
    .action(async (namespaces: string[]) => {
      for (const ns of namespaces) validateStackName(ns)
      const s = socket()
      const errors: string[] = []
      for (const ns of namespaces) {
        const q = `?filters=${stackFilter(ns)}`
        const view: ClusterView = {
          services: await get<ServiceSummary[]>(s, `/services${q}`),
          networks: await get<NetworkSummary[]>(s, `/networks${q}`),
          secrets: await get<BlobSummary[]>(s, `/secrets${q}`),
          configs: await get<BlobSummary[]>(s, `/configs${q}`)
        }
        const plan = planRemove(ns, view)
        if (plan.services.length + plan.secrets.length + plan.configs.length + plan.networks.length === 0) {
          io.err(`Nothing found in stack: ${ns}\n`)
          continue
        }
        let failed = false
        for (const [kind, list, path] of [
          ['service', plan.services, '/services'], ['secret', plan.secrets, '/secrets'], ['config', plan.configs, '/configs'], ['network', plan.networks, '/networks']
        ] as const) {
          for (const x of list) {
            out(`Removing ${kind} ${x.name}\n`)
            try {
              await call(s, 'DELETE', `${path}/${x.id}`)
            } catch (e) {
              if (!(e instanceof CliError)) throw e
              failed = true
              io.err(`Failed to remove ${kind} ${x.id}: ${e.message}\n`)
            }
          }
        }
        if (failed) errors.push(`failed to remove some resources from stack: ${ns}`)
      }
      if (errors.length > 0) throw new CliError(errors.join('\n'))
    })
}
