import { ComposeError, type Environment } from './compose-types.js'

/**
 * Variable substitution in Compose files as `docker stack deploy` does it (docker/cli
 * cli/compose/template and cli/compose/interpolation): in every string value — never in keys —
 * `$VAR`, `${VAR}`, `${VAR:-default}` (unset or empty), `${VAR-default}` (unset), `${VAR:?message}`
 * (error when unset or empty), `${VAR?message}` (error when unset), and `$$` for a literal `$`. An
 * unset variable without a default is the empty string. A value that substitution changed is cast
 * where the format wants a number or a boolean (`replicas: ${N}`), at the paths docker casts.
 */

/** docker/cli's pattern, including its quirk that an unbraced `$VAR-x` takes the rest of the string as a default. */
const SUBST = '[_a-z][_a-z0-9]*(?::?[-?][^}]*)?'
const PATTERN = new RegExp(`\\$(?:(\\$)|(${SUBST})|\\{(${SUBST})\\}|())`, 'gi')

class TemplateError extends Error {}

/** The text before and after the first `sep` (all of it and '' when absent). */
function partition (s: string, sep: string): [string, string] {
  const i = s.indexOf(sep)
  return i < 0 ? [s, ''] : [s.slice(0, i), s.slice(i + sep.length)]
}

/** One `${...}` body, tried in docker's order: soft default, hard default, required non-empty, required. */
function substitution (body: string, env: Environment): string {
  const lookup = (name: string): string | undefined => Object.hasOwn(env, name) ? env[name] : undefined
  if (body.includes(':-')) {
    const [name, def] = partition(body, ':-')
    const v = lookup(name)
    return v === undefined || v === '' ? def : v
  }
  if (body.includes('-')) {
    const [name, def] = partition(body, '-')
    return lookup(name) ?? def
  }
  for (const [sep, nonEmpty] of [[':?', true], ['?', false]] as const) {
    if (!body.includes(sep)) continue
    const [name, message] = partition(body, sep)
    const v = lookup(name)
    if (v === undefined || (nonEmpty && v === '')) throw new TemplateError(`required variable ${name} is missing a value: ${message}`)
    return v
  }
  return lookup(body) ?? ''
}

/** Substitute the variables of one string; throws TemplateError for `$` not followed by a name, `{` or `$`. */
export function substitute (template: string, env: Environment): string {
  return template.replace(PATTERN, (_m, escaped: string | undefined, named: string | undefined, braced: string | undefined) => {
    if (escaped !== undefined) return escaped
    const body = named ?? braced
    if (body === undefined || body === '') throw new TemplateError(`Invalid template: ${JSON.stringify(template)}`)
    return substitution(body, env)
  })
}

type Cast = (value: string) => unknown

/** strconv.Atoi: optional sign, decimal digits (`0440` is 440). */
const toInt: Cast = v => {
  if (!/^[+-]?\d+$/.test(v)) throw new Error(`strconv.Atoi: parsing ${JSON.stringify(v)}: invalid syntax`)
  return Number(v)
}

const toFloat: Cast = v => {
  const n = Number(v)
  if (v.trim() === '' || !Number.isFinite(n)) throw new Error(`strconv.ParseFloat: parsing ${JSON.stringify(v)}: invalid syntax`)
  return n
}

/** YAML 1.1's booleans, as docker reads an interpolated value. */
const toBoolean: Cast = v => {
  switch (v.toLowerCase()) {
    case 'y': case 'yes': case 'true': case 'on': return true
    case 'n': case 'no': case 'false': case 'off': return false
    default: throw new Error(`invalid boolean: ${v}`)
  }
}

/** docker/cli's interpolateTypeCastMapping, for the keys flotilla reads (`*` any key, `[]` any list item). */
const CASTS: ReadonlyArray<readonly [string, Cast]> = [
  ['services.*.configs.[].mode', toInt],
  ['services.*.secrets.[].mode', toInt],
  ['services.*.healthcheck.retries', toInt],
  ['services.*.healthcheck.disable', toBoolean],
  ['services.*.deploy.replicas', toInt],
  ['services.*.deploy.update_config.parallelism', toInt],
  ['services.*.deploy.update_config.max_failure_ratio', toFloat],
  ['services.*.deploy.rollback_config.parallelism', toInt],
  ['services.*.deploy.rollback_config.max_failure_ratio', toFloat],
  ['services.*.deploy.restart_policy.max_attempts', toInt],
  ['services.*.deploy.placement.max_replicas_per_node', toInt],
  ['services.*.ports.[].target', toInt],
  ['services.*.ports.[].published', toInt],
  ['networks.*.external', toBoolean],
  ['networks.*.internal', toBoolean],
  ['networks.*.attachable', toBoolean],
  ['secrets.*.external', toBoolean],
  ['configs.*.external', toBoolean]
]

function castFor (pattern: readonly string[]): Cast | undefined {
  for (const [p, cast] of CASTS) {
    const parts = p.split('.')
    if (parts.length === pattern.length && parts.every((x, i) => x === '*' || x === pattern[i])) return cast
  }
  return undefined
}

/** `services.web.ports[0].target` for error messages. */
export function joinPath (parts: ReadonlyArray<string | number>): string {
  return parts.reduce<string>((acc, k) => typeof k === 'number' ? `${acc}[${k}]` : acc === '' ? k : `${acc}.${k}`, '')
}

function walk (value: unknown, path: ReadonlyArray<string | number>, env: Environment): unknown {
  if (typeof value === 'string') {
    let next: string
    try {
      next = substitute(value, env)
    } catch (e) {
      if (e instanceof TemplateError) {
        throw new ComposeError('', `invalid interpolation format for ${joinPath(path)}: ${JSON.stringify(e.message)}; you may need to escape any $ with another $`)
      }
      throw e
    }
    if (next === value) return value
    const cast = castFor(path.map(p => typeof p === 'number' ? '[]' : p))
    if (cast === undefined) return next
    try {
      return cast(next)
    } catch (e) {
      throw new ComposeError('', `error while interpolating ${joinPath(path)}: failed to cast to expected type: ${(e as Error).message}`)
    }
  }
  if (Array.isArray(value)) return value.map((v, i) => walk(v, [...path, i], env))
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v, [...path, k], env)]))
  }
  return value
}

/** Interpolate every string value of a parsed Compose file (a new object; the input is not changed). */
export function interpolate (dict: Readonly<Record<string, unknown>>, env: Environment): Record<string, unknown> {
  return walk(dict, [], env) as Record<string, unknown>
}
