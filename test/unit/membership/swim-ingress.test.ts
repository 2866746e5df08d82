import { beforeAll, describe, expect, it } from 'vitest'
import { generateRootKeyPair } from '../../../src/membership/certificate.js'
import { newObjectId } from '../../../src/membership/ids.js'
import { ClaimSigner } from '../../../src/membership/swim-claims.js'
import { admit, type IngressContext } from '../../../src/membership/swim-ingress.js'
import { STATE_CODE, type Gossip, type SwimMessage } from '../../../src/membership/swim/index.js'
import { certifiedNode, testCluster, type TestCluster, type TestNode } from './swim-fixture.js'

/**
 * The rules every SWIM message passes before the core sees it (swim-ingress.ts): alive claims that change
 * anything need the member's own signature, views must be the member's and this cluster's, removed
 * nodes are not heard, and on the broadcast topic a member speaks only for itself.
 */
describe('SWIM ingress', () => {
  let c: TestCluster
  let a: TestNode // this node
  let b: TestNode
  let d: TestNode

  beforeAll(async () => {
    c = await testCluster(3)
    ;[a, b, d] = c.nodes as [TestNode, TestNode, TestNode]
  })

  /** This node (a) with the core's incarnations `known` and the peer IDs it holds. */
  function ctx (known: Record<string, number> = {}, proved: string[] = []): IngressContext {
    c.revoked.clear()
    return {
      self: a.nodeId,
      trust: c.trust,
      incarnationOf: node => known[node],
      peerOf: node => c.nodes.find(n => n.nodeId === node && node in known)?.peerId,
      proved: (node, inc) => { proved.push(`${node}@${inc}`) },
      viewed: () => {}
    }
  }

  function aliveOf (n: TestNode, inc: number, opts: { meta?: boolean, signer?: ClaimSigner, mv?: number } = {}): Gossip {
    const mv = opts.mv ?? inc
    const signer = opts.signer ?? n.signer
    return {
      k: 'alive',
      node: n.nodeId,
      inc,
      mv,
      ...(opts.meta === true ? { meta: signer.sealView(mv, n.cert, n.view) } : {}),
      proof: signer.proveAlive(inc, mv)
    }
  }

  function gossipOf (msg: SwimMessage): Gossip[] {
    return msg.t === 'gossip' || msg.t === 'ping' || msg.t === 'ack' ? msg.g ?? [] : []
  }

  it('takes a first sighting relayed by another member when the member signed both its alive and its view', () => {
    const proved: string[] = []
    const r = admit(ctx({}, proved), d.nodeId, { t: 'gossip', g: [aliveOf(b, 3, { meta: true })] }, 'stream')
    expect(r.rejected).toEqual([])
    expect(gossipOf(r.message!)).toHaveLength(1)
    expect(proved).toEqual([`${b.nodeId}@3`])
  })

  it('drops an alive about b signed with another member\'s key (a forged refutation or resurrection)', () => {
    const forger = new ClaimSigner(d.key, c.clusterId, b.nodeId)
    const r = admit(ctx({ [b.nodeId]: 3 }), d.nodeId, { t: 'gossip', g: [aliveOf(b, 4, { signer: forger })] }, 'stream')
    expect(r.message).toBeNull()
    expect(r.rejected).toEqual([`alive of node ${b.nodeId} at incarnation 4 is not signed by node ${b.nodeId}`])
  })

  it('drops a higher alive without any proof, and one whose proof is for another incarnation', () => {
    const { proof: _p, ...bare } = aliveOf(b, 4) as Extract<Gossip, { k: 'alive' }>
    const replayedProof = { ...aliveOf(b, 4), proof: b.signer.proveAlive(3, 3) }
    const r = admit(ctx({ [b.nodeId]: 3 }), d.nodeId, { t: 'gossip', g: [bare, replayedProof] }, 'stream')
    expect(r.message).toBeNull()
    expect(r.rejected).toHaveLength(2)
  })

  it('passes a replayed older alive on as old news without checking it: the core ignores it', () => {
    const { proof: _p, ...old } = aliveOf(b, 2) as Extract<Gossip, { k: 'alive' }>
    const r = admit(ctx({ [b.nodeId]: 3 }), d.nodeId, { t: 'ping', seq: 1, target: a.nodeId, g: [old] }, 'stream')
    expect(r.rejected).toEqual([])
    expect(gossipOf(r.message!)).toEqual([old])
  })

  it('refuses an alive about this node that it did not sign (it would refute it for nothing)', () => {
    const forger = new ClaimSigner(b.key, c.clusterId, a.nodeId)
    const r = admit(ctx({ [a.nodeId]: 5 }), b.nodeId, { t: 'gossip', g: [{ k: 'alive', node: a.nodeId, inc: 9, mv: 1, proof: forger.proveAlive(9, 1) }] }, 'stream')
    expect(r.message).toBeNull()
    expect(r.rejected[0]).toMatch(/not signed by node/)
  })

  it('leaves aside, without refusing, a first sighting that carries no view (it comes again with one)', () => {
    const r = admit(ctx(), d.nodeId, { t: 'gossip', g: [aliveOf(b, 3)] }, 'stream')
    expect(r.message).toBeNull()
    expect(r.rejected).toEqual([])
  })

  it('refuses views of another cluster, of another root, and of another node, and strips them from a known member\'s alive', async () => {
    const otherCluster = new ClaimSigner(b.key, newObjectId(), b.nodeId)
    const stranger = await certifiedNode(generateRootKeyPair(), c.clusterId, 'stranger')
    const strangerAsB = new ClaimSigner(stranger.key, c.clusterId, b.nodeId)
    const cases: Array<[Uint8Array, RegExp]> = [
      [otherCluster.sealView(4, b.cert, b.view), /view is for cluster/],
      [strangerAsB.sealView(4, stranger.cert, stranger.view), /not signed by this cluster's root key/],
      [d.signer.sealView(4, d.cert, d.view), /passed off as node/]
    ]
    for (const [meta, reason] of cases) {
      const g: Gossip = { k: 'alive', node: b.nodeId, inc: 4, mv: 4, meta, proof: b.signer.proveAlive(4, 4) }
      const r = admit(ctx({ [b.nodeId]: 3 }), d.nodeId, { t: 'gossip', g: [g] }, 'stream')
      expect(r.rejected).toHaveLength(1)
      expect(r.rejected[0]).toMatch(reason)
      const [kept] = gossipOf(r.message!)
      expect(kept).toMatchObject({ k: 'alive', node: b.nodeId, inc: 4 })
      expect(kept).not.toHaveProperty('meta')
      const first = admit(ctx(), d.nodeId, { t: 'gossip', g: [g] }, 'stream')
      expect(first.message).toBeNull()
    }
  })

  it('accepts suspect and dead claims from any certified member', () => {
    const g: Gossip[] = [{ k: 'suspect', node: b.nodeId, inc: 3, from: d.nodeId }, { k: 'dead', node: b.nodeId, inc: 3, from: newObjectId() }]
    const r = admit(ctx({ [b.nodeId]: 3 }), d.nodeId, { t: 'gossip', g }, 'stream')
    expect(r.rejected).toEqual([])
    expect(gossipOf(r.message!)).toEqual(g)
  })

  it('hears nothing from a removed node and nothing about one', () => {
    const x = ctx({ [b.nodeId]: 3, [d.nodeId]: 1 })
    c.revoked.add(b.nodeId)
    expect(admit(x, b.nodeId, { t: 'ping', seq: 1, target: a.nodeId }, 'stream').message).toBeNull()
    const about = admit(x, d.nodeId, { t: 'gossip', g: [aliveOf(b, 4), { k: 'suspect', node: b.nodeId, inc: 4, from: d.nodeId }] }, 'stream')
    expect(about.message).toBeNull()
    expect(about.rejected).toHaveLength(2)
    expect(admit(x, d.nodeId, { t: 'ping-req', seq: 2, target: b.nodeId, nack: true }, 'stream').message).toBeNull()
  })

  it('refuses a broadcast that carries a claim not its sender\'s own', () => {
    const relayed = admit(ctx(), d.nodeId, { t: 'gossip', g: [aliveOf(d, 1), aliveOf(b, 3, { meta: true })] }, 'broadcast')
    expect(relayed.message).toBeNull()
    expect(relayed.rejected[0]).toMatch(/not its own/)
    const passedOn = admit(ctx({ [b.nodeId]: 3 }), d.nodeId, { t: 'gossip', g: [{ k: 'suspect', node: b.nodeId, inc: 3, from: a.nodeId }] }, 'broadcast')
    expect(passedOn.message).toBeNull()
    const own = admit(ctx({ [b.nodeId]: 3 }), d.nodeId, { t: 'gossip', g: [aliveOf(d, 2, { meta: true }), { k: 'suspect', node: b.nodeId, inc: 3, from: d.nodeId }] }, 'broadcast')
    expect(own.rejected).toEqual([])
    expect(gossipOf(own.message!)).toHaveLength(2)
  })

  it('checks push-pull entries as gossip, and hands the core its own form (no proofs)', () => {
    const forger = new ClaimSigner(d.key, c.clusterId, b.nodeId)
    const msg: SwimMessage = {
      t: 'push-pull',
      join: false,
      reply: true,
      states: [
        [d.nodeId, 2, STATE_CODE.alive, 2, d.signer.sealView(2, d.cert, d.view), d.signer.proveAlive(2, 2)],
        [b.nodeId, 7, STATE_CODE.alive, 7, null, forger.proveAlive(7, 7)],
        [b.nodeId, 3, STATE_CODE.suspect, 3]
      ]
    }
    const r = admit(ctx({ [b.nodeId]: 3 }), d.nodeId, msg, 'stream')
    expect(r.rejected).toHaveLength(1)
    if (r.message?.t !== 'push-pull') throw new Error('expected a push-pull')
    expect(r.message.states.map(e => [e[0], e[1], e[2], e.length])).toEqual([[d.nodeId, 2, STATE_CODE.alive, 5], [b.nodeId, 3, STATE_CODE.suspect, 4]])
  })

  it('takes a metadata answer only when it is the sender\'s own view at that version', () => {
    const own = admit(ctx(), b.nodeId, { t: 'meta', mv: 5, meta: b.signer.sealView(5, b.cert, b.view) }, 'stream')
    expect(own.message?.t).toBe('meta')
    const someoneElses = admit(ctx(), b.nodeId, { t: 'meta', mv: 5, meta: d.signer.sealView(5, d.cert, d.view) }, 'stream')
    expect(someoneElses.message).toBeNull()
    const wrongVersion = admit(ctx(), b.nodeId, { t: 'meta', mv: 6, meta: b.signer.sealView(5, b.cert, b.view) }, 'stream')
    expect(wrongVersion.message).toBeNull()
    expect(wrongVersion.rejected[0]).toMatch(/is version 5, not 6/)
  })

  it('keeps the incarnation of a metadata answer only with the sender\'s proof of it', () => {
    const proved: string[] = []
    const meta = b.signer.sealView(5, b.cert, b.view)
    const signed = admit(ctx({}, proved), b.nodeId, { t: 'meta', mv: 5, meta, inc: 7, proof: b.signer.proveAlive(7, 5) }, 'stream')
    expect(signed.message).toMatchObject({ t: 'meta', inc: 7 })
    expect(proved).toEqual([`${b.nodeId}@7`])
    const forged = admit(ctx(), b.nodeId, { t: 'meta', mv: 5, meta, inc: 70, proof: d.signer.proveAlive(70, 5) }, 'stream')
    expect(forged.message).toEqual({ t: 'meta', mv: 5, meta })
    expect(forged.rejected).toHaveLength(1)
  })
})
