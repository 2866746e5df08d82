import { CliError } from '../client.js'
import { naturalCompare } from '../service-format.js'
import { descope, LABEL_IMAGE, LABEL_NAMESPACE, type BlobCreate, type Json, type NetworkCreate, type StackObjects } from './convert.js'

/**
 * What `stack deploy` and `stack rm` will do, decided from the converted stack and what the cluster
 * holds, before the first write (docker/cli cli/command/stack/swarm deploy_composefile.go and
 * remove.go). Pure: the command layer lists the cluster's objects, asks for a plan, then applies it in
 * docker's order — prune, networks, secrets, configs, services.
 */

/** The fields of Docker's Service that planning reads. */
export interface ServiceSummary {
  readonly ID: string
  readonly Version: { readonly Index: number }
  readonly Spec: {
    readonly Name: string
    readonly Labels?: Readonly<Record<string, string>> | null
    readonly TaskTemplate?: { readonly ForceUpdate?: number, readonly ContainerSpec?: { readonly Image?: string } }
  }
}

/** The fields of Docker's Network that planning reads. */
export interface NetworkSummary {
  readonly Id: string
  readonly Name: string
  readonly Labels?: Readonly<Record<string, string>> | null
}

/** Docker's Secret or Config (a config's Spec.Data is base64; a secret's is never returned). */
export interface BlobSummary {
  readonly ID: string
  readonly Version: { readonly Index: number }
  readonly Spec: { readonly Name: string, readonly Labels?: Readonly<Record<string, string>> | null, readonly Data?: string }
}

/** The cluster's objects as `GET /services`, `/networks`, `/secrets` and `/configs` list them. */
export interface ClusterView {
  readonly services: readonly ServiceSummary[]
  readonly networks: readonly NetworkSummary[]
  readonly secrets: readonly BlobSummary[]
  readonly configs: readonly BlobSummary[]
}

/** docker's --resolve-image: flotilla asks no registry, so only what it does to the spec's image matters. */
export type ResolveImage = 'always' | 'changed' | 'never'

/** `stack deploy`'s --prune and --resolve-image. */
export interface DeployOptions {
  readonly prune: boolean
  readonly resolveImage: ResolveImage
}

/** A service to create, or to update at the version read. */
export type ServiceAction =
  | { readonly action: 'create', readonly name: string, readonly spec: Json }
  | { readonly action: 'update', readonly id: string, readonly version: number, readonly name: string, readonly spec: Json }

/** A labels-only update of an existing secret or config (its data cannot change). */
export interface BlobLabelUpdate {
  readonly id: string
  readonly version: number
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
}

/** Every write of a deploy, in the order the command layer applies them. */
export interface DeployPlan {
  /** Services of the stack the files no longer name (with --prune), by name. */
  readonly prune: ReadonlyArray<{ readonly id: string, readonly name: string }>
  readonly createNetworks: readonly NetworkCreate[]
  readonly createSecrets: readonly BlobCreate[]
  readonly updateSecrets: readonly BlobLabelUpdate[]
  readonly createConfigs: readonly BlobCreate[]
  readonly updateConfigs: readonly BlobLabelUpdate[]
  readonly services: readonly ServiceAction[]
  /** For stderr: what is left as it is though the file says otherwise. */
  readonly warnings: readonly string[]
  /** IDs of the secrets and configs that exist already, by name (the new ones are learnt at creation). */
  readonly secretIds: ReadonlyMap<string, string>
  readonly configIds: ReadonlyMap<string, string>
}

/** A deploy the cluster's state refuses (an external object missing, a name taken outside the stack). */
export class StackConflictError extends CliError {
  readonly code = 'stack-conflict'
  readonly retryable = false
}

function inStack (labels: Readonly<Record<string, string>> | null | undefined, namespace: string): boolean {
  return labels?.[LABEL_NAMESPACE] === namespace
}

function sameLabels (a: Readonly<Record<string, string>> | null | undefined, b: Readonly<Record<string, string>>): boolean {
  const x = a ?? {}
  const keys = Object.keys(x)
  return keys.length === Object.keys(b).length && keys.every(k => x[k] === b[k])
}

function planBlobs (kind: 'secret' | 'config', wanted: readonly BlobCreate[], existing: readonly BlobSummary[], warnings: string[]): { create: BlobCreate[], update: BlobLabelUpdate[] } {
  const byName = new Map(existing.map(b => [b.Spec.Name, b]))
  const create: BlobCreate[] = []
  const update: BlobLabelUpdate[] = []
  for (const w of wanted) {
    const cur = byName.get(w.name)
    if (cur === undefined) {
      create.push(w)
      continue
    }
    if (kind === 'config' && cur.Spec.Data !== undefined && cur.Spec.Data !== w.data.toString('base64')) {
      warnings.push(`config ${w.name} exists with other data: it is left as it is (a config's data cannot be updated; give it a new name: to change it)`)
    }
    if (!sameLabels(cur.Spec.Labels, w.labels)) update.push({ id: cur.ID, version: cur.Version.Index, name: w.name, labels: w.labels })
  }
  return { create, update }
}

/**
 * Plan a deploy of `stack` onto a cluster holding `view`. Throws StackConflictError for an external
 * network, secret or config that does not exist, or a network or service name the stack would create
 * that an object outside the stack holds.
 */
export function planDeploy (stack: StackObjects, view: ClusterView, o: DeployOptions): DeployPlan {
  const ns = stack.namespace
  for (const name of stack.externalNetworks) {
    if (!view.networks.some(n => n.Name === name || n.Id === name)) {
      throw new StackConflictError(`network ${JSON.stringify(name)} is declared as external, but could not be found. You need to create a swarm-scoped network before the stack is deployed`,
        `create it with \`flotilla network create ${name}\``)
    }
  }
  for (const [kind, names, objects] of [['secret', stack.externalSecrets, view.secrets], ['config', stack.externalConfigs, view.configs]] as const) {
    for (const name of names) {
      if (!objects.some(b => b.Spec.Name === name)) throw new StackConflictError(`${kind} not found: ${name}`, `${kind} ${name} is declared as external: create it with \`flotilla ${kind} create ${name} FILE\``)
    }
  }
  const createNetworks: NetworkCreate[] = []
  for (const n of stack.networks) {
    const same = view.networks.filter(x => x.Name === n.name)
    if (same.some(x => inStack(x.Labels, ns))) continue
    if (same.length > 0) throw new StackConflictError(`network ${n.name} already exists and is not part of stack ${ns}`, 'remove it, or declare it external: true in the Compose file')
    createNetworks.push(n)
  }
  const warnings: string[] = []
  const secrets = planBlobs('secret', stack.secrets, view.secrets, warnings)
  const configs = planBlobs('config', stack.configs, view.configs, warnings)
  const byName = new Map(view.services.map(s => [s.Spec.Name, s]))
  const services = stack.services.map((d): ServiceAction => {
    const cur = byName.get(d.name)
    if (cur === undefined) return { action: 'create', name: d.name, spec: d.spec }
    if (!inStack(cur.Spec.Labels, ns)) throw new StackConflictError(`service ${d.name} already exists and is not part of stack ${ns}`, `remove it (\`flotilla service rm ${d.name}\`) or deploy the stack under another name`)
    return { action: 'update', id: cur.ID, version: cur.Version.Index, name: d.name, spec: updateSpec(d.spec, cur, o.resolveImage) }
  })
  const wanted = new Set(stack.services.map(s => s.key))
  const prune = o.prune
    ? view.services.filter(s => inStack(s.Spec.Labels, ns) && !wanted.has(descope(ns, s.Spec.Name)))
      .map(s => ({ id: s.ID, name: s.Spec.Name })).sort((a, b) => a.name < b.name ? -1 : 1)
    : []
  return {
    prune,
    createNetworks,
    createSecrets: secrets.create,
    updateSecrets: secrets.update,
    createConfigs: configs.create,
    updateConfigs: configs.update,
    services,
    warnings,
    secretIds: new Map(view.secrets.map(s => [s.Spec.Name, s.ID])),
    configIds: new Map(view.configs.map(c => [c.Spec.Name, c.ID]))
  }
}

/**
 * The spec sent to update an existing service: the file's, with the service's ForceUpdate kept (a
 * deploy never forces a restart) and, with --resolve-image changed or never, its image kept while the
 * file names the same image as last time (docker's deployServices).
 */
export function updateSpec (spec: Json, current: ServiceSummary, resolveImage: ResolveImage): Json {
  const next = structuredClone(spec) as Json & { TaskTemplate: Json & { ContainerSpec: Json }, Labels: Record<string, string> }
  next.TaskTemplate.ForceUpdate = current.Spec.TaskTemplate?.ForceUpdate ?? 0
  const currentImage = current.Spec.TaskTemplate?.ContainerSpec?.Image
  if (resolveImage !== 'always' && currentImage !== undefined && next.Labels[LABEL_IMAGE] === current.Spec.Labels?.[LABEL_IMAGE]) {
    next.TaskTemplate.ContainerSpec.Image = currentImage
  }
  return next
}

/** The spec with each secret and config reference's ID filled in from its name (docker's ParseSecrets/ParseConfigs). */
export function resolveReferences (spec: Json, secretIds: ReadonlyMap<string, string>, configIds: ReadonlyMap<string, string>): Json {
  const next = structuredClone(spec) as Json & { TaskTemplate: { ContainerSpec: { Secrets?: Json[], Configs?: Json[] } } }
  const cs = next.TaskTemplate.ContainerSpec
  for (const r of cs.Secrets ?? []) {
    const id = secretIds.get(String(r.SecretName))
    if (id === undefined) throw new StackConflictError(`secret not found: ${String(r.SecretName)}`)
    r.SecretID = id
  }
  for (const r of cs.Configs ?? []) {
    const id = configIds.get(String(r.ConfigName))
    if (id === undefined) throw new StackConflictError(`config not found: ${String(r.ConfigName)}`)
    r.ConfigID = id
  }
  return next
}

/** What `stack rm` removes, in docker's order: services (by name), then secrets, configs and networks. */
export interface RemovePlan {
  readonly services: ReadonlyArray<{ readonly id: string, readonly name: string }>
  readonly secrets: ReadonlyArray<{ readonly id: string, readonly name: string }>
  readonly configs: ReadonlyArray<{ readonly id: string, readonly name: string }>
  readonly networks: ReadonlyArray<{ readonly id: string, readonly name: string }>
}

/** The stack's objects among `view` (those labelled with its namespace). */
export function planRemove (namespace: string, view: ClusterView): RemovePlan {
  const byName = (a: { name: string }, b: { name: string }): number => a.name < b.name ? -1 : a.name > b.name ? 1 : 0
  return {
    services: view.services.filter(s => inStack(s.Spec.Labels, namespace)).map(s => ({ id: s.ID, name: s.Spec.Name })).sort(byName),
    secrets: view.secrets.filter(s => inStack(s.Spec.Labels, namespace)).map(s => ({ id: s.ID, name: s.Spec.Name })).sort(byName),
    configs: view.configs.filter(c => inStack(c.Spec.Labels, namespace)).map(c => ({ id: c.ID, name: c.Spec.Name })).sort(byName),
    networks: view.networks.filter(n => inStack(n.Labels, namespace)).map(n => ({ id: n.Id, name: n.Name })).sort(byName)
  }
}

/** `stack ls`: stacks by name (natural order) with their service counts, from services carrying the namespace label. */
export function stackSummaries (services: readonly ServiceSummary[]): Array<{ readonly name: string, readonly services: number }> {
  const counts = new Map<string, number>()
  for (const s of services) {
    const ns = s.Spec.Labels?.[LABEL_NAMESPACE]
    if (ns === undefined) continue
    counts.set(ns, (counts.get(ns) ?? 0) + 1)
  }
  return [...counts].map(([name, n]) => ({ name, services: n })).sort((a, b) => naturalCompare(a.name, b.name))
}
