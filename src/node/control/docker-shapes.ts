import { arch, release, platform } from 'node:os'
import { formatToken, fromMultiaddr, type Member, type Membership } from '../../membership/index.js'
import type { ClusterObject, NodeObject } from '../../election/index.js'
import type { Agent } from '../agent.js'

/** The Docker Engine API version this socket speaks (dockerd 20.10's), and the oldest it accepts. */
export const API_VERSION = '1.41'
export const MIN_API_VERSION = '1.24'
export const FLOTILLA_VERSION = '0.1.0'

function iso (ms: number): string {
  return new Date(ms).toISOString()
}

/** Go's GOARCH spelling, which /version reports (while /info reports uname's). */
function goArch (nodeArch: string): string {
  return nodeArch === 'x64' ? 'amd64' : nodeArch === 'ia32' ? '386' : nodeArch
}

/** A node as Docker's `Node` object (GET /nodes): the store's record and status, with reachability and description from gossip. */
export function nodeJson (node: NodeObject, member: Member | undefined, leaderId: string | null, voters: ReadonlySet<string>): Record<string, unknown> {
  const d = member?.description ?? null
  const engine = d?.engine
  const addr = member === undefined ? null : fromMultiaddr(member.addrs[0] ?? '')
  const liveness = member?.liveness ?? 'unknown'
  const reachable = liveness === 'ready' || liveness === 'suspect'
  // As Docker's, a node's state is the dispatcher's view (the store): 'ready' once its session with the
  // leader is open, which is also when the scheduler may give it tasks; 'down' once its heartbeats stopped.
  const state = node.status.state
  const status: Record<string, unknown> = { State: state, Addr: addr?.ip ?? '' }
  if (engine?.state === 'unavailable') status.Message = engine.message
  else if (node.status.message !== '') status.Message = node.status.message
  const json: Record<string, unknown> = {
    ID: node.id,
    Version: { Index: node.version },
    CreatedAt: iso(node.createdAtMs),
    UpdatedAt: iso(Math.max(node.updatedAtMs, member?.updatedAtMs ?? 0)),
    Spec: { Labels: node.spec.labels, Role: node.spec.role, Availability: node.spec.availability },
    Description: {
      Hostname: member?.hostname ?? node.hostname,
      Platform: { Architecture: d?.arch ?? '', OS: d?.os ?? '' },
      Resources: { NanoCPUs: d?.nanoCpus ?? 0, MemoryBytes: d?.memoryBytes ?? 0 },
      Engine: {
        EngineVersion: engine?.state === 'available' ? engine.version : '',
        Labels: engine?.state === 'available' ? engine.labels : {},
        Plugins: []
      }
    },
    Status: status
  }
  if (node.spec.role === 'manager') {
    json.ManagerStatus = {
      Leader: node.id === leaderId,
      // 'unknown' while the leader has not yet made it a Raft voter (a manager that just joined).
      // Raft reachability is gossip's: a manager answers Raft whether or not its dispatcher session is open.
      Reachability: !voters.has(node.id) ? 'unknown' : reachable ? 'reachable' : 'unreachable',
      Addr: addr === null ? '' : `${addr.ip}:${addr.port}`
    }
  }
  return json
}

/**
 * The cluster as Docker's `ClusterInfo` (the Swarm section of /info on managers). flotilla has no X.509
 * CA: its root of trust is an Ed25519 key, given as CertIssuerPublicKey (base64 DER). TrustRoot, which
 * Docker fills with the CA certificate's PEM, stays empty, so that `docker swarm ca` says "No CA
 * information available" (exit 1) instead of printing a public key as if it were a CA certificate.
 */
export function clusterInfoJson (cluster: ClusterObject): Record<string, unknown> {
  return {
    ID: cluster.id,
    Version: { Index: cluster.version },
    CreatedAt: iso(cluster.createdAtMs),
    UpdatedAt: iso(cluster.updatedAtMs),
    Spec: cluster.spec,
    TLSInfo: { TrustRoot: '', CertIssuerSubject: '', CertIssuerPublicKey: Buffer.from(cluster.root.publicKeyDer).toString('base64') },
    RootRotationInProgress: false,
    DefaultAddrPool: cluster.addressPool.defaultAddrPool,
    SubnetSize: cluster.addressPool.subnetSize,
    DataPathPort: 4789
  }
}

/** GET /swarm: the cluster plus its join tokens. */
export function swarmJson (cluster: ClusterObject): Record<string, unknown> {
  return {
    ...clusterInfoJson(cluster),
    JoinTokens: {
      Worker: formatToken(cluster.root.publicKeyDer, cluster.secrets.worker),
      Manager: formatToken(cluster.root.publicKeyDer, cluster.secrets.manager)
    }
  }
}

/** The `Swarm` section of GET /info: from the store on a manager, from gossip on a worker. */
export function swarmInfoJson (agent: Agent): Record<string, unknown> {
  const m: Membership | null = agent.membership
  if (m === null) {
    return { NodeID: '', NodeAddr: '', LocalNodeState: agent.localNodeState, ControlAvailable: false, Error: '', RemoteManagers: null }
  }
  const mgr = agent.manager
  const cluster = mgr?.store.state.cluster ?? null
  const managerIds = mgr !== null && cluster !== null
    ? [...mgr.store.state.nodes.values()].filter(n => n.spec.role === 'manager').map(n => n.id)
    : m.members().filter(x => x.role === 'manager' && !x.left).map(x => x.nodeId)
  const nodeCount = mgr !== null && cluster !== null ? mgr.store.state.nodes.size : m.members().filter(x => !x.left).length
  const info: Record<string, unknown> = {
    NodeID: m.nodeId,
    NodeAddr: m.advertiseAddr.replace(/:\d+$/, '').replace(/^\[|\]$/g, ''),
    LocalNodeState: 'active',
    // Docker's "can this socket take cluster writes": on flotilla every node's can (a worker forwards them
    // to the leader), so `docker info` reads "Is Manager: true" on a worker too, and the CLI commands that
    // check it (stack deploy, service create, ...) work there. The node's role is its Spec.Role.
    ControlAvailable: true,
    Error: '',
    RemoteManagers: managerIds.map(id => {
      const a = fromMultiaddr(m.member(id)?.addrs[0] ?? '')
      return { NodeID: id, Addr: a === null ? '' : `${a.ip}:${a.port}` }
    }),
    Nodes: nodeCount,
    Managers: managerIds.length
  }
  if (cluster !== null) info.Cluster = clusterInfoJson(cluster)
  return info
}

/** GET /info. */
export function infoJson (agent: Agent): Record<string, unknown> {
  const d = agent.nodeDescription
  return {
    ID: agent.membership?.nodeId ?? '',
    Name: agent.config.hostname,
    ServerVersion: FLOTILLA_VERSION,
    OperatingSystem: `${platform()} (flotilla)`,
    OSType: d.os,
    Architecture: d.arch,
    KernelVersion: release(),
    NCPU: Math.round(d.nanoCpus / 1e9),
    MemTotal: d.memoryBytes,
    DockerRootDir: agent.config.dataDir,
    Labels: d.engine.state === 'available' ? Object.entries(d.engine.labels).map(([k, v]) => `${k}=${v}`) : [],
    Swarm: swarmInfoJson(agent)
  }
}

/** GET /version. */
export function versionJson (): Record<string, unknown> {
  const details = { ApiVersion: API_VERSION, MinAPIVersion: MIN_API_VERSION, Os: platform(), Arch: goArch(arch()), KernelVersion: release(), GitCommit: '', GoVersion: process.version, BuildTime: '' }
  return {
    Platform: { Name: 'flotilla' },
    // Details are Go's map[string]string: the docker CLI prints `Experimental:` from the string here.
    Components: [{ Name: 'Engine', Version: FLOTILLA_VERSION, Details: { ...details, Experimental: 'false' } }],
    Version: FLOTILLA_VERSION,
    ...details,
    Experimental: false
  }
}
