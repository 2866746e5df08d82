import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { Ed25519PrivateKey } from '@libp2p/interface'
import { generateRootKeyPair, issueCertificate, type NodeRole, type RootKeyPair } from '../../../src/membership/certificate.js'
import { newObjectId } from '../../../src/membership/ids.js'
import type { NodeKey } from '../../../src/membership/membership-state.js'
import type { NodeView } from '../../../src/membership/node-view.js'
import { ClaimSigner, type ClaimTrust } from '../../../src/membership/swim-claims.js'

/** One certified node of a test cluster: its key, certificate, signer and view. */
export interface TestNode {
  readonly nodeId: string
  readonly key: NodeKey
  readonly peerId: string
  readonly cert: Uint8Array
  readonly signer: ClaimSigner
  readonly view: NodeView
}

export interface TestCluster {
  readonly root: RootKeyPair
  readonly clusterId: string
  readonly nodes: TestNode[]
  readonly revoked: Set<string>
  readonly trust: ClaimTrust
}

export function viewOf (hostname: string, leaderId = ''): NodeView {
  return {
    hostname,
    addrs: ['/ip4/127.0.0.1/tcp/4242'],
    description: { os: 'linux', arch: 'x86_64', nanoCpus: 2e9, memoryBytes: 2 ** 30, engine: { state: 'unavailable', message: 'test' } },
    leaderId
  }
}

/** A node certified by `root` for `clusterId` (or a stranger: another root, another cluster). */
export async function certifiedNode (root: RootKeyPair, clusterId: string, hostname: string, role: NodeRole = 'worker'): Promise<TestNode> {
  const key = await generateKeyPair('Ed25519') as unknown as NodeKey
  const peerId = peerIdFromPrivateKey(key as unknown as Ed25519PrivateKey).toString()
  const nodeId = newObjectId()
  const cert = issueCertificate(root, { clusterId, nodeId, peerId, role, issuedAtMs: 1_700_000_000_000 })
  return { nodeId, key, peerId, cert, signer: new ClaimSigner(key, clusterId, nodeId), view: viewOf(hostname) }
}

export async function testCluster (size: number): Promise<TestCluster> {
  const root = generateRootKeyPair()
  const clusterId = newObjectId()
  const nodes: TestNode[] = []
  for (let i = 0; i < size; i++) nodes.push(await certifiedNode(root, clusterId, `node-${i + 1}`))
  const revoked = new Set<string>()
  return { root, clusterId, nodes, revoked, trust: { clusterId, rootPublicKeyDer: root.publicKeyDer, isRevoked: id => revoked.has(id) } }
}
