import type { Command } from 'commander'
import { call, CliError } from './client.js'
import { capitalize, formatTable } from './table.js'
import { filterArgs } from './service-commands.js'

type Out = (s: string) => void

interface NodeObj {
  ID: string
  Version: { Index: number }
  Spec: { Role: string, Availability: string, Labels?: Record<string, string> }
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
  return filters.length === 0 ? '' : `?filters=${encodeURIComponent(JSON.stringify(filterArgs(filters)))}`
}

/** Read node `ref`, change its spec with `change`, and write it back at the version read (docker's way). */
async function updateNode (socket: string, ref: string, change: (spec: NodeObj['Spec']) => NodeObj['Spec']): Promise<void> {
  const node = (await call(socket, 'GET', `/nodes/${encodeURIComponent(ref)}`)).body as NodeObj
  const spec = change({ ...node.Spec, Labels: { ...node.Spec.Labels } })
  await call(socket, 'POST', `/nodes/${node.ID}/update?version=${node.Version.Index}`, spec)
}

/** `flotilla node ls|inspect|update|promote|demote|rm`, with docker's columns and messages. */
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

  node.command('update')
    .description('Update a node: availability, role, labels')
    .option('--availability <active|pause|drain>', 'availability of the node')
    .option('--role <worker|manager>', 'role of the node')
    .option('--label-add <key=value>', 'add or update a node label', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--label-rm <key>', 'remove a node label', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .argument('<node>', 'node ID, ID prefix or hostname')
    .action(async (ref: string, o: { availability?: string, role?: string, labelAdd: string[], labelRm: string[] }) => {
      await updateNode(socket(), ref, spec => {
        const labels = { ...spec.Labels }
        for (const kv of o.labelAdd) {
          const i = kv.indexOf('=')
          labels[i < 0 ? kv : kv.slice(0, i)] = i < 0 ? '' : kv.slice(i + 1)
        }
        for (const k of o.labelRm) delete labels[k]
        return { Role: o.role ?? spec.Role, Availability: o.availability ?? spec.Availability, Labels: labels }
      })
      out(`${ref}\n`)
    })

  for (const [verb, role] of [['promote', 'manager'], ['demote', 'worker']] as const) {
    node.command(verb)
      .description(`${verb === 'promote' ? 'Promote nodes to managers' : 'Demote managers to workers'}`)
      .argument('<node...>', 'node IDs, ID prefixes or hostnames')
      .action(async (refs: string[]) => {
        const s = socket()
        for (const ref of refs) {
          const current = (await call(s, 'GET', `/nodes/${encodeURIComponent(ref)}`)).body as NodeObj
          if (current.Spec.Role === role) {
            out(`Node ${ref} is already a ${role}.\n`)
            continue
          }
          await updateNode(s, ref, spec => ({ ...spec, Role: role }))
          out(`${verb === 'promote' ? 'Node ' + ref + ' promoted to a manager in the swarm.' : 'Manager ' + ref + ' demoted in the swarm.'}\n`)
        }
      })
  }

  node.command('rm')
    .description('Remove nodes from the swarm; their certificates are refused from then on')
    .option('-f, --force', 'remove a node that is not down, or a manager')
    .argument('<node...>', 'node IDs, ID prefixes or hostnames')
    .action(async (refs: string[], o: { force?: boolean }) => {
      const s = socket()
      for (const ref of refs) {
        await call(s, 'DELETE', `/nodes/${encodeURIComponent(ref)}${o.force === true ? '?force=true' : ''}`)
        out(`${ref}\n`)
      }
    })
}
