import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { gossipsub } from '@chainsafe/libp2p-gossipsub'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { TopicValidatorResult, type PrivateKey, type PubSub } from '@libp2p/interface'
import { frameStream, type FrameStream } from './frame-stream.js'
import { grantYamuxWindowAtHalf } from './yamux-window.js'
import { FlotillaError } from './errors.js'
import type { Logger } from './logger.js'

/**
 * The libp2p host, TCP only: tcp + noise + yamux, identify, ping and gossipsub. No UDP transport, no
 * mDNS, no UPnP: peers are found through the join address and gossip. Every libp2p type stays inside
 * this folder; the rest of flotilla sees peer IDs as strings and streams as FrameStreams.
 */
export interface HostInit {
  readonly privateKey: PrivateKey
  /** Multiaddr to listen on, e.g. /ip4/0.0.0.0/tcp/4242 */
  readonly listen: string
  /** Multiaddr peers should dial, e.g. /ip4/10.0.0.5/tcp/4242 */
  readonly announce: string
  readonly logger: Logger
}

export type GossipVerdict = 'accept' | 'reject' | 'ignore'

export interface StreamHandlerInit {
  /** Largest frame the handler reads on this protocol. */
  readonly maxFrameBytes: number
  /** Abort the exchange after this long; 0 for long-lived streams (Raft), which end when the peer goes. */
  readonly timeoutMs: number
}

export class P2PHost {
  private constructor (
    private readonly node: Libp2p<{ pubsub: PubSub }>,
    private readonly log: Logger,
    private readonly gate: { denied: (peerId: string) => boolean }
  ) {}

  static async start (init: HostInit): Promise<P2PHost> {
    grantYamuxWindowAtHalf()
    // The gater is built before the host object exists; it consults whatever `setDenied` installs later.
    const gate = { denied: (_peerId: string): boolean => false }
    // Distinct fast IDs for messages without publisher or seqno (refused anyway under StrictSign).
    let unsignedMessages = 0
    let node: Libp2p<{ pubsub: PubSub }>
    try {
      node = await createLibp2p({
        privateKey: init.privateKey,
        addresses: { listen: [init.listen], announce: [init.announce] },
        transports: [tcp()],
        connectionEncrypters: [noise()],
        // No yamux keep-alive: its ping every 30 s on every connection closes nothing when unanswered (it only
        // measures the round trip), and at fifty members it was three frames a second per agent; SWIM's probes
        // are the liveness check.
        streamMuxers: [yamux({ enableKeepAlive: false })],
        // Liveness is SWIM's job: libp2p's monitor would ping every connection every 10 s (a stream each
        // time, O(N) work per member) and could close a busy peer's connection.
        connectionMonitor: { enabled: false },
        // libp2p limits inbound connections per second from one IP (5 by default): a cluster behind one
        // address (tests, NAT) or a burst of joins must not be dropped for that.
        connectionManager: { maxConnections: 1000, inboundConnectionThreshold: 1000, maxIncomingPendingConnections: 100 },
        connectionGater: {
          denyInboundEncryptedConnection: (peer) => gate.denied(peer.toString()),
          denyOutboundEncryptedConnection: (peer) => gate.denied(peer.toString())
        },
        services: {
          identify: identify(),
          ping: ping(),
          pubsub: gossipsub({
            allowPublishToZeroTopicPeers: true, // a one-node cluster is normal
            emitSelf: false,
            floodPublish: true, // SWIM's news reaches every member the publisher is connected to at once
            // A small mesh: the publisher already reaches its connected members directly, and SWIM's own
            // gossip carries news to the others, so forwarding is only a backup; each extra copy costs
            // every node CPU (measured at 10 agents with heartbeats: D=3 17.1 % idle CPU per agent, D=1 11.5 %).
            D: 1,
            Dlo: 1,
            Dhi: 2,
            Dout: 0,
            Dscore: 1,
            Dlazy: 2,
            fallbackToFloodsub: false,
            // Copies of a message arrive from the publisher and from mesh peers; without a fast ID gossipsub
            // verifies each copy's signature before it finds it is a duplicate (measured: two thirds of the
            // verifications on a leader during a burst of joins). The ID is (publisher, seqno): a copy
            // whose signature would not verify never enters the cache (gossipsub adds it after validation).
            fastMsgIdFn: msg => msg.from !== undefined && msg.seqno !== undefined
              ? Buffer.from(msg.from).toString('base64') + Buffer.from(msg.seqno).toString('base64')
              : `unsigned:${++unsignedMessages}`,
            // Members are certified; many behind one IP (tests, NAT) is normal, not a Sybil attack.
            scoreParams: { IPColocationFactorWeight: 0 }
          })
        }
      })
    } catch (err) {
      const e = err as NodeJS.ErrnoException
      throw new FlotillaError('unavailable', `cannot listen on ${init.listen}: ${e.message}`, {
        cause: err, hint: e.code === 'EADDRINUSE' ? 'another process uses that port; choose another with --listen-addr' : undefined
      })
    }
    return new P2PHost(node, init.logger, gate)
  }

  /** Refuse connections from and to the peers `denied` names (removed nodes), from now on. */
  setDenied (denied: (peerId: string) => boolean): void {
    this.gate.denied = denied
  }

  get peerId (): string {
    return this.node.peerId.toString()
  }

  /** The multiaddrs the host listens on (the OS-assigned port resolved). */
  listenAddrs (): string[] {
    return this.node.getMultiaddrs().map(ma => ma.toString().replace(/\/p2p\/.*$/, ''))
  }

  async stop (): Promise<void> {
    await this.node.stop()
  }

  isConnected (peerId: string): boolean {
    return this.node.getConnections(peerIdFromString(peerId)).some(c => c.status === 'open')
  }

  /** Dial `addr` (a multiaddr, with or without /p2p/<id>); resolves to the noise-authenticated remote peer ID. */
  async dial (addr: string, signal: AbortSignal): Promise<string> {
    const conn = await this.node.dial(multiaddr(addr), { signal })
    return conn.remotePeer.toString()
  }

  async hangUp (peerId: string): Promise<void> {
    await this.node.hangUp(peerIdFromString(peerId))
  }

  onPeerDisconnect (fn: (peerId: string) => void): void {
    this.node.addEventListener('peer:disconnect', ev => { fn(ev.detail.toString()) })
  }

  /**
   * Open `protocol` on an existing or new connection to `addr` and hand back a frame stream plus the
   * authenticated remote peer ID.
   */
  async openStream (addr: string, protocol: string, maxFrameBytes: number, signal: AbortSignal): Promise<{ stream: FrameStream, remotePeer: string }> {
    const conn = await this.node.dial(multiaddr(addr), { signal })
    // Optimistic protocol selection: the protocol name travels with the first frame instead of
    // costing a round trip of its own (an unsupported protocol then fails the first read or write).
    const stream = await conn.newStream(protocol, { signal, negotiateFully: false })
    return { stream: frameStream(stream, maxFrameBytes), remotePeer: conn.remotePeer.toString() }
  }

  /**
   * Serve `protocol`. The handler gets the authenticated remote peer ID. Whatever it throws (an
   * undecodable or oversized frame, a refusal) is logged and the stream aborted; the host lives on.
   */
  async handle (protocol: string, init: StreamHandlerInit, handler: (stream: FrameStream, remotePeer: string, signal: AbortSignal) => Promise<void>): Promise<void> {
    await this.node.handle(protocol, ({ stream, connection }) => {
      const fs = frameStream(stream, init.maxFrameBytes)
      const signal = init.timeoutMs > 0 ? AbortSignal.timeout(init.timeoutMs) : new AbortController().signal
      const remotePeer = connection.remotePeer.toString()
      handler(fs, remotePeer, signal).then(
        async () => { await fs.close().catch(() => {}) },
        (err: unknown) => {
          this.log.debug('stream handler failed; stream closed', { protocol, peer: remotePeer, err: (err as Error).message })
          fs.abort(err instanceof Error ? err : new Error(String(err)))
        }
      )
    }, { maxInboundStreams: 64, force: true })
  }

  async unhandle (protocol: string): Promise<void> {
    await this.node.unhandle(protocol)
  }

  subscribe (topic: string): void {
    this.node.services.pubsub.subscribe(topic)
  }

  unsubscribe (topic: string): void {
    this.node.services.pubsub.unsubscribe(topic)
  }

  /** Publish on `topic`; reaching no peer is fine (a one-node cluster). */
  async publish (topic: string, data: Uint8Array): Promise<void> {
    await this.node.services.pubsub.publish(topic, data)
  }

  /**
   * Validate every message on `topic` before it is delivered or forwarded. `from` is the peer whose
   * libp2p key signed the message (gossipsub's StrictSign policy drops unsigned messages before this).
   */
  setValidator (topic: string, fn: (from: string, data: Uint8Array) => GossipVerdict): void {
    this.node.services.pubsub.topicValidators.set(topic, (_relayer, msg) => {
      if (msg.type !== 'signed') return TopicValidatorResult.Reject
      const v = fn(msg.from.toString(), msg.data)
      return v === 'accept' ? TopicValidatorResult.Accept : v === 'reject' ? TopicValidatorResult.Reject : TopicValidatorResult.Ignore
    })
  }

  /** `fn` runs when a peer starts subscribing to `topic` (e.g. a member that just connected). */
  onSubscribed (topic: string, fn: (peerId: string) => void): void {
    this.node.services.pubsub.addEventListener('subscription-change', ev => {
      for (const sub of ev.detail.subscriptions) {
        if (sub.topic === topic && sub.subscribe) fn(ev.detail.peerId.toString())
      }
    })
  }

  onMessage (topic: string, fn: (from: string, data: Uint8Array) => void): void {
    this.node.services.pubsub.addEventListener('message', ev => {
      const msg = ev.detail
      if (msg.topic === topic && msg.type === 'signed') fn(msg.from.toString(), msg.data)
    })
  }
}
