import type { FrameStream } from './frame-stream.js'
import type { Logger } from './logger.js'
import type { PeerIdentity } from './member-streams.js'
import { MAX_SWIM_FRAME_BYTES, type SwimMessage } from './swim/index.js'

/** The member-only protocol that carries SWIM's messages between two members. */
export const SWIM_PROTOCOL = '/flotilla/swim/1.0.0'

/** Cap on a frame: a push-pull table with every member's view. */
export const MAX_SWIM_STREAM_FRAME = MAX_SWIM_FRAME_BYTES
/**
 * A stream to a member not yet connected costs a connection (noise, identify): on a busy host that can
 * take seconds, and a dial cut short is work thrown away and tried again. SWIM does not wait for it: a
 * probe goes indirect after its own timeout meanwhile.
 */
const DIAL_TIMEOUT_MS = 10_000
/** Messages held for a member while its stream opens; SWIM's are stale soon after, so few. */
const MAX_HELD = 16
/**
 * Writes waiting on one stream before more are dropped (a member that does not read, or a host too busy
 * to write): SWIM's messages are soon stale, and a push-pull answer can be a whole table.
 */
const MAX_PENDING_WRITES = 32
/**
 * Streams being opened at once; more wait their turn. Each is a connection's noise handshake and
 * identify for a member not yet connected: a joiner that learns fifty members at once must not open
 * fifty connections at once on a busy host (each then times out, and its member looks unreachable).
 */
const MAX_DIALS = 8
const FIRST_BACKOFF_MS = 250
const MAX_BACKOFF_MS = 4000

/** What the channels need from the membership: its member-only streams, and where frames go. */
export interface ChannelDeps {
  readonly serve: (protocol: string, handler: (stream: FrameStream, peer: PeerIdentity, signal: AbortSignal) => Promise<void>) => Promise<void>
  readonly unserve: (protocol: string) => Promise<void>
  /** Open the protocol to a member (dialMember with `confirmed`: a refusal fails the dial). */
  readonly dial: (nodeId: string, protocol: string, signal: AbortSignal) => Promise<FrameStream>
  /** A decoded frame from member `from` (to be checked: it comes from the network). */
  readonly receive: (from: string, frame: unknown) => void
  /** Nothing could be sent to `to`: no stream opens. Called asynchronously, never from within `send`. */
  readonly unreachable: (to: string) => void
  readonly now: () => number
  readonly log: Logger
}

class Channel {
  private tail: Promise<void> = Promise.resolve()
  private pending = 0
  closed = false

  constructor (readonly node: string, readonly stream: FrameStream, private readonly onClose: (c: Channel) => void) {}

  /** Queue a write; false when the stream is closed or too far behind. */
  write (msg: SwimMessage): boolean {
    if (this.closed || this.pending >= MAX_PENDING_WRITES) return false
    this.pending++
    // No abort signal per write or read: each costs listeners on every frame, and closing the stream
    // fails whatever is pending anyway.
    this.tail = this.tail.then(async () => {
      if (!this.closed) await this.stream.write(msg)
    }).catch((err: unknown) => { this.close(err) }).finally(() => { this.pending-- })
    return true
  }

  close (err?: unknown): void {
    if (this.closed) return
    this.closed = true
    this.stream.abort(err instanceof Error ? err : new Error('swim channel closed'))
    this.onClose(this)
  }
}

/**
 * SWIM's transport between members: a long-lived stream of the member-only protocol per member, opened
 * on demand by the first message for it (its certificate checked once, at the open, by member-streams),
 * and used both ways: this node writes to whichever stream it shares with the member — the one it opened
 * or the one the member opened — and reads both. Messages are best effort, as SWIM expects: a dial that
 * fails drops what waited for it, tells SWIM the member is unreachable (so that a probe goes indirect at
 * once), and backs off (250 ms doubling to 4 s) until the member opens a stream itself or `reset`. At
 * most MAX_DIALS streams are being opened at once.
 */
export class SwimChannels {
  private readonly open = new Map<string, Channel[]>()
  /** Members a stream is being opened to (or waits its turn), with the messages held for them. */
  private readonly dialing = new Map<string, { held: SwimMessage[], lastDelayMs: number }>()
  private readonly dialQueue: string[] = []
  private dials = 0
  private readonly backoff = new Map<string, { untilMs: number, delayMs: number }>()
  private stopped = false

  constructor (private readonly deps: ChannelDeps) {}

  async start (): Promise<void> {
    await this.deps.serve(SWIM_PROTOCOL, async (stream, peer) => {
      this.backoff.delete(peer.claims.nodeId)
      await this.readLoop(this.add(peer.claims.nodeId, stream))
    })
  }

  /** Send `msg` to member `to` over a shared stream, opening one when there is none. */
  send (to: string, msg: SwimMessage): void {
    if (this.stopped) return
    const chans = this.open.get(to)
    const c = chans?.[chans.length - 1]
    if (c !== undefined) {
      if (!c.write(msg)) this.deps.log.debug('swim message dropped: stream behind', { node: to, t: msg.t })
      return
    }
    const pending = this.dialing.get(to)
    if (pending !== undefined) {
      if (pending.held.length < MAX_HELD) pending.held.push(msg)
      return
    }
    const b = this.backoff.get(to)
    if (b !== undefined && b.untilMs > this.deps.now()) {
      queueMicrotask(() => { this.deps.unreachable(to) })
      return
    }
    this.dialing.set(to, { held: [msg], lastDelayMs: b?.delayMs ?? 0 })
    this.dialQueue.push(to)
    this.nextDials()
  }

  /** Start the waiting dials that fit under MAX_DIALS. */
  private nextDials (): void {
    while (this.dials < MAX_DIALS && this.dialQueue.length > 0 && !this.stopped) {
      const to = this.dialQueue.shift()!
      this.dials++
      this.dial(to).catch((err: unknown) => {
        this.deps.log.debug('swim dial failed', { node: to, err: (err as Error).message })
      }).finally(() => {
        this.dials--
        this.nextDials()
      })
    }
  }

  /** Open a stream to `to` and send what waited for it; its read loop then runs on its own. */
  private async dial (to: string): Promise<void> {
    const lastDelayMs = this.dialing.get(to)?.lastDelayMs ?? 0
    let stream: FrameStream
    try {
      stream = await this.deps.dial(to, SWIM_PROTOCOL, AbortSignal.timeout(DIAL_TIMEOUT_MS))
    } catch (err) {
      this.dialing.delete(to)
      const delayMs = Math.min(Math.max(lastDelayMs * 2, FIRST_BACKOFF_MS), MAX_BACKOFF_MS)
      this.backoff.set(to, { untilMs: this.deps.now() + delayMs, delayMs })
      if (!this.stopped) this.deps.unreachable(to)
      throw err
    }
    const held = this.dialing.get(to)?.held ?? []
    this.dialing.delete(to)
    this.backoff.delete(to)
    if (this.stopped) {
      stream.abort(new Error('swim stopped'))
      return
    }
    const c = this.add(to, stream)
    for (const m of held) c.write(m)
    void this.readLoop(c)
  }

  private add (node: string, stream: FrameStream): Channel {
    const c = new Channel(node, stream, closed => {
      const rest = (this.open.get(node) ?? []).filter(x => x !== closed)
      if (rest.length === 0) this.open.delete(node)
      else this.open.set(node, rest)
    })
    this.open.set(node, [...(this.open.get(node) ?? []), c])
    return c
  }

  /** Hand every frame of `c` on until the stream ends or fails; then it is closed. */
  private async readLoop (c: Channel): Promise<void> {
    try {
      for (;;) {
        const frame = await c.stream.read()
        if (c.closed) return
        this.deps.receive(c.node, frame)
      }
    } catch (err) {
      if (!c.closed) this.deps.log.debug('swim stream ended', { node: c.node, err: (err as Error).message })
    } finally {
      c.close()
    }
  }

  /** Forget the dial backoff of `node` (it restarted: its address may answer again). */
  reset (node: string): void {
    this.backoff.delete(node)
  }

  /** Close every stream with `node` (removed from the cluster). */
  close (node: string): void {
    for (const c of this.open.get(node) ?? []) c.close()
    this.backoff.delete(node)
  }

  async stop (): Promise<void> {
    this.stopped = true
    for (const chans of [...this.open.values()]) for (const c of chans) c.close()
    await this.deps.unserve(SWIM_PROTOCOL).catch((err: unknown) => {
      this.deps.log.debug('could not stop serving swim streams', { err: (err as Error).message })
    })
  }

  /** Members with an open stream (tests, metrics). */
  get connected (): number {
    return this.open.size
  }
}
