import { hostname as osHostname } from 'node:os'
import { describe, expect, it } from 'vitest'
import { FlotillaError } from '../../../src/membership/errors.js'
import { DEFAULT_TIMING } from '../../../src/membership/membership.js'
import { resolveAgentConfig, type AgentInit, type Environment } from '../../../src/node/config.js'
import { catchError } from '../../support/errors.js'

const TOKEN = `FLTKN-1-${'a'.repeat(50)}-${'b'.repeat(25)}`

function env (patch: Partial<Environment> = {}): Environment {
  return { isRoot: false, home: '/home/ada', xdgRuntimeDir: undefined, dockerHost: undefined, tmpfsRoot: '/run', ...patch }
}

function expectInvalid (init: AgentInit, e: Environment = env()): FlotillaError {
  const err = catchError(() => resolveAgentConfig(init, e))
  expect(err).toBeInstanceOf(FlotillaError)
  expect((err as FlotillaError).code).toBe('invalid-argument')
  return err as FlotillaError
}

describe('resolveAgentConfig defaults', () => {
  it.each<[string, Environment, string, string]>([
    ['root', env({ isRoot: true }), '/var/lib/flotilla', '/run/flotilla.sock'],
    ['root, even with XDG_RUNTIME_DIR', env({ isRoot: true, xdgRuntimeDir: '/run/user/0' }), '/var/lib/flotilla', '/run/flotilla.sock'],
    ['non-root with XDG_RUNTIME_DIR', env({ xdgRuntimeDir: '/run/user/1000' }), '/home/ada/.local/share/flotilla', '/run/user/1000/flotilla.sock'],
    ['non-root without XDG_RUNTIME_DIR', env(), '/home/ada/.local/share/flotilla', '/home/ada/.local/share/flotilla/flotilla.sock'],
    ['non-root with an empty XDG_RUNTIME_DIR', env({ xdgRuntimeDir: '' }), '/home/ada/.local/share/flotilla', '/home/ada/.local/share/flotilla/flotilla.sock']
  ])('as %s: data dir %s, socket %s', (_name, e, dataDir, socketPath) => {
    const cfg = resolveAgentConfig({ hostname: 'node-1' }, e)
    expect(cfg.dataDir).toBe(dataDir)
    expect(cfg.socketPath).toBe(socketPath)
  })

  it('fills every other field', () => {
    const cfg = resolveAgentConfig({}, env())
    expect(cfg).toEqual({
      dataDir: '/home/ada/.local/share/flotilla',
      socketPath: '/home/ada/.local/share/flotilla/flotilla.sock',
      listen: { ip: '0.0.0.0', port: 4242 },
      advertise: null,
      hostname: osHostname(),
      dockerHost: 'unix:///var/run/docker.sock',
      secretsDir: expect.stringMatching(/^\/run\/flotilla-secrets\/[0-9a-f]{12}$/) as string,
      start: { kind: 'wait' },
      logLevel: 'info',
      timing: DEFAULT_TIMING,
      ui: null
    })
  })

  it('puts secrets on the host\'s tmpfs, one dir per data dir, or where the executor refuses them when there is none', () => {
    const a = resolveAgentConfig({ dataDir: '/srv/a' }, env()).secretsDir
    const b = resolveAgentConfig({ dataDir: '/srv/b' }, env()).secretsDir
    expect(a).not.toBe(b)
    expect(resolveAgentConfig({ dataDir: '/srv/a' }, env({ tmpfsRoot: '/dev/shm' })).secretsDir).toMatch(/^\/dev\/shm\/flotilla-secrets\//)
    expect(resolveAgentConfig({ dataDir: '/srv/a' }, env({ tmpfsRoot: undefined })).secretsDir).toMatch(/^\/srv\/a\/no-tmpfs\//)
    expect(resolveAgentConfig({ secretsDir: '/mnt/ram' }, env()).secretsDir).toBe('/mnt/ram')
  })

  it('puts the socket in a given data dir when there is no XDG_RUNTIME_DIR', () => {
    const cfg = resolveAgentConfig({ dataDir: '/srv/fl', hostname: 'n' }, env())
    expect(cfg.dataDir).toBe('/srv/fl')
    expect(cfg.socketPath).toBe('/srv/fl/flotilla.sock')
  })

  it('takes DOCKER_HOST from the environment and a flag over it', () => {
    expect(resolveAgentConfig({ hostname: 'n' }, env({ dockerHost: 'tcp://10.0.0.1:2375' })).dockerHost).toBe('tcp://10.0.0.1:2375')
    expect(resolveAgentConfig({ hostname: 'n', dockerHost: 'unix:///tmp/d.sock' }, env({ dockerHost: 'tcp://10.0.0.1:2375' })).dockerHost)
      .toBe('unix:///tmp/d.sock')
  })

  it('keeps given values', () => {
    const cfg = resolveAgentConfig({
      dataDir: '/srv/fl',
      socket: '/tmp/fl.sock',
      listenAddr: '10.0.0.1:5000',
      advertiseAddr: '[::1]:6000',
      hostname: 'node-1.example',
      logLevel: 'debug',
      join: '10.0.0.2',
      token: TOKEN
    }, env({ isRoot: true }))
    expect(cfg).toMatchObject({
      dataDir: '/srv/fl',
      socketPath: '/tmp/fl.sock',
      listen: { ip: '10.0.0.1', port: 5000 },
      advertise: { ip: '::1', port: 6000 },
      hostname: 'node-1.example',
      logLevel: 'debug',
      start: { kind: 'join', remote: { ip: '10.0.0.2', port: 4242 }, token: TOKEN }
    })
  })

  it('starts in init mode with --init', () => {
    expect(resolveAgentConfig({ init: true, hostname: 'n' }, env()).start).toEqual({ kind: 'init' })
  })

  it('returns a frozen config', () => {
    const cfg = resolveAgentConfig({ hostname: 'n' }, env())
    expect(Object.isFrozen(cfg)).toBe(true)
    expect(() => { (cfg as { hostname: string }).hostname = 'other' }).toThrow(TypeError)
    expect(cfg.hostname).toBe('n')
  })
})

describe('resolveAgentConfig refusals', () => {
  it('refuses --init with --join, with a hint', () => {
    const e = expectInvalid({ init: true, join: '10.0.0.2', token: TOKEN, hostname: 'n' })
    expect(e.message).toContain('--init')
    expect(e.message).toContain('--join')
    expect(e.hint).toBeDefined()
  })

  it.each<[string, string | undefined]>([['no --token', undefined], ['an empty --token', '']])('refuses --join with %s, with a hint', (_name, token) => {
    const e = expectInvalid({ join: '10.0.0.2', token, hostname: 'n' })
    expect(e.message).toContain('--token')
    expect(e.hint).toMatch(/join-token/)
  })

  it.each([['verbose'], ['INFO'], ['']])('refuses --log-level %j naming the flag', (logLevel) => {
    expect(expectInvalid({ logLevel, hostname: 'n' }).message).toMatch(/^--log-level: /)
  })

  it.each([['has space'], ['-leading-dash'], [''], ['under_score'], ['a'.repeat(254)], ['ünïcode']])('refuses --hostname %j naming the flag', (hostname) => {
    expect(expectInvalid({ hostname }).message).toMatch(/^--hostname: /)
  })

  it.each<[string, AgentInit]>([
    ['--join', { join: 'example.com:4242', token: TOKEN }],
    ['--listen-addr', { listenAddr: '1.2.3.4:0' }],
    ['--advertise-addr', { advertiseAddr: 'nowhere' }]
  ])('refuses a bad %s naming the flag', (flag, init) => {
    expect(expectInvalid({ ...init, hostname: 'n' }).message).toMatch(new RegExp(`^${flag}: `))
  })

  it('refuses a docker host that is neither unix:// nor tcp://', () => {
    expect(expectInvalid({ dockerHost: 'ssh://me@host', hostname: 'n' }).message).toContain('ssh://me@host')
  })
})

describe('--ui and --ui-actions', () => {
  it.each<[string, AgentInit['ui'], string, number]>([
    ['the flag alone: loopback, port 8420', true, '127.0.0.1', 8420],
    ['FLOTILLA_UI=true', 'true', '127.0.0.1', 8420],
    ['a bare port: a loopback port', '9000', '127.0.0.1', 9000],
    ['an address without a port', '10.0.0.5', '10.0.0.5', 8420],
    ['an address named explicitly', '0.0.0.0:8421', '0.0.0.0', 8421],
    ['localhost', 'localhost:8422', '127.0.0.1', 8422]
  ])('%s', (_name, ui, ip, port) => {
    expect(resolveAgentConfig({ ui }, env()).ui).toEqual({ listen: { ip, port }, actions: false })
  })

  it('is off unless asked', () => {
    expect(resolveAgentConfig({}, env()).ui).toBeNull()
    expect(resolveAgentConfig({ ui: 'false' }, env()).ui).toBeNull()
  })

  it('takes actions only when --ui-actions is given too', () => {
    expect(resolveAgentConfig({ ui: true, uiActions: true }, env()).ui?.actions).toBe(true)
  })

  it('refuses --ui-actions without --ui, and an address that is not an IP', () => {
    expect(expectInvalid({ uiActions: true }).message).toContain('--ui-actions needs --ui')
    expect(expectInvalid({ ui: 'example.com:8420' }).message).toContain('--ui')
    expect(expectInvalid({ ui: '127.0.0.1:70000' }).message).toContain('--ui')
  })
})
