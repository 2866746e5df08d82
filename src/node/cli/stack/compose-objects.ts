import { resolve } from 'node:path'
import { ComposeError, type FileObjectConfig, type NetworkConfig } from './compose-types.js'
import { bool, checkKeys, labelMap, mapping, str, type Mapping } from './compose-values.js'

/**
 * The top-level `networks`, `secrets` and `configs` of one Compose file, validated and normalized
 * (docker/cli cli/compose/loader LoadNetworks, LoadSecrets, LoadConfigObjs): external objects get
 * their name (the key, or `name:`, or the deprecated `external.name`), file objects an absolute path.
 */

type Kind = 'network' | 'secret' | 'config'

/** `external: true`, or the deprecated `external: {name: N}`; returns whether external and the name it gives. */
function external (v: unknown, path: string): { external: boolean, name?: string } {
  if (typeof v === 'boolean') return { external: v }
  const m = mapping(v, path)
  checkKeys(m, path, ['name'])
  return m.name === undefined ? { external: true } : { external: true, name: str(m.name, `${path}.name`) }
}

/** The name of an external object, as docker's loader settles it. */
function externalName (kind: Kind, key: string, m: Mapping, path: string): string | undefined {
  const ext = external(m.external, `${path}.external`)
  if (!ext.external) return undefined
  if (ext.name !== undefined) {
    if (m.name !== undefined) throw new ComposeError(path, `${kind}.external.name and ${kind}.name conflict; only use ${kind}.name`)
    return ext.name
  }
  return m.name === undefined ? key : str(m.name, `${path}.name`)
}

/** Keys that describe how to create an object make no sense on one created outside the stack. */
function refuseWithExternal (m: Mapping, path: string, keys: readonly string[]): void {
  for (const k of keys) if (m[k] !== undefined) throw new ComposeError(`${path}.${k}`, 'not allowed on an external object (it is looked up, not created)')
}

/** The engine's own networks (and docker's name for the default one); a flotilla service attaches to overlay networks only. */
const ENGINE_NETWORKS = ['host', 'bridge', 'none', 'default']

/** A top-level network: external (looked up by name) or a stack network, overlay only. */
export function loadNetwork (key: string, v: unknown): NetworkConfig {
  const path = `networks.${key}`
  const m: Mapping = v === null ? {} : mapping(v, path)
  checkKeys(m, path, ['name', 'driver', 'driver_opts', 'ipam', 'external', 'internal', 'attachable', 'labels'], { enable_ipv6: 'flotilla networks are IPv4 only' })
  if (m.external !== undefined) {
    const name = externalName('network', key, m, path)
    if (name !== undefined) {
      refuseWithExternal(m, path, ['driver', 'driver_opts', 'ipam', 'internal', 'attachable', 'labels'])
      if (ENGINE_NETWORKS.includes(name)) throw new ComposeError(path, `the engine's "${name}" network is not supported by flotilla`, 'attach services to overlay networks')
      return { external: true, name }
    }
  }
  const out: { -readonly [K in keyof NetworkConfig]: NetworkConfig[K] } = {}
  if (m.name !== undefined) out.name = str(m.name, `${path}.name`)
  if (m.driver !== undefined) {
    const d = str(m.driver, `${path}.driver`)
    if (d !== 'overlay') throw new ComposeError(`${path}.driver`, `flotilla makes overlay networks only, not "${d}"`, 'leave driver out, or write driver: overlay')
  }
  if (m.driver_opts !== undefined) {
    const opts = mapping(m.driver_opts, `${path}.driver_opts`)
    const out2: Record<string, string> = {}
    for (const [k, x] of Object.entries(opts)) {
      if (k === 'encrypted') {
        throw new ComposeError(`${path}.driver_opts.encrypted`, 'not supported by flotilla', 'flotilla does not encrypt overlay traffic between hosts: protect the hosts\' link instead')
      }
      if (typeof x !== 'string' && typeof x !== 'number') throw new ComposeError(`${path}.driver_opts.${k}`, 'must be a string or a number')
      out2[k] = String(x)
    }
    out.driverOpts = out2
  }
  if (m.ipam !== undefined) {
    const ipam = mapping(m.ipam, `${path}.ipam`)
    checkKeys(ipam, `${path}.ipam`, ['driver', 'config'], { options: '' })
    const driver = ipam.driver === undefined ? 'default' : str(ipam.driver, `${path}.ipam.driver`)
    if (driver !== 'default') throw new ComposeError(`${path}.ipam.driver`, `only the default IPAM driver is supported, not "${driver}"`)
    if (ipam.config !== undefined) {
      if (!Array.isArray(ipam.config)) throw new ComposeError(`${path}.ipam.config`, 'must be a list')
      if (ipam.config.length > 1) throw new ComposeError(`${path}.ipam.config`, 'one subnet per network is supported by flotilla')
      if (ipam.config.length === 1) {
        const c = mapping(ipam.config[0], `${path}.ipam.config[0]`)
        checkKeys(c, `${path}.ipam.config[0]`, ['subnet'], { ip_range: 'give a subnet of the size wanted', gateway: '', aux_addresses: '' })
        if (c.subnet !== undefined) out.subnet = str(c.subnet, `${path}.ipam.config[0].subnet`)
      }
    }
  }
  if (m.internal !== undefined) out.internal = bool(m.internal, `${path}.internal`)
  if (m.attachable !== undefined) out.attachable = bool(m.attachable, `${path}.attachable`)
  if (m.labels !== undefined) out.labels = labelMap(m.labels, `${path}.labels`)
  return out
}

/** A top-level secret or config; `file` is resolved against `workingDir`. */
export function loadFileObject (kind: 'secret' | 'config', key: string, v: unknown, workingDir: string): FileObjectConfig {
  const path = `${kind}s.${key}`
  const m = mapping(v, path)
  const refused: Record<string, string> = { template_driver: 'flotilla hands the data to tasks as it is' }
  if (kind === 'secret') {
    refused.driver = 'flotilla stores secrets itself, sealed in the cluster state'
    refused.driver_opts = ''
  }
  checkKeys(m, path, ['name', 'file', 'external', 'labels'], refused)
  if (m.external !== undefined) {
    const name = externalName(kind, key, m, path)
    if (name !== undefined) {
      refuseWithExternal(m, path, ['file', 'labels'])
      return { external: true, name }
    }
  }
  if (m.file === undefined) throw new ComposeError(path, `a ${kind} needs file: (its data) or external: true`)
  return {
    file: resolve(workingDir, str(m.file, `${path}.file`)),
    ...(m.name === undefined ? {} : { name: str(m.name, `${path}.name`) }),
    ...(m.labels === undefined ? {} : { labels: labelMap(m.labels, `${path}.labels`) })
  }
}
