/**
 * What the dashboard's page may change, with `--ui-actions`: scale a service, update its image, roll
 * it back, set a node's availability (drain). Each is the read-then-write the docker CLI makes (inspect
 * for the spec and version, then POST …/update?version=N), through the control socket's own handler:
 * the same validation, the same errors, forwarded to the leader from any node.
 */
import { FlotillaError, isRecord } from '../../membership/index.js'
import type { ApiHandler } from '../control/http-server.js'
import { okJson } from './reads.js'

export type Action =
  | { readonly kind: 'scale', readonly service: string, readonly replicas: number }
  | { readonly kind: 'image', readonly service: string, readonly image: string }
  | { readonly kind: 'rollback', readonly service: string }
  | { readonly kind: 'availability', readonly node: string, readonly availability: 'active' | 'pause' | 'drain' }

const AVAILABILITIES = ['active', 'pause', 'drain'] as const

/** The action a page's request asks for (`what` from the path, the rest from its JSON body); 400 otherwise. */
export function parseAction (what: string, id: string, body: unknown): Action {
  const b = isRecord(body) ? body : {}
  switch (what) {
    case 'scale':
      if (typeof b.replicas !== 'number' || !Number.isSafeInteger(b.replicas) || b.replicas < 0) {
        throw new FlotillaError('invalid-argument', 'replicas: expected a whole number of 0 or more')
      }
      return { kind: 'scale', service: id, replicas: b.replicas }
    case 'image':
      if (typeof b.image !== 'string' || b.image.trim() === '') throw new FlotillaError('invalid-argument', 'image: expected an image reference')
      return { kind: 'image', service: id, image: b.image.trim() }
    case 'rollback':
      return { kind: 'rollback', service: id }
    case 'availability':
      if (!(AVAILABILITIES as readonly unknown[]).includes(b.availability)) {
        throw new FlotillaError('invalid-argument', `availability: expected one of ${AVAILABILITIES.join(', ')}`)
      }
      return { kind: 'availability', node: id, availability: b.availability as typeof AVAILABILITIES[number] }
    default:
      throw new FlotillaError('not-found', `no action ${what}`)
  }
}

async function call (api: ApiHandler, method: string, path: string, query: Record<string, string>, body?: unknown): Promise<unknown> {
  return okJson(await api({
    method,
    path,
    query: new URLSearchParams(query),
    body: body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(body), 'utf8'),
    headers: body === undefined ? {} : { 'content-type': 'application/json' }
  }))
}

/** Inspect `path` for its Spec and Version.Index. */
async function inspect (api: ApiHandler, path: string): Promise<{ spec: Record<string, unknown>, version: number }> {
  const json = await call(api, 'GET', path, {})
  if (!isRecord(json) || !isRecord(json.Spec) || !isRecord(json.Version) || typeof json.Version.Index !== 'number') {
    throw new FlotillaError('internal', `unexpected answer to GET ${path}`)
  }
  return { spec: json.Spec, version: json.Version.Index }
}

/** Carry out `action` through `api`; an API refusal comes back as an ApiCallError with its status and message. */
export async function runAction (api: ApiHandler, action: Action): Promise<void> {
  if (action.kind === 'availability') {
    const path = `/nodes/${encodeURIComponent(action.node)}`
    const { spec, version } = await inspect(api, path)
    await call(api, 'POST', `${path}/update`, { version: String(version) }, { ...spec, Availability: action.availability })
    return
  }
  const path = `/services/${encodeURIComponent(action.service)}`
  const { spec, version } = await inspect(api, path)
  switch (action.kind) {
    case 'scale': {
      const mode = isRecord(spec.Mode) ? spec.Mode : {}
      if (!('Replicated' in mode)) throw new FlotillaError('invalid-argument', 'scale can only be used with replicated mode')
      await call(api, 'POST', `${path}/update`, { version: String(version) }, { ...spec, Mode: { Replicated: { Replicas: action.replicas } } })
      return
    }
    case 'image': {
      const template = isRecord(spec.TaskTemplate) ? spec.TaskTemplate : {}
      const container = isRecord(template.ContainerSpec) ? template.ContainerSpec : {}
      await call(api, 'POST', `${path}/update`, { version: String(version) }, { ...spec, TaskTemplate: { ...template, ContainerSpec: { ...container, Image: action.image } } })
      return
    }
    case 'rollback':
      // As the docker CLI's `service rollback`: the current spec, and the API goes to PreviousSpec.
      await call(api, 'POST', `${path}/update`, { version: String(version), rollback: 'previous' }, spec)
  }
}
