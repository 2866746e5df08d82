/**
 * A service spec's secret and config references as the store keeps them: each resolved to its object
 * (by ID, then by name: the docker CLI sends both), named as the object is, with Docker's default file
 * target (secrets: /run/secrets/NAME, mode 0444, root; configs: /NAME), and no two aimed at one path.
 * Read on the leader, against its store.
 */
import { FlotillaError } from '../../membership/index.js'
import type { ConfigReference, ContainerSpec, FileTarget, SecretReference, ServiceSpec, StoreState } from '../../election/index.js'

interface RawFile { readonly Name?: string, readonly UID?: string, readonly GID?: string, readonly Mode?: number }
interface RawRef { readonly File?: RawFile, readonly SecretID?: string, readonly SecretName?: string, readonly ConfigID?: string, readonly ConfigName?: string, readonly Runtime?: unknown }

function fileTarget (f: RawFile | undefined, name: string): FileTarget {
  return { Name: f?.Name !== undefined && f.Name !== '' ? f.Name : name, UID: f?.UID ?? '0', GID: f?.GID ?? '0', Mode: f?.Mode ?? 0o444 }
}

function checkTargets (kind: string, refs: ReadonlyArray<{ readonly name: string, readonly target: string }>): void {
  const seen = new Map<string, string>()
  for (const r of refs) {
    const other = seen.get(r.target)
    if (other !== undefined) throw new FlotillaError('invalid-argument', `TaskTemplate.ContainerSpec.${kind}s: ${kind} references '${other}' and '${r.name}' have a conflicting target: '${r.target}'`)
    seen.set(r.target, r.name)
  }
}

export function resolveServiceBlobs (spec: ServiceSpec, state: StoreState): ServiceSpec {
  const cs = spec.TaskTemplate.ContainerSpec
  const rawSecrets = (cs.Secrets ?? []) as readonly RawRef[]
  const rawConfigs = (cs.Configs ?? []) as readonly RawRef[]
  if (rawSecrets.length === 0 && rawConfigs.length === 0) return spec
  const secrets: SecretReference[] = rawSecrets.map((r, i) => {
    const s = (r.SecretID !== undefined && r.SecretID !== '' ? state.secrets.get(r.SecretID) : undefined) ??
      [...state.secrets.values()].find(x => x.name === r.SecretName)
    if (s === undefined) {
      throw new FlotillaError('not-found', `TaskTemplate.ContainerSpec.Secrets[${i}]: secret not found: ${r.SecretName ?? r.SecretID ?? ''}`, { hint: 'create it first with `docker secret create NAME FILE`' })
    }
    return { File: fileTarget(r.File, s.name), SecretID: s.id, SecretName: s.name }
  })
  const configs: ConfigReference[] = rawConfigs.map((r, i) => {
    if (r.Runtime !== undefined && r.File === undefined) throw new FlotillaError('invalid-argument', `TaskTemplate.ContainerSpec.Configs[${i}]: runtime configs (credential specs) are not supported by flotilla`)
    const c = (r.ConfigID !== undefined && r.ConfigID !== '' ? state.configs.get(r.ConfigID) : undefined) ??
      [...state.configs.values()].find(x => x.name === r.ConfigName)
    if (c === undefined) {
      throw new FlotillaError('not-found', `TaskTemplate.ContainerSpec.Configs[${i}]: config not found: ${r.ConfigName ?? r.ConfigID ?? ''}`, { hint: 'create it first with `docker config create NAME FILE`' })
    }
    return { File: fileTarget(r.File, `/${c.name}`), ConfigID: c.id, ConfigName: c.name }
  })
  checkTargets('secret', secrets.map(s => ({ name: s.SecretName, target: s.File.Name })))
  checkTargets('config', configs.map(c => ({ name: c.ConfigName, target: c.File.Name })))
  const next: ContainerSpec = {
    ...cs,
    ...(secrets.length > 0 ? { Secrets: secrets } : {}),
    ...(configs.length > 0 ? { Configs: configs } : {})
  }
  return { ...spec, TaskTemplate: { ...spec.TaskTemplate, ContainerSpec: next } }
}
