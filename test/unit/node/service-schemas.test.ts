import { describe, expect, it } from 'vitest'
import { FlotillaError } from '../../../src/membership/errors.js'
import { parseServiceSpec, randomServiceName, validateServiceName } from '../../../src/node/control/service-schemas.js'
import { catchError } from '../../support/errors.js'

/** The body `docker service create --detach --name web --replicas 3 busybox sleep 1000` sends (docker CLI 28). */
function dockerCliBody (): Record<string, unknown> {
  return {
    Name: 'web',
    Labels: {},
    TaskTemplate: {
      ContainerSpec: { Image: 'busybox:latest@sha256:' + 'a'.repeat(64), Args: ['sleep', '1000'], Init: false, DNSConfig: {} },
      Resources: { Limits: {}, Reservations: {} },
      Placement: { Platforms: [{ Architecture: 'amd64', OS: 'linux' }] },
      ForceUpdate: 0
    },
    Mode: { Replicated: { Replicas: 3 } },
    EndpointSpec: { Mode: 'vip' }
  }
}

type Json = Record<string, unknown>

/** `dockerCliBody()` with `path` (dot-separated) set to `value`; `undefined` deletes it. */
function withField (path: string, value: unknown): Json {
  const body = dockerCliBody()
  const keys = path.split('.')
  let o: Json = body
  for (const k of keys.slice(0, -1)) {
    o[k] ??= {}
    o = o[k] as Json
  }
  if (value === undefined) delete o[keys[keys.length - 1]!]
  else o[keys[keys.length - 1]!] = value
  return body
}

function invalidMessage (body: unknown): string {
  const err = catchError(() => parseServiceSpec(body, () => 'generated'))
  expect(err).toBeInstanceOf(FlotillaError)
  expect((err as FlotillaError).code).toBe('invalid-argument')
  return (err as FlotillaError).message
}

describe('parseServiceSpec', () => {
  it('accepts what the docker CLI sends, keeping the fields flotilla does not run', () => {
    const { spec, warnings } = parseServiceSpec(dockerCliBody())
    expect(spec.Name).toBe('web')
    expect(spec.Mode).toEqual({ Replicated: { Replicas: 3 } })
    expect(spec.TaskTemplate.ContainerSpec).toEqual({ Image: 'busybox:latest@sha256:' + 'a'.repeat(64), Args: ['sleep', '1000'], Init: false, DNSConfig: {} })
    expect(spec.TaskTemplate.Placement?.Platforms).toEqual([{ Architecture: 'amd64', OS: 'linux' }])
    expect(spec.EndpointSpec).toEqual({ Mode: 'vip' })
    expect(warnings).toEqual([])
  })

  it.each<[string, unknown, unknown]>([
    ['no Mode', undefined, { Replicated: { Replicas: 1 } }],
    ['a null Mode', null, { Replicated: { Replicas: 1 } }],
    ['an empty Mode', {}, { Replicated: { Replicas: 1 } }],
    ['Replicated without Replicas', { Replicated: {} }, { Replicated: { Replicas: 1 } }],
    ['zero replicas', { Replicated: { Replicas: 0 } }, { Replicated: { Replicas: 0 } }],
    ['Global', { Global: {} }, { Global: {} }],
    ['Global beside a null Replicated', { Global: {}, Replicated: null }, { Global: {} }]
  ])('normalizes %s as Docker does', (_name, mode, expected) => {
    expect(parseServiceSpec(withField('Mode', mode)).spec.Mode).toEqual(expected)
  })

  it('fills in zero values once: Labels, ForceUpdate, EndpointSpec.Mode; drops nulls', () => {
    const { spec } = parseServiceSpec({ Name: 'web', Labels: null, TaskTemplate: { ContainerSpec: { Image: 'nginx', Command: null, Env: null } }, EndpointSpec: null })
    expect(spec.Labels).toEqual({})
    expect(spec.TaskTemplate).toEqual({ ContainerSpec: { Image: 'nginx' }, ForceUpdate: 0 })
    expect(spec.EndpointSpec).toEqual({ Mode: 'vip' })
  })

  it('drops the docker CLI\'s empty enum strings, so that defaults apply', () => {
    const { spec } = parseServiceSpec(withField('TaskTemplate.RestartPolicy', { Condition: '', Delay: 5e9, MaxAttempts: 0 }))
    expect(spec.TaskTemplate.RestartPolicy).toEqual({ Delay: 5e9, MaxAttempts: 0 })
    const ports = parseServiceSpec(withField('EndpointSpec.Ports', [{ Protocol: '', TargetPort: 80, PublishMode: '' }])).spec.EndpointSpec?.Ports
    expect(ports).toEqual([{ TargetPort: 80 }])
  })

  it('names a service created without a name, as dockerd does', () => {
    expect(parseServiceSpec(withField('Name', ''), () => 'brave_turing').spec.Name).toBe('brave_turing')
    expect(parseServiceSpec(withField('Name', undefined), () => 'brave_turing').spec.Name).toBe('brave_turing')
  })

  it.each<[string, Json, string]>([
    ['a name with a space', withField('Name', 'web app'), 'Name: name must be valid as a DNS name component'],
    ['a name starting with a dash', withField('Name', '-web'), 'Name: name must be valid as a DNS name component'],
    ['a name ending with an underscore', withField('Name', 'web_'), 'Name: name must be valid as a DNS name component'],
    ['a name with a dot', withField('Name', 'web.1'), 'Name: name must be valid as a DNS name component'],
    ['a 64-character name', withField('Name', 'a'.repeat(64)), 'Name: name must be 63 characters or fewer'],
    ['a numeric name', withField('Name', 5), 'Name: Expected string'],
    ['no image', withField('TaskTemplate.ContainerSpec.Image', undefined), 'TaskTemplate.ContainerSpec.Image: image reference must be provided'],
    ['an empty image', withField('TaskTemplate.ContainerSpec.Image', ''), 'TaskTemplate.ContainerSpec.Image: image reference must be provided'],
    ['no ContainerSpec', withField('TaskTemplate.ContainerSpec', undefined), 'TaskTemplate.ContainerSpec.Image: image reference must be provided'],
    ['no TaskTemplate', withField('TaskTemplate', undefined), 'TaskTemplate.ContainerSpec.Image: image reference must be provided'],
    ['an upper-case image', withField('TaskTemplate.ContainerSpec.Image', 'BusyBox'), 'TaskTemplate.ContainerSpec.Image: "BusyBox" is not a valid repository/tag'],
    ['an image with a space', withField('TaskTemplate.ContainerSpec.Image', 'busy box'), 'TaskTemplate.ContainerSpec.Image:'],
    ['Args as a string', withField('TaskTemplate.ContainerSpec.Args', 'sleep 1'), 'TaskTemplate.ContainerSpec.Args: Expected array'],
    ['an Env entry without a name', withField('TaskTemplate.ContainerSpec.Env', ['A=1', '=x']), 'TaskTemplate.ContainerSpec.Env[1]: invalid environment variable "=x"'],
    ['a negative StopGracePeriod', withField('TaskTemplate.ContainerSpec.StopGracePeriod', -1), 'TaskTemplate.ContainerSpec.StopGracePeriod: must be a non-negative integer'],
    ['negative replicas', withField('Mode', { Replicated: { Replicas: -1 } }), 'Mode.Replicated.Replicas: must be a non-negative integer'],
    ['fractional replicas', withField('Mode', { Replicated: { Replicas: 1.5 } }), 'Mode.Replicated.Replicas: must be a non-negative integer'],
    ['replicas as a string', withField('Mode', { Replicated: { Replicas: '3' } }), 'Mode.Replicated.Replicas: must be a non-negative integer'],
    ['an unknown mode', withField('Mode', { Sharded: {} }), 'Mode: unknown service mode "Sharded"'],
    ['both modes', withField('Mode', { Replicated: { Replicas: 1 }, Global: {} }), 'Mode: must specify only one service mode'],
    ['a replicated job', withField('Mode', { ReplicatedJob: { MaxConcurrent: 1 } }), 'Mode.ReplicatedJob: job services are not supported'],
    ['a global job', withField('Mode', { GlobalJob: {} }), 'Mode.GlobalJob: job services are not supported'],
    ['Global as a number', withField('Mode', { Global: 1 }), 'Mode.Global: Expected object'],
    ['a constraint with one "="', withField('TaskTemplate.Placement', { Constraints: ['node.labels.zone=eu'] }), 'TaskTemplate.Placement.Constraints: invalid constraint "node.labels.zone=eu"'],
    ['a constraint on an unknown key', withField('TaskTemplate.Placement', { Constraints: ['node.ip==10.0.0.1'] }), 'TaskTemplate.Placement.Constraints: invalid constraint'],
    ['a spread over node IDs', withField('TaskTemplate.Placement', { Preferences: [{ Spread: { SpreadDescriptor: 'node.id' } }] }), 'TaskTemplate.Placement.Preferences[0].Spread.SpreadDescriptor: unsupported spread descriptor'],
    ['a preference without Spread', withField('TaskTemplate.Placement', { Preferences: [{}] }), 'TaskTemplate.Placement.Preferences[0].Spread: Required'],
    ['a negative MaxReplicas', withField('TaskTemplate.Placement', { MaxReplicas: -2 }), 'TaskTemplate.Placement.MaxReplicas: must be a non-negative integer'],
    ['an unknown restart condition', withField('TaskTemplate.RestartPolicy', { Condition: 'always' }), 'TaskTemplate.RestartPolicy.Condition: invalid RestartCondition: "always"'],
    ['a negative restart delay', withField('TaskTemplate.RestartPolicy', { Delay: -1 }), 'TaskTemplate.RestartPolicy.Delay: restart-delay cannot be negative'],
    ['a fractional restart delay', withField('TaskTemplate.RestartPolicy', { Delay: 1.5 }), 'TaskTemplate.RestartPolicy.Delay: must be an integer number of nanoseconds'],
    ['a negative restart window', withField('TaskTemplate.RestartPolicy', { Window: -1 }), 'TaskTemplate.RestartPolicy.Window: restart-window cannot be negative'],
    ['negative MaxAttempts', withField('TaskTemplate.RestartPolicy', { MaxAttempts: -1 }), 'TaskTemplate.RestartPolicy.MaxAttempts: must be a non-negative integer'],
    ['a CPU limit under 0.001', withField('TaskTemplate.Resources', { Limits: { NanoCPUs: 100 } }), 'TaskTemplate.Resources.Limits.NanoCPUs: invalid cpu value 1e-7: Must be at least 0.001'],
    ['a memory reservation under 4 MiB', withField('TaskTemplate.Resources', { Reservations: { MemoryBytes: 1000 } }), 'TaskTemplate.Resources.Reservations.MemoryBytes: invalid memory value 1000: Must be at least 4MiB'],
    ['negative NanoCPUs', withField('TaskTemplate.Resources', { Reservations: { NanoCPUs: -1 } }), 'TaskTemplate.Resources.Reservations.NanoCPUs: must be a non-negative integer'],
    ['mounts', withField('TaskTemplate.ContainerSpec.Mounts', [{ Type: 'bind', Source: '/', Target: '/host' }]), 'TaskTemplate.ContainerSpec.Mounts: mounts are not supported by flotilla'],
    ['a secret target with ..', withField('TaskTemplate.ContainerSpec.Secrets', [{ SecretName: 's', File: { Name: 'a/../../etc/shadow' } }]), 'TaskTemplate.ContainerSpec.Secrets[0].File.Name: must not contain ".."'],
    ['a config owner that is no number', withField('TaskTemplate.ContainerSpec.Configs', [{ ConfigName: 'c', File: { Name: '/c', GID: 'wheel' } }]), 'TaskTemplate.ContainerSpec.Configs[0].File.GID: must be a numeric group ID'],
    ['a network attached twice', withField('TaskTemplate.Networks', [{ Target: 'backend' }, { Target: 'backend', Aliases: ['db'] }]), 'TaskTemplate.Networks[1]: network backend is attached more than once'],
    ['a network attached twice through the top-level Networks', withField('Networks', [{ Target: 'backend' }, { Target: 'backend' }]), 'TaskTemplate.Networks[1]: network backend is attached more than once'],
    ['an alias that is no DNS name', withField('TaskTemplate.Networks', [{ Target: 'backend', Aliases: ['db', 'no spaces'] }]), 'TaskTemplate.Networks[0].Aliases: "no spaces" is not a valid DNS name'],
    ['an alias ending in a dash', withField('TaskTemplate.Networks', [{ Target: 'backend', Aliases: ['db-'] }]), 'TaskTemplate.Networks[0].Aliases: "db-" is not a valid DNS name'],
    ['a network without a Target', withField('TaskTemplate.Networks', [{ Aliases: ['db'] }]), 'TaskTemplate.Networks[0].Target: Required'],
    ['a plugin runtime', withField('TaskTemplate.Runtime', 'plugin'), 'TaskTemplate.Runtime: runtime "plugin" is not supported'],
    ['an unknown endpoint mode', withField('EndpointSpec.Mode', 'anycast'), 'EndpointSpec.Mode: invalid resolution mode "anycast"'],
    ['a target port as a string', withField('EndpointSpec.Ports', [{ TargetPort: '80' }]), 'EndpointSpec.Ports[0].TargetPort: Expected number'],
    ['a numeric label', withField('Labels', { tier: 1 }), 'Labels.tier: Expected string'],
    ['a numeric container label', withField('TaskTemplate.ContainerSpec.Labels', { tier: 1 }), 'TaskTemplate.ContainerSpec.Labels.tier: Expected string']
  ])('refuses %s, naming the field', (_name, body, message) => {
    expect(invalidMessage(body)).toContain(message)
    expect(invalidMessage(body).startsWith(message.split(':')[0]!)).toBe(true)
  })

  it('refuses an empty body and one that is not an object', () => {
    expect(invalidMessage(undefined)).toContain('service spec: request body is empty')
    expect(invalidMessage([1])).toContain('service spec: Expected object, received array')
  })

  it('accepts the networks a service attaches to, with their aliases, as given (names are resolved on the leader)', () => {
    const networks = [{ Target: 'backend', Aliases: ['db', 'db.internal', 'db_1'] }, { Target: 'net0000000000000000000001' }]
    const { spec, warnings } = parseServiceSpec(withField('TaskTemplate.Networks', networks))
    expect(spec.TaskTemplate.Networks).toEqual(networks)
    expect(spec).not.toHaveProperty('Networks')
    expect(warnings).toEqual([])
  })

  it('moves the deprecated top-level Networks into TaskTemplate.Networks and drops the top-level key', () => {
    const { spec } = parseServiceSpec(withField('Networks', [{ Target: 'backend', Aliases: ['db'] }]))
    expect(spec.TaskTemplate.Networks).toEqual([{ Target: 'backend', Aliases: ['db'] }])
    expect(spec).not.toHaveProperty('Networks')
  })

  it('keeps TaskTemplate.Networks over the top-level Networks when both are set', () => {
    const body = withField('TaskTemplate.Networks', [{ Target: 'frontend' }])
    body.Networks = [{ Target: 'backend' }]
    const { spec } = parseServiceSpec(body)
    expect(spec.TaskTemplate.Networks).toEqual([{ Target: 'frontend' }])
    expect(spec).not.toHaveProperty('Networks')
  })

  it('accepts empty Mounts and Networks, as the docker CLI may send them', () => {
    const body = withField('TaskTemplate.Networks', [])
    ;((body.TaskTemplate as Json).ContainerSpec as Json).Mounts = []
    expect(() => parseServiceSpec(body)).not.toThrow()
  })

  it.each(['nginx', 'nginx:1.27', 'library/nginx', 'registry.example.com:5000/team/app:v1', 'localhost/app', 'ghcr.io/a/b-c_d.e:1.0-rc1',
    'busybox@sha256:' + 'f'.repeat(64), '[::1]:5000/app'])('accepts the image reference %s', image => {
    expect(parseServiceSpec(withField('TaskTemplate.ContainerSpec.Image', image)).spec.TaskTemplate.ContainerSpec.Image).toBe(image)
  })

  it('warns about set fields that are stored but not applied, and not about an applied Healthcheck', () => {
    const body = withField('TaskTemplate.ContainerSpec.Healthcheck', { Test: ['CMD', 'true'] })
    ;(body.TaskTemplate as Json).LogDriver = { Name: 'json-file' }
    expect(parseServiceSpec(body).warnings).toEqual([
      'TaskTemplate.LogDriver is stored but not applied by flotilla'
    ])
  })

  it.each([
    [{ Test: ['CMD-SHELL', 'test -f /tmp/ok'], Interval: 200e6, Timeout: 1e9, Retries: 3, StartPeriod: 0 }],
    [{ Test: ['CMD', 'true'] }],
    [{ Test: ['NONE'] }],
    [{ Interval: 5e9 }]
  ])('accepts the health check %j', hc => {
    const { spec, warnings } = parseServiceSpec(withField('TaskTemplate.ContainerSpec.Healthcheck', hc))
    expect(spec.TaskTemplate.ContainerSpec.Healthcheck).toEqual(hc)
    expect(warnings).toEqual([])
  })

  it.each([
    [{ Test: ['CMD-SHELL', 'true'], Interval: 999_999 }, 'TaskTemplate.ContainerSpec.Healthcheck.Interval: Interval in Healthcheck cannot be less than 1ms'],
    [{ Test: ['CMD-SHELL', 'true'], Timeout: -1 }, 'TaskTemplate.ContainerSpec.Healthcheck.Timeout: must be a non-negative integer'],
    [{ Test: ['CMD-SHELL', 'true'], StartPeriod: 1.5 }, 'TaskTemplate.ContainerSpec.Healthcheck.StartPeriod: must be a non-negative integer'],
    [{ Test: ['CMD-SHELL', 'true'], Retries: -1 }, 'TaskTemplate.ContainerSpec.Healthcheck.Retries: must be a non-negative integer'],
    [{ Test: ['CMD-SHELL'] }, 'TaskTemplate.ContainerSpec.Healthcheck.Test: CMD-SHELL needs a command'],
    [{ Test: ['SHELL', 'true'] }, 'TaskTemplate.ContainerSpec.Healthcheck.Test: unknown health check type "SHELL"'],
    [{ Test: ['NONE', 'x'] }, 'TaskTemplate.ContainerSpec.Healthcheck.Test: "NONE" takes no arguments'],
    [{ Test: 'true' }, 'TaskTemplate.ContainerSpec.Healthcheck.Test: Expected array, received string']
  ])('refuses the health check %j', (hc, message) => {
    expect(invalidMessage(withField('TaskTemplate.ContainerSpec.Healthcheck', hc))).toBe(message)
  })

  it('keeps UpdateConfig and RollbackConfig as sent', () => {
    const body = withField('UpdateConfig', { Parallelism: 1, Monitor: 5e9 })
    body.RollbackConfig = { Parallelism: 1 }
    const { spec } = parseServiceSpec(body)
    expect((spec as unknown as Json).UpdateConfig).toEqual({ Parallelism: 1, Monitor: 5e9 })
    expect((spec as unknown as Json).RollbackConfig).toEqual({ Parallelism: 1 })
  })
})

describe('service names', () => {
  it.each(['web', 'a', 'web-1', 'web_api', 'a--b', 'A1', 'a'.repeat(63)])('accepts %s', name => {
    expect(() => { validateServiceName(name) }).not.toThrow()
  })

  it('generates valid names', () => {
    for (let i = 0; i < 50; i++) expect(() => { validateServiceName(randomServiceName()) }).not.toThrow()
    expect(randomServiceName(() => 0)).toBe('admiring_albattani')
  })
})

describe('UpdateConfig', () => {
  it('takes Parallelism and Delay as non-negative integers, naming the field otherwise', () => {
    expect(() => parseServiceSpec(withField('UpdateConfig', { Parallelism: 2, Delay: 1e9 }), () => 'generated')).not.toThrow()
    expect(invalidMessage(withField('UpdateConfig', { Parallelism: -1 }))).toContain('UpdateConfig.Parallelism')
    expect(invalidMessage(withField('UpdateConfig', { Delay: 0.5 }))).toContain('UpdateConfig.Delay')
  })

  it('takes every field the updater applies, without a warning, and refuses bad values naming the field', () => {
    for (const field of ['UpdateConfig', 'RollbackConfig']) {
      const full = { Parallelism: 1, Delay: 0, FailureAction: 'rollback', Monitor: 5e9, MaxFailureRatio: 0.25, Order: 'start-first' }
      expect(parseServiceSpec(withField(field, full), () => 'generated').warnings).toEqual([])
      expect(invalidMessage(withField(field, { Order: 'sideways' }))).toContain(`${field}.Order`)
      expect(invalidMessage(withField(field, { FailureAction: 'explode' }))).toContain(`${field}.FailureAction`)
      expect(invalidMessage(withField(field, { MaxFailureRatio: 1.5 }))).toBe(`${field}.MaxFailureRatio: must be between 0 and 1`)
      expect(invalidMessage(withField(field, { Monitor: -1 }))).toContain(`${field}.Monitor`)
    }
  })

  it('reads the empty enums docker stack deploy sends (Order, FailureAction "") as unset', () => {
    const spec = parseServiceSpec(withField('UpdateConfig', { Parallelism: 2, Order: '', FailureAction: '' })).spec
    expect(spec.UpdateConfig).toEqual({ Parallelism: 2 })
    expect(invalidMessage(withField('RollbackConfig', { Order: 'sideways' }))).toContain('RollbackConfig.Order')
  })
})
