/**
 * An in-memory stand-in for the Raft leader: commands apply at once to a real ClusterStore, each at the
 * next index, and a refusal rejects as the manager's propose does. What the leader's components see
 * is the store they see in an agent; only consensus is left out.
 */
import { ClusterStore } from '../../../../src/election/index.js'
import { check } from '../../../../src/election/manager.js'
import { secretDigest } from '../../../../src/election/state/apply.js'
import type { Command, StoreState } from '../../../../src/election/index.js'
import { silentLogger, type NodeDescription } from '../../../../src/membership/index.js'
import type { LeaderDeps } from '../../../../src/tasks/index.js'

export const quietLogger = silentLogger

export function description (over: Partial<NodeDescription> = {}): NodeDescription {
  return { os: 'linux', arch: 'x86_64', nanoCpus: 2e9, memoryBytes: 4 * 2 ** 30, engine: { state: 'available', version: '20.10', labels: {} }, ...over }
}

export class MemoryLeader {
  readonly store = new ClusterStore()
  private index = 0
  nowMs = 1_000_000
  readonly log: Command[] = []

  constructor () {
    this.apply({
      op: 'cluster.init',
      cluster: { id: 'c1', createdAtMs: 0, updatedAtMs: 0, spec: {}, root: { publicKeyDer: new Uint8Array(), privateKeyDer: new Uint8Array() }, secrets: { worker: 'w', manager: 'm' } },
      node: node('n1', 'manager')
    })
  }

  get state (): StoreState { return this.store.state }

  apply (cmd: Command): void {
    this.log.push(cmd)
    check(this.store.apply(++this.index, cmd))
  }

  deps (): LeaderDeps {
    return { store: this.store, propose: async cmd => { this.apply(cmd) }, now: () => this.nowMs, logger: quietLogger }
  }

  addNode (id: string, role: 'manager' | 'worker' = 'worker'): void {
    this.apply({ op: 'node.admit', node: node(id, role), secretDigest: secretDigest(role === 'worker' ? 'w' : 'm') })
  }

  ready (id: string, d: NodeDescription = description()): void {
    this.apply({ op: 'node.status', id, state: 'ready', message: '', description: d, nowMs: this.nowMs })
  }
}

function node (id: string, role: 'manager' | 'worker'): Extract<Command, { op: 'node.admit' }>['node'] {
  return {
    id, peerId: `peer-${id}`, hostname: `host-${id}`, spec: { role, availability: 'active', labels: {} }, certificate: new Uint8Array(),
    status: { state: 'unknown', message: '', sinceMs: 0, addr: '' }, description: null, networkAddresses: [], createdAtMs: 0, updatedAtMs: 0
  }
}
