/**
 * The session's two carriers: a member-only libp2p stream to the leader, and an in-process link for the
 * leader's own node (a node cannot dial itself). Both deliver frames asynchronously and report the end
 * of the session once, unless the node closed it itself.
 */
import { FlotillaError, type Membership } from '../../membership/index.js'
import type { Dispatcher } from './dispatcher.js'
import {
  DISPATCH_PROTOCOL, MAX_DISPATCH_FRAME, parseLeaderMessage, parseNodeMessage,
  type DispatcherLink, type LeaderMessage, type LinkHandlers, type NodeMessage
} from './protocol.js'

const DIAL_TIMEOUT_MS = 3000

/** Where a session opened on this node goes: the local dispatcher when this node leads, else who leads. */
export type DispatchTarget = { readonly dispatcher: Dispatcher } | { readonly leaderId: string | null }

/**
 * Serve the dispatch protocol on `membership`: a session goes to the dispatcher when this node is the
 * leader; otherwise the node is told who is. A malformed frame ends the session.
 */
export async function serveDispatch (membership: Membership, target: () => DispatchTarget): Promise<void> {
  await membership.serveMembers(DISPATCH_PROTOCOL, { maxFrameBytes: MAX_DISPATCH_FRAME, timeoutMs: 0 }, () => null, async (stream, peer, signal) => {
    const t = target()
    if (!('dispatcher' in t)) {
      await stream.write({ t: 'not-leader', leaderId: t.leaderId } satisfies LeaderMessage, signal)
      return
    }
    const ended = new AbortController()
    let writes = Promise.resolve()
    const send = (msg: LeaderMessage): void => {
      writes = writes.then(async () => { await stream.write(msg, signal) }).catch((err: unknown) => { ended.abort(err) })
    }
    const session = t.dispatcher.open(peer.claims.nodeId, send, reason => {
      // Let the frames already queued go out first (e.g. a last set of changes), then end the stream.
      writes = writes.finally(() => { ended.abort(new FlotillaError('unavailable', reason, { retryable: true })) })
    })
    const both = AbortSignal.any([signal, ended.signal])
    try {
      for (;;) {
        const msg = parseNodeMessage(await stream.read(both))
        if (msg === null) throw new FlotillaError('invalid-argument', `node ${peer.claims.nodeId} sent a malformed dispatcher frame`)
        session.receive(msg)
      }
    } finally {
      session.closed()
    }
  })
}

/** How long closing a session waits for its last frames to go out. */
const CLOSE_FLUSH_MS = 1000

/** Open a session with leader `leaderId` over libp2p. */
export async function connectRemote (membership: Membership, leaderId: string, handlers: LinkHandlers): Promise<DispatcherLink> {
  const stream = await membership.dialMember(leaderId, DISPATCH_PROTOCOL, MAX_DISPATCH_FRAME, AbortSignal.timeout(DIAL_TIMEOUT_MS))
  const life = new AbortController()
  let ended = false
  const end = (reason: string, notify = true): void => {
    if (ended) return
    ended = true
    life.abort()
    stream.abort(new Error(reason))
    if (notify) handlers.onClose(reason)
  }
  let writes = Promise.resolve()
  const reading = async (): Promise<void> => {
    for (;;) {
      const msg = parseLeaderMessage(await stream.read(life.signal))
      if (msg === null) throw new FlotillaError('invalid-argument', `leader ${leaderId} sent a malformed dispatcher frame`)
      handlers.onMessage(msg)
      if (msg.t === 'not-leader') throw new FlotillaError('unavailable', `node ${leaderId} is not the leader`, { retryable: true })
    }
  }
  reading().catch((err: unknown) => { end((err as Error).message) })
  return {
    send (msg: NodeMessage) {
      if (ended) return
      writes = writes.then(async () => { await stream.write(msg, life.signal) }).catch((err: unknown) => { end((err as Error).message) })
    },
    async close () {
      if (ended) return
      // What was sent last (reports, `leaving`) goes out before the stream ends, within a bound.
      const flushed = writes.then(async () => { await stream.close() }).catch(() => {})
      let timer: NodeJS.Timeout | undefined
      await Promise.race([flushed, new Promise<void>(resolve => { timer = setTimeout(resolve, CLOSE_FLUSH_MS) })])
      clearTimeout(timer)
      end('closed by this node', false)
    }
  }
}

/** Open a session with this node's own dispatcher (it is the leader). */
export function connectLocal (dispatcher: Dispatcher, nodeId: string, handlers: LinkHandlers): DispatcherLink {
  let ended = false
  const end = (reason: string, notify: boolean): void => {
    if (ended) return
    ended = true
    session.closed()
    if (notify) queueMicrotask(() => { handlers.onClose(reason) })
  }
  // Frames cross asynchronously, as over a stream: neither side runs inside the other's call.
  const session = dispatcher.open(nodeId, msg => { queueMicrotask(() => { if (!ended) handlers.onMessage(msg) }) }, reason => { end(reason, true) })
  return {
    send (msg: NodeMessage) { queueMicrotask(() => { if (!ended) session.receive(msg) }) },
    // After the frames already sent, which cross on microtasks too.
    async close () { await new Promise<void>(resolve => { queueMicrotask(() => { end('closed by this node', false); resolve() }) }) }
  }
}
