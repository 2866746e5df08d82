import { arch, release, platform } from 'node:os'
import { createPublicKey } from 'node:crypto'
import { fromMultiaddrString, joinTokensOf } from './membership-view.js'
import type { ClusterConfig, Member, Membership } from '../../membership/index.js'
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

/** A member as Docker's `Node` object (GET /nodes). */
export function nodeJson (m: Member): Record<string, unknown> {
  const d = m.description
  const engine = d?.engine
  const addr = fromMultiaddrString(m.addrs[0])
  const state = m.liveness === 'ready' || m.liveness === 'suspect' ? 'ready' : m.liveness
  const status: Record<string, unknown> = { State: state, Addr: addr?.ip ?? '' }
  if (engine?.state === 'unavailable') status.Message = engine.message
  const node: Record<string, unknown> = {
    ID: m.nodeId,
    Version: { Index: m.version },
    CreatedAt: iso(m.createdAtMs),
    UpdatedAt: iso(m.updatedAtMs),
    Spec: { Labels: {}, Role: m.role, Availability: 'active' },
    Description: {
      Hostname: m.hostname,
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
  if (m.role === 'manager') {
    node.ManagerStatus = {
      Leader: false,
      Reachability: state === 'ready' ? 'reachable' : 'unreachable',
      Addr: addr === null ? '' : `${addr.ip}:${addr.port}`
    }
  }
  return node
}

function trustRootPem (config: ClusterConfig): string {
  return createPublicKey({ key: Buffer.from(config.root.publicKeyDer), format: 'der', type: 'spki' }).export({ type: 'spki', format: 'pem' }).toString()
}

/** The cluster as Docker's `ClusterInfo` (the Swarm section of /info on managers). */
export function clusterInfoJson (config: ClusterConfig): Record<string, unknown> {
  return {
    ID: config.clusterId,
    Version: { Index: config.version },
    CreatedAt: iso(config.createdAtMs),
    UpdatedAt: iso(config.updatedAtMs),
    Spec: config.spec,
    TLSInfo: { TrustRoot: trustRootPem(config), CertIssuerSubject: '', CertIssuerPublicKey: Buffer.from(config.root.publicKeyDer).toString('base64') },
    RootRotationInProgress: false,
    DefaultAddrPool: ['10.0.0.0/8'],
    SubnetSize: 24,
    DataPathPort: 4789
  }
}

/** GET /swarm: the cluster plus its join tokens (managers only). */
export function swarmJson (config: ClusterConfig): Record<string, unknown> {
  return { ...clusterInfoJson(config), JoinTokens: joinTokensOf(config) }
}

/** The `Swarm` section of GET /info. */
export function swarmInfoJson (agent: Agent): Record<string, unknown> {
  const m: Membership | null = agent.membership
  if (m === null) {
    return { NodeID: '', NodeAddr: '', LocalNodeState: agent.localNodeState, ControlAvailable: false, Error: '', RemoteManagers: null }
  }
  const members = m.members()
  const managers = members.filter(x => x.role === 'manager' && !x.left)
  const info: Record<string, unknown> = {
    NodeID: m.nodeId,
    NodeAddr: m.advertiseAddr.replace(/:\d+$/, '').replace(/^\[|\]$/g, ''),
    LocalNodeState: 'active',
    ControlAvailable: m.role === 'manager',
    Error: '',
    RemoteManagers: managers.map(x => {
      const a = fromMultiaddrString(x.addrs[0])
      return { NodeID: x.nodeId, Addr: a === null ? '' : `${a.ip}:${a.port}` }
    }),
    Nodes: members.filter(x => !x.left).length,
    Managers: managers.length
  }
  if (m.role === 'manager') info.Cluster = clusterInfoJson(m.clusterConfig())
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
    Components: [{ Name: 'Engine', Version: FLOTILLA_VERSION, Details: details }],
    Version: FLOTILLA_VERSION,
    ...details
  }
}
