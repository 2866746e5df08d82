import type { MemberChange, MemberEvent, MemberTable } from './member-table.js'
import type { SignedView } from './swim-claims.js'
import type { MemberState, SwimEvent, SwimMember } from './swim/index.js'

/** What the mapping reads of SWIM: a member as the core holds it, and a member's checked view. */
export interface SwimSource {
  readonly member: (node: string) => SwimMember | undefined
  readonly viewOf: (node: string, meta: Uint8Array, mv: number) => SignedView | null
}

function liveness (state: MemberState | undefined): MemberChange['liveness'] {
  switch (state) {
    case 'alive': return 'ready'
    case 'suspect': return 'suspect'
    case 'dead':
    case 'left': return 'down'
    case undefined: return undefined
  }
}

/**
 * Apply SWIM's events to the member table, in order: alive → ready, suspect → suspect, dead → down,
 * left → down and left; a view (with an alive, or on its own as `meta`) updates what the member shows.
 * A member enters the table with its first view. Returns the table's events.
 */
export function applySwimEvents (table: MemberTable, events: readonly SwimEvent[], swim: SwimSource, nowMs: number): MemberEvent[] {
  const out: MemberEvent[] = []
  for (const e of events) {
    const m = swim.member(e.node)
    const viewOf = (meta: Uint8Array | null): SignedView | undefined =>
      meta === null || m === undefined ? undefined : (swim.viewOf(e.node, meta, m.metaVersion) ?? undefined)
    let change: MemberChange
    switch (e.kind) {
      case 'alive': change = { view: viewOf(e.meta), liveness: 'ready', incarnation: e.incarnation }; break
      case 'suspect': change = { liveness: 'suspect', incarnation: e.incarnation }; break
      case 'dead': change = { liveness: 'down', incarnation: e.incarnation }; break
      case 'left': change = { liveness: 'down', left: true, incarnation: e.incarnation }; break
      case 'meta': change = { view: viewOf(e.meta), liveness: liveness(m?.state), incarnation: e.incarnation }; break
    }
    out.push(...table.update(e.node, change, nowMs))
  }
  return out
}
