import type Docker from 'dockerode'
import type { Readable } from 'node:stream'
import { FlotillaError } from '../../../membership/index.js'
import { engineError, nodeFilter } from './containers.js'

/** A container event from the engine (GET /events), keyed by the container's name. */
export interface ContainerEvent {
  readonly kind: 'event'
  /** The engine's action: create, start, die, destroy, pause, unpause, kill, stop, oom… */
  readonly action: string
  readonly containerId: string
  /** The container's name, without the leading slash. */
  readonly name: string
  readonly attributes: Readonly<Record<string, string>>
  /** The engine's time of the event in nanoseconds since the epoch. */
  readonly timeNano: bigint
}

/** The stream ended (engine gone, or `close`): events may have been missed; re-inspect after `ready`. */
export interface StreamLost {
  readonly kind: 'lost'
  readonly error: FlotillaError
}

export type EventListener = (event: ContainerEvent | StreamLost) => void

/**
 * One node's container events: a single GET /events stream filtered by the node's label, shared by all
 * its task controllers (never one per container). The stream opens on the first `ready()`; when it ends,
 * every listener hears 'lost' and the next `ready()` reopens it from just after the last event seen, so
 * the engine replays what happened in between. No timers: reconnection is driven by callers.
 */
export class EngineEvents {
  private stream: Readable | null = null
  private opening: Promise<void> | null = null
  private closed = false
  private lastTimeNano: bigint | undefined
  private readonly listeners = new Map<string, Set<EventListener>>()

  constructor (private readonly docker: Docker, readonly nodeId: string) {}

  /** Resolve once the stream is open (events from now on reach listeners). Rejects with a retryable `unavailable`. */
  async ready (): Promise<void> {
    if (this.closed) throw new FlotillaError('unavailable', 'the executor is closed', { retryable: true })
    if (this.stream !== null) return
    this.opening ??= this.open().finally(() => { this.opening = null })
    await this.opening
  }

  /** Hear the events of the container named `name` until the returned function is called. */
  subscribe (name: string, listener: EventListener): () => void {
    let set = this.listeners.get(name)
    if (set === undefined) this.listeners.set(name, set = new Set())
    set.add(listener)
    return () => {
      set.delete(listener)
      if (set.size === 0 && this.listeners.get(name) === set) this.listeners.delete(name)
    }
  }

  /**
   * End the stream; listeners hear 'lost' and `ready` rejects from now on. Both errors are retryable:
   * the agent is stopping, the tasks have not failed (their drivers stop on their own signal).
   */
  close (): void {
    if (this.closed) return
    this.closed = true
    this.lose(new FlotillaError('unavailable', 'the executor is closed', { retryable: true }))
  }

  private async open (): Promise<void> {
    const filters = { type: ['container' as const], label: [nodeFilter(this.nodeId)] }
    const since = this.lastTimeNano === undefined ? undefined : formatSince(this.lastTimeNano + 1n)
    let stream: Readable
    try {
      // The engine takes `since` as "seconds.nanoseconds"; the typings allow only whole seconds.
      const options = { filters, ...(since === undefined ? {} : { since }) } as unknown as Docker.GetEventsOptions
      stream = await this.docker.getEvents(options) as unknown as Readable
    } catch (err) {
      throw engineError('follow engine events', err)
    }
    if (this.closed) {
      stream.destroy()
      throw new FlotillaError('unavailable', 'the executor is closed', { retryable: true })
    }
    this.stream = stream
    let buffered = ''
    stream.setEncoding('utf8')
    stream.on('data', (chunk: string) => {
      buffered += chunk
      let nl: number
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl).trim()
        buffered = buffered.slice(nl + 1)
        if (line !== '') this.dispatch(line)
      }
    })
    const ended = (err?: Error): void => {
      if (this.stream !== stream) return
      this.lose(new FlotillaError('unavailable', `engine events stream ended${err === undefined ? '' : `: ${err.message}`}`,
        { retryable: true, cause: err }))
    }
    stream.on('end', () => { ended() })
    stream.on('close', () => { ended() })
    stream.on('error', (err: Error) => { ended(err) })
  }

  private lose (error: FlotillaError): void {
    const stream = this.stream
    this.stream = null
    stream?.destroy()
    const lost: StreamLost = { kind: 'lost', error }
    for (const set of [...this.listeners.values()]) {
      for (const l of [...set]) l(lost)
    }
  }

  private dispatch (line: string): void {
    let raw: { Action?: unknown, status?: unknown, Actor?: { ID?: unknown, Attributes?: Record<string, unknown> } }
    try {
      raw = JSON.parse(line) as typeof raw
    } catch {
      // The engine writes one JSON object per line; anything else is not an event.
      return
    }
    const attrs: Record<string, string> = {}
    for (const [k, v] of Object.entries(raw.Actor?.Attributes ?? {})) if (typeof v === 'string') attrs[k] = v
    const name = attrs.name ?? ''
    const action = typeof raw.Action === 'string' ? raw.Action : typeof raw.status === 'string' ? raw.status : ''
    // timeNano exceeds 2^53, which JSON.parse would round: read it from the text.
    const timeNano = BigInt(/"timeNano":(\d+)/.exec(line)?.[1] ?? '0')
    if (this.lastTimeNano === undefined || timeNano > this.lastTimeNano) this.lastTimeNano = timeNano
    const event: ContainerEvent = {
      kind: 'event', action, containerId: typeof raw.Actor?.ID === 'string' ? raw.Actor.ID : '', name, attributes: attrs, timeNano
    }
    for (const l of [...(this.listeners.get(name) ?? [])]) l(event)
  }
}

/** The engine's `since` format: seconds.nanoseconds. */
function formatSince (timeNano: bigint): string {
  const s = timeNano / 1_000_000_000n
  const ns = timeNano % 1_000_000_000n
  return `${s}.${ns.toString().padStart(9, '0')}`
}
