import { describe, expect, it } from 'vitest'
import { CliError } from '../../../src/node/cli/client.js'
import {
  parseDurationNs, parseEnvEntry, parseLabels, parseMemBytes, parseNanoCpus, parsePlacementPref, parsePublish, parseScaleArg, parseUint
} from '../../../src/node/cli/service-flags.js'
import { applyUpdateFlags, buildCreateSpec, type CreateFlags, type UpdateFlags } from '../../../src/node/cli/service-spec.js'
import { parseServiceSpec } from '../../../src/node/control/service-schemas.js'
import { catchError } from '../../support/errors.js'

function cliError (fn: () => unknown): string {
  const err = catchError(fn)
  expect(err).toBeInstanceOf(CliError)
  return (err as CliError).message
}

describe('parseMemBytes (docker\'s RAMInBytes)', () => {
  it.each<[string, number]>([
    ['100', 100], ['100b', 100], ['100B', 100], ['1k', 1024], ['1K', 1024], ['1kb', 1024], ['1KiB', 1024],
    ['64m', 64 * 1024 ** 2], ['64M', 64 * 1024 ** 2], ['64MB', 64 * 1024 ** 2], ['64MiB', 64 * 1024 ** 2], ['64 MiB', 64 * 1024 ** 2],
    ['1.5g', 1.5 * 1024 ** 3], ['2G', 2 * 1024 ** 3], ['1t', 1024 ** 4], ['0.5k', 512]
  ])('%s is %i bytes', (text, bytes) => {
    expect(parseMemBytes(text)).toBe(bytes)
  })

  it.each(['', 'abc', '64X', '-1m', '1.2.3m', 'm'])('refuses %j naming the flag', text => {
    expect(cliError(() => parseMemBytes(text, '--reserve-memory'))).toBe(`invalid argument "${text}" for "--reserve-memory" flag: invalid size: '${text}'`)
  })
})

describe('parseNanoCpus', () => {
  it.each<[string, number]>([['1', 1e9], ['0.5', 5e8], ['.25', 2.5e8], ['2.', 2e9], ['0.001', 1e6], ['1.000000001', 1_000_000_001], ['0.10', 1e8]])('%s CPUs is %i NanoCPUs', (text, nanos) => {
    expect(parseNanoCpus(text)).toBe(nanos)
  })

  it('refuses what is not a number, and more precision than a nano-CPU', () => {
    expect(cliError(() => parseNanoCpus('half', '--limit-cpu'))).toBe('invalid argument "half" for "--limit-cpu" flag: failed to parse half as a rational number')
    expect(cliError(() => parseNanoCpus('0.0000000001', '--limit-cpu'))).toContain('value is too precise')
  })
})

describe('parseDurationNs (Go\'s time.ParseDuration)', () => {
  it.each<[string, number]>([
    ['0', 0], ['5s', 5e9], ['300ms', 3e8], ['1m30s', 90e9], ['1.5h', 5400e9], ['2us', 2000], ['2µs', 2000], ['10ns', 10],
    ['-2s', -2e9], ['+1m', 60e9], ['.5s', 5e8], ['1h2m3s4ms', 3723004e6]
  ])('%s is %i ns', (text, ns) => {
    expect(parseDurationNs(text)).toBe(ns)
  })

  it.each<[string, string]>([
    ['5', 'time: missing unit in duration "5"'],
    ['5x', 'time: unknown unit "x" in duration "5x"'],
    ['', 'time: invalid duration ""'],
    ['s', 'time: invalid duration "s"'],
    ['-', 'time: invalid duration "-"']
  ])('refuses %j: %s', (text, why) => {
    expect(cliError(() => parseDurationNs(text, '--restart-delay'))).toBe(`invalid argument "${text}" for "--restart-delay" flag: ${why}`)
  })
})

describe('parsePublish', () => {
  it.each<[string, unknown[]]>([
    ['mode=host,target=80,published=8080', [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'host' }]],
    ['target=53,published=5353,protocol=udp', [{ Protocol: 'udp', TargetPort: 53, PublishedPort: 5353, PublishMode: 'ingress' }]],
    ['target=80', [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 0, PublishMode: 'ingress' }]],
    ['TARGET=80,Mode=ingress', [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 0, PublishMode: 'ingress' }]],
    ['target=80,mode=host', [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 0, PublishMode: 'host' }]],
    ['8080:80', [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' }]],
    ['5353:53/udp', [{ Protocol: 'udp', TargetPort: 53, PublishedPort: 5353, PublishMode: 'ingress' }]],
    ['80', [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 0, PublishMode: 'ingress' }]],
    ['8080-8081:80-81', [
      { Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' },
      { Protocol: 'tcp', TargetPort: 81, PublishedPort: 8081, PublishMode: 'ingress' }
    ]]
  ])('reads %s (ingress mode unless mode=host)', (text, ports) => {
    expect(parsePublish(text)).toEqual(ports)
  })

  it.each<[string, string]>([
    ['published=8080', 'missing mandatory field \'target\''],
    ['target=80,color=red', 'invalid field key: color'],
    ['target=80,protocol=icmp', 'invalid protocol value \'icmp\''],
    ['target=80,mode=routed', 'invalid publish mode value (routed): must be either \'ingress\' or \'host\''],
    ['target=99999', 'invalid port "99999"'],
    ['1.2.3.4:8080:80', 'hostip is not supported'],
    ['8080-8082:80-81', 'invalid ranges specified for container and host Ports'],
    ['80/icmp', 'invalid protocol value \'icmp\''],
    ['http', 'invalid port "http"']
  ])('refuses %s: %s', (text, why) => {
    expect(cliError(() => parsePublish(text))).toBe(`invalid argument "${text}" for "--publish" flag: ${why}`)
  })
})

describe('other flag values', () => {
  it('takes --env KEY from the environment when it is set there', () => {
    expect(parseEnvEntry('A=1')).toBe('A=1')
    expect(parseEnvEntry('A=')).toBe('A=')
    expect(parseEnvEntry('HOME', { HOME: '/root' })).toBe('HOME=/root')
    expect(parseEnvEntry('UNSET', {})).toBe('UNSET')
    expect(cliError(() => parseEnvEntry('=x'))).toContain('invalid environment variable: =x')
  })

  it('reads labels, a missing value as ""', () => {
    expect(parseLabels(['a=1', 'b', 'c=x=y', 'a=2'])).toEqual({ a: '2', b: '', c: 'x=y' })
    expect(cliError(() => parseLabels(['=1']))).toContain('empty label key')
  })

  it('reads spread placement preferences only', () => {
    expect(parsePlacementPref('spread=node.labels.zone')).toEqual({ Spread: { SpreadDescriptor: 'node.labels.zone' } })
    expect(cliError(() => parsePlacementPref('pack=node.labels.zone'))).toContain('unsupported placement preference pack (only spread is supported)')
    expect(cliError(() => parsePlacementPref('spread'))).toContain('must be of the format "<strategy>=<arg>"')
  })

  it('reads unsigned integers and scale arguments', () => {
    expect(parseUint('3', '--replicas')).toBe(3)
    expect(cliError(() => parseUint('-1', '--replicas'))).toContain('for "--replicas" flag')
    expect(cliError(() => parseUint('1.5', '--replicas'))).toContain('invalid syntax')
    expect(parseScaleArg('web=10')).toEqual({ service: 'web', replicas: 10 })
    expect(cliError(() => parseScaleArg('web'))).toBe('invalid scale specifier \'web\'.')
    expect(cliError(() => parseScaleArg('web=-1'))).toBe('invalid scale specifier \'web=-1\'.')
  })
})

function createFlags (over: Partial<CreateFlags> = {}): CreateFlags {
  return { constraint: [], placementPref: [], env: [], label: [], containerLabel: [], publish: [], network: [], mode: 'replicated', ...over }
}

describe('buildCreateSpec', () => {
  it('builds the body docker sends for `--name web --replicas 3 busybox sleep 1000`', () => {
    expect(buildCreateSpec('busybox', ['sleep', '1000'], createFlags({ name: 'web', replicas: '3' }))).toEqual({
      Name: 'web',
      Labels: {},
      TaskTemplate: { ContainerSpec: { Image: 'busybox', Args: ['sleep', '1000'] }, Placement: {}, ForceUpdate: 0, Resources: { Limits: {}, Reservations: {} } },
      Mode: { Replicated: { Replicas: 3 } },
      EndpointSpec: { Mode: 'vip' }
    })
  })

  it('maps every flag to its field, in the API\'s units', () => {
    const spec = buildCreateSpec('nginx:1.27', [], createFlags({
      name: 'web', constraint: ['node.role==worker'], placementPref: ['spread=node.labels.zone'], replicasMaxPerNode: '2',
      reserveCpu: '0.5', reserveMemory: '64M', limitCpu: '1', limitMemory: '1g',
      restartCondition: 'on-failure', restartDelay: '10s', restartMaxAttempts: '3', restartWindow: '1m',
      env: ['A=1', 'HOME'], label: ['tier=front'], containerLabel: ['c=1'], publish: ['8080:80', 'mode=host,target=443,published=8443'],
      workdir: '/srv', user: 'www', hostname: 'h', stopSignal: 'SIGQUIT', stopGracePeriod: '30s'
    }), { HOME: '/root' })
    expect(spec).toEqual({
      Name: 'web',
      Labels: { tier: 'front' },
      TaskTemplate: {
        ContainerSpec: { Image: 'nginx:1.27', Env: ['A=1', 'HOME=/root'], Labels: { c: '1' }, Dir: '/srv', User: 'www', Hostname: 'h', StopSignal: 'SIGQUIT', StopGracePeriod: 30e9 },
        Placement: { Constraints: ['node.role==worker'], Preferences: [{ Spread: { SpreadDescriptor: 'node.labels.zone' } }], MaxReplicas: 2 },
        ForceUpdate: 0,
        Resources: { Limits: { NanoCPUs: 1e9, MemoryBytes: 1024 ** 3 }, Reservations: { NanoCPUs: 5e8, MemoryBytes: 64 * 1024 ** 2 } },
        RestartPolicy: { Condition: 'on-failure', Delay: 10e9, MaxAttempts: 3, Window: 60e9 }
      },
      Mode: { Replicated: {} },
      EndpointSpec: {
        Mode: 'vip',
        Ports: [
          { Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' },
          { Protocol: 'tcp', TargetPort: 443, PublishedPort: 8443, PublishMode: 'host' }
        ]
      }
    })
    // What the CLI builds, the manager accepts.
    expect(parseServiceSpec(spec).spec.Mode).toEqual({ Replicated: { Replicas: 1 } })
  })

  it('fills in docker\'s default restart policy around a single --restart-* flag', () => {
    const spec = buildCreateSpec('nginx', [], createFlags({ restartCondition: 'none' }))
    expect((spec.TaskTemplate as Record<string, unknown>).RestartPolicy).toEqual({ Condition: 'none', Delay: 5e9, MaxAttempts: 0 })
  })

  it('builds a global service, and refuses replicas with it', () => {
    expect(buildCreateSpec('nginx', [], createFlags({ mode: 'global' })).Mode).toEqual({ Global: {} })
    expect(cliError(() => buildCreateSpec('nginx', [], createFlags({ mode: 'global', replicas: '2' })))).toBe('replicas can only be used with replicated mode')
    expect(cliError(() => buildCreateSpec('nginx', [], createFlags({ mode: 'sharded' })))).toContain('Unknown mode: sharded')
  })
})

function updateFlags (over: Partial<UpdateFlags> = {}): UpdateFlags {
  return {
    envAdd: [], envRm: [], constraintAdd: [], constraintRm: [], placementPrefAdd: [], placementPrefRm: [], labelAdd: [], labelRm: [],
    containerLabelAdd: [], containerLabelRm: [], publishAdd: [], publishRm: [], ...over
  }
}

describe('applyUpdateFlags', () => {
  const current = (): Record<string, unknown> => ({
    Name: 'web',
    Labels: { tier: 'front', keep: '1' },
    TaskTemplate: {
      ContainerSpec: { Image: 'nginx:1.27', Env: ['B=2', 'A=1'], Init: false },
      Placement: { Constraints: ['node.role==worker'] },
      RestartPolicy: { Condition: 'any', Delay: 5e9, MaxAttempts: 0 },
      ForceUpdate: 2
    },
    Mode: { Replicated: { Replicas: 2 } },
    EndpointSpec: { Mode: 'vip', Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' }] },
    UpdateConfig: { Parallelism: 1 }
  })

  it('changes only what the flags name, leaving the rest (and the input) as it was', () => {
    const before = current()
    const next = applyUpdateFlags(before, updateFlags({
      image: 'nginx:1.28', replicas: '5', envAdd: ['A=9', 'C=3'], envRm: ['B'], constraintAdd: ['node.labels.zone==eu'], constraintRm: ['node.role==worker'],
      labelAdd: ['tier=back'], labelRm: ['keep'], publishAdd: ['mode=host,target=443,published=8443'], publishRm: ['80'],
      restartDelay: '1s', limitMemory: '128m', force: true
    }))
    expect(before).toEqual(current())
    expect(next).toEqual({
      Name: 'web',
      Labels: { tier: 'back' },
      TaskTemplate: {
        ContainerSpec: { Image: 'nginx:1.28', Env: ['A=9', 'C=3'], Init: false },
        Placement: { Constraints: ['node.labels.zone==eu'] },
        RestartPolicy: { Condition: 'any', Delay: 1e9, MaxAttempts: 0 },
        ForceUpdate: 3,
        Resources: { Limits: { MemoryBytes: 128 * 1024 ** 2 }, Reservations: {} }
      },
      Mode: { Replicated: { Replicas: 5 } },
      EndpointSpec: { Mode: 'vip', Ports: [{ Protocol: 'tcp', TargetPort: 443, PublishedPort: 8443, PublishMode: 'host' }] },
      UpdateConfig: { Parallelism: 1 }
    })
  })

  it('does not add a port twice, and removes the last one', () => {
    const ports = (spec: Record<string, unknown>): unknown[] => (spec.EndpointSpec as { Ports: unknown[] }).Ports
    expect(ports(applyUpdateFlags(current(), updateFlags({ publishAdd: ['8080:80'] })))).toHaveLength(1)
    // A port without PublishMode is an ingress one, the same as `8080:80`.
    const unmoded = { ...current(), EndpointSpec: { Mode: 'vip', Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080 }] } }
    expect(ports(applyUpdateFlags(unmoded, updateFlags({ publishAdd: ['8080:80'] })))).toHaveLength(1)
    // The same port in host mode is another port.
    expect(ports(applyUpdateFlags(current(), updateFlags({ publishAdd: ['mode=host,target=80,published=8080'] })))).toHaveLength(2)
    expect(applyUpdateFlags(current(), updateFlags({ publishRm: ['target=80'] })).EndpointSpec).toEqual({ Mode: 'vip' })
  })

  it('refuses --replicas for a global service', () => {
    const global = { ...current(), Mode: { Global: {} } }
    expect(cliError(() => applyUpdateFlags(global, updateFlags({ replicas: '3' })))).toBe('replicas can only be used with replicated mode')
  })
})
