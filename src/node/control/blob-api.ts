/**
 * Docker's secret and config endpoints (Engine API 1.41) on the control socket: `POST /secrets/create`,
 * `GET /secrets[?filters=id,name,names,label]`, `GET /secrets/{id|name}`, `POST /secrets/{id}/update?version=N`
 * (labels only), `DELETE /secrets/{id}`, and the same under `/configs`. Served on the Raft leader through
 * `cluster`, like the service routes. A secret's data is sealed before it is proposed and is never in
 * any answer; a config's is stored and shown as given. Nothing is stored when a call fails.
 */
import { z } from 'zod'
import { FlotillaError, newObjectId } from '../../membership/index.js'
import type { BlobObject, BlobSpec, ConfigObject, SecretObject, StoreState } from '../../election/index.js'
import { seal, secretsKey, unseal } from '../../tasks/index.js'
import { parseJson } from './http-server.js'
import type { Router } from './router.js'
import { findByRef, labelMatches, parseBody, parseFilters } from './schemas.js'
import type { ClusterCall } from './service-api.js'
import { goTime } from './service-shapes.js'

type Kind = 'secret' | 'config'

/** Docker's limit on a secret's and a config's data (SwarmKit's MaxSecretSize, MaxConfigSize). */
export const MAX_BLOB_BYTES = 500 * 1024
/** SwarmKit's name rule for secrets and configs. */
const NAME = /^[a-zA-Z0-9]+(?:[a-zA-Z0-9-_.]*[a-zA-Z0-9])?$/
const MAX_NAME = 64
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

const SpecSchema = z.object({
  Name: z.string().optional(),
  Labels: z.record(z.string()).nullable().optional(),
  Data: z.string().nullable().optional(),
  Driver: z.object({ Name: z.string().optional() }).passthrough().nullable().optional(),
  Templating: z.object({ Name: z.string().optional() }).passthrough().nullable().optional()
}).passthrough()

interface ParsedSpec {
  readonly spec: BlobSpec
  readonly data: Buffer | null
}

/** Validate a SecretSpec or ConfigSpec as SwarmKit does; a 400 naming the field otherwise. */
export function parseBlobSpec (kind: Kind, body: unknown): ParsedSpec {
  const b = parseBody(SpecSchema, body, `${kind} spec`)
  const name = b.Name ?? ''
  if (name.length > MAX_NAME || !NAME.test(name)) {
    throw new FlotillaError('invalid-argument', `Name: invalid name "${name}", only ${MAX_NAME} [a-zA-Z0-9-_.] characters allowed, and the start and end character must be [a-zA-Z0-9]`)
  }
  if ((b.Driver?.Name ?? '') !== '') throw new FlotillaError('invalid-argument', `Driver: ${kind} drivers are not supported by flotilla; the data is stored in the cluster`)
  if ((b.Templating?.Name ?? '') !== '') throw new FlotillaError('invalid-argument', `Templating: ${kind} templating is not supported by flotilla`)
  let data: Buffer | null = null
  if (b.Data !== undefined && b.Data !== null) {
    if (!BASE64.test(b.Data)) throw new FlotillaError('invalid-argument', 'Data: is not base64 (standard alphabet, padded)')
    data = Buffer.from(b.Data, 'base64')
    if (data.length > MAX_BLOB_BYTES) {
      throw new FlotillaError('invalid-argument', `Data: ${kind} data must be larger than 0 and less than ${MAX_BLOB_BYTES} bytes (got ${data.length})`)
    }
  }
  return { spec: { Name: name, Labels: b.Labels ?? {} }, data }
}

/** Docker's Secret (no Data, ever) or Config (Data as base64). */
export function blobJson (kind: Kind, o: SecretObject | ConfigObject): Record<string, unknown> {
  const spec: Record<string, unknown> = { Name: o.spec.Name, Labels: o.spec.Labels }
  if (kind === 'config' && 'data' in o) spec.Data = Buffer.from(o.data).toString('base64')
  return { ID: o.id, Version: { Index: o.version }, CreatedAt: goTime(o.createdAtMs), UpdatedAt: goTime(o.updatedAtMs), Spec: spec }
}

const FILTERS = ['id', 'name', 'names', 'label'] as const

function matches (o: BlobObject, filters: ReadonlyMap<string, readonly string[]>): boolean {
  for (const [key, values] of filters) {
    const ok = values.some(v => {
      switch (key) {
        case 'id': return o.id.startsWith(v)
        case 'name': return o.name.startsWith(v)
        case 'names': return o.name === v
        case 'label': return labelMatches(o.spec.Labels, v)
        default: return false
      }
    })
    if (!ok) return false
  }
  return true
}

function objects (state: StoreState, kind: Kind): Array<SecretObject | ConfigObject> {
  return kind === 'secret' ? [...state.secrets.values()] : [...state.configs.values()]
}

/** A secret or config by full ID, exact name, or unique ID prefix; a 404 otherwise. */
export function findBlob (state: StoreState, kind: Kind, ref: string): SecretObject | ConfigObject {
  return findByRef(objects(state, kind), ref, kind, `list them with \`docker ${kind} ls\``)
}

export function addBlobRoutes (router: Router, deps: { readonly cluster: ClusterCall, readonly now?: () => number, readonly newId?: () => string }): Router {
  const now = deps.now ?? Date.now
  const newId = deps.newId ?? newObjectId
  for (const kind of ['secret', 'config'] as const) {
    const base = `/${kind}s`
    router
      .add('POST', `${base}/create`, async (req) => {
        const { spec, data } = parseBlobSpec(kind, parseJson(req))
        if (data === null || data.length === 0) throw new FlotillaError('invalid-argument', `Data: ${kind} data must be larger than 0 and less than ${MAX_BLOB_BYTES} bytes`)
        return await deps.cluster(req, true, async mgr => {
          const state = mgr.store.state
          if (state.cluster === null) throw new FlotillaError('unavailable', 'this node is not part of a swarm yet', { hint: 'run `docker swarm init` or `docker swarm join` first' })
          if (objects(state, kind).some(o => o.name === spec.Name)) throw new FlotillaError('conflict', `${kind} ${spec.Name} already exists`, { hint: `choose another name, or remove the existing ${kind} first` })
          const id = newId()
          const nowMs = now()
          const common = { id, name: spec.Name, createdAtMs: nowMs, updatedAtMs: nowMs, spec }
          if (kind === 'secret') {
            await mgr.propose({ op: 'secret.create', secret: { ...common, sealed: seal(secretsKey(state.cluster.root.privateKeyDer), id, data) } })
          } else {
            await mgr.propose({ op: 'config.create', config: { ...common, data } })
          }
          return { status: 201, json: { ID: id } }
        })
      })
      .add('GET', base, async (req) => {
        const filters = parseFilters(req.query.get('filters'), FILTERS)
        return await deps.cluster(req, false, async mgr => ({
          status: 200,
          json: objects(mgr.store.state, kind).filter(o => matches(o, filters)).sort((a, b) => a.createdAtMs - b.createdAtMs || a.id.localeCompare(b.id)).map(o => blobJson(kind, o))
        }))
      })
      .add('GET', `${base}/{id}`, async (req, p) => await deps.cluster(req, false, async mgr =>
        ({ status: 200, json: blobJson(kind, findBlob(mgr.store.state, kind, decodeURIComponent(p.id!))) })))
      .add('POST', `${base}/{id}/update`, async (req, p) => {
        const raw = req.query.get('version')
        const version = Number(raw)
        if (raw === null || raw === '' || !Number.isSafeInteger(version)) throw new FlotillaError('invalid-argument', `invalid ${kind} version "${raw ?? ''}"`, { hint: `read it from \`docker ${kind} inspect\` (Version.Index)` })
        const { spec, data } = parseBlobSpec(kind, parseJson(req))
        return await deps.cluster(req, true, async mgr => {
          const state = mgr.store.state
          const o = findBlob(state, kind, decodeURIComponent(p.id!))
          if (data !== null) {
            const current = 'sealed' in o ? Buffer.from(unseal(secretsKey(state.cluster!.root.privateKeyDer), o.id, o.sealed)) : Buffer.from(o.data)
            if (!current.equals(data)) throw new FlotillaError('invalid-argument', `only updates to Labels are allowed: the data of ${kind} ${o.name} cannot change`, { hint: `create a ${kind} with another name and update the services to it` })
          }
          await mgr.propose({ op: kind === 'secret' ? 'secret.update' : 'config.update', id: o.id, version, spec, nowMs: now() })
          return { status: 200 }
        })
      })
      .add('DELETE', `${base}/{id}`, async (req, p) => await deps.cluster(req, true, async mgr => {
        const o = findBlob(mgr.store.state, kind, decodeURIComponent(p.id!))
        await mgr.propose({ op: kind === 'secret' ? 'secret.remove' : 'config.remove', id: o.id })
        return { status: 204 }
      }))
  }
  return router
}
