/**
 * Applying the secret and config commands. Pure and deterministic, like apply.ts. Names are unique per
 * kind; only labels may change; an object a service references is not removed (as dockerd: the answer
 * names the services).
 */
import type { ServiceObject, StoreState } from '../objects/index.js'
import { refuse, type Applied } from './applied.js'
import type { Command } from './commands.js'

type Op<K extends Command['op']> = Extract<Command, { op: K }>
type Kind = 'secret' | 'config'

/** The services whose tasks reference secret or config `id`, by name. */
export function servicesUsing (services: Iterable<ServiceObject>, kind: Kind, id: string): string[] {
  const names: string[] = []
  for (const s of services) {
    const cs = s.spec.TaskTemplate.ContainerSpec
    const used = kind === 'secret' ? (cs.Secrets ?? []).some(r => r.SecretID === id) : (cs.Configs ?? []).some(r => r.ConfigID === id)
    if (used) names.push(s.name)
  }
  return names.sort()
}

function mapOf (state: StoreState, kind: Kind): ReadonlyMap<string, { readonly id: string, readonly name: string, readonly version: number }> {
  return kind === 'secret' ? state.secrets : state.configs
}

function withMap (state: StoreState, index: number, kind: Kind, map: Map<string, never>): StoreState {
  return kind === 'secret' ? { ...state, index, secrets: map } : { ...state, index, configs: map }
}

export function applyBlobCreate (state: StoreState, index: number, cmd: Op<'secret.create'> | Op<'config.create'>): Applied {
  const kind: Kind = cmd.op === 'secret.create' ? 'secret' : 'config'
  const obj = cmd.op === 'secret.create' ? cmd.secret : cmd.config
  const existing = mapOf(state, kind)
  if (existing.has(obj.id)) return refuse(state, index, 'conflict', `${kind} ${obj.id} exists already`)
  for (const o of existing.values()) if (o.name === obj.name) return refuse(state, index, 'conflict', `${kind} ${obj.name} already exists`)
  const map = new Map(existing) as Map<string, unknown>
  map.set(obj.id, { ...obj, version: index })
  return { state: withMap(state, index, kind, map as Map<string, never>), result: { ok: true }, events: [{ kind, id: obj.id }] }
}

export function applyBlobUpdate (state: StoreState, index: number, cmd: Extract<Command, { op: 'secret.update' | 'config.update' }>): Applied {
  const kind: Kind = cmd.op === 'secret.update' ? 'secret' : 'config'
  const existing = mapOf(state, kind)
  const obj = existing.get(cmd.id)
  if (obj === undefined) return refuse(state, index, 'not-found', `${kind} ${cmd.id} not found`)
  if (obj.version !== cmd.version) return refuse(state, index, 'conflict', `update out of sequence: ${kind} ${obj.name} is at version ${obj.version}, not ${cmd.version}`)
  if (cmd.spec.Name !== obj.name) return refuse(state, index, 'invalid-argument', `only updates to Labels are allowed: ${kind} ${obj.name} cannot be renamed`)
  const map = new Map(existing) as Map<string, unknown>
  map.set(obj.id, { ...obj, spec: cmd.spec, version: index, updatedAtMs: cmd.nowMs })
  return { state: withMap(state, index, kind, map as Map<string, never>), result: { ok: true }, events: [{ kind, id: obj.id }] }
}

export function applyBlobRemove (state: StoreState, index: number, cmd: Extract<Command, { op: 'secret.remove' | 'config.remove' }>): Applied {
  const kind: Kind = cmd.op === 'secret.remove' ? 'secret' : 'config'
  const existing = mapOf(state, kind)
  const obj = existing.get(cmd.id)
  if (obj === undefined) return refuse(state, index, 'not-found', `${kind} ${cmd.id} not found`)
  const users = servicesUsing(state.services.values(), kind, obj.id)
  if (users.length > 0) {
    return refuse(state, index, 'conflict', `${kind} '${obj.name}' is in use by the following service${users.length === 1 ? '' : 's'}: ${users.join(', ')}`)
  }
  const map = new Map(existing) as Map<string, unknown>
  map.delete(obj.id)
  return { state: withMap(state, index, kind, map as Map<string, never>), result: { ok: true }, events: [{ kind, id: obj.id }] }
}
