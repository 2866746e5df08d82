/**
 * A Jepsen-style compare-and-set workload against real agents: one client per agent socket, each a
 * loop of `read`, then (with probability `casProbability`) `cas(valueRead, fresh)`, recorded into a
 * history for `checkLinearizable(casRegister(initial), …)`.
 *
 * The register is one flotilla service with 0 replicas (no task, no container) whose value is its
 * label `jepsen.value` (absent: `null`).
 * - read: `GET /services/{name}` → `Spec.Labels['jepsen.value']`, with `Version.Index`.
 * - cas(expected, next): `POST /services/{id}/update?version=V` where V is the `Version.Index` of this
 *   client's read that returned `expected`, and the body is the spec as read with only the label set
 *   to `next`. Docker's update replaces the whole spec (a partial body would reset the rest), so the
 *   rest of the spec is sent back unchanged.
 *
 * Why a version-conditioned update is a CAS on the label. The store applies `service.update` only when
 * the service's version is still V, and every applied update sets the version to its log index, a new
 * number; nothing else changes a service's version here (task reconciles and update-status writes keep
 * it; a rollback changes it, but with 0 replicas no update fails, so none happens). Every value written
 * is fresh (seed, client and counter), written by one CAS at most, and only this workload's updates
 * change the label. So:
 * - version still V ⇒ no update applied since the read ⇒ the label is still `expected`;
 * - version moved on ⇒ some update applied since, which wrote a fresh value never equal to `expected`
 *   (no value is written twice) ⇒ the label is not `expected`.
 * Hence "version matches" ⇔ "value is expected" at the moment the update is applied, and a 409
 * ("update out of sequence") is exactly a CAS that found another value. A stale read (a version that
 * was already superseded) makes the CAS fail, which the model also predicts from a stale `expected`;
 * the stale read itself is what the checker catches.
 *
 * Results: 200 ok; 409 "out of sequence" failed/conflict; another 4xx failed/refused; a connection that
 * never opened (ENOENT, ECONNREFUSED: nothing was sent) failed/refused; a timeout, a reset or any 5xx
 * unknown (the proposal may have been committed).
 */
import { callSocket, type ApiResult } from '../agent-process.js'
import { Rng } from '../rng.js'
import { TEST_IMAGE } from '../test-image.js'
import { countResults, HistoryRecorder, type OpResult } from './history.js'
import type { RegisterInput, RegisterOp, RegisterOutput, RegisterValue } from './cas-register.js'

/** The service label that holds the register's value. */
export const VALUE_LABEL = 'jepsen.value'
/** Docker's image name for the register service; it never runs (0 replicas). */
export const REGISTER_IMAGE = TEST_IMAGE

/** What a fault hook sees at each tick. */
export interface WorkloadTick {
  /** 0, 1, 2, … */
  readonly index: number
  /** Since the workload started, monotonic ms. */
  readonly elapsedMs: number
  /** Operations invoked so far (final reads excluded). */
  readonly opsInvoked: number
  /** A generator forked from the workload's seed for the fault schedule: the same on every tick. */
  readonly rng: Rng
  /** Record a fault (or any event) at the current time in the result's `events`. */
  readonly mark: (note: string) => void
}

export interface CasWorkloadInit {
  /** One client per socket path, all running concurrently. */
  readonly sockets: readonly string[]
  /** The register service's name (it must exist: see `createRegisterService`). */
  readonly serviceName: string
  /** Stop invoking new operations after this long, ms. */
  readonly durationMs: number
  /** …or after this many operations over all clients, whichever comes first. */
  readonly maxOps: number
  /** Seeds every choice (CAS or not, fresh values, the fault hook's generator). */
  readonly seed: number
  /** Chance that a successful read is followed by a CAS; default 0.5. */
  readonly casProbability?: number
  /** Per-call timeout, ms; default 5,000. A call that times out is `unknown`. */
  readonly callTimeoutMs?: number
  /** Pause after a refused connection (the agent is down), ms; default 50. */
  readonly refusedBackoffMs?: number
  /** After the loops end, each client reads once more (catches acknowledged writes lost later); default true. */
  readonly finalReads?: boolean
  /** Called every `tickMs` while the clients run, one call at a time (awaited); a throw stops the workload and is rethrown. */
  readonly onTick?: (tick: WorkloadTick) => void | Promise<void>
  /** Default 100 ms. */
  readonly tickMs?: number
}

export interface CasWorkloadResult {
  /** Every operation, by invocation order (times are `performance.now()` ms). */
  readonly history: RegisterOp[]
  /** Operations by kind and result: `{ read: { ok, failed, unknown }, cas: { … } }`. */
  readonly counts: Record<'read' | 'cas', Record<OpResult, number>>
  /** What the fault hook marked, with `performance.now()` times. */
  readonly events: ReadonlyArray<{ readonly atMs: number, readonly note: string }>
  /** From the first invocation to the last completion, ms. */
  readonly durationMs: number
}

/** Create the register: a replicated service of 0 replicas labelled with `initial`; returns its ID. */
export async function createRegisterService (socket: string, name: string, initial: string, timeoutMs = 10_000): Promise<string> {
  const spec = {
    Name: name,
    Labels: { [VALUE_LABEL]: initial },
    TaskTemplate: { ContainerSpec: { Image: REGISTER_IMAGE, Args: ['sleep', '3600'] } },
    Mode: { Replicated: { Replicas: 0 } }
  }
  const r = await callSocket(socket, 'POST', '/services/create', spec, timeoutMs)
  if (r.status !== 201) throw new Error(`POST /services/create ${name}: ${r.status} ${JSON.stringify(r.body)}`)
  return (r.body as { ID: string }).ID
}

/** Run the workload (see the module comment); resolves when every client has stopped. */
export async function runCasWorkload (init: CasWorkloadInit): Promise<CasWorkloadResult> {
  const callTimeoutMs = init.callTimeoutMs ?? 5_000
  const casProbability = init.casProbability ?? 0.5
  const backoffMs = init.refusedBackoffMs ?? 50
  const root = new Rng(init.seed)
  const clientRngs = init.sockets.map(() => root.fork())
  const faultRng = root.fork()
  const recorder = new HistoryRecorder<RegisterInput, RegisterOutput>()
  const events: Array<{ atMs: number, note: string }> = []
  const startMs = performance.now()
  let invoked = 0
  let stopped = false
  const more = (): boolean => !stopped && invoked < init.maxOps && performance.now() - startMs < init.durationMs

  const call = async (socket: string, method: string, path: string, body?: unknown): Promise<ApiResult | { error: Error & { code?: string } }> => {
    try {
      return await callSocket(socket, method, path, body, callTimeoutMs)
    } catch (err) {
      return { error: err as Error & { code?: string } }
    }
  }

  /** One read; the value and the service as read when it succeeded. */
  const read = async (client: number, socket: string): Promise<{ value: RegisterValue, id: string, version: number, spec: Record<string, unknown> } | null> => {
    const op = recorder.invoke(client, { kind: 'read' })
    const r = await call(socket, 'GET', `/services/${encodeURIComponent(init.serviceName)}`)
    if ('error' in r) {
      endOnError(op, r.error)
      return null
    }
    if (r.status === 200) {
      const body = r.body as { ID: string, Version: { Index: number }, Spec: Record<string, unknown> & { Labels?: Record<string, string> } }
      const value = body.Spec.Labels?.[VALUE_LABEL] ?? null
      op.ok(value, `version ${body.Version.Index}`)
      return { value, id: body.ID, version: body.Version.Index, spec: body.Spec }
    }
    endOnStatus(op, r)
    return null
  }

  const endOnError = (op: { fail: (f: 'refused', note?: string) => void, unknown: (note?: string) => void }, err: Error & { code?: string }): void => {
    if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') op.fail('refused', err.code)
    else op.unknown(err.code ?? err.message)
  }
  const endOnStatus = (op: { fail: (f: 'conflict' | 'refused', note?: string) => void, unknown: (note?: string) => void }, r: ApiResult): void => {
    const message = typeof r.body?.message === 'string' ? `${r.status} ${r.body.message as string}` : String(r.status)
    if (r.status >= 500) op.unknown(message)
    else if (r.status === 409 && /out of sequence/.test(message)) op.fail('conflict', message)
    else op.fail('refused', message)
  }

  const client = async (clientId: number, socket: string): Promise<void> => {
    const rng = clientRngs[clientId]!
    let written = 0
    while (more()) {
      invoked++
      const seen = await read(clientId, socket)
      if (seen === null) {
        await new Promise(resolve => setTimeout(resolve, backoffMs))
        continue
      }
      if (!rng.chance(casProbability) || !more()) continue
      invoked++
      const next = `s${init.seed}-c${clientId}-${written++}`
      const spec = { ...seen.spec, Labels: { ...(seen.spec.Labels as Record<string, string> | undefined), [VALUE_LABEL]: next } }
      const op = recorder.invoke(clientId, { kind: 'cas', expected: seen.value, next })
      const r = await call(socket, 'POST', `/services/${encodeURIComponent(seen.id)}/update?version=${seen.version}`, spec)
      if ('error' in r) {
        endOnError(op, r.error)
        if (r.error.code === 'ENOENT' || r.error.code === 'ECONNREFUSED') await new Promise(resolve => setTimeout(resolve, backoffMs))
      } else if (r.status === 200) {
        op.ok(undefined, `from version ${seen.version}`)
      } else {
        endOnStatus(op, r)
      }
    }
  }

  const ticker = async (): Promise<void> => {
    const tickMs = init.tickMs ?? 100
    for (let index = 0; more(); index++) {
      await init.onTick?.({
        index,
        elapsedMs: performance.now() - startMs,
        opsInvoked: invoked,
        rng: faultRng,
        mark: note => { events.push({ atMs: performance.now(), note }) }
      })
      await new Promise(resolve => setTimeout(resolve, tickMs))
    }
  }

  const clients = Promise.all(init.sockets.map(async (s, i) => { await client(i, s) }))
  let tickError: unknown = null
  const ticks = init.onTick === undefined
    ? Promise.resolve()
    : ticker().catch((err: unknown) => { tickError = err; stopped = true })
  await Promise.all([clients, ticks])
  if (tickError !== null) throw tickError as Error
  if (init.finalReads ?? true) await Promise.all(init.sockets.map(async (s, i) => { await read(i, s) }))

  const history = recorder.history()
  const lastEnd = Math.max(startMs, ...history.map(op => op.completedMs).filter(t => t !== Number.POSITIVE_INFINITY))
  const counts = countResults(history)
  const zero = (): Record<OpResult, number> => ({ ok: 0, failed: 0, unknown: 0 })
  return {
    history,
    counts: { read: counts.read ?? zero(), cas: counts.cas ?? zero() },
    events,
    durationMs: lastEnd - startMs
  }
}
