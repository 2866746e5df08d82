/**
 * `service logs` lines as docker prints them: each multiplexed frame's payload is
 * `[<RFC3339Nano> ]com.docker.swarm.node.id=N,com.docker.swarm.service.id=S,com.docker.swarm.task.id=T <text>`,
 * printed as `<service>.<slot|node>.<task12>@<hostname>    | [<time> ]<text>`.
 */

/** Names for the IDs a log line carries; an unknown ID is printed as itself. */
export interface LogNames {
  readonly taskName: (taskId: string) => string | undefined
  readonly hostname: (nodeId: string) => string | undefined
}

const DETAILS = /^(?:(\d{4}-\d\d-\d\dT\S+) )?((?:[\w.]+=[^,\s]*,?)+) (.*)$/s

/** One payload as a printed line (with its newline), or the payload as it is when it carries no details. */
export function formatLogLine (payload: string, names: LogNames): string {
  const m = DETAILS.exec(payload.replace(/\n$/, ''))
  if (m === null) return payload.endsWith('\n') ? payload : `${payload}\n`
  const [, time, details, text] = m
  const kv = new Map(details!.split(',').filter(p => p !== '').map(p => { const i = p.indexOf('='); return [p.slice(0, i), p.slice(i + 1)] as const }))
  const taskId = kv.get('com.docker.swarm.task.id') ?? ''
  const nodeId = kv.get('com.docker.swarm.node.id') ?? ''
  const task = `${names.taskName(taskId) ?? taskId}.${taskId.slice(0, 12)}`
  return `${task}@${names.hostname(nodeId) ?? nodeId}    | ${time !== undefined ? `${time} ` : ''}${text ?? ''}\n`
}
