/**
 * Pure helpers over the node's assignment set (SwarmKit agent/worker.go's Assign/Update): merging the
 * leader's messages, turning an assignment into a controller's task description, and choosing the state
 * an adopted task resumes from.
 */
import { taskStateRank, type AdoptedTask, type TaskDescription, type TaskState } from '../executor/index.js'
import type { Assignment, LeaderMessage, Report } from '../dispatcher/protocol.js'

export type AssignmentsMessage = Extract<LeaderMessage, { t: 'assignments' }>

/**
 * The set after `msg`: a full set replaces `known` (a task absent from it left the node), an incremental
 * one replaces the tasks it carries and drops those in `removed`. `known` is not modified.
 */
export function applyAssignments (known: ReadonlyMap<string, Assignment>, msg: AssignmentsMessage): Map<string, Assignment> {
  const next = msg.full ? new Map<string, Assignment>() : new Map(known)
  if (!msg.full) for (const id of msg.removed) next.delete(id)
  for (const a of msg.tasks) next.set(a.taskId, a)
  return next
}

/**
 * What the task's controller needs: the container spec, resources, host-mode ports (ingress ones are the
 * routing mesh's, not the engine's) and network addresses of the assignment.
 */
export function taskDescription (nodeId: string, a: Assignment): TaskDescription {
  return {
    taskId: a.taskId,
    serviceId: a.serviceId,
    serviceName: a.serviceName,
    slot: a.slot,
    nodeId,
    spec: a.spec.ContainerSpec,
    ...(a.spec.Resources === undefined ? {} : { resources: a.spec.Resources }),
    ports: a.ports.filter(p => p.PublishMode !== 'ingress').map(p => ({ TargetPort: p.TargetPort, PublishedPort: p.PublishedPort, Protocol: p.Protocol })),
    networks: a.networks ?? [],
    ...(a.secrets === undefined ? {} : { secrets: a.secrets }),
    ...(a.configs === undefined ? {} : { configs: a.configs })
  }
}

/** The further along of two states (Swarm's order); `a` on a tie. */
export function furthest (a: TaskState, b: TaskState): TaskState {
  return taskStateRank(b) > taskStateRank(a) ? b : a
}

/**
 * The state a new runner starts from: the store's, unless the task's adopted container is further along
 * (the agent died before its report reached the store).
 */
export function resumeState (a: Assignment, adopted: AdoptedTask | undefined): TaskState {
  return adopted === undefined ? a.state : furthest(a.state, adopted.observed)
}

/**
 * The report of a state this agent learnt from an adopted container rather than from a runner step;
 * its error reads as taskStep's for the same exit.
 */
export function adoptedReport (adopted: AdoptedTask, timestampMs: number): Report {
  const exit = adopted.exit
  let err: string | null = null
  if (exit !== undefined && exit.exitCode !== 0) err = `task: non-zero exit (${exit.exitCode})${exit.error !== '' ? `: ${exit.error}` : ''}`
  else if (exit !== undefined && exit.error !== '') err = exit.error
  return { id: adopted.taskId, state: adopted.observed, timestampMs, message: 'adopted', err, exitCode: exit?.exitCode ?? null }
}
