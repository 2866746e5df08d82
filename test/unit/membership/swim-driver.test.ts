import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { decode, encode } from '../../../src/membership/codec.js'
import { silentLogger } from '../../../src/membership/logger.js'
import { MemberTable } from '../../../src/membership/member-table.js'
import { ClaimSigner, openView } from '../../../src/membership/swim-claims.js'
import { INCARNATION_BLOCK, SwimDriver, type SwimTransport } from '../../../src/membership/swim-driver.js'
import { applySwimEvents } from '../../../src/membership/swim-members.js'
import type { Gossip, SwimMessage } from '../../../src/membership/swim/index.js'
import { Rng } from '../../support/rng.js'
import { testCluster, type TestCluster, type TestNode } from './swim-fixture.js'

/** One message delay on the simulated network, ms. */
const DELAY_MS = 1

/** Everything a frame goes through on the wire (Uint8Arrays come back as Buffers). */
function wire<T> (v: T): T {
  return decode(encode(v), 1 << 24) as T
}

/**
 * Drivers of real SWIM cores, with real signatures, over an in-memory network and vitest's fake clock:
 * each keeps a member table as the agent does. `down` nodes neither send nor receive (a SIGKILL).
 */
class Net {
  readonly drivers = new Map<string, SwimDriver>()
  readonly tables = new Map<string, MemberTable>()
  readonly persisted = new Map<string, number>()
  readonly rejected: string[] = []
  readonly down = new Set<string>()
  readonly sent: Array<{ from: string, to: string, msg: SwimMessage }> = []
  readonly published: Array<{ from: string, g: readonly Gossip[] }> = []
  persist: (node: string, inc: number) => Promise<void> = async (node, inc) => { this.persisted.set(node, inc) }

  constructor (private readonly c: TestCluster, private readonly rng: Rng) {}

  start (n: TestNode, candidates: readonly TestNode[], incarnation = 1): SwimDriver {
    this.down.delete(n.nodeId)
    const table = new MemberTable(n.nodeId, 5000)
    this.tables.set(n.nodeId, table)
    const transport: SwimTransport = {
      send: (to, msg) => {
        this.sent.push({ from: n.nodeId, to, msg })
        if (this.down.has(n.nodeId)) return
        const target = this.drivers.get(to)
        // A dead process refuses connections at once (loopback): the sender hears so.
        if (target === undefined || this.down.has(to)) setTimeout(() => { if (!this.down.has(n.nodeId)) driver.unreachable(to) }, DELAY_MS)
        else setTimeout(() => { if (!this.down.has(to)) target.receive(n.nodeId, wire(msg), 'stream') }, DELAY_MS)
      },
      publish: async g => {
        this.published.push({ from: n.nodeId, g })
        for (const [id, d] of this.drivers) {
          if (id !== n.nodeId && !this.down.has(id)) setTimeout(() => { if (!this.down.has(id)) d.receive(n.nodeId, wire({ t: 'gossip', g }), 'broadcast') }, DELAY_MS)
        }
      }
    }
    const driver: SwimDriver = new SwimDriver({
      self: n.nodeId,
      incarnation,
      reserved: incarnation,
      signer: new ClaimSigner(n.key, this.c.clusterId, n.nodeId),
      certificate: () => n.cert,
      view: n.view,
      members: candidates.map(x => x.nodeId),
      trust: () => this.c.trust,
      transport,
      peerOf: node => this.c.nodes.find(x => x.nodeId === node)?.peerId,
      reserve: async ceiling => { await this.persist(n.nodeId, ceiling) },
      onEvents: events => {
        applySwimEvents(table, events, { member: node => driver.core.member(node), viewOf: (node, meta, mv) => driver.viewOf(node, meta, mv) }, Date.now())
      },
      rejected: (from, reason) => { this.rejected.push(`${n.nodeId}<-${from}: ${reason}`) },
      config: {},
      clock: () => Date.now(),
      random: () => this.rng.next(),
      log: silentLogger
    })
    this.drivers.set(n.nodeId, driver)
    driver.start()
    return driver
  }

  kill (n: TestNode): void {
    this.down.add(n.nodeId)
    this.drivers.get(n.nodeId)?.stop()
    this.drivers.delete(n.nodeId)
  }

  liveness (observer: TestNode, of: TestNode): string | undefined {
    return this.tables.get(observer.nodeId)?.get(of.nodeId)?.liveness
  }

  stop (): void {
    for (const d of this.drivers.values()) d.stop()
  }
}

describe('SWIM driver', () => {
  let c: TestCluster
  let net: Net

  beforeAll(async () => { c = await testCluster(4) })
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate', 'Date'] })
    net = new Net(c, new Rng(7))
  })
  afterEach(() => {
    net.stop()
    vi.useRealTimers()
  })

  function startAll (): void {
    const [first, ...rest] = c.nodes as [TestNode, ...TestNode[]]
    net.start(first, [])
    for (const n of rest) net.start(n, [first])
  }

  it('joins: every member lists every other ready, with its signed view, and nothing is refused', async () => {
    startAll()
    await vi.advanceTimersByTimeAsync(2000)
    for (const o of c.nodes) {
      for (const n of c.nodes) {
        if (n === o) continue
        expect(net.liveness(o, n), `${o.view.hostname} sees ${n.view.hostname}`).toBe('ready')
        expect(net.tables.get(o.nodeId)!.get(n.nodeId)).toMatchObject({ hostname: n.view.hostname, peerId: n.peerId })
      }
    }
    expect(net.rejected).toEqual([])
  })

  it('sees a killed member down everywhere within 3 s, and takes it back when it restarts above its old incarnation', async () => {
    startAll()
    await vi.advanceTimersByTimeAsync(2000)
    const [a, b, , victim] = c.nodes as [TestNode, TestNode, TestNode, TestNode]
    const old = net.persisted.get(victim.nodeId) ?? 1
    net.kill(victim)
    await vi.advanceTimersByTimeAsync(3000)
    for (const o of c.nodes.slice(0, 3)) expect(net.liveness(o, victim), o.view.hostname).toBe('down')
    const back = net.start(victim, [a, b], old + 1)
    await vi.advanceTimersByTimeAsync(1000)
    for (const o of c.nodes.slice(0, 3)) expect(net.liveness(o, victim), o.view.hostname).toBe('ready')
    expect(back.core.incarnation).toBeGreaterThan(old)
    expect(net.rejected).toEqual([])
  })

  it('refuses a member\'s forged alive about another, counted, and keeps believing the real one', async () => {
    startAll()
    await vi.advanceTimersByTimeAsync(2000)
    const [a, b, d] = c.nodes as [TestNode, TestNode, TestNode]
    const forger = new ClaimSigner(b.key, c.clusterId, d.nodeId)
    const inc = net.drivers.get(a.nodeId)!.core.member(d.nodeId)!.incarnation + 5
    net.drivers.get(a.nodeId)!.receive(b.nodeId, wire({ t: 'gossip', g: [{ k: 'alive', node: d.nodeId, inc, mv: inc, proof: forger.proveAlive(inc, inc) }] }), 'stream')
    net.drivers.get(a.nodeId)!.receive(b.nodeId, { t: 'nonsense' }, 'stream')
    expect(net.rejected).toHaveLength(2)
    expect(net.drivers.get(a.nodeId)!.core.member(d.nodeId)!.incarnation).toBe(inc - 5)
  })

  it('reserves incarnations ahead, and announces none above the last reservation made durable', async () => {
    startAll()
    await vi.advanceTimersByTimeAsync(2000)
    const [a, b] = c.nodes as [TestNode, TestNode]
    const driver = net.drivers.get(a.nodeId)!
    const reserved = net.persisted.get(a.nodeId)!
    expect(reserved).toBeGreaterThanOrEqual(driver.core.incarnation + INCARNATION_BLOCK / 2)
    let release = (): void => {}
    net.persist = async (node, ceiling) => { await new Promise<void>(resolve => { release = resolve }); net.persisted.set(node, ceiling) }
    const announced = (inc: number): boolean => net.published.some(p => p.from === a.nodeId && p.g.some(g => g.k === 'alive' && g.inc === inc))
    // New views (a leader changing) up to the reservation go out at once, though the next one is not durable yet.
    let i = 0
    while (driver.core.incarnation < reserved) driver.setView({ ...a.view, leaderId: `leader-${i++}` })
    await vi.advanceTimersByTimeAsync(100)
    expect(announced(reserved)).toBe(true)
    driver.setView({ ...a.view, leaderId: 'leader-last' })
    await vi.advanceTimersByTimeAsync(500)
    expect(announced(reserved + 1)).toBe(false)
    release()
    await vi.advanceTimersByTimeAsync(500)
    expect(announced(reserved + 1)).toBe(true)
    expect(net.persisted.get(a.nodeId)).toBeGreaterThan(reserved + 1)
    const m = net.drivers.get(b.nodeId)!.core.member(a.nodeId)!
    expect(openView(m.meta!, c.trust, a.nodeId, m.metaVersion).view.leaderId).toBe('leader-last')
    expect(net.tables.get(b.nodeId)!.get(a.nodeId)?.leaderId).toBe('leader-last')
  })

  it('raises Lifeguard\'s health score when its timer fires late (a starved process)', async () => {
    startAll()
    await vi.advanceTimersByTimeAsync(2000)
    const driver = net.drivers.get(c.nodes[0]!.nodeId)!
    const stalls = driver.stalls
    // The wall clock jumps a second while no timer ran: the next one fires that late.
    // (Checked at once: the acks that follow bring the score down again, as Lifeguard means them to.)
    vi.setSystemTime(Date.now() + 1000)
    for (let ms = 0; ms < 250 && driver.stalls === stalls; ms++) await vi.advanceTimersByTimeAsync(1)
    expect(driver.stalls).toBe(stalls + 1)
    expect(driver.core.healthScore).toBeGreaterThan(0)
  })
})
