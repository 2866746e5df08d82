import { call } from './client.js'
import { taskRows, type ServiceJson, type TaskJson } from './service-format.js'
import { formatTable } from './table.js'

/** `ps` filters as docker sends them: key → value → true. */
export type TaskFilters = Record<string, Record<string, boolean>>

/** What `service ps` and `stack ps` print, as their flags ask. */
export interface TaskListOptions {
  readonly quiet?: boolean
  readonly trunc: boolean
  readonly resolve: boolean
}

/**
 * The tasks of `services` that `filters` select, as docker's `service ps` and `stack ps` print them
 * (one task ID a line when quiet), and how many there were. `node=self` is this node, as docker reads it.
 */
export async function listTasks (socket: string, services: readonly ServiceJson[], filters: TaskFilters, o: TaskListOptions): Promise<{ readonly text: string, readonly count: number }> {
  const f: TaskFilters = { ...filters, service: Object.fromEntries(services.map(x => [x.ID, true])) }
  if (f.node?.self === true) {
    const { self: _self, ...others } = f.node
    f.node = { ...others, [((await call(socket, 'GET', '/info')).body as { Swarm: { NodeID: string } }).Swarm.NodeID]: true }
  }
  const tasks = (await call(socket, 'GET', `/tasks?filters=${encodeURIComponent(JSON.stringify(f))}`)).body as TaskJson[]
  const nodes = o.resolve && tasks.length > 0 ? (await call(socket, 'GET', '/nodes')).body as Array<{ ID: string, Description: { Hostname: string } }> : []
  const rows = taskRows(tasks, {
    serviceNames: new Map(o.resolve ? services.map(x => [x.ID, x.Spec.Name]) : []),
    nodeNames: new Map(nodes.map(n => [n.ID, n.Description.Hostname])),
    nowMs: Date.now(),
    trunc: o.quiet !== true && o.trunc
  })
  const text = o.quiet === true
    ? rows.map(r => `${r[0]!}\n`).join('')
    : formatTable(['ID', 'NAME', 'IMAGE', 'NODE', 'DESIRED STATE', 'CURRENT STATE', 'ERROR', 'PORTS'], rows)
  return { text, count: tasks.length }
}
