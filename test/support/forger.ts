import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { P2PHost } from '../../src/membership/host.js'
import { encodeBroadcast } from '../../src/membership/swim-broadcast.js'
import { generateRootKeyPair, issueCertificate } from '../../src/membership/certificate.js'
import { newObjectId } from '../../src/membership/ids.js'
import { silentLogger } from '../../src/membership/logger.js'
import { toMultiaddr, parseHostPort } from '../../src/membership/addr.js'
import { waitFor } from './agent-process.js'


export interface ForgeOptions {
  /** ip:port of a member to connect to. */
  readonly target: string
  readonly clusterId: string
  /** A real member's encoded certificate, to send as if it were ours. */
  readonly realCertificate: Uint8Array
  readonly count: number
}

/**
 * A libp2p peer that is no member of the cluster: it connects to a member, subscribes to the SWIM
 * broadcast topic and publishes envelopes that gossipsub signs validly with its own key, carrying
 * (1) a certificate from a root key of its own making, and (2) a real member's certificate; each claims
 * a new member "forged" is alive. Returns how many it published.
 */
export async function forgeBroadcasts (opts: ForgeOptions): Promise<number> {
  const key = await generateKeyPair('Ed25519') as unknown as PrivateKey
  const host = await P2PHost.start({ privateKey: key, listen: '/ip4/127.0.0.1/tcp/0', announce: '/ip4/127.0.0.1/tcp/1', logger: silentLogger })
  try {
    const topic = `/flotilla/${opts.clusterId}/swim/1`
    host.subscribe(topic)
    await host.dial(toMultiaddr(parseHostPort(opts.target, 'target')), AbortSignal.timeout(5000))
    const fakeRoot = generateRootKeyPair()
    const nodeId = newObjectId()
    const fakeCert = issueCertificate(fakeRoot, { clusterId: opts.clusterId, nodeId, peerId: host.peerId, role: 'manager', issuedAtMs: Date.now() })
    let sent = 0
    // Publish until the member has had time to learn our subscription; bounded by count and time.
    await waitFor('forged broadcasts to be published', async () => {
      for (const cert of [fakeCert, opts.realCertificate]) {
        try {
          await host.publish(topic, encodeBroadcast({ v: 1, cert, epoch: 1, seq: sent + 1, g: [{ k: 'alive', node: nodeId, inc: 99, mv: 99, meta: new Uint8Array([1]) }] }))
          sent++
        } catch { /* no subscribed peer yet */ }
      }
      return sent >= opts.count * 2
    }, 10_000, 200)
    return sent
  } finally {
    await host.stop()
  }
}
