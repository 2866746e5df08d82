import { ProgressLines, pause, type Get, type ProgressOutput, type WaitOptions } from './progress.js'
import type { ServiceJson, TaskJson } from './service-format.js'

/**
 * The display of `flotilla service rebalance` without --detach: every 200 ms it reads the service and
 * its tasks meant to run, and shows one line per node with the tasks running there (`node-2: 1 task`),
 * until the orchestrator clears the request (the service's `Rebalance` field), then `verify: Service
 * <ref> rebalanced`. An abort (Ctrl-C) ends it with "Operation continuing in background."
 */
export async function waitOnRebalance (get: Get, id: string, ref: string, out: ProgressOutput, o: WaitOptions = {}): Promise<void> {
  const lines = new ProgressLines(out)
  const pollMs = o.pollMs ?? 200
  const filters = encodeURIComponent(JSON.stringify({ service: { [id]: true }, 'desired-state': { running: true } }))
  for (;;) {
    const service = await get(`/services/${encodeURIComponent(id)}`) as ServiceJson & { Rebalance?: unknown }
    const tasks = await get(`/tasks?filters=${filters}`) as TaskJson[]
    const nodes = await get('/nodes') as Array<{ ID: string, Description: { Hostname: string } }>
    const hostnames = new Map(nodes.map(n => [n.ID, n.Description.Hostname]))
    const running = new Map<string, number>()
    for (const n of nodes) running.set(n.Description.Hostname, 0)
    for (const t of tasks) {
      if (t.Status.State !== 'running' || t.NodeID === undefined) continue
      const host = hostnames.get(t.NodeID) ?? t.NodeID
      running.set(host, (running.get(host) ?? 0) + 1)
    }
    for (const [host, n] of [...running].sort((a, b) => a[0].localeCompare(b[0]))) lines.set(host, `${n} task${n === 1 ? '' : 's'}`)
    if (service.Rebalance === undefined) {
      lines.set('verify', `Service ${ref} rebalanced`)
      return
    }
    await pause(pollMs, o.signal)
    if (o.signal?.aborted === true) {
      lines.message('Operation continuing in background.')
      lines.message(`Use \`${o.cliName ?? 'flotilla'} service ps ${ref}\` to check progress.`)
      return
    }
  }
}
