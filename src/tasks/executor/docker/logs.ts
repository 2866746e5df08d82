import type Docker from 'dockerode'
import type { Readable } from 'node:stream'
import type { LogLine, LogOptions, LogSelector } from '../types.js'
import { LABELS, engineError, engineStatus, nodeFilter } from './containers.js'
import { MuxParser, parseTimestamped } from './log-frames.js'

/** A rejection reason as an Error (dockerode's callbacks type theirs loosely). */
function asError (err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err))
}

/** How often a follow re-lists the node's containers for tasks started since (SwarmKit's agent reacts to assignments). */
export const LOG_RELIST_MS = 1000
/** Lines read ahead of the consumer, all containers together; the engine's streams pause beyond it. */
const QUEUE_LINES = 1000
/** A longer line is cut (the engine itself splits lines at 16 KiB, so this is never hit by a real one). */
export const MAX_LOG_TEXT_BYTES = 64 * 1024

/** The engine clients: `calls` (with a timeout) lists containers, `slow` (none) carries log streams that may stay idle. */
export interface LogEngine {
  readonly calls: Docker
  readonly slow: Docker
}

interface ContainerRef {
  readonly id: string
  readonly taskId: string
  readonly serviceId: string
}

/** Open `GET /containers/{id}/logs` as a stream in both modes (dockerode buffers the whole answer unless following). */
async function openLogs (docker: Docker, id: string, follow: boolean, tail: number | 'all', since: string | null, signal: AbortSignal): Promise<Readable> {
  const options: Record<string, unknown> = { follow, stdout: true, stderr: true, timestamps: true, tail: tail === 'all' ? 'all' : tail }
  if (since !== null) options.since = since
  const modem = docker.modem as { dial: (o: unknown, cb: (err: unknown, data: unknown) => void) => void }
  return await new Promise((resolve, reject) => {
    modem.dial({
      path: `/containers/${id}/logs?`,
      method: 'GET',
      abortSignal: signal,
      isStream: true,
      statusCodes: { 200: true, 404: 'no such container', 500: 'server error' },
      options
    }, (err, data) => { if (err !== null && err !== undefined) reject(asError(err)); else resolve(data as Readable) })
  })
}

/**
 * Node `nodeId`'s container logs through `docker` (Executor.logs): the containers labelled with the
 * node and with the selected service or tasks, each read with `timestamps=1` and demultiplexed. With
 * `follow`, the containers are re-listed every LOG_RELIST_MS and those not seen before are read from
 * their first line; a container still 'created' waits for its start. Lines of one container keep their
 * order; containers interleave as their lines arrive. A container removed meanwhile is skipped.
 */
export async function * readNodeLogs (engine: LogEngine, nodeId: string, selector: LogSelector, options: LogOptions, signal: AbortSignal): AsyncGenerator<LogLine> {
  const life = new AbortController()
  const stop = AbortSignal.any([signal, life.signal])
  const queue: LogLine[] = []
  let consumerWake: (() => void) | null = null
  let room: Array<() => void> = []
  let done = false
  let failure: Error | undefined
  const wakeConsumer = (): void => { const w = consumerWake; consumerWake = null; w?.() }
  const wakeProducers = (): void => { const r = room; room = []; for (const w of r) w() }
  stop.addEventListener('abort', () => { wakeConsumer(); wakeProducers() }, { once: true })

  const emit = async (line: LogLine): Promise<void> => {
    while (queue.length >= QUEUE_LINES && !stop.aborted) await new Promise<void>(resolve => { room.push(resolve) })
    if (stop.aborted) return
    queue.push(line)
    wakeConsumer()
  }

  const readContainer = async (c: ContainerRef, tail: number | 'all'): Promise<void> => {
    let stream: Readable
    try {
      stream = await openLogs(engine.slow, c.id, options.follow, tail, options.since, stop)
    } catch (err) {
      if (stop.aborted || engineStatus(err) === 404) return
      throw engineError(`read the logs of container ${c.id.slice(0, 12)}`, err)
    }
    const parser = new MuxParser()
    try {
      for await (const chunk of stream) {
        for (const f of parser.push(chunk as Buffer)) {
          if (f.stream !== 1 && f.stream !== 2) continue
          const parsed = parseTimestamped(f.payload)
          if (parsed === undefined) continue
          const text = Buffer.byteLength(parsed.text) > MAX_LOG_TEXT_BYTES ? Buffer.from(parsed.text).subarray(0, MAX_LOG_TEXT_BYTES).toString('utf8') + '\n' : parsed.text
          await emit({ taskId: c.taskId, serviceId: c.serviceId, nodeId, stream: f.stream === 1 ? 'stdout' : 'stderr', timestamp: parsed.timestamp, text })
          if (stop.aborted) return
        }
      }
    } catch (err) {
      if (stop.aborted) return
      throw engineError(`read the logs of container ${c.id.slice(0, 12)}`, err)
    } finally {
      stream.destroy()
    }
  }

  const wanted = new Set(selector.taskIds)
  const produce = async (): Promise<void> => {
    const seen = new Set<string>()
    const workers = new Set<Promise<void>>()
    let workerFailure: Error | undefined
    let first = true
    while (!stop.aborted) {
      let list: Docker.ContainerInfo[]
      try {
        list = await engine.calls.listContainers({ all: true, filters: { label: [nodeFilter(nodeId)] }, abortSignal: stop } as Docker.ContainerListOptions)
      } catch (err) {
        if (stop.aborted) break
        throw engineError(`list the containers of node ${nodeId}`, err)
      }
      for (const info of list) {
        const labels = info.Labels
        const taskId = labels[LABELS.taskId] ?? ''
        const serviceId = labels[LABELS.serviceId] ?? ''
        if (seen.has(info.Id) || labels[LABELS.nodeId] !== nodeId || taskId === '') continue
        if (serviceId !== selector.serviceId && !wanted.has(taskId)) continue
        // A created container's log is empty and a follow on it ends at once: read it once it has started.
        if (options.follow && info.State === 'created') continue
        seen.add(info.Id)
        const w: Promise<void> = readContainer({ id: info.Id, taskId, serviceId }, first ? options.tail : 'all')
          .catch((err: unknown) => { workerFailure ??= asError(err); life.abort() })
          .finally(() => { workers.delete(w) })
        workers.add(w)
      }
      first = false
      if (!options.follow) break
      await new Promise<void>(resolve => {
        const t = setTimeout(done, LOG_RELIST_MS)
        function done (): void { clearTimeout(t); stop.removeEventListener('abort', done); resolve() }
        stop.addEventListener('abort', done, { once: true })
      })
    }
    await Promise.all(workers)
    if (workerFailure !== undefined) throw workerFailure
  }

  const producing = produce().then(() => { done = true }, (err: unknown) => { failure = asError(err); done = true }).finally(wakeConsumer)
  try {
    for (;;) {
      const line = queue.shift()
      if (line !== undefined) {
        if (queue.length < QUEUE_LINES) wakeProducers()
        yield line
        continue
      }
      if (failure !== undefined && !signal.aborted) throw failure
      if (done || signal.aborted) return
      await new Promise<void>(resolve => { consumerWake = resolve })
    }
  } finally {
    life.abort()
    await producing
  }
}
