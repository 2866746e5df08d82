import type { Command } from 'commander'
import { call, CliError, stream } from './client.js'
import { formatLogLine } from './log-format.js'
import { MuxParser } from '../../tasks/executor/docker/log-frames.js'
import { waitOnService, type ProgressOutput } from './progress.js'
import { waitOnRebalance } from './rebalance-progress.js'
import { serviceMode, serviceRows, type ServiceJson, type TaskJson } from './service-format.js'
import { parseScaleArg } from './service-flags.js'
import { applyUpdateFlags, buildCreateSpec, type CreateFlags, type UpdateFlags } from './service-spec.js'
import { formatTable } from './table.js'
import { listTasks } from './task-list.js'
import { REBALANCE_LABEL } from '../../tasks/index.js'

type Out = (s: string) => void

/** What the service commands need of the process: stderr, the terminal, the environment, Ctrl-C. */
export interface ServiceCliIo {
  readonly err: Out
  /** Whether stdout is a terminal (the progress display redraws in place). */
  readonly isTty: boolean
  /** stdout's width in columns (0 when unknown). */
  readonly columns: number
  /** For `--env KEY` without a value. */
  readonly env: Readonly<Record<string, string | undefined>>
  /** Call `handler` on Ctrl-C until the returned function is called. */
  readonly onInterrupt: (handler: () => void) => () => void
}

function processIo (): ServiceCliIo {
  return {
    err: s => { process.stderr.write(s) },
    isTty: process.stdout.isTTY,
    columns: process.stdout.columns ?? 0,
    env: process.env,
    onInterrupt: handler => {
      process.once('SIGINT', handler)
      return () => { process.off('SIGINT', handler) }
    }
  }
}

const collect = (v: string, prev: string[]): string[] => [...prev, v]

/** `-f key=value` flags as Docker's `filters` JSON (`{"key": {"value": true}}`). */
export function filterArgs (filters: readonly string[]): Record<string, Record<string, boolean>> {
  const f: Record<string, Record<string, boolean>> = {}
  for (const kv of filters) {
    const i = kv.indexOf('=')
    if (i <= 0) throw new CliError(`bad format of filter (expected name=value): ${kv}`)
    const k = kv.slice(0, i)
    f[k] = { ...f[k], [kv.slice(i + 1)]: true }
  }
  return f
}

function filtersQuery (f: Record<string, Record<string, boolean>>): string {
  return Object.keys(f).length === 0 ? '' : `filters=${encodeURIComponent(JSON.stringify(f))}`
}

/** The flags `service create` and `update` share, as docker names them. */
function commonOptions (c: Command): Command {
  return c
    .option('--replicas <n>', 'number of tasks')
    .option('--replicas-max-per-node <n>', 'maximum number of tasks per node (default 0 = unlimited)')
    .option('--reserve-cpu <cpus>', 'reserve CPUs, e.g. 0.5')
    .option('--reserve-memory <bytes>', 'reserve memory, e.g. 64M')
    .option('--limit-cpu <cpus>', 'limit CPUs')
    .option('--limit-memory <bytes>', 'limit memory')
    .option('--restart-condition <condition>', 'restart when condition is met ("none", "on-failure" or "any")')
    .option('--restart-delay <duration>', 'delay between restart attempts (ns|us|ms|s|m|h)')
    .option('--restart-max-attempts <n>', 'maximum number of restarts before giving up')
    .option('--restart-window <duration>', 'window used to evaluate the restart policy (ns|us|ms|s|m|h)')
    .option('-w, --workdir <dir>', 'working directory inside the container')
    .option('-u, --user <user>', 'username or UID (format: <name|uid>[:<group|gid>])')
    .option('--hostname <name>', 'container hostname')
    .option('--stop-signal <signal>', 'signal to stop the container')
    .option('--stop-grace-period <duration>', 'time to wait before force killing a container (ns|us|ms|s|m|h)')
    .option('--update-parallelism <n>', 'maximum number of tasks updated simultaneously (0 to update all at once)')
    .option('--update-delay <duration>', 'delay between updates (ns|us|ms|s|m|h)')
    .option('--update-monitor <duration>', 'duration after each task update to monitor for failure (ns|us|ms|s|m|h) (default 5s)')
    .option('--update-failure-action <action>', 'action on update failure ("pause", "continue" or "rollback")')
    .option('--update-max-failure-ratio <ratio>', 'failure rate to tolerate during an update')
    .option('--update-order <order>', 'update order ("start-first" or "stop-first")')
    .option('--rollback-parallelism <n>', 'maximum number of tasks rolled back simultaneously (0 to roll back all at once)')
    .option('--rollback-delay <duration>', 'delay between task rollbacks (ns|us|ms|s|m|h)')
    .option('--rollback-monitor <duration>', 'duration after each task rollback to monitor for failure (ns|us|ms|s|m|h) (default 5s)')
    .option('--rollback-failure-action <action>', 'action on rollback failure ("pause" or "continue")')
    .option('--rollback-max-failure-ratio <ratio>', 'failure rate to tolerate during a rollback')
    .option('--rollback-order <order>', 'rollback order ("start-first" or "stop-first")')
    .option('--rebalance', `keep the tasks evenly spread over the nodes, moving them one per --update-delay (label ${REBALANCE_LABEL}=true)`)
    .option('-d, --detach', 'exit immediately instead of waiting for the service to converge')
    .option('-q, --quiet', 'suppress progress output')
}

/** `flotilla service create|ls|ps|inspect|scale|update|rollback|rebalance|logs|rm`, with docker's flags, columns and messages. */
export function addServiceCommands (program: Command, socket: () => string, out: Out, io: ServiceCliIo = processIo()): void {
  const service = program.command('service').description('Manage swarm services').enablePositionalOptions()
  const get = (s: string) => async (path: string): Promise<unknown> => (await call(s, 'GET', path)).body

  const wait = async (s: string, ref: string, quiet: boolean): Promise<void> => {
    const output: ProgressOutput = quiet ? { write: () => {}, isTty: false, columns: 0 } : { write: out, isTty: io.isTty, columns: io.columns }
    const abort = new AbortController()
    const off = io.onInterrupt(() => { abort.abort() })
    try {
      await waitOnService(get(s), ref, output, { signal: abort.signal })
    } finally {
      off()
    }
  }

  commonOptions(service.command('create')
    .description('Create a new service')
    .argument('<image>', 'image to run')
    .argument('[command...]', 'command and arguments (the container\'s Args)')
    .passThroughOptions()
    .option('--name <name>', 'service name')
    .option('--mode <mode>', 'service mode ("replicated" or "global")', 'replicated')
    .option('--constraint <expr>', 'placement constraint, e.g. node.labels.zone==eu-1', collect, [] as string[])
    .option('--placement-pref <pref>', 'placement preference, e.g. spread=node.labels.zone', collect, [] as string[])
    .option('-e, --env <KEY=value>', 'set environment variables', collect, [] as string[])
    .option('-l, --label <key=value>', 'service labels', collect, [] as string[])
    .option('--container-label <key=value>', 'container labels', collect, [] as string[])
    .option('-p, --publish <port>', 'publish a port: 8080:80[/udp] (routing mesh, every node) or mode=host,target=80,published=8080[,protocol=udp]', collect, [] as string[])
    .option('--network <network>', 'attach to an overlay network: NAME or name=NAME,alias=ALIAS', collect, [] as string[])
    .option('--endpoint-mode <mode>', 'endpoint mode ("vip" or "dnsrr")'))
    .action(async (image: string, args: string[], o: CreateFlags) => {
      const s = socket()
      const res = (await call(s, 'POST', '/services/create', buildCreateSpec(image, args, o, io.env))).body as { ID: string, Warnings?: string[] | null }
      for (const w of res.Warnings ?? []) io.err(`${w}\n`)
      out(`${res.ID}\n`)
      if (o.detach !== true) await wait(s, res.ID, o.quiet === true)
    })

  service.command('ls')
    .alias('list')
    .description('List services')
    .option('-q, --quiet', 'only display IDs')
    .option('-f, --filter <key=value>', 'filter: id=, name=, label=, mode=', collect, [] as string[])
    .action(async (o: { quiet?: boolean, filter: string[] }) => {
      const query = [o.quiet === true ? '' : 'status=true', filtersQuery(filterArgs(o.filter))].filter(q => q !== '').join('&')
      const services = (await call(socket(), 'GET', `/services${query === '' ? '' : `?${query}`}`)).body as ServiceJson[]
      const rows = serviceRows(services)
      if (o.quiet === true) {
        out(rows.map(r => `${r[0]!}\n`).join(''))
        return
      }
      out(formatTable(['ID', 'NAME', 'MODE', 'REPLICAS', 'IMAGE', 'PORTS'], rows))
    })

  service.command('ps')
    .description('List the tasks of one or more services')
    .argument('<service...>', 'service names, IDs or ID prefixes')
    .option('-q, --quiet', 'only display task IDs')
    .option('--no-trunc', 'do not truncate output')
    .option('--no-resolve', 'do not map IDs to names')
    .option('-f, --filter <key=value>', 'filter: id=, name=, node=, desired-state=', collect, [] as string[])
    .action(async (refs: string[], o: { quiet?: boolean, trunc: boolean, resolve: boolean, filter: string[] }) => {
      const s = socket()
      const services = (await call(s, 'GET', '/services')).body as ServiceJson[]
      const filters = filterArgs(o.filter)
      const notFound: string[] = []
      const ids: Record<string, boolean> = {}
      // Docker's order: full ID, then full name, then a unique ID prefix.
      for (const ref of refs) {
        const match = services.find(x => x.ID === ref) ?? services.find(x => x.Spec.Name === ref)
        const byPrefix = match === undefined ? services.filter(x => x.ID.startsWith(ref)) : [match]
        if (byPrefix.length > 1) throw new CliError(`multiple services found with provided prefix: ${ref}`)
        if (byPrefix.length === 0) notFound.push(`no such service: ${ref}`)
        else ids[byPrefix[0]!.ID] = true
      }
      if (Object.keys(ids).length === 0) throw new CliError(notFound.join('\n'))
      out((await listTasks(s, services.filter(x => ids[x.ID] === true), filters, o)).text)
      if (notFound.length > 0) throw new CliError(notFound.join('\n'))
    })

  service.command('inspect')
    .description('Display detailed information on one or more services (JSON)')
    .argument('<service...>', 'service names, IDs or ID prefixes')
    .action(async (refs: string[]) => {
      const s = socket()
      const result: unknown[] = []
      for (const ref of refs) result.push((await call(s, 'GET', `/services/${encodeURIComponent(ref)}?insertDefaults=false`)).body)
      out(JSON.stringify(result, null, 4) + '\n')
    })

  service.command('scale')
    .description('Scale one or multiple replicated services')
    .argument('<service=replicas...>', 'e.g. web=3 api=5')
    .option('-d, --detach', 'exit immediately instead of waiting for the services to converge')
    .action(async (args: string[], o: { detach?: boolean }) => {
      const s = socket()
      const wanted = args.map(parseScaleArg)
      const scaled: string[] = []
      const errors: string[] = []
      for (const { service: ref, replicas } of wanted) {
        try {
          const svc = (await call(s, 'GET', `/services/${encodeURIComponent(ref)}?insertDefaults=false`)).body as ServiceJson
          if (serviceMode(svc) !== 'replicated') throw new CliError('scale can only be used with replicated mode')
          const spec = { ...svc.Spec, Mode: { Replicated: { ...svc.Spec.Mode.Replicated, Replicas: replicas } } }
          await call(s, 'POST', `/services/${svc.ID}/update?version=${svc.Version.Index}`, spec)
          out(`${ref} scaled to ${replicas}\n`)
          scaled.push(ref)
        } catch (e) {
          errors.push(`${ref}: ${(e as Error).message}`)
        }
      }
      if (o.detach !== true) for (const ref of scaled) await wait(s, ref, false)
      if (errors.length > 0) throw new CliError(errors.join('\n'))
    })

  commonOptions(service.command('update')
    .description('Update a service')
    .argument('<service>', 'service name, ID or ID prefix')
    .option('--image <image>', 'service image tag')
    .option('--force', 'force update even if no changes require it')
    .option('--env-add <KEY=value>', 'add or update an environment variable', collect, [] as string[])
    .option('--env-rm <KEY>', 'remove an environment variable', collect, [] as string[])
    .option('--constraint-add <expr>', 'add or update a placement constraint', collect, [] as string[])
    .option('--constraint-rm <expr>', 'remove a constraint', collect, [] as string[])
    .option('--placement-pref-add <pref>', 'add a placement preference', collect, [] as string[])
    .option('--placement-pref-rm <pref>', 'remove a placement preference', collect, [] as string[])
    .option('--label-add <key=value>', 'add or update a service label', collect, [] as string[])
    .option('--label-rm <key>', 'remove a label by its key', collect, [] as string[])
    .option('--container-label-add <key=value>', 'add or update a container label', collect, [] as string[])
    .option('--container-label-rm <key>', 'remove a container label by its key', collect, [] as string[])
    .option('--publish-add <port>', 'add or update a published port', collect, [] as string[])
    .option('--publish-rm <port>', 'remove a published port by its target port', collect, [] as string[])
    .option('--no-rebalance', 'stop keeping the tasks evenly spread (removes the label)')
    .option('--rollback', 'roll back to the previous specification'))
    .action(async (ref: string, o: UpdateFlags & { rollback?: boolean }) => {
      if (o.rollback === true) {
        await rollback(ref, o)
        return
      }
      const s = socket()
      const svc = (await call(s, 'GET', `/services/${encodeURIComponent(ref)}?insertDefaults=false`)).body as ServiceJson
      const spec = applyUpdateFlags(svc.Spec, o, io.env)
      const res = (await call(s, 'POST', `/services/${svc.ID}/update?version=${svc.Version.Index}`, spec)).body as { Warnings?: string[] | null } | undefined
      for (const w of res?.Warnings ?? []) io.err(`${w}\n`)
      out(`${ref}\n`)
      if (o.detach !== true) await wait(s, ref, o.quiet === true)
    })

  /** docker's `service rollback`: the current spec goes back with `rollback=previous`; the store swaps it for PreviousSpec. */
  const rollback = async (ref: string, o: { detach?: boolean, quiet?: boolean }): Promise<void> => {
    const s = socket()
    const svc = (await call(s, 'GET', `/services/${encodeURIComponent(ref)}?insertDefaults=false`)).body as ServiceJson
    const res = (await call(s, 'POST', `/services/${svc.ID}/update?version=${svc.Version.Index}&rollback=previous`, svc.Spec)).body as { Warnings?: string[] | null } | undefined
    for (const w of res?.Warnings ?? []) io.err(`${w}\n`)
    out(`${ref}\n`)
    if (o.detach !== true) await wait(s, ref, o.quiet === true)
  }

  service.command('rollback')
    .description('Revert changes to a service\'s configuration')
    .argument('<service>', 'service name, ID or ID prefix')
    .option('-d, --detach', 'exit immediately instead of waiting for the service to converge')
    .option('-q, --quiet', 'suppress progress output')
    .action(async (ref: string, o: { detach?: boolean, quiet?: boolean }) => { await rollback(ref, o) })

  service.command('rebalance')
    .description('Spread a replicated service\'s tasks evenly over the nodes, moving one task at a time without dropping below its replica count')
    .argument('<service>', 'service name, ID or ID prefix')
    .option('-d, --detach', 'exit immediately instead of waiting for the rebalance to finish')
    .option('-q, --quiet', 'suppress progress output')
    .action(async (ref: string, o: { detach?: boolean, quiet?: boolean }) => {
      const s = socket()
      const { ID } = (await call(s, 'POST', `/services/${encodeURIComponent(ref)}/rebalance`)).body as { ID: string }
      out(`${ref}\n`)
      if (o.detach === true) return
      const output: ProgressOutput = o.quiet === true ? { write: () => {}, isTty: false, columns: 0 } : { write: out, isTty: io.isTty, columns: io.columns }
      const abort = new AbortController()
      const off = io.onInterrupt(() => { abort.abort() })
      try {
        await waitOnRebalance(get(s), ID, ref, output, { signal: abort.signal })
      } finally {
        off()
      }
    })

  service.command('logs')
    .description('Fetch the logs of a service or task')
    .argument('<service|task>', 'service name, ID or ID prefix, or task ID')
    .option('-f, --follow', 'follow log output')
    .option('-n, --tail <lines>', 'number of lines to show from the end of the logs', 'all')
    .option('-t, --timestamps', 'show timestamps')
    .action(async (ref: string, o: { follow?: boolean, tail: string, timestamps?: boolean }) => {
      const s = socket()
      if (o.tail !== 'all' && !/^\d+$/.test(o.tail)) throw new CliError(`invalid --tail ${o.tail}: give a number of lines or "all"`)
      let path: string
      let serviceId: string
      try {
        serviceId = ((await call(s, 'GET', `/services/${encodeURIComponent(ref)}`)).body as { ID: string }).ID
        path = `/services/${serviceId}/logs`
      } catch (e) {
        const task = await call(s, 'GET', `/tasks/${encodeURIComponent(ref)}`).catch(() => { throw e })
        serviceId = (task.body as { ServiceID: string }).ServiceID
        path = `/tasks/${(task.body as { ID: string }).ID}/logs`
      }
      const service = (await call(s, 'GET', `/services/${serviceId}`)).body as ServiceJson
      const hostnames = new Map(((await call(s, 'GET', '/nodes')).body as Array<{ ID: string, Description: { Hostname: string } }>).map(n => [n.ID, n.Description.Hostname]))
      const taskNames = new Map<string, string>()
      const loadTasks = async (): Promise<void> => {
        const filters = encodeURIComponent(JSON.stringify({ service: [serviceId] }))
        for (const t of (await call(s, 'GET', `/tasks?filters=${filters}`)).body as TaskJson[]) {
          taskNames.set(t.ID, `${service.Spec.Name}.${t.Slot !== undefined ? String(t.Slot) : t.NodeID ?? ''}`)
        }
      }
      await loadTasks()
      let reloaded = 0
      const query = `?details=1&stdout=1&stderr=1&tail=${o.tail}${o.follow === true ? '&follow=1' : ''}${o.timestamps === true ? '&timestamps=1' : ''}`
      const parser = new MuxParser()
      const abort = new AbortController()
      const off = io.onInterrupt(() => { abort.abort() })
      try {
        await stream(s, path + query, chunk => {
          for (const f of parser.push(chunk)) {
            const text = f.payload.toString('utf8')
            const taskId = /com\.docker\.swarm\.task\.id=([0-9a-z]+)/.exec(text)?.[1]
            // A task started since (a follow through a scale-up): learn its name, at most once a second.
            if (taskId !== undefined && !taskNames.has(taskId) && Date.now() - reloaded > 1000) {
              reloaded = Date.now()
              void loadTasks().catch(() => {})
            }
            const line = formatLogLine(text, { taskName: id => taskNames.get(id), hostname: id => hostnames.get(id) })
            if (f.stream === 2) io.err(line)
            else out(line)
          }
        }, abort.signal)
      } finally {
        off()
      }
    })

  service.command('rm')
    .alias('remove')
    .description('Remove one or more services')
    .argument('<service...>', 'service names, IDs or ID prefixes')
    .action(async (refs: string[]) => {
      const s = socket()
      const errors: string[] = []
      for (const ref of refs) {
        try {
          await call(s, 'DELETE', `/services/${encodeURIComponent(ref)}`)
          out(`${ref}\n`)
        } catch (e) {
          errors.push((e as Error).message)
        }
      }
      if (errors.length > 0) throw new CliError(errors.join('\n'))
    })
}
