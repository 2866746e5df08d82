import { beforeAll, describe, expect, it } from 'vitest'
import { MemberTable, type KnownMember, type MemberEvent } from '../../../src/membership/member-table.js'
import { openView, type SignedView } from '../../../src/membership/swim-claims.js'
import { applySwimEvents, type SwimSource } from '../../../src/membership/swim-members.js'
import type { MemberState, SwimEvent, SwimMember } from '../../../src/membership/swim/index.js'
import { testCluster, viewOf, type TestCluster, type TestNode } from './swim-fixture.js'

function kinds (events: readonly MemberEvent[]): string[] {
  return events.map(e => `${e.kind} ${e.member.hostname}`)
}

/**
 * The member table as SWIM drives it (swim-members.ts): alive → ready, suspect → suspect, dead → down,
 * left → down and left; a member is listed from its first view on.
 */
describe('member table under SWIM', () => {
  let c: TestCluster
  let self: TestNode
  let b: TestNode

  beforeAll(async () => {
    c = await testCluster(2)
    ;[self, b] = c.nodes as [TestNode, TestNode]
  })

  /** A SWIM stand-in: the core's state for b, and b's views opened as the driver does. */
  function source (state: MemberState, mv: number): SwimSource {
    const member = (node: string): SwimMember | undefined =>
      node === b.nodeId ? { node, state, incarnation: mv, metaVersion: mv, meta: null, changedAtMs: 0 } : undefined
    return { member, viewOf: (node, meta, v) => openView(meta, c.trust, node, v) }
  }

  function alive (mv: number, meta = true, leaderId = ''): SwimEvent {
    return { kind: 'alive', node: b.nodeId, incarnation: mv, meta: meta ? b.signer.sealView(mv, b.cert, viewOf('node-2', leaderId)) : null, atMs: 0 }
  }

  function table (): MemberTable {
    const t = new MemberTable(self.nodeId)
    const v: SignedView = { certificate: self.cert, claims: openView(self.signer.sealView(1, self.cert, self.view), c.trust, self.nodeId, 1).claims, view: self.view, mv: 1 }
    t.setSelf(v, 1, 0)
    return t
  }

  it('lists a member from its first view, with the certificate\'s identity and the view\'s fields', () => {
    const t = table()
    expect(applySwimEvents(t, [alive(3, false)], source('alive', 3), 10)).toEqual([])
    expect(t.get(b.nodeId)).toBeUndefined()
    expect(kinds(applySwimEvents(t, [alive(3)], source('alive', 3), 20))).toEqual(['joined node-2'])
    expect(t.get(b.nodeId)).toMatchObject({
      peerId: b.peerId, role: 'worker', hostname: 'node-2', addrs: ['/ip4/127.0.0.1/tcp/4242'], liveness: 'ready', incarnation: 3, seq: 3,
      createdAtMs: 1_700_000_000_000, updatedAtMs: 20, left: false
    })
    expect(t.byPeerId(b.peerId)?.nodeId).toBe(b.nodeId)
    expect(t.list().map(m => m.nodeId).sort()).toEqual([self.nodeId, b.nodeId].sort())
  })

  it('maps suspect, dead, a return and a leave', () => {
    const t = table()
    applySwimEvents(t, [alive(1)], source('alive', 1), 0)
    const ev = (e: SwimEvent): string[] => kinds(applySwimEvents(t, [e], source('alive', e.incarnation), 1))
    expect(ev({ kind: 'suspect', node: b.nodeId, incarnation: 1, from: self.nodeId, atMs: 0 })).toEqual(['suspect node-2'])
    expect(t.get(b.nodeId)?.liveness).toBe('suspect')
    expect(ev(alive(2, false))).toEqual([]) // a refutation: back to ready, no event (as a heartbeat was)
    expect(t.get(b.nodeId)?.liveness).toBe('ready')
    expect(ev({ kind: 'dead', node: b.nodeId, incarnation: 2, from: self.nodeId, atMs: 0 })).toEqual(['down node-2'])
    expect(ev(alive(3))).toEqual(['up node-2'])
    expect(ev({ kind: 'left', node: b.nodeId, incarnation: 3, atMs: 0 })).toEqual(['left node-2'])
    expect(t.get(b.nodeId)).toMatchObject({ liveness: 'down', left: true })
    expect(t.known().find(k => k.nodeId === b.nodeId)?.left).toBe(true)
  })

  it('takes a new view (a new leader) without a liveness event, and shows it', () => {
    const t = table()
    applySwimEvents(t, [alive(1)], source('alive', 1), 0)
    const before = t.get(b.nodeId)!.version
    const meta = b.signer.sealView(2, b.cert, viewOf('node-2', 'the-leader'))
    expect(applySwimEvents(t, [{ kind: 'meta', node: b.nodeId, incarnation: 2, meta, atMs: 0 }], source('alive', 2), 5)).toEqual([])
    expect(t.get(b.nodeId)).toMatchObject({ leaderId: 'the-leader', seq: 2, updatedAtMs: 5 })
    expect(t.get(b.nodeId)!.version).toBeGreaterThan(before)
  })

  it('shows a member remembered from disk as unknown until SWIM has its view (up) or finds it gone (down)', () => {
    const known: KnownMember = { nodeId: b.nodeId, peerId: b.peerId, role: 'worker', hostname: 'node-2', addrs: [], createdAtMs: 1, left: false }
    const t = table()
    t.restore(known, 0)
    expect(t.get(b.nodeId)?.liveness).toBe('unknown')
    // Seeded alive in the core, its view then arrives as a `meta` event.
    const meta = b.signer.sealView(4, b.cert, viewOf('node-2'))
    expect(kinds(applySwimEvents(t, [{ kind: 'meta', node: b.nodeId, incarnation: 4, meta, atMs: 0 }], source('alive', 4), 1))).toEqual(['up node-2'])
    const u = table()
    u.restore(known, 0)
    expect(kinds(applySwimEvents(u, [{ kind: 'suspect', node: b.nodeId, incarnation: 0, from: self.nodeId, atMs: 0 }], source('suspect', 0), 1))).toEqual(['suspect node-2'])
    expect(kinds(applySwimEvents(u, [{ kind: 'dead', node: b.nodeId, incarnation: 0, from: self.nodeId, atMs: 0 }], source('dead', 0), 2))).toEqual(['down node-2'])
    // Suspected before its view came, then refuted: it is up for the first time.
    const w = table()
    w.restore(known, 0)
    applySwimEvents(w, [{ kind: 'suspect', node: b.nodeId, incarnation: 0, from: self.nodeId, atMs: 0 }], source('suspect', 0), 1)
    expect(kinds(applySwimEvents(w, [alive(2)], source('alive', 2), 2))).toEqual(['up node-2'])
    applySwimEvents(w, [{ kind: 'suspect', node: b.nodeId, incarnation: 2, from: self.nodeId, atMs: 0 }], source('suspect', 2), 3)
    expect(kinds(applySwimEvents(w, [alive(3, false)], source('alive', 3), 4))).toEqual([])
  })

  it('never reports this node itself, and forgets a removed member', () => {
    const t = table()
    expect(t.update(self.nodeId, { liveness: 'down' }, 1)).toEqual([])
    applySwimEvents(t, [alive(1)], source('alive', 1), 0)
    t.forget(b.nodeId)
    expect(t.get(b.nodeId)).toBeUndefined()
  })
})
