import { parse, type ScalarTag } from 'yaml'
import { ComposeError, type ComposeConfig, type FileObjectConfig, type NetworkConfig, type ServiceConfig } from './compose-types.js'
import { loadFileObject, loadNetwork } from './compose-objects.js'
import { loadService, type LoadContext } from './compose-service.js'
import { interpolate } from './interpolate.js'
import { checkKeys, isMapping, mapping } from './compose-values.js'
import { mergeConfigs } from './merge.js'

/**
 * Compose files to one ComposeConfig, as docker/cli's loader does it for `docker stack deploy`: each
 * file parsed (YAML, with merge keys `<<` and YAML 1.1 octals such as `0440`, as go-yaml v3 reads
 * them), its variables substituted, then validated and normalized; the files merged in order. Pure but
 * for `ctx.readFile` (env files); nothing talks to the cluster.
 */

/** go-yaml v3 still reads a YAML 1.1 octal (`mode: 0440`) as octal; YAML 1.2's core schema would read 440. */
const OCTAL_1_1: ScalarTag = {
  identify: v => typeof v === 'number',
  default: true,
  tag: 'tag:yaml.org,2002:int',
  test: /^[-+]?0[0-7]+$/,
  resolve: s => parseInt(s, 8)
}

/** One Compose file's text, with the name errors show (`-` for stdin). */
export interface ComposeSource {
  readonly filename: string
  readonly text: string
}

/** Parse one file; the top level must be a mapping. */
export function parseComposeYaml (src: ComposeSource): Record<string, unknown> {
  let doc: unknown
  try {
    doc = parse(src.text, { merge: true, customTags: tags => [OCTAL_1_1, ...tags] })
  } catch (e) {
    throw new ComposeError('', (e as Error).message.trimEnd(), undefined, src.filename)
  }
  if (!isMapping(doc)) throw new ComposeError('', 'top-level object must be a mapping', undefined, src.filename)
  return { ...doc }
}

/** docker's schema.Version: none or `3` is the latest 3.x, 3.13. */
export const DEFAULT_VERSION = '3.13'

function version (v: unknown): string {
  if (v === undefined) return DEFAULT_VERSION
  if (typeof v !== 'string' && typeof v !== 'number') throw new ComposeError('version', 'must be a string')
  const text = String(v)
  const normalized = text === '' || text === '3' ? DEFAULT_VERSION : text
  const m = /^3\.(\d+)$/.exec(normalized)
  if (m === null || Number(m[1]) > 13) {
    throw new ComposeError('version', `unsupported Compose file version: ${normalized}`, 'docker stack deploy and flotilla read version 3.x files (3.0 to 3.13)')
  }
  return normalized
}

function section (dict: Readonly<Record<string, unknown>>, key: string): Readonly<Record<string, unknown>> {
  const v = dict[key]
  return v === undefined || v === null ? {} : mapping(v, key)
}

/** One parsed file (before interpolation) to its normalized form. */
export function loadComposeFile (raw: Readonly<Record<string, unknown>>, ctx: LoadContext): ComposeConfig {
  const dict = interpolate(raw, ctx.env)
  checkKeys(dict, '', ['version', 'services', 'networks', 'secrets', 'configs'], {
    volumes: 'flotilla mounts no volumes into tasks: hand files to a service with configs: or secrets:'
  })
  const v = version(dict.version)
  const services: Record<string, ServiceConfig> = {}
  for (const [name, s] of Object.entries(section(dict, 'services'))) services[name] = loadService(name, s, ctx)
  const networks: Record<string, NetworkConfig> = {}
  for (const [name, n] of Object.entries(section(dict, 'networks'))) networks[name] = loadNetwork(name, n)
  const secrets: Record<string, FileObjectConfig> = {}
  for (const [name, s] of Object.entries(section(dict, 'secrets'))) secrets[name] = loadFileObject('secret', name, s, ctx.workingDir)
  const configs: Record<string, FileObjectConfig> = {}
  for (const [name, c] of Object.entries(section(dict, 'configs'))) configs[name] = loadFileObject('config', name, c, ctx.workingDir)
  return { version: v, services, networks, secrets, configs }
}

/**
 * `-c FILE [-c FILE...]`: each file loaded, then merged, the later over the earlier. A ComposeError
 * from a file other than the only one names that file.
 */
export function loadCompose (sources: readonly ComposeSource[], ctx: LoadContext): ComposeConfig {
  if (sources.length === 0) throw new ComposeError('', 'specify a Compose file (with --compose-file)')
  return mergeConfigs(sources.map(src => {
    try {
      return loadComposeFile(parseComposeYaml(src), ctx)
    } catch (e) {
      if (e instanceof ComposeError && sources.length > 1 && e.file === undefined) throw new ComposeError(e.path, e.why, e.hint, src.filename)
      throw e
    }
  }))
}
