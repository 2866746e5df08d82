/**
 * Placement preferences as SwarmKit's decision tree (manager/scheduler/nodeset.go, scheduler.go): each
 * spread level splits the nodes by a label's value ("" for nodes without it, so they form a branch of
 * their own), and the leaves hold the nodes that passed the filters. A task goes down the branch with
 * the fewest tasks of the service at each level, then to the leaf's node with the fewest tasks of the
 * service, then the fewest tasks overall. Ties go to the smaller label value and the smaller node ID.
 *
 * Branch counts include the service's tasks on every node, eligible or not, as SwarmKit's do; a
 * branch left with no node that can take the task is removed, and the spread continues over the rest.
 * Without preferences the tree is a single leaf. Every choice is the top of a min-heap, and only the
 * chosen element's count grows, so one placement costs O(levels · log fan-out + log nodes).
 */
import { MinHeap } from './min-heap.js'
import { addAssignedTask, serviceTasks, type NodeState } from './node-state.js'
import { batchRefusal } from './pipeline.js'
import { spreadValue, type PreparedTask } from './prepared-task.js'

interface Candidate {
  readonly state: NodeState
  /** This service's tasks on the node, kept here so the heap order does not go through a Map. */
  serviceTasks: number
}

interface Branch {
  readonly value: string
  /** This service's tasks on all nodes under the branch. */
  serviceTasks: number
  /** Inner branches: the next level's branches. Leaves: null. */
  readonly children: MinHeap<Branch> | null
  /** Leaves: the nodes that may still take the task. Inner branches: null. */
  readonly candidates: MinHeap<Candidate> | null
}

const candidateLess = (a: Candidate, b: Candidate): boolean => {
  if (a.serviceTasks !== b.serviceTasks) return a.serviceTasks < b.serviceTasks
  if (a.state.totalTasks !== b.state.totalTasks) return a.state.totalTasks < b.state.totalTasks
  return a.state.node.id < b.state.node.id
}

const branchLess = (a: Branch, b: Branch): boolean =>
  a.serviceTasks !== b.serviceTasks ? a.serviceTasks < b.serviceTasks : a.value < b.value

/** The tree while it is being built: plain maps and arrays, frozen into heaps by `freeze`. */
interface Draft {
  serviceTasks: number
  readonly next: Map<string, Draft>
  readonly candidates: Candidate[]
}

const newDraft = (): Draft => ({ serviceTasks: 0, next: new Map(), candidates: [] })

// Drops branches with no candidate anywhere below: they can never take a task.
function freeze (draft: Draft, value: string, levelsBelow: number): Branch | null {
  if (levelsBelow === 0) {
    if (draft.candidates.length === 0) return null
    return { value, serviceTasks: draft.serviceTasks, children: null, candidates: new MinHeap(candidateLess, draft.candidates) }
  }
  const children: Branch[] = []
  for (const [childValue, child] of draft.next) {
    const frozen = freeze(child, childValue, levelsBelow - 1)
    if (frozen !== null) children.push(frozen)
  }
  if (children.length === 0) return null
  return { value, serviceTasks: draft.serviceTasks, children: new MinHeap(branchLess, children), candidates: null }
}

/** Places the tasks of one spec group, one at a time, updating the node states it is given. */
export class DecisionTree {
  private readonly root: Branch | null
  private readonly task: PreparedTask

  /** `states`: every node; `eligible`: the ones that pass the full pipeline now. */
  constructor (task: PreparedTask, states: Iterable<NodeState>, eligible: (state: NodeState) => boolean) {
    this.task = task
    const root = newDraft()
    for (const state of states) {
      const count = serviceTasks(state, task.serviceId)
      let draft = root
      for (const level of task.spread) {
        draft.serviceTasks += count
        const value = spreadValue(level, state.node)
        let next = draft.next.get(value)
        if (next === undefined) {
          next = newDraft()
          draft.next.set(value, next)
        }
        draft = next
      }
      draft.serviceTasks += count
      if (eligible(state)) draft.candidates.push({ state, serviceTasks: count })
    }
    this.root = freeze(root, '', task.spread.length)
  }

  /**
   * Choose a node for the next task of the group and count the task on it; null when no node can take
   * it (then none can take any later task of the group either, as assignments only take capacity).
   */
  place (): NodeState | null {
    const path: Branch[] = []
    for (;;) {
      if (this.root === null) return null
      path.length = 0
      let branch = this.root
      while (branch.children !== null) {
        path.push(branch)
        const child = branch.children.peek()
        if (child === undefined) return null
        branch = child
      }
      const candidates = branch.candidates!
      let chosen = candidates.peek()
      while (chosen !== undefined && batchRefusal(this.task, chosen.state) !== null) {
        candidates.pop()
        chosen = candidates.peek()
      }
      if (chosen !== undefined) {
        addAssignedTask(chosen.state, this.task)
        chosen.serviceTasks++
        candidates.topIncreased()
        branch.serviceTasks++
        for (let i = path.length - 1; i >= 0; i--) {
          const parent = path[i]!
          parent.children!.topIncreased()
          parent.serviceTasks++
        }
        return chosen.state
      }
      if (!this.removeExhausted(path)) return null
    }
  }

  // The leaf under the last branch of `path` is empty: remove it, and every ancestor it leaves empty.
  // Returns false when the whole tree is empty.
  private removeExhausted (path: readonly Branch[]): boolean {
    for (let i = path.length - 1; i >= 0; i--) {
      const children = path[i]!.children!
      children.pop()
      if (children.size > 0) return true
    }
    return false
  }
}
