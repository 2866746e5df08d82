import { FlotillaError, isRecord, type FrameStream, type Logger, type Membership } from '../membership/index.js'
import type { Message, RaftId } from './raft/types.js'

/** Raft between managers, over libp2p. */
export const RAFT_PROTOCOL = '/flotilla/raft/1.0.0'
/**
 * Largest frame on the Raft protocol. Appends carry at most `maxEntriesPerAppend` commands of at most
 * 1 MiB, and snapshots travel in chunks (never whole), so no state size can outgrow it.
 */
export const MAX_RAFT_FRAME = 32 * 1024 * 1024
/** Messages queued for one peer before the oldest are dropped (Raft retransmits what matters). */
const MAX_QUEUE = 4096
const DIAL_TIMEOUT_MS = 2000

interface PeerQueue {
  messages: Message[]
  stream: FrameStream | null
  pumping: boolean
  retryAtMs: number
}

/**
 * Sends Raft messages to managers and delivers the ones it receives. Each peer gets one long-lived
 * stream on which batches are written back to back (appends are pipelined; no round trip per entry).
 * Inbound streams must open with a manager certificate of this cluster (checked by the membership
 * handshake and `isManager`), and every message must name its sender as `from`: a worker's, a
 * stranger's or a spoofed frame is refused and its stream closed.
 */
export class RaftTransport {
  private readonly peers = new Map<RaftId, PeerQueue>()
  private readonly log: Logger
  private stopped = false

  constructor (
    private readonly membership: Membership,
    private readonly isManager: (nodeId: string) => boolean,
    logger: Logger,
    private readonly now: () => number
  ) {
    this.log = logger.child('raft-transport')
  }

  async listen (deliver: (msg: Message) => void, validate: (raw: unknown) => Message | null): Promise<void> {
    await this.membership.serveMembers(RAFT_PROTOCOL, { maxFrameBytes: MAX_RAFT_FRAME, timeoutMs: 0 }, (peer) => {
      if (peer.claims.role !== 'manager') return 'Raft is for managers only'
      if (!this.isManager(peer.claims.nodeId)) return `node ${peer.claims.nodeId} is not a manager of this cluster`
      return null
    }, async (stream, peer) => {
      for (;;) {
        if (this.stopped) return
        const frame = await stream.read()
        if (!isRecord(frame) || !Array.isArray(frame.msgs) || frame.msgs.length > 10_000) {
          throw new FlotillaError('invalid-argument', 'malformed Raft frame')
        }
        for (const raw of frame.msgs) {
          const msg = validate(raw)
          if (msg === null || msg.from !== peer.claims.nodeId) {
            throw new FlotillaError('invalid-argument', `Raft message from ${peer.claims.nodeId} is malformed or names another sender`)
          }
          deliver(msg)
        }
      }
    })
  }

  /** Queue messages for their peers; never blocks the caller. */
  send (messages: readonly Message[]): void {
    if (this.stopped) return
    for (const m of messages) {
      let q = this.peers.get(m.to)
      if (q === undefined) {
        q = { messages: [], stream: null, pumping: false, retryAtMs: 0 }
        this.peers.set(m.to, q)
      }
      q.messages.push(m)
      if (q.messages.length > MAX_QUEUE) q.messages.splice(0, q.messages.length - MAX_QUEUE)
      if (!q.pumping) this.pump(m.to, q)
    }
  }

  private pump (to: RaftId, q: PeerQueue): void {
    q.pumping = true
    const run = async (): Promise<void> => {
      while (q.messages.length > 0 && !this.stopped) {
        if (q.stream === null) {
          if (this.now() < q.retryAtMs) {
            q.messages = [] // the peer is unreachable: drop, Raft resends after its timeouts
            return
          }
          try {
            q.stream = await this.membership.dialMember(to, RAFT_PROTOCOL, MAX_RAFT_FRAME, AbortSignal.timeout(DIAL_TIMEOUT_MS))
          } catch (err) {
            q.retryAtMs = this.now() + 100
            q.messages = []
            this.log.debug('cannot reach manager', { node: to, err: (err as Error).message })
            return
          }
        }
        const batch = q.messages
        q.messages = []
        try {
          await q.stream.write({ msgs: batch })
        } catch (err) {
          this.log.debug('Raft stream to manager broke', { node: to, err: (err as Error).message })
          q.stream.abort(err as Error)
          q.stream = null
        }
      }
    }
    void run().finally(() => { q.pumping = false })
  }

  stop (): void {
    this.stopped = true
    for (const q of this.peers.values()) {
      q.stream?.abort(new Error('transport stopped'))
      q.messages = []
    }
    this.peers.clear()
  }
}
