/**
 * The docker CLI's renderings of services and tasks (cli/command/service/formatter.go,
 * cli/command/task/formatter.go and print.go), for `flotilla service ls` and `service ps`.
 */

/** Docker's PortConfig as the socket returns it. */
export interface PortJson {
  readonly Protocol?: string
  readonly TargetPort: number
  readonly PublishedPort?: number
  readonly PublishMode?: string
}

/** The fields of Docker's Service the CLI reads. */
export interface ServiceJson {
  readonly ID: string
  readonly Version: { readonly Index: number }
  readonly Spec: {
    readonly Name: string
    readonly Mode: { readonly Replicated?: { readonly Replicas?: number }, readonly Global?: unknown }
    readonly TaskTemplate: { readonly ContainerSpec?: { readonly Image?: string }, readonly Placement?: { readonly MaxReplicas?: number } }
    readonly UpdateConfig?: { readonly Monitor?: number }
  } & Record<string, unknown>
  readonly Endpoint?: { readonly Ports?: readonly PortJson[] }
  readonly ServiceStatus?: { readonly RunningTasks: number, readonly DesiredTasks: number }
  readonly UpdateStatus?: { readonly State?: string, readonly Message?: string }
}

/** The fields of Docker's Task the CLI reads. */
export interface TaskJson {
  readonly ID: string
  readonly ServiceID: string
  readonly Slot?: number
  readonly NodeID?: string
  readonly CreatedAt: string
  readonly DesiredState: string
  readonly Spec: { readonly ContainerSpec?: { readonly Image?: string } }
  readonly Status: {
    readonly Timestamp?: string
    readonly State: string
    readonly Err?: string
    readonly PortStatus?: { readonly Ports?: readonly PortJson[] }
  }
}

/** Docker's TruncateID: the first 12 characters. */
export function truncateId (id: string): string {
  return id.slice(0, 12)
}

/** sortorder.NaturalLess: digit runs compare as numbers (`web.2` before `web.10`). */
export function naturalCompare (a: string, b: string): number {
  const re = /(\d+)|(\D+)/g
  const as = a.match(re) ?? []
  const bs = b.match(re) ?? []
  for (let i = 0; i < Math.min(as.length, bs.length); i++) {
    const x = as[i]!
    const y = bs[i]!
    const xn = /^\d/.test(x)
    const yn = /^\d/.test(y)
    if (xn && yn) {
      const d = Number(x) - Number(y)
      if (d !== 0) return d
      if (x.length !== y.length) return x.length - y.length
    } else if (x !== y) {
      return x < y ? -1 : 1
    }
  }
  return as.length - bs.length
}

/**
 * An image as `service ls`/`ps` show it: a tagged reference loses its digest and its default registry
 * (`docker.io/library/busybox:1@sha256:…` → `busybox:1`); anything else is shown as stored.
 */
export function displayImage (image: string): string {
  const at = image.indexOf('@')
  const named = at < 0 ? image : image.slice(0, at)
  const slash = named.lastIndexOf('/')
  if (named.indexOf(':', slash + 1) < 0) return image
  return named.replace(/^docker\.io\/library\//, '').replace(/^docker\.io\//, '')
}

/** go-units HumanDuration, lower-cased as `docker service ps` prints it. */
export function humanDuration (ms: number): string {
  const seconds = Math.floor(ms / 1000)
  if (seconds < 1) return 'less than a second'
  if (seconds === 1) return '1 second'
  if (seconds < 60) return `${seconds} seconds`
  const minutes = Math.floor(seconds / 60)
  if (minutes === 1) return 'about a minute'
  if (minutes < 60) return `${minutes} minutes`
  const hours = Math.round(ms / 3_600_000)
  if (hours === 1) return 'about an hour'
  if (hours < 48) return `${hours} hours`
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`
  return `${Math.floor(ms / 3_600_000 / 24 / 365)} years`
}

/** formatter.Ellipsis: at most `max` characters, the last one `…` when cut. */
export function ellipsis (s: string, max: number): string {
  const chars = [...s]
  return chars.length <= max ? s : chars.slice(0, max - 1).join('') + '…'
}

function capitalize (s: string): string {
  return s === '' ? s : s[0]!.toUpperCase() + s.slice(1)
}

export function serviceMode (s: ServiceJson): string {
  if (s.Spec.Mode.Global !== undefined && s.Spec.Mode.Global !== null) return 'global'
  if (s.Spec.Mode.Replicated !== undefined && s.Spec.Mode.Replicated !== null) return 'replicated'
  return ''
}

/** REPLICAS: `running/desired`, with ` (max N per node)` for a replicated service that sets it. */
export function serviceReplicas (s: ServiceJson): string {
  const running = s.ServiceStatus?.RunningTasks ?? 0
  const desired = s.ServiceStatus?.DesiredTasks ?? 0
  const max = serviceMode(s) === 'replicated' ? s.Spec.TaskTemplate.Placement?.MaxReplicas ?? 0 : 0
  return max > 0 ? `${running}/${desired} (max ${max} per node)` : `${running}/${desired}`
}

/**
 * PORTS of `service ls`: `*:8080->80/tcp`, consecutive ports grouped into ranges (`*:8080-8081->80-81/tcp`)
 * as docker groups them. As docker, ingress ports only: a host-mode port is the task's (`service ps`).
 */
export function servicePorts (ports: readonly PortJson[] = []): string {
  const sorted = ports.filter(p => (p.PublishMode ?? 'ingress') === 'ingress').sort((a, b) => {
    const pa = a.Protocol ?? 'tcp'
    const pb = b.Protocol ?? 'tcp'
    return pa === pb ? (a.PublishedPort ?? 0) - (b.PublishedPort ?? 0) : (pa < pb ? -1 : 1)
  })
  const out: string[] = []
  let r: { p0: number, p1: number, t0: number, t1: number, proto: string } | null = null
  const flush = (): void => {
    if (r === null) return
    const pub = r.p1 > r.p0 ? `${r.p0}-${r.p1}` : String(r.p0)
    const tgt = r.t1 > r.t0 ? `${r.t0}-${r.t1}` : String(r.t0)
    out.push(`*:${pub}->${tgt}/${r.proto}`)
  }
  for (const p of sorted) {
    const proto = p.Protocol ?? 'tcp'
    const pub = p.PublishedPort ?? 0
    if (pub === 0) continue
    const isRange = r !== null && r.t1 !== r.t0
    if (r === null || proto !== r.proto || pub - r.p1 > 1 || p.TargetPort - r.t1 > 1 || p.TargetPort < r.t1 || (isRange && p.TargetPort <= r.t1)) {
      flush()
      r = { p0: pub, p1: pub, t0: p.TargetPort, t1: p.TargetPort, proto }
      continue
    }
    r.p1 = pub
    r.t1 = p.TargetPort
  }
  flush()
  return out.join(', ')
}

/** The rows of `service ls` (ID NAME MODE REPLICAS IMAGE PORTS), sorted by name. */
export function serviceRows (services: readonly ServiceJson[]): string[][] {
  return [...services]
    .sort((a, b) => naturalCompare(a.Spec.Name, b.Spec.Name))
    .map(s => [
      truncateId(s.ID), s.Spec.Name, serviceMode(s), serviceReplicas(s),
      displayImage(s.Spec.TaskTemplate.ContainerSpec?.Image ?? ''), servicePorts(s.Endpoint?.Ports)
    ])
}

export interface TaskRowOptions {
  /** Service names by ID; a task of an unknown service shows its service ID. */
  readonly serviceNames: ReadonlyMap<string, string>
  /** Node hostnames by ID; an unknown node shows its ID. */
  readonly nodeNames: ReadonlyMap<string, string>
  readonly nowMs: number
  /** Docker's default; `--no-trunc` turns it off. */
  readonly trunc: boolean
}

/**
 * The rows of `service ps` (ID NAME IMAGE NODE DESIRED STATE CURRENT STATE ERROR PORTS) as docker's
 * task.Print: names `<service>.<slot>` (or `.<node ID>` for a global task), sorted naturally by name
 * and, within a name, newest first; a slot's older tasks are indented with ` \_ `.
 */
export function taskRows (tasks: readonly TaskJson[], o: TaskRowOptions): string[][] {
  const named = tasks.map(t => {
    const service = o.serviceNames.get(t.ServiceID) ?? t.ServiceID
    return { t, name: `${service}.${t.Slot !== undefined && t.Slot !== 0 ? String(t.Slot) : t.NodeID ?? ''}` }
  })
  named.sort((a, b) => a.name !== b.name ? naturalCompare(a.name, b.name) : Date.parse(b.t.CreatedAt) - Date.parse(a.t.CreatedAt))
  let previous = ''
  return named.map(({ t, name }) => {
    const shownName = name === previous ? ` \\_ ${name}` : name
    previous = name
    const image = t.Spec.ContainerSpec?.Image ?? ''
    const since = t.Status.Timestamp === undefined ? 0 : o.nowMs - Date.parse(t.Status.Timestamp)
    let err = t.Status.Err ?? ''
    if (o.trunc) err = ellipsis(err, 30)
    const ports = (t.Status.PortStatus?.Ports ?? []).map(p => `*:${p.PublishedPort ?? 0}->${p.TargetPort}/${p.Protocol ?? 'tcp'}`).join(',')
    return [
      o.trunc ? truncateId(t.ID) : t.ID,
      shownName,
      o.trunc ? displayImage(image) : image,
      t.NodeID === undefined ? '' : o.nodeNames.get(t.NodeID) ?? t.NodeID,
      capitalize(t.DesiredState),
      `${capitalize(t.Status.State)} ${humanDuration(Math.max(0, since))} ago`,
      err === '' ? '' : `"${err}"`,
      ports
    ]
  })
}
