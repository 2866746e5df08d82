import { describe, expect, it } from 'vitest'
import { newObjectId } from '../../../src/membership/ids.js'
import { MemberTable, type HeartbeatVerdict, type KnownMember, type MemberEvent } from '../../../src/membership/member-table.js'
import type { CertificateClaims, NodeRole } from '../../../src/membership/certificate.js'
import type { Heartbeat } from '../../../src/membership/heartbeat.js'

const SUSPECT = 1000
const DOWN = 3000
const timing = { suspectAfterMs: SUSPECT, downAfterMs: DOWN }

function claimsFor (nodeId: string, peerId: string, role: NodeRole = 'worker'): CertificateClaims {
  return { v: 1, clusterId: 'c'.repeat(25), nodeId, peerId, role, issuedAtMs: 42, serial: '00' }
}

function hb (incarnation: number, seq: number, patch: Partial<Heartbeat> = {}): Heartbeat {
  return {
    v: 1,
    cert: new Uint8Array(0),
    incarnation,
    seq,
    sentAtMs: 0,
    hostname: 'node-1',
    addrs: ['/ip4/10.0.0.1/tcp/4242'],
    status: 'ready',
    description: { os: 'linux', arch: 'x86_64', nanoCpus: 1e9, memoryBytes: 1024, engine: { state: 'available', version: '27.0.1', labels: {} } },
    leaderId: '',
    ...patch
  }
}

function kinds (v: HeartbeatVerdict | MemberEvent[]): string[] {
  if (Array.isArray(v)) return v.map(e => e.kind)
  if (!v.accepted) throw new Error(`expected accepted, got refused: ${v.reason}`)
  return v.events.map(e => e.kind)
}

function setup (): { table: MemberTable, self: string, node: string, claims: CertificateClaims } {
  const self = newObjectId()
  const node = newObjectId()
  return { table: new MemberTable(self, timing), self, node, claims: claimsFor(node, 'peer-1') }
}

describe('MemberTable.applyHeartbeat', () => {
  it('accepts a first heartbeat as joined, with the certificate\'s identity and the heartbeat\'s fields', () => {
    const { table, node, claims } = setup()
    const verdict = table.applyHeartbeat(hb(1, 1), claims, 100)
    expect(kinds(verdict)).toEqual(['joined'])
    expect(table.get(node)).toMatchObject({
      nodeId: node, peerId: 'peer-1', role: 'worker', hostname: 'node-1', addrs: ['/ip4/10.0.0.1/tcp/4242'],
      liveness: 'ready', incarnation: 1, seq: 1, createdAtMs: 42, updatedAtMs: 100, left: false
    })
    expect(table.byPeerId('peer-1')?.nodeId).toBe(node)
  })

  it.each<[string, number, number]>([
    ['a replay of the last (incarnation, seq)', 2, 5],
    ['an older seq of the same incarnation', 2, 4],
    ['an older incarnation with a higher seq', 1, 100]
  ])('refuses %s and keeps the member as it was', (_name, incarnation, seq) => {
    const { table, node, claims } = setup()
    table.applyHeartbeat(hb(2, 5), claims, 0)
    const before = table.get(node)
    const verdict = table.applyHeartbeat(hb(incarnation, seq, { hostname: 'other' }), claims, 10)
    expect(verdict.accepted).toBe(false)
    if (!verdict.accepted) expect(verdict.reason).toMatch(/stale or replayed/)
    expect(table.get(node)).toEqual(before)
  })

  it('accepts a higher incarnation with a lower seq (a restart)', () => {
    const { table, node, claims } = setup()
    table.applyHeartbeat(hb(1, 50), claims, 0)
    const verdict = table.applyHeartbeat(hb(2, 1), claims, 10)
    expect(kinds(verdict)).toEqual([])
    expect(table.get(node)).toMatchObject({ incarnation: 2, seq: 1, liveness: 'ready' })
  })

  it('emits up when a node that went down is heard again after a restart', () => {
    const { table, node, claims } = setup()
    table.applyHeartbeat(hb(1, 50), claims, 0)
    expect(kinds(table.tick(DOWN))).toEqual(['down'])
    expect(table.get(node)?.liveness).toBe('down')
    const verdict = table.applyHeartbeat(hb(2, 1), claims, DOWN + 1)
    expect(kinds(verdict)).toEqual(['up'])
    expect(table.get(node)?.liveness).toBe('ready')
  })

  it('brings a suspect node back to ready without an event', () => {
    const { table, node, claims } = setup()
    table.applyHeartbeat(hb(1, 1), claims, 0)
    expect(kinds(table.tick(SUSPECT))).toEqual(['suspect'])
    expect(kinds(table.applyHeartbeat(hb(1, 2), claims, SUSPECT + 1))).toEqual([])
    expect(table.get(node)?.liveness).toBe('ready')
  })

  it('a leaving heartbeat emits left once and puts the member down at once', () => {
    const { table, node, claims } = setup()
    table.applyHeartbeat(hb(1, 1), claims, 0)
    const verdict = table.applyHeartbeat(hb(1, 2, { status: 'leaving' }), claims, 10)
    expect(kinds(verdict)).toEqual(['left'])
    expect(table.get(node)).toMatchObject({ liveness: 'down', left: true })
    expect(kinds(table.applyHeartbeat(hb(1, 3, { status: 'leaving' }), claims, 20))).toEqual([])
    // Down already: silence reports nothing more.
    expect(table.tick(DOWN * 10)).toEqual([])
  })

  it('refuses a heartbeat whose certificate binds the node ID to another peer', () => {
    const { table, node, claims } = setup()
    table.applyHeartbeat(hb(1, 1), claims, 0)
    const before = table.get(node)
    const verdict = table.applyHeartbeat(hb(9, 9, { hostname: 'impostor' }), claimsFor(node, 'peer-2'), 10)
    expect(verdict.accepted).toBe(false)
    if (!verdict.accepted) expect(verdict.reason).toContain('another peer')
    expect(table.get(node)).toEqual(before)
    expect(table.byPeerId('peer-2')).toBeUndefined()
  })
})

describe('MemberTable.tick', () => {
  it('turns silence into suspect, then down, each reported once', () => {
    const { table, node, claims } = setup()
    table.applyHeartbeat(hb(1, 1), claims, 0)
    expect(table.tick(SUSPECT - 1)).toEqual([])
    const suspect = table.tick(SUSPECT)
    expect(kinds(suspect)).toEqual(['suspect'])
    expect(suspect[0]?.member).toMatchObject({ nodeId: node, liveness: 'suspect', updatedAtMs: SUSPECT })
    expect(table.tick(SUSPECT + 1)).toEqual([])
    const down = table.tick(DOWN)
    expect(kinds(down)).toEqual(['down'])
    expect(down[0]?.member).toMatchObject({ nodeId: node, liveness: 'down' })
    expect(table.get(node)?.liveness).toBe('down')
    expect(table.tick(DOWN + 1)).toEqual([])
  })

  it('never reports the self node suspect or down', () => {
    const { table, self } = setup()
    table.applyHeartbeat(hb(1, 1), claimsFor(self, 'self-peer', 'manager'), 0)
    expect(table.tick(SUSPECT)).toEqual([])
    expect(table.tick(DOWN * 10)).toEqual([])
    expect(table.get(self)?.liveness).toBe('ready')
  })

  it('does not report the self node up when its own heartbeat follows a long silence', () => {
    // The self node is never shown suspect or down, so its next heartbeat is no comeback.
    const { table, self } = setup()
    const claims = claimsFor(self, 'self-peer', 'manager')
    table.applyHeartbeat(hb(1, 1), claims, 0)
    table.tick(DOWN * 10)
    expect(table.get(self)?.liveness).toBe('ready')
    expect(kinds(table.applyHeartbeat(hb(1, 2), claims, DOWN * 10 + 1))).toEqual([])
  })
})

describe('MemberTable versions', () => {
  it('grows the version only when a visible field changes', () => {
    const { table, node, claims } = setup()
    table.applyHeartbeat(hb(1, 1), claims, 0)
    const v0 = table.get(node)!.version

    // seq, sentAtMs and leaderId are not shown to users.
    table.applyHeartbeat(hb(1, 2, { sentAtMs: 99, leaderId: 'x' }), claims, 10)
    expect(table.get(node)).toMatchObject({ version: v0, updatedAtMs: 0, seq: 2, leaderId: 'x' })

    const steps: Array<[string, Partial<Heartbeat>]> = [
      ['hostname', { hostname: 'renamed' }],
      ['addrs', { hostname: 'renamed', addrs: ['/ip4/10.0.0.2/tcp/4242'] }],
      ['description', {
        hostname: 'renamed',
        addrs: ['/ip4/10.0.0.2/tcp/4242'],
        description: { os: 'linux', arch: 'aarch64', nanoCpus: 1e9, memoryBytes: 1024, engine: { state: 'unavailable', message: 'gone' } }
      }]
    ]
    let seq = 3
    let last = v0
    for (const [field, patch] of steps) {
      const now = seq * 10
      table.applyHeartbeat(hb(1, seq++, patch), claims, now)
      const m = table.get(node)!
      expect(m.version, field).toBeGreaterThan(last)
      expect(m.updatedAtMs, field).toBe(now)
      last = m.version
      // The same fields again: no change.
      table.applyHeartbeat(hb(1, seq++, patch), claims, now + 5)
      expect(table.get(node)!.version, `${field} repeated`).toBe(last)
    }
  })

  it('grows the version on a liveness change from tick and on a refused heartbeat not at all', () => {
    const { table, node, claims } = setup()
    table.applyHeartbeat(hb(1, 5), claims, 0)
    const v0 = table.get(node)!.version
    table.applyHeartbeat(hb(1, 5), claims, 1)
    expect(table.get(node)!.version).toBe(v0)
    table.tick(SUSPECT)
    expect(table.get(node)!.version).toBeGreaterThan(v0)
  })
})

describe('MemberTable.restore', () => {
  function known (nodeId: string, patch: Partial<KnownMember> = {}): KnownMember {
    return { nodeId, peerId: `peer-of-${nodeId}`, role: 'manager', hostname: 'old-host', addrs: ['/ip4/10.0.0.9/tcp/4242'], createdAtMs: 7, left: false, ...patch }
  }

  it('seeds an unknown member that a heartbeat brings up (not joined)', () => {
    const { table } = setup()
    const id = newObjectId()
    table.restore(known(id), 0)
    expect(table.get(id)).toMatchObject({ nodeId: id, liveness: 'unknown', description: null, incarnation: 0, seq: 0, hostname: 'old-host' })
    const verdict = table.applyHeartbeat(hb(1, 1), claimsFor(id, `peer-of-${id}`, 'manager'), 10)
    expect(kinds(verdict)).toEqual(['up'])
    expect(table.get(id)?.liveness).toBe('ready')
  })

  it('puts a restored member that stays silent down after downAfterMs', () => {
    const { table } = setup()
    const id = newObjectId()
    table.restore(known(id), 100)
    expect(table.tick(100 + SUSPECT)).toEqual([])
    const events = table.tick(100 + DOWN)
    expect(kinds(events)).toEqual(['down'])
    expect(table.get(id)?.liveness).toBe('down')
  })

  it('restores a member that had left as down', () => {
    const { table } = setup()
    const id = newObjectId()
    table.restore(known(id, { left: true }), 0)
    expect(table.get(id)).toMatchObject({ liveness: 'down', left: true })
    expect(table.tick(DOWN * 2)).toEqual([])
  })

  it('does not overwrite a member already in the table', () => {
    const { table, node, claims } = setup()
    table.applyHeartbeat(hb(1, 1), claims, 0)
    const before = table.get(node)
    table.restore(known(node, { peerId: 'peer-1', hostname: 'stale' }), 5)
    expect(table.get(node)).toEqual(before)
  })

  it('list() orders by node ID and known() keeps the durable fields', () => {
    const { table } = setup()
    const ids = ['b'.repeat(25), 'a'.repeat(25), 'c'.repeat(25)]
    for (const id of ids) table.restore(known(id), 0)
    expect(table.list().map(m => m.nodeId)).toEqual([...ids].sort())
    expect(table.known()).toEqual([...ids].sort().map(id => known(id)))
  })
})
