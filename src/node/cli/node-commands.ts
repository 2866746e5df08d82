import type { Command } from 'commander'
import { call, CliError } from './client.js'
import { capitalize, formatTable } from './table.js'

type Out = (s: string) => void

interface NodeObj {
  ID: string
  Spec: { Role: string, Availability: string }
  Description: { Hostname: string, Engine: { EngineVersion: string } }
  Status: { State: string, Message?: string }
  ManagerStatus?: { Leader: boolean, Reachability: string }
}

function managerStatus (n: NodeObj): string {
  if (n.ManagerStatus === undefined) return ''
  if (n.ManagerStatus.Leader) return 'Leader'
  return capitalize(n.ManagerStatus.Reachability)
}

function filtersParam (filters: readonly string[]): string {
  if (filters.length === 0) return ''
  const f: Record<string, Record<string, boolean>> = {}
  for (const kv of filters) {
    const i = kv.indexOf('=')
    if (i <= 0) throw new CliError(`bad format of filter (expected name=value): ${kv}`)
    const k = kv.slice(0, i)
    f[k] = { ...f[k], [kv.slice(i + 1)]: true }
  }
  return `?filters=${encodeURIComponent(JSON.stringify(f))}`
}

/** `flotilla node ls|inspect`, with docker's columns. */
export function addNodeCommands (program: Command, socket: () => string, out: Out): void {
  const node = program.command('node').description('Manage swarm nodes')

  node.command('ls')
    .description('List the nodes of the swarm')
    .option('-q, --quiet', 'only display IDs')
    .option('-f, --filter <k=v>', 'filter: id=, name=, role=', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--format <format>', '`json` for one JSON object per line; default: a table')
    .action(async (o: { quiet?: boolean, filter: string[], format?: string }) => {
      const s = socket()
      const nodes = ((await call(s, 'GET', `/nodes${filtersParam(o.filter)}`)).body as NodeObj[])
        .sort((a, b) => a.Description.Hostname.localeCompare(b.Description.Hostname) || a.ID.localeCompare(b.ID))
      if (o.quiet === true) {
        out(nodes.map(n => `${n.ID}\n`).join(''))
        return
      }
      if (o.format === 'json') {
        out(nodes.map(n => JSON.stringify(n) + '\n').join(''))
        return
      }
      if (o.format !== undefined) throw new CliError(`unsupported --format ${o.format}`, 'use --format json')
      const self = nodes.length === 0 ? '' : ((await call(s, 'GET', '/info')).body as { Swarm: { NodeID: string } }).Swarm.NodeID
      out(formatTable(['ID', 'HOSTNAME', 'STATUS', 'AVAILABILITY', 'MANAGER STATUS', 'ENGINE VERSION'], nodes.map(n => [
        n.ID === self ? `${n.ID} *` : n.ID,
        n.Description.Hostname,
        capitalize(n.Status.State),
        capitalize(n.Spec.Availability),
        managerStatus(n),
        n.Description.Engine.EngineVersion === '' ? 'unavailable' : n.Description.Engine.EngineVersion
      ])))
    })

  node.command('inspect')
    .description('Show one or more nodes in detail (JSON)')
    .argument('<node...>', 'node ID, ID prefix, hostname, or `self`')
    .action(async (refs: string[]) => {
      const s = socket()
      const result: unknown[] = []
      for (const ref of refs) {
        let id = ref
        if (ref === 'self') id = ((await call(s, 'GET', '/info')).body as { Swarm: { NodeID: string } }).Swarm.NodeID
        result.push((await call(s, 'GET', `/nodes/${encodeURIComponent(id)}`)).body)
      }
      out(JSON.stringify(result, null, 4) + '\n')
    })
}
