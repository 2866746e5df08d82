import type { RaftNode } from '../raft-node.js'
import type { StateMachine } from '../state-machine.js'
import type { ApplyResult } from './applied.js'
import { decodeCommand, encodeCommand, type Command } from './commands.js'
import { decodeStore, encodeStore } from './snapshot-codec.js'
import type { ClusterStore } from './store.js'

/** The managers' Raft, applying cluster commands to the store. */
export type ClusterRaft = RaftNode<Command, ApplyResult>

/** The cluster store as Raft's state machine: commands and snapshots to and from bytes. */
export class StoreMachine implements StateMachine<Command, ApplyResult> {
  constructor (private readonly store: ClusterStore) {}

  encode (cmd: Command): Uint8Array {
    return encodeCommand(cmd)
  }

  apply (index: number, data: Uint8Array): ApplyResult {
    let cmd: Command
    try {
      cmd = decodeCommand(data)
    } catch (err) {
      this.store.skip(index)
      return { ok: false, code: 'invalid-argument', message: `entry ${index} does not decode: ${(err as Error).message}` }
    }
    return this.store.apply(index, cmd)
  }

  skip (index: number): void {
    this.store.skip(index)
  }

  snapshot (): Uint8Array {
    return encodeStore(this.store.state)
  }

  restore (data: Uint8Array): void {
    this.store.restore(decodeStore(data))
  }
}
