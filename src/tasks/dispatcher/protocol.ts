/**
 * The dispatcher session between a node and the leader (SwarmKit's dispatcher Session/Assignments/
 * UpdateTaskStatus/Heartbeat, folded into one long-lived stream). The node opens it with its description;
 * the leader answers with the node's full set of assignments, then sends changes as they commit. The node
 * sends heartbeats and batched task reports. Either side may close it; the node then finds the leader
 * again (gossip hint) and opens a new one, which starts with a full set again.
 */
import { isRecord } from '../../membership/index.js'
import type { NodeDescription } from '../../membership/index.js'
import type { AllocatedPort } from '../allocator/index.js'
import { TASK_STATES, type DesiredState, type TaskState } from '../executor/index.js'
import type { TaskTemplate } from '../orchestrator/index.js'
import type { TaskNetworkAddress, TaskReport } from '../../election/index.js'
import type { NodeNetworkView } from '../executor/network-view.js'
import type { TaskBlob } from '../secrets/task-blobs.js'

export const DISPATCH_PROTOCOL = '/flotilla/dispatch/1.0.0'
/** The largest frame either side sends: a full set of a node's assignments fits with room to spare. */
export const MAX_DISPATCH_FRAME = 16 * 1024 * 1024

/**
 * How often a node sends a heartbeat, and how long the leader waits without hearing one before it marks
 * the node down (Swarm: 5 s period, down after 3 missed periods plus up to 50 % jitter, 13.5–16.5 s).
 * Short here so that a dead node's tasks run elsewhere within a few seconds.
 */
export const HEARTBEAT_PERIOD_MS = 500
export const NODE_DOWN_AFTER_MS = 1800
/**
 * How long a node whose agent said it was stopping (`leaving`) keeps its tasks before it is marked down.
 * Its containers still run; moving them at once would run each task twice until the agent is back, and
 * an agent restart (under load, 2–5 s here) would move every task of the node.
 */
export const AGENT_RESTART_GRACE_MS = 10_000
/**
 * How long a node waits without any frame from the leader (each heartbeat is answered) before it ends
 * the session and looks for the leader again: a leader cut off by a partition that drops packets never
 * closes the connection, and the node must reach the new leader within its grace.
 */
export const LEADER_SILENCE_MS = 2000
/** After winning an election, the leader gives every node this long to open a session before it may mark it down. */
export const LEADER_GRACE_MS = 5000

/** One task assigned to the node: all the node needs to run it (SwarmKit's Assignment of a Task). */
export interface Assignment {
  readonly taskId: string
  readonly serviceId: string
  readonly serviceName: string
  /** The replica's slot; null for a global task. */
  readonly slot: number | null
  readonly desiredState: DesiredState
  /** The task's state in the store: where a node that has no runner for it resumes from. */
  readonly state: TaskState
  readonly spec: TaskTemplate
  readonly ports: readonly AllocatedPort[]
  /** The task's addresses on its networks (absent from leaders that predate networks). */
  readonly networks?: readonly TaskNetworkAddress[]
  /** The data of the secrets (plaintext: the session is encrypted) and configs the container references. */
  readonly secrets?: readonly TaskBlob[]
  readonly configs?: readonly TaskBlob[]
  /** Do not start the container before this time (ms since the epoch, the leader's clock); null: at once. */
  readonly delayUntilMs: number | null
}

/** A task state change the node reports: the store's TaskReport, as the node sends it. */
export type Report = TaskReport

/** Node → leader. */
export type NodeMessage =
  /** `addr`: the node's data-path address (the IP it advertises), where overlay traffic for it goes. */
  | { readonly t: 'open', readonly description: NodeDescription, readonly addr?: string }
  | { readonly t: 'heartbeat' }
  /** The node's description changed (engine up or down, resources). */
  | { readonly t: 'describe', readonly description: NodeDescription }
  | { readonly t: 'status', readonly reports: readonly Report[] }
  /**
   * The node's agent is stopping and leaves its containers running (a restart, an upgrade): the leader
   * keeps its tasks there for AGENT_RESTART_GRACE_MS rather than NODE_DOWN_AFTER_MS before it marks the
   * node down and moves them, as Nomad's heartbeat grace does for a restarting client.
   */
  | { readonly t: 'leaving' }

/** Leader → node. */
export type LeaderMessage =
  /** `full`: `tasks` is the whole set and replaces what the node had; otherwise `tasks` changed and `removed` left the set. */
  | { readonly t: 'assignments', readonly full: boolean, readonly tasks: readonly Assignment[], readonly removed: readonly string[] }
  /** This manager is not (or no longer) the leader; `leaderId` is who it thinks is. */
  | { readonly t: 'not-leader', readonly leaderId: string | null }
  /** The answer to each heartbeat: the leader still hears the node (SwarmKit's Heartbeat response). */
  | { readonly t: 'heartbeat' }
  /** What the node's data plane programs: sent after the first full set of assignments, then whenever it changes. */
  | { readonly t: 'networks', readonly view: NodeNetworkView }

const STATES = new Set<string>(TASK_STATES)

function isDescription (v: unknown): v is NodeDescription {
  return isRecord(v) && typeof v.os === 'string' && typeof v.arch === 'string' && typeof v.nanoCpus === 'number' &&
    typeof v.memoryBytes === 'number' && isRecord(v.engine) && (v.engine.state === 'available' || v.engine.state === 'unavailable')
}

function isReport (v: unknown): v is Report {
  return isRecord(v) && typeof v.id === 'string' && typeof v.state === 'string' && STATES.has(v.state) &&
    typeof v.timestampMs === 'number' && Number.isFinite(v.timestampMs) && typeof v.message === 'string' &&
    (v.err === null || typeof v.err === 'string') && (v.exitCode === null || (typeof v.exitCode === 'number' && Number.isInteger(v.exitCode)))
}

function isNetworkView (v: unknown): v is NodeNetworkView {
  return isRecord(v) && typeof v.vtep === 'string' && Array.isArray(v.networks) && v.networks.every(n =>
    isRecord(n) && typeof n.id === 'string' && typeof n.name === 'string' && typeof n.subnet === 'string' && typeof n.gateway === 'string' &&
    typeof n.vxlanId === 'number' && typeof n.ingress === 'boolean' && Array.isArray(n.peers) && n.peers.every(p => typeof p === 'string') &&
    Array.isArray(n.services) && n.services.every(s => isRecord(s) && typeof s.name === 'string' && Array.isArray(s.tasks) && Array.isArray(s.aliases) && Array.isArray(s.ingressPorts)))
}

/** The largest number of reports one status frame may carry. */
export const MAX_REPORTS_PER_FRAME = 10_000

/** A node's frame, checked field by field (it comes off the network), or null when malformed. */
export function parseNodeMessage (v: unknown): NodeMessage | null {
  if (!isRecord(v)) return null
  switch (v.t) {
    case 'open':
      if (!isDescription(v.description)) return null
      return typeof v.addr === 'string' && v.addr.length <= 64 ? { t: 'open', description: v.description, addr: v.addr } : { t: 'open', description: v.description }
    case 'describe':
      return isDescription(v.description) ? { t: v.t, description: v.description } : null
    case 'heartbeat':
      return { t: 'heartbeat' }
    case 'leaving':
      return { t: 'leaving' }
    case 'status':
      return Array.isArray(v.reports) && v.reports.length <= MAX_REPORTS_PER_FRAME && v.reports.every(isReport)
        ? { t: 'status', reports: v.reports }
        : null
    default:
      return null
  }
}

/** The leader's frame, checked enough for the node to act on it, or null when malformed. */
export function parseLeaderMessage (v: unknown): LeaderMessage | null {
  if (!isRecord(v)) return null
  if (v.t === 'not-leader') return { t: 'not-leader', leaderId: typeof v.leaderId === 'string' ? v.leaderId : null }
  if (v.t === 'heartbeat') return { t: 'heartbeat' }
  if (v.t === 'networks') return isNetworkView(v.view) ? { t: 'networks', view: v.view } : null
  if (v.t !== 'assignments' || typeof v.full !== 'boolean' || !Array.isArray(v.tasks) || !Array.isArray(v.removed)) return null
  if (!v.removed.every(r => typeof r === 'string')) return null
  const ok = v.tasks.every(a => isRecord(a) && typeof a.taskId === 'string' && typeof a.serviceName === 'string' &&
    (a.desiredState === 'running' || a.desiredState === 'shutdown' || a.desiredState === 'remove') &&
    typeof a.state === 'string' && STATES.has(a.state) && isRecord(a.spec) && isRecord(a.spec.ContainerSpec) && Array.isArray(a.ports))
  return ok ? v as unknown as LeaderMessage : null
}

/**
 * One open session, as the node sees it. `send` queues a frame (it never blocks the caller); the link
 * reports each leader frame to the `onMessage` it was opened with and its end to `onClose`, once.
 */
export interface DispatcherLink {
  send(msg: NodeMessage): void
  /** End the session; resolves once what was sent has gone out (bounded), or at once for a local link. */
  close(): Promise<void>
}

export interface LinkHandlers {
  readonly onMessage: (msg: LeaderMessage) => void
  readonly onClose: (reason: string) => void
}

/**
 * Open a session with the current leader: over libp2p to another node, or in-process when this node
 * is the leader. Rejects when no leader is known or reachable (the worker retries).
 */
export type ConnectDispatcher = (handlers: LinkHandlers) => Promise<DispatcherLink>
