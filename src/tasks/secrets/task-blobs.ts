/**
 * What a node is sent with a task's assignment: the data of the secrets and configs its container spec
 * references, secrets unsealed on the leader. Only the node a task is assigned to gets them, over its
 * dispatcher session (libp2p, noise-encrypted, members only).
 */
import type { ContainerSpec, StoreState } from '../../election/index.js'
import { secretsKey, unseal } from './sealing.js'

export interface TaskBlob {
  readonly id: string
  readonly name: string
  readonly data: Uint8Array
}

/**
 * The secrets and configs `spec` references that the store holds (one the store lost meanwhile is left
 * out: a task made before the reference changed keeps the file its container already has).
 */
export function taskSecretsOf (state: StoreState, spec: ContainerSpec): { readonly secrets: TaskBlob[], readonly configs: TaskBlob[] } {
  const secrets: TaskBlob[] = []
  const refs = spec.Secrets ?? []
  if (refs.length > 0 && state.cluster !== null) {
    const key = secretsKey(state.cluster.root.privateKeyDer)
    for (const r of refs) {
      const s = state.secrets.get(r.SecretID)
      if (s !== undefined && !secrets.some(x => x.id === s.id)) secrets.push({ id: s.id, name: s.name, data: unseal(key, s.id, s.sealed) })
    }
  }
  const configs: TaskBlob[] = []
  for (const r of spec.Configs ?? []) {
    const c = state.configs.get(r.ConfigID)
    if (c !== undefined && !configs.some(x => x.id === c.id)) configs.push({ id: c.id, name: c.name, data: c.data })
  }
  return { secrets, configs }
}
