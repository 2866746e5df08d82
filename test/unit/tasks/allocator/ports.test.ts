import { describe, expect, it } from 'vitest'
import { FlotillaError } from '../../../../src/membership/errors.js'
import { allocatePorts, DYNAMIC_PORT_END, DYNAMIC_PORT_START, portKey, type AllocatedPort } from '../../../../src/tasks/allocator/index.js'
import type { PortConfig } from '../../../../src/tasks/orchestrator/index.js'
import { catchError } from '../../../support/errors.js'

/** A port as allocated from a PortConfig without PublishMode: Docker's default, the routing mesh. */
const host = (TargetPort: number, PublishedPort: number, Protocol: AllocatedPort['Protocol'] = 'tcp'): AllocatedPort =>
  ({ Protocol, TargetPort, PublishedPort, PublishMode: 'ingress' })

/** Every dynamic tcp port except those listed. */
function allDynamicBut (...free: number[]): Set<string> {
  const taken = new Set<string>()
  for (let p = DYNAMIC_PORT_START; p <= DYNAMIC_PORT_END; p++) if (!free.includes(p)) taken.add(portKey('tcp', p))
  return taken
}

describe('allocatePorts: validation', () => {
  it.each<[string, PortConfig, RegExp]>([
    ['target port 0', { TargetPort: 0 }, /target port 0/],
    ['target port above 65535', { TargetPort: 65536 }, /target port 65536/],
    ['fractional target port', { TargetPort: 80.5 }, /target port 80.5/],
    ['negative published port', { TargetPort: 80, PublishedPort: -1 }, /published port -1/],
    ['published port above 65535', { TargetPort: 80, PublishedPort: 70000 }, /published port 70000/],
    ['fractional published port', { TargetPort: 80, PublishedPort: 8080.5 }, /published port 8080.5/],
    ['unknown protocol', { TargetPort: 80, Protocol: 'icmp' as 'tcp' }, /unknown protocol "icmp"/],
    ['unknown publish mode', { TargetPort: 80, PublishMode: 'bridge' as 'host' }, /unknown publish mode "bridge"/]
  ])('refuses %s as invalid-argument', (_, port, message) => {
    const err = catchError(() => allocatePorts({ Ports: [{ TargetPort: 443, PublishedPort: 443 }, port] }, new Set()))
    expect(err).toBeInstanceOf(FlotillaError)
    expect(err).toMatchObject({ code: 'invalid-argument', retryable: false })
    expect((err as FlotillaError).message).toMatch(/^EndpointSpec\.Ports\[1\]: /)
    expect((err as FlotillaError).message).toMatch(message)
  })

  it('keeps the publish mode asked for, ingress by default as Docker', () => {
    const ports = allocatePorts({ Ports: [{ TargetPort: 80, PublishMode: 'host' }, { TargetPort: 81, PublishMode: 'ingress' }, { TargetPort: 82 }] }, new Set()).ports
    expect(ports.map(p => p.PublishMode)).toEqual(['host', 'ingress', 'ingress'])
  })

  it.each<[string, PortConfig[]]>([
    ['same port and protocol', [{ TargetPort: 80, PublishedPort: 8080 }, { TargetPort: 81, PublishedPort: 8080 }]],
    ['default protocol equals explicit tcp', [{ TargetPort: 80, PublishedPort: 8080 }, { TargetPort: 81, PublishedPort: 8080, Protocol: 'tcp' }]]
  ])('refuses a published port listed twice (%s), naming it', (_, Ports) => {
    const err = catchError(() => allocatePorts({ Ports }, new Set()))
    expect(err).toMatchObject({ code: 'invalid-argument', message: 'published port tcp/8080 is listed more than once' })
  })

  it('refuses a duplicate before reporting a conflict', () => {
    const Ports: PortConfig[] = [{ TargetPort: 80, PublishedPort: 8080 }, { TargetPort: 81, PublishedPort: 9090 }, { TargetPort: 82, PublishedPort: 9090 }]
    expect(catchError(() => allocatePorts({ Ports }, new Set(['tcp/8080'])))).toMatchObject({ code: 'invalid-argument' })
  })
})

describe('allocatePorts: explicit published ports', () => {
  it.each<[string, PortConfig[], AllocatedPort[]]>([
    ['no spec ports', [], []],
    ['defaults to tcp and ingress', [{ TargetPort: 80, PublishedPort: 8080 }], [host(80, 8080)]],
    ['same number on different protocols', [{ TargetPort: 53, PublishedPort: 53 }, { TargetPort: 53, PublishedPort: 53, Protocol: 'udp' }],
      [host(53, 53), host(53, 53, 'udp')]],
    ['explicit port inside the dynamic range', [{ TargetPort: 80, PublishedPort: DYNAMIC_PORT_START }], [host(80, DYNAMIC_PORT_START)]],
    ['boundaries 1 and 65535', [{ TargetPort: 1, PublishedPort: 65535 }, { TargetPort: 65535, PublishedPort: 1 }], [host(1, 65535), host(65535, 1)]]
  ])('%s', (_, Ports, expected) => {
    expect(allocatePorts({ Ports }, new Set(['udp/8080', 'tcp/54'])).ports).toEqual(expected)
  })

  it('keeps the port name', () => {
    expect(allocatePorts({ Ports: [{ Name: 'web', TargetPort: 80, PublishedPort: 8080 }] }, new Set()).ports)
      .toEqual([{ Name: 'web', ...host(80, 8080) }])
  })

  it('treats an absent EndpointSpec as no ports', () => {
    expect(allocatePorts(undefined, new Set()).ports).toEqual([])
  })

  it.each<[string, PortConfig, string]>([
    ['tcp', { TargetPort: 80, PublishedPort: 8080 }, 'tcp/8080'],
    ['udp', { TargetPort: 53, PublishedPort: 5353, Protocol: 'udp' }, 'udp/5353']
  ])('refuses a %s port another service publishes as conflict, saying what to do', (_, port, key) => {
    const err = catchError(() => allocatePorts({ Ports: [port] }, new Set([key])))
    expect(err).toMatchObject({ code: 'conflict', message: `published port ${key} is already in use by another service` })
    expect((err as FlotillaError).hint).toMatch(/choose another published port.*omit PublishedPort/)
  })
})

describe('allocatePorts: dynamic published ports', () => {
  it.each<[string, PortConfig[], Set<string>, PortConfig[], AllocatedPort[]]>([
    ['lowest free port', [{ TargetPort: 80 }], new Set(), [], [host(80, 30000)]],
    ['PublishedPort 0 means assign', [{ TargetPort: 80, PublishedPort: 0 }], new Set(), [], [host(80, 30000)]],
    ['skips ports other services publish', [{ TargetPort: 80 }], new Set(['tcp/30000', 'tcp/30001']), [], [host(80, 30002)]],
    ['skips this spec\'s explicit ports, whatever their position', [{ TargetPort: 80 }, { TargetPort: 81, PublishedPort: 30000 }], new Set(), [],
      [host(80, 30001), host(81, 30000)]],
    ['distinct ports in spec order', [{ TargetPort: 80 }, { TargetPort: 81 }], new Set(['tcp/30001']), [], [host(80, 30000), host(81, 30002)]],
    ['protocols are separate spaces', [{ TargetPort: 80 }, { TargetPort: 80, Protocol: 'udp' }], new Set(['tcp/30000']), [],
      [host(80, 30001), host(80, 30000, 'udp')]],
    ['keeps the previous port for the same target and protocol', [{ TargetPort: 80 }], new Set(), [host(80, 31000)], [host(80, 31000)]],
    ['keeps a previous port outside the dynamic range', [{ TargetPort: 80 }], new Set(), [host(80, 8080)], [host(80, 8080)]],
    ['previous with default protocol matches tcp', [{ TargetPort: 80, Protocol: 'tcp' }], new Set(), [{ TargetPort: 80, PublishedPort: 31000 }],
      [host(80, 31000)]],
    ['does not keep a port for another protocol', [{ TargetPort: 80, Protocol: 'udp' }], new Set(), [host(80, 31000)], [host(80, 30000, 'udp')]],
    ['does not keep a port for another target', [{ TargetPort: 81 }], new Set(), [host(80, 31000)], [host(81, 30000)]],
    ['a new earlier port does not take a later port\'s previous one', [{ TargetPort: 81 }, { TargetPort: 80 }], new Set(['tcp/30000']),
      [host(80, 30001)], [host(81, 30002), host(80, 30001)]],
    ['two ports with one target keep their previous ports in order', [{ TargetPort: 80 }, { TargetPort: 80 }], new Set(),
      [host(80, 31001), host(80, 31000)], [host(80, 31001), host(80, 31000)]],
    ['drops a previous port now taken by another service', [{ TargetPort: 80 }], new Set(['tcp/31000']), [host(80, 31000)], [host(80, 30000)]],
    ['drops a previous port now published explicitly by this spec', [{ TargetPort: 80 }, { TargetPort: 81, PublishedPort: 31000 }], new Set(),
      [host(80, 31000)], [host(80, 30000), host(81, 31000)]],
    ['ignores a previous entry without a published port', [{ TargetPort: 80 }], new Set(), [{ TargetPort: 80 }], [host(80, 30000)]],
    ['an explicit port ignores previous', [{ TargetPort: 80, PublishedPort: 8080 }], new Set(), [host(80, 31000)], [host(80, 8080)]],
    ['last port of the range', [{ TargetPort: 80 }], allDynamicBut(DYNAMIC_PORT_END), [], [host(80, DYNAMIC_PORT_END)]]
  ])('%s', (_, Ports, taken, previous, expected) => {
    expect(allocatePorts({ Ports }, taken, previous).ports).toEqual(expected)
  })

  it.each<[string, PortConfig[], Set<string>]>([
    ['every dynamic port taken', [{ TargetPort: 80 }], allDynamicBut()],
    ['the last free port used by an earlier spec port', [{ TargetPort: 80 }, { TargetPort: 81 }], allDynamicBut(31000)]
  ])('refuses an exhausted range as conflict (%s)', (_, Ports, taken) => {
    const err = catchError(() => allocatePorts({ Ports }, taken))
    expect(err).toMatchObject({ code: 'conflict' })
    expect((err as FlotillaError).message).toMatch(/no free tcp port left in 30000-32767/)
    expect((err as FlotillaError).hint).toMatch(/PublishedPort/)
  })

  it('is deterministic and leaves its inputs alone', () => {
    const spec = { Ports: [{ TargetPort: 80 }, { TargetPort: 81, PublishedPort: 8081 }] }
    const taken = new Set(['tcp/30000'])
    const previous = [host(80, 31000)]
    const first = allocatePorts(spec, taken, previous)
    expect(allocatePorts(spec, taken, previous)).toEqual(first)
    expect(spec).toEqual({ Ports: [{ TargetPort: 80 }, { TargetPort: 81, PublishedPort: 8081 }] })
    expect([...taken]).toEqual(['tcp/30000'])
    expect(previous).toEqual([host(80, 31000)])
  })
})
