import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { privateKeyFromProtobuf, generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { P2PHost } from '../../src/membership/host.js'
import { generateRootKeyPair, issueCertificate } from '../../src/membership/certificate.js'
import { newObjectId } from '../../src/membership/ids.js'
import { silentLogger } from '../../src/membership/logger.js'
import { encode } from '../../src/membership/codec.js'
import { TestCluster } from '../support/cluster.js'
import { waitFor, type AgentProcess } from '../support/agent-process.js'


/** A libp2p peer using `key`, to speak the Raft protocol to an agent the way a node would. */
async function peerWith (key: PrivateKey): Promise<P2PHost> {
  return await P2PHost.start({ privateKey: key, listen: '/ip4/127.0.0.1/tcp/0', announce: '/ip4/127.0.0.1/tcp/1', logger: silentLogger })
}

function identityOf (agent: AgentProcess): { key: PrivateKey, cert: Uint8Array, clusterId: string } {
  const state = JSON.parse(readFileSync(join(agent.dataDir, 'membership.json'), 'utf8'))
  return {
    key: privateKeyFromProtobuf(readFileSync(join(agent.dataDir, 'node.key'))) as unknown as PrivateKey,
    cert: Buffer.from(state.certificate, 'base64'),
    clusterId: state.clusterId
  }
}

/** Open /flotilla/raft/1.0.0 on `target` as `key` presenting `cert`; the handshake's answer. */
async function raftHandshake (target: AgentProcess, key: PrivateKey, cert: Uint8Array): Promise<{ answer: any, host: P2PHost, stream: Awaited<ReturnType<P2PHost['openStream']>>['stream'] }> {
  const host = await peerWith(key)
  const { stream } = await host.openStream(`/ip4/127.0.0.1/tcp/${target.addr.split(':')[1]!}`, '/flotilla/raft/1.0.0', 1 << 20, AbortSignal.timeout(5000))
  await stream.write({ t: 'hello', cert }, AbortSignal.timeout(5000))
  const answer = await stream.read(AbortSignal.timeout(5000))
  return { answer, host, stream }
}

async function rotate (agent: AgentProcess): Promise<number> {
  const sw = await agent.api('GET', '/swarm', undefined, 30_000)
  const r = await agent.api('POST', `/swarm/update?version=${sw.body.Version.Index as number}&rotateWorkerToken=true`, sw.body.Spec, 30_000)
  return r.status
}

describe('only managers speak Raft; bad frames and bad storage are refused', () => {
  let cluster: TestCluster
  let manager: AgentProcess
  let manager2: AgentProcess
  let worker: AgentProcess

  beforeAll(async () => {
    cluster = await TestCluster.start({ size: 3, managers: 2, hostnamePrefix: 'sec' })
    ;[manager, manager2, worker] = cluster.agents as [AgentProcess, AgentProcess, AgentProcess]
    await cluster.waitForReady(3, 30_000)
  })
  afterAll(async () => { await cluster?.stop() })

  it('refuses a worker\'s certificate and a stranger\'s on the Raft protocol', async () => {
    const w = identityOf(worker)
    const asWorker = await raftHandshake(manager, w.key, w.cert)
    expect(asWorker.answer).toMatchObject({ t: 'refused', message: 'Raft is for managers only' })
    await asWorker.host.stop()

    const strangerKey = await generateKeyPair('Ed25519') as unknown as PrivateKey
    const host = await peerWith(strangerKey)
    const fakeCert = issueCertificate(generateRootKeyPair(), { clusterId: w.clusterId, nodeId: newObjectId(), peerId: host.peerId, role: 'manager', issuedAtMs: Date.now() })
    await host.stop()
    const asStranger = await raftHandshake(manager, strangerKey, fakeCert)
    expect(asStranger.answer.t).toBe('refused')
    expect(asStranger.answer.message).toMatch(/not signed by this cluster's root key/)
    await asStranger.host.stop()
  })

  it('drops a manager\'s malformed and spoofed Raft frames, closing the stream, and keeps working', async () => {
    // The second manager's identity (key and certificate from its data dir), spoken from another process.
    const m = identityOf(manager2)
    const { answer, host, stream } = await raftHandshake(manager, m.key, m.cert)
    expect(answer).toEqual({ t: 'ok' })
    // A message that names another sender, then garbage: the stream is closed after the first.
    await stream.write({ msgs: [{ type: 'heartbeat', from: newObjectId(), to: newObjectId(), term: 99, commit: 0, context: 0 }] })
    await expect(stream.read(AbortSignal.timeout(5000))).rejects.toThrow()
    await host.stop()
    const again = await raftHandshake(manager, m.key, m.cert)
    await again.stream.write(encode('not a frame'))
    await expect(again.stream.read(AbortSignal.timeout(5000))).rejects.toThrow()
    await again.host.stop()
    expect(manager.running).toBe(true)
    expect(await rotate(worker)).toBe(200)
  })

  it('refuses to start on a WAL corrupted in the middle, naming the file and offset', async () => {
    for (let i = 0; i < 20; i++) expect(await rotate(worker)).toBe(200)
    await manager.stop()
    const dir = join(manager.dataDir, 'raft')
    const wal = readdirSync(dir).filter(f => f.endsWith('.log')).sort().at(-1)!
    const bytes = readFileSync(join(dir, wal))
    const at = Math.floor(bytes.length / 3)
    bytes[at] = bytes[at]! ^ 0xff
    writeFileSync(join(dir, wal), bytes)
    await manager.start([]).catch(() => {})
    await waitFor('the corrupted manager to exit', () => !manager.running)
    expect(manager.logs).toContain(join(dir, wal))
    expect(manager.logs).toMatch(/offset \d+/)
  })
})
