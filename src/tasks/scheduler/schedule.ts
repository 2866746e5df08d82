/**
 * One scheduling pass over a batch of pending tasks (SwarmKit's scheduler tick), as a pure function.
 *
 * 1. Node states: each node's capacity minus the reservations of the tasks already placed on it, its
 *    host ports in use, and its task counts per service and overall.
 * 2. Global tasks (those with a nodeId), in input order: the full pipeline on that one node; refused,
 *    the task's message is the bare explanation for that node (`insufficient resources on 1 node`), as
 *    SwarmKit's taskFitNode writes it.
 * 3. Replicated tasks, grouped by spec (service + everything placement reads), groups in service ID
 *    order, each group's tasks in input order: the pipeline runs once per node per group, then the
 *    decision tree places the tasks one by one (see decision-tree.ts). Tasks no node takes get
 *    `no suitable node (<reasons>)`, counted over every node after the group's assignments.
 * Every assignment updates the node state, so later tasks and groups see the reserved capacity, the
 * taken ports and the counts. Ties are broken by label value and node ID: the same input always gives
 * the same output, whatever the order of `nodes` and `placed`.
 */
import { FlotillaError } from '../../membership/errors.js'
import { DecisionTree } from './decision-tree.js'
import { addAssignedTask, addPlacedTask, newNodeState, type NodeState } from './node-state.js'
import { explainRefusal, firstRefusal, noSuitableNode } from './pipeline.js'
import { prepareTask, type PreparedTask } from './prepared-task.js'
import { samePlacement, splitBatch } from './task-groups.js'
import type { Assignment, PlacedTask, ScheduleResult, SchedulerNode, TaskToPlace, Unschedulable } from './types.js'

/**
 * Assign nodes to `tasks`. Throws FlotillaError('invalid-argument') when two nodes or two tasks share
 * an ID (a caller bug that would make the result ambiguous). A task whose constraints do not parse is
 * returned unschedulable with the parse error as its message. Tasks in `placed` on nodes absent from
 * `nodes` are ignored.
 */
export function scheduleBatch (nodes: readonly SchedulerNode[], placed: readonly PlacedTask[], tasks: readonly TaskToPlace[]): ScheduleResult {
  const states = new Map<string, NodeState>()
  for (const node of nodes) {
    if (states.has(node.id)) throw new FlotillaError('invalid-argument', `node ${node.id} is listed twice`)
    states.set(node.id, newNodeState(node))
  }
  for (const task of placed) {
    const state = states.get(task.nodeId)
    if (state !== undefined) addPlacedTask(state, task)
  }

  const { globals, groups } = splitBatch(tasks)
  // Global tasks of one service share a spec and usually come together: reuse the last one prepared.
  let lastGlobal: { task: TaskToPlace, prepared: PreparedTask | FlotillaError } | null = null
  const prepareGlobal = (task: TaskToPlace): PreparedTask | FlotillaError => {
    if (lastGlobal === null || !samePlacement(lastGlobal.task, task)) lastGlobal = { task, prepared: prepare(task) }
    return lastGlobal.prepared
  }

  const assignments: Assignment[] = []
  const unschedulable: Unschedulable[] = []
  for (const task of globals) {
    const p = prepareGlobal(task)
    const nodeId = task.nodeId!
    const state = states.get(nodeId)
    if (p instanceof FlotillaError) {
      unschedulable.push({ taskId: task.id, message: p.message })
    } else if (state === undefined) {
      unschedulable.push({ taskId: task.id, message: `node ${nodeId} not found` })
    } else {
      const refusal = firstRefusal(p, state)
      if (refusal === null) {
        addAssignedTask(state, p)
        assignments.push({ taskId: task.id, nodeId })
      } else {
        unschedulable.push({ taskId: task.id, message: explainRefusal(refusal, 1) })
      }
    }
  }

  for (const group of groups) {
    const p = prepare(group.tasks[0]!)
    if (p instanceof FlotillaError) {
      for (const task of group.tasks) unschedulable.push({ taskId: task.id, message: p.message })
      continue
    }
    const tree = new DecisionTree(p, states.values(), state => firstRefusal(p, state) === null)
    let message: string | null = null
    for (const task of group.tasks) {
      const state = message === null ? tree.place() : null
      if (state !== null) {
        assignments.push({ taskId: task.id, nodeId: state.node.id })
      } else {
        // Nothing changes once the group is stuck, so one explanation holds for all its remaining tasks.
        message ??= noSuitableNode(p, states.values())
        unschedulable.push({ taskId: task.id, message })
      }
    }
  }

  return { assignments, unschedulable }
}

/** The prepared task, or the error that makes every task of its spec unschedulable. */
function prepare (task: TaskToPlace): PreparedTask | FlotillaError {
  try {
    return prepareTask(task)
  } catch (err) {
    if (!(err instanceof FlotillaError)) throw err
    return err
  }
}
