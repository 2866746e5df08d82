/**
 * Docker's swarm events (moby daemon/events.go, generateClusterEvent) from one committed batch: the
 * StoreEvents of an applied entry and the store's state before and after it. Pure: the caller stamps
 * the time (`timeNano`, the first event's; the others follow 1 ns apart).
 *
 * What is emitted, for the object kinds dockerd reports (service, node, network, secret, config):
 * - `create` / `remove` when the object appears in / disappears from the store, `update` when it is in
 *   both and changed; Attributes hold `name` (the removed object's, for a remove);
 * - on a service update, as dockerd: `image.old/new` (ContainerSpec.Image), `replicas.old/new` (both
 *   replicated), `updatestate.new` (UpdateStatus set) or `updatestate.old/new` (its State changed);
 * - on a node update: `availability.old/new`, `role.old/new` (the spec's role) and `state.old/new`
 *   (Status.State: unknown, ready, down); dockerd's `leader`/`reachability` are Raft's, not the store's;
 * - flotilla's own: Action `reschedule` on a service whose tasks lost with their node (down or removed)
 *   were replaced elsewhere in the batch (SwarmKit emits nothing then). One event per service and lost
 *   node, Attributes `name`, `node` (the lost node's ID), `node.name` (its hostname, when known),
 *   `reason` (`node down` or `node removed`) and `tasks.rescheduled` (how many). Filter with
 *   `--filter event=reschedule`. No other task change makes an event.
 * A `cluster` StoreEvent (init, a snapshot restored) diffs every object map whose identity changed: the
 * store's state is immutable, so an unchanged map is the same object.
 */
import { isTerminal, type NodeObject, type ServiceObject, type StoreEvent, type StoreState, type TaskObject } from '../../election/index.js'

/** Docker's swarm-scoped event types (api/types/events). */
export const EVENT_TYPES = ['service', 'node', 'network', 'secret', 'config'] as const
export type EventType = typeof EVENT_TYPES[number]
export type EventAction = 'create' | 'update' | 'remove' | 'reschedule'

/**
 * One event. `index` (the Raft index of the entry) and `seq` (its position among that entry's events)
 * name it the same on every manager, since every manager applies the same entries: a stream resumed on
 * another manager continues after the last one it delivered.
 */
export interface ClusterEvent {
  readonly type: EventType
  readonly action: EventAction
  readonly id: string
  readonly attributes: Readonly<Record<string, string>>
  readonly index: number
  readonly seq: number
  /** Nanoseconds since the epoch: when this manager applied the entry (its clock). */
  readonly timeNano: bigint
}

/** Where a stream stands: after the event `(index, seq)`. */
export interface EventCursor {
  readonly index: number
  readonly seq: number
}

/** Negative, zero or positive as `a` comes before, at or after `b`. */
export function compareCursor (a: EventCursor, b: EventCursor): number {
  return a.index !== b.index ? a.index - b.index : a.seq - b.seq
}

type Draft = Omit<ClusterEvent, 'index' | 'seq' | 'timeNano'>
interface Named { readonly id: string, readonly version: number }

function action (before: unknown, after: unknown): EventAction {
  return before === undefined ? 'create' : after === undefined ? 'remove' : 'update'
}

/** `<key>.old` / `<key>.new` when the two differ. */
function changed (attrs: Record<string, string>, key: string, oldValue: string, newValue: string): void {
  if (oldValue === newValue) return
  attrs[`${key}.old`] = oldValue
  attrs[`${key}.new`] = newValue
}

function nodeDraft (before: NodeObject | undefined, after: NodeObject | undefined): Draft | null {
  const n = after ?? before
  if (n === undefined) return null
  const attributes: Record<string, string> = { name: n.hostname }
  if (before !== undefined && after !== undefined) {
    changed(attributes, 'availability', before.spec.availability, after.spec.availability)
    changed(attributes, 'role', before.spec.role, after.spec.role)
    changed(attributes, 'state', before.status.state, after.status.state)
  }
  return { type: 'node', action: action(before, after), id: n.id, attributes }
}

function replicas (s: ServiceObject): number | null {
  return 'Replicated' in s.spec.Mode ? s.spec.Mode.Replicated.Replicas : null
}

function serviceDraft (before: ServiceObject | undefined, after: ServiceObject | undefined): Draft | null {
  const s = after ?? before
  if (s === undefined) return null
  const attributes: Record<string, string> = { name: s.name }
  if (before !== undefined && after !== undefined) {
    changed(attributes, 'image', before.spec.TaskTemplate.ContainerSpec.Image, after.spec.TaskTemplate.ContainerSpec.Image)
    const r0 = replicas(before)
    const r1 = replicas(after)
    if (r0 !== null && r1 !== null) changed(attributes, 'replicas', String(r0), String(r1))
    if (after.updateStatus !== null) {
      if (before.updateStatus === null) attributes['updatestate.new'] = after.updateStatus.state
      else changed(attributes, 'updatestate', before.updateStatus.state, after.updateStatus.state)
    }
  }
  return { type: 'service', action: action(before, after), id: s.id, attributes }
}

function namedDraft (type: 'network' | 'secret' | 'config', before: (Named & { readonly name: string }) | undefined, after: (Named & { readonly name: string }) | undefined): Draft | null {
  const o = after ?? before
  if (o === undefined) return null
  return { type, action: action(before, after), id: o.id, attributes: { name: o.name } }
}

/** The object maps an event type reads, and how one object becomes an event. */
function mapsOf (type: EventType, s: StoreState): ReadonlyMap<string, Named> {
  switch (type) {
    case 'service': return s.services
    case 'node': return s.nodes
    case 'network': return s.networks
    case 'secret': return s.secrets
    case 'config': return s.configs
  }
}

function draftOf (type: EventType, before: StoreState, after: StoreState, id: string): Draft | null {
  switch (type) {
    case 'service': return serviceDraft(before.services.get(id), after.services.get(id))
    case 'node': return nodeDraft(before.nodes.get(id), after.nodes.get(id))
    case 'network': return namedDraft('network', before.networks.get(id), after.networks.get(id))
    case 'secret': return namedDraft('secret', before.secrets.get(id), after.secrets.get(id))
    case 'config': return namedDraft('config', before.configs.get(id), after.configs.get(id))
  }
}

/**
 * Whether the object changed. Within an entry, a changed object is a new one; across a restored
 * snapshot every object is new, and only its version (and, for a service, its UpdateStatus, which
 * changes without one) tells.
 */
function objectChanged (type: EventType, b: Named, a: Named, restored: boolean): boolean {
  if (b === a) return false
  if (!restored) return true
  if (b.version !== a.version) return true
  return type === 'service' && (b as ServiceObject).updateStatus?.state !== (a as ServiceObject).updateStatus?.state
}

function storeEventType (e: StoreEvent): EventType | null {
  switch (e.kind) {
    case 'node-added':
    case 'node-updated':
    case 'node-removed': return 'node'
    case 'service':
    case 'network':
    case 'secret':
    case 'config': return e.kind
    case 'cluster':
    case 'task': return null
  }
}

/** Whether the node is lost to the cluster: removed, or not ready (down, or never seen). */
function nodeLost (after: StoreState, nodeId: string): 'node down' | 'node removed' | null {
  const n = after.nodes.get(nodeId)
  if (n === undefined) return 'node removed'
  return n.status.state === 'ready' ? null : 'node down'
}

/** The reschedule events of the batch (see the module comment). */
function reschedules (events: readonly StoreEvent[], before: StoreState, after: StoreState): Draft[] {
  /** Slots given a new task in this batch, per service. */
  const refilled = new Map<string, Set<number>>()
  const stopped: TaskObject[] = []
  for (const e of events) {
    if (e.kind !== 'task') continue
    const b = before.tasks.get(e.id)
    const a = after.tasks.get(e.id)
    if (b === undefined && a !== undefined && a.slot !== null) {
      const slots = refilled.get(a.serviceId) ?? new Set<number>()
      slots.add(a.slot)
      refilled.set(a.serviceId, slots)
    } else if (b !== undefined && a !== undefined && b.desiredState === 'running' && a.desiredState !== 'running' && !isTerminal(b.status.state) && b.nodeId !== null) {
      stopped.push(b)
    }
  }
  const groups = new Map<string, { service: ServiceObject, nodeId: string, reason: string, count: number }>()
  for (const t of stopped) {
    const reason = nodeLost(after, t.nodeId!)
    const service = after.services.get(t.serviceId)
    if (reason === null || service === undefined || t.slot === null || refilled.get(t.serviceId)?.has(t.slot) !== true) continue
    const key = `${t.serviceId}/${t.nodeId!}`
    const g = groups.get(key) ?? { service, nodeId: t.nodeId!, reason, count: 0 }
    g.count++
    groups.set(key, g)
  }
  return [...groups.values()].map(g => {
    const hostname = (after.nodes.get(g.nodeId) ?? before.nodes.get(g.nodeId))?.hostname
    const attributes: Record<string, string> = { name: g.service.name, node: g.nodeId }
    if (hostname !== undefined) attributes['node.name'] = hostname
    attributes.reason = g.reason
    attributes['tasks.rescheduled'] = String(g.count)
    return { type: 'service', action: 'reschedule', id: g.service.id, attributes }
  })
}

/**
 * The Docker events of one applied entry at `after.index`, in the order of its StoreEvents (each
 * object once), reschedules last. `timeNano` stamps the first; each next one is 1 ns later.
 */
export function deriveEvents (events: readonly StoreEvent[], before: StoreState, after: StoreState, timeNano: bigint): ClusterEvent[] {
  const drafts: Draft[] = []
  const seen = new Set<string>()
  const add = (type: EventType, id: string, restored: boolean): void => {
    const key = `${type}/${id}`
    if (seen.has(key)) return
    seen.add(key)
    const b = mapsOf(type, before).get(id)
    const a = mapsOf(type, after).get(id)
    if (b !== undefined && a !== undefined && !objectChanged(type, b, a, restored)) return
    const d = draftOf(type, before, after, id)
    if (d !== null) drafts.push(d)
  }
  for (const e of events) {
    const type = storeEventType(e)
    if (type !== null) { add(type, e.id, false); continue }
    if (e.kind !== 'cluster') continue
    for (const t of EVENT_TYPES) {
      const b = mapsOf(t, before)
      const a = mapsOf(t, after)
      if (b === a) continue
      const restored = after.cluster !== before.cluster && before.cluster !== null
      for (const id of new Set([...b.keys(), ...a.keys()])) add(t, id, restored)
    }
  }
  drafts.push(...reschedules(events, before, after))
  return drafts.map((d, seq) => ({ ...d, index: after.index, seq, timeNano: timeNano + BigInt(seq) }))
}

/** The event as Docker's API writes it (events.Message), `timeNano` exact. */
export function eventLine (e: ClusterEvent): string {
  const head = JSON.stringify({
    Type: e.type,
    Action: e.action,
    Actor: { ID: e.id, Attributes: e.attributes },
    scope: 'swarm',
    time: Number(e.timeNano / 1_000_000_000n)
  })
  // A nanosecond count is past 2^53: JSON.stringify of a number would round it.
  return `${head.slice(0, -1)},"timeNano":${e.timeNano.toString()}}\n`
}
