import { join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { readFileIfExists, removeIfExists, writeFileDurable } from './durable-file.js'
import { FlotillaError } from './errors.js'
import type { KnownMember } from './member-table.js'
import type { NodeRole } from './certificate.js'

/**
 * The files a node keeps in its data dir:
 *   node.key        libp2p Ed25519 key (the node's peer identity), 0600, created on first start
 *   membership.json the cluster this node belongs to, its certificate, the members it knew, 0600
 * Each is replaced atomically and fsynced before the change it records is acted on.
 */
export interface MembershipState {
  readonly clusterId: string
  readonly nodeId: string
  readonly role: NodeRole
  readonly certificate: Uint8Array
  readonly rootPublicKeyDer: Uint8Array
  readonly listenAddr: string
  readonly advertiseAddr: string
  /**
   * The highest SWIM incarnation this node may have announced: reserved ahead, a block at a time, before
   * any of it is used (swim-driver.ts). A start begins above it, so peers take a restarted node's alive
   * over its old death, and its broadcasts over replays of its last run's.
   */
  readonly incarnation: number
  readonly members: readonly KnownMember[]
}

const KEY_FILE = 'node.key'
const STATE_FILE = 'membership.json'

/** The node's libp2p identity key, as the rest of flotilla holds it without importing libp2p. */
export type NodeKey = PrivateKey

export async function loadOrCreateNodeKey (dataDir: string): Promise<NodeKey> {
  const path = join(dataDir, KEY_FILE)
  const bytes = await readFileIfExists(path)
  if (bytes !== null) {
    try {
      return privateKeyFromProtobuf(bytes) as unknown as PrivateKey
    } catch (err) {
      throw new FlotillaError('internal', `node key ${path} is corrupt`, {
        cause: err, hint: 'move the file away to give this host a new identity (it must then join again)'
      })
    }
  }
  const key = await generateKeyPair('Ed25519')
  await writeFileDurable(path, privateKeyToProtobuf(key))
  // @libp2p/crypto 5.1.x declares its keys against @libp2p/interface 3 while libp2p 2 uses 2; the
  // runtime objects are the same (libp2p itself uses this @libp2p/crypto), only the declarations differ.
  return key as unknown as PrivateKey
}

interface StateJson extends Omit<MembershipState, 'certificate' | 'rootPublicKeyDer'> {
  certificate: string
  rootPublicKeyDer: string
}

export async function loadMembershipState (dataDir: string): Promise<MembershipState | null> {
  const path = join(dataDir, STATE_FILE)
  const bytes = await readFileIfExists(path)
  if (bytes === null) return null
  try {
    const j = JSON.parse(bytes.toString('utf8')) as StateJson
    return {
      ...j,
      certificate: new Uint8Array(Buffer.from(j.certificate, 'base64')),
      rootPublicKeyDer: new Uint8Array(Buffer.from(j.rootPublicKeyDer, 'base64'))
    }
  } catch (err) {
    throw new FlotillaError('internal', `membership state ${path} is corrupt`, {
      cause: err, hint: 'remove the file and join the cluster again'
    })
  }
}

export async function saveMembershipState (dataDir: string, state: MembershipState): Promise<void> {
  const j: StateJson = {
    ...state,
    certificate: Buffer.from(state.certificate).toString('base64'),
    rootPublicKeyDer: Buffer.from(state.rootPublicKeyDer).toString('base64')
  }
  await writeFileDurable(join(dataDir, STATE_FILE), JSON.stringify(j, null, 2))
}

/** Forget the cluster (after `swarm leave`). */
export async function clearMembership (dataDir: string): Promise<void> {
  await removeIfExists(join(dataDir, STATE_FILE))
}

/** Drop the node key: the next `loadOrCreateNodeKey` makes a new identity (a departed or removed node's stays refused). */
export async function removeNodeKey (dataDir: string): Promise<void> {
  await removeIfExists(join(dataDir, KEY_FILE))
}

/**
 * membership.json as a running node keeps it: `state` is the latest, and each write saves the state as it
 * is when the write starts. Writes go one at a time (they share a temporary file); `saveSoon` gathers
 * a burst of member changes into one write.
 */
export class MembershipStateFile {
  private writing: Promise<void> = Promise.resolve()
  private timer: NodeJS.Timeout | null = null

  constructor (private readonly dataDir: string, public state: MembershipState, private readonly onError: (err: Error) => void) {}

  async save (): Promise<void> {
    const write = this.writing.then(async () => { await saveMembershipState(this.dataDir, this.state) })
    this.writing = write.catch(() => {})
    await write
  }

  /** Save within `delayMs`, once for all the calls until then; a failure goes to `onError`. */
  saveSoon (delayMs: number, update: () => void): void {
    if (this.timer !== null) return
    this.timer = setTimeout(() => {
      this.timer = null
      update()
      this.save().catch((err: unknown) => { this.onError(err as Error) })
    }, delayMs)
  }

  /** No more delayed saves (the node stops; it saves once more itself). */
  stop (): void {
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
  }
}
