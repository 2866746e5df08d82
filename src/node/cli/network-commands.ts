import type { Command } from 'commander'
import { call, CliError } from './client.js'
import { formatTable } from './table.js'
import { filterArgs } from './service-commands.js'

type Out = (s: string) => void

interface NetworkObj {
  Id: string
  Name: string
  Driver: string
  Scope: string
}

const collect = (v: string, prev: string[]): string[] => [...prev, v]

/** `KEY=VALUE` pairs (`--label`, `--opt`) as a map; a pair without `=` is a key with an empty value, as docker reads it. */
function pairs (list: readonly string[]): Record<string, string> {
  return Object.fromEntries(list.map(p => { const i = p.indexOf('='); return i < 0 ? [p, ''] : [p.slice(0, i), p.slice(i + 1)] }))
}

/** `flotilla network create|ls|inspect|rm`: the cluster's overlay networks, with docker's flags and columns. */
export function addNetworkCommands (program: Command, socket: () => string, out: Out): void {
  const network = program.command('network').description('Manage overlay networks')

  network.command('create')
    .description('Create an overlay network')
    .argument('<name>')
    .option('-d, --driver <driver>', 'driver (only overlay)', 'overlay')
    .option('--subnet <cidr>', 'the subnet, e.g. 10.0.9.0/24 (default: the next free one of the address pool)')
    .option('--gateway <ip>', 'the gateway, in the subnet')
    .option('--attachable', 'let standalone containers attach')
    .option('--internal', 'no external access')
    .option('--ingress', 'make it the routing mesh\'s network')
    .option('-l, --label <k=v>', 'label (repeatable)', collect, [] as string[])
    .option('-o, --opt <k=v>', 'driver option (repeatable)', collect, [] as string[])
    .action(async (name: string, o: { driver: string, subnet?: string, gateway?: string, attachable?: boolean, internal?: boolean, ingress?: boolean, label: string[], opt: string[] }) => {
      if (o.gateway !== undefined && o.subnet === undefined) throw new CliError('--gateway needs --subnet')
      const res = await call(socket(), 'POST', '/networks/create', {
        Name: name,
        Driver: o.driver,
        Attachable: o.attachable === true,
        Internal: o.internal === true,
        Ingress: o.ingress === true,
        IPAM: { Driver: 'default', Config: o.subnet === undefined ? [] : [{ Subnet: o.subnet, ...(o.gateway === undefined ? {} : { Gateway: o.gateway }) }] },
        Labels: pairs(o.label),
        Options: pairs(o.opt)
      })
      out(`${(res.body as { Id: string }).Id}\n`)
    })

  network.command('ls')
    .description('List the networks')
    .option('-q, --quiet', 'only display IDs')
    .option('-f, --filter <k=v>', 'filter: name=, id=, driver=, scope=, label=', collect, [] as string[])
    .option('--no-trunc', 'show full IDs')
    .action(async (o: { quiet?: boolean, filter: string[], trunc: boolean }) => {
      const q = o.filter.length === 0 ? '' : `?filters=${encodeURIComponent(JSON.stringify(filterArgs(o.filter)))}`
      const nets = (await call(socket(), 'GET', `/networks${q}`)).body as NetworkObj[]
      const id = (n: NetworkObj): string => o.trunc ? n.Id.slice(0, 12) : n.Id
      if (o.quiet === true) {
        out(nets.map(n => `${id(n)}\n`).join(''))
        return
      }
      out(formatTable(['NETWORK ID', 'NAME', 'DRIVER', 'SCOPE'], nets.map(n => [id(n), n.Name, n.Driver, n.Scope])))
    })

  network.command('inspect')
    .description('Show networks in detail (JSON)')
    .argument('<network...>')
    .action(async (refs: string[]) => {
      const s = socket()
      const all: unknown[] = []
      for (const ref of refs) all.push((await call(s, 'GET', `/networks/${encodeURIComponent(ref)}`)).body)
      out(JSON.stringify(all, null, 4) + '\n')
    })

  network.command('rm')
    .alias('remove')
    .description('Remove networks (refused while a service uses one)')
    .argument('<network...>')
    .action(async (refs: string[]) => {
      const s = socket()
      for (const ref of refs) {
        await call(s, 'DELETE', `/networks/${encodeURIComponent(ref)}`)
        out(`${ref}\n`)
      }
    })
}
