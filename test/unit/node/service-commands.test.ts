import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import type { Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Command } from 'commander'
import { listenControlSocket } from '../../../src/node/control/http-server.js'
import { createLogger } from '../../../src/membership/index.js'
import { addServiceCommands, type ServiceCliIo } from '../../../src/node/cli/service-commands.js'
import { harness, type Harness } from './service-harness.js'

// `flotilla service …` end to end: commander parsing, the socket client, the routes and the store.
describe('flotilla service', () => {
  let dir: string
  let socket: string
  let server: Server
  let h: Harness

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'flotilla-service-cli-'))
    socket = join(dir, 'flotilla.sock')
    h = harness()
    server = await listenControlSocket(socket, h.handler, createLogger('error', () => {}))
  })

  afterEach(async () => {
    await new Promise<void>(resolve => { server.close(() => { resolve() }) })
    await rm(dir, { recursive: true, force: true })
  })

  /** Run one command line; returns stdout and stderr, or throws what the command threw. */
  async function run (args: string[], interruptAfterMs?: number): Promise<{ out: string, err: string }> {
    let out = ''
    let err = ''
    const io: ServiceCliIo = {
      err: s => { err += s },
      isTty: false,
      columns: 0,
      env: { HOME: '/home/me' },
      onInterrupt: handler => {
        const t = interruptAfterMs === undefined ? undefined : setTimeout(handler, interruptAfterMs)
        return () => { clearTimeout(t) }
      }
    }
    const program = new Command('flotilla').exitOverride().configureOutput({ writeErr: s => { err += s }, writeOut: s => { out += s } })
    addServiceCommands(program, () => socket, s => { out += s }, io)
    await program.parseAsync(['node', 'flotilla', ...args])
    return { out, err }
  }

  const only = (h: Harness): Record<string, any> => [...h.state().services.values()][0]!.spec

  it('creates a service from docker\'s flags; options after the image belong to the command', async () => {
    const { out } = await run(['service', 'create', '--detach', '--name', 'web', '-p', '8080:80', '-e', 'A=1', '--env', 'HOME',
      '--reserve-memory', '64M', '--restart-delay', '2s', '--constraint', 'node.role==worker', 'nginx:1.27', 'sh', '-c', 'echo -n hi'])
    expect(out).toBe('svc1xxxxxxxxxxxxxxxxxxxxx\n')
    const spec = only(h)
    expect(spec.Name).toBe('web')
    expect(spec.TaskTemplate.ContainerSpec).toEqual({ Image: 'nginx:1.27', Args: ['sh', '-c', 'echo -n hi'], Env: ['A=1', 'HOME=/home/me'] })
    expect(spec.TaskTemplate.Resources.Reservations).toEqual({ MemoryBytes: 64 * 1024 * 1024 })
    expect(spec.TaskTemplate.RestartPolicy).toEqual({ Condition: 'any', Delay: 2e9, MaxAttempts: 0 })
    expect(spec.Mode).toEqual({ Replicated: { Replicas: 1 } })
    expect([...h.state().services.values()][0]!.endpoint.ports).toEqual([{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' }])
  })

  it('sets what the flags name, with no warnings for what flotilla applies', async () => {
    const { err } = await run(['service', 'create', '-d', '--name', 'web', '--user', 'www', 'nginx'])
    expect(err).toBe('')
    expect(only(h).TaskTemplate.ContainerSpec.User).toBe('www')
  })

  it('passes the manager\'s refusal on, naming the field', async () => {
    await expect(run(['service', 'create', '-d', '--name', 'bad name', 'nginx'])).rejects.toThrow('Name: name must be valid as a DNS name component')
    await expect(run(['service', 'create', '-d', '--restart-condition', 'always', 'nginx'])).rejects.toThrow('TaskTemplate.RestartPolicy.Condition: invalid RestartCondition: "always"')
    await expect(run(['service', 'create', '-d', '--reserve-memory', 'lots', 'nginx'])).rejects.toThrow('invalid argument "lots" for "--reserve-memory" flag: invalid size: \'lots\'')
    expect(h.state().services.size).toBe(0)
  })

  it('without --detach, waits for convergence and stops waiting on Ctrl-C', async () => {
    const { out } = await run(['service', 'create', '--name', 'web', '--replicas', '2', 'nginx'], 300)
    expect(out).toBe([
      'svc1xxxxxxxxxxxxxxxxxxxxx',
      'overall progress: 0 out of 2 tasks',
      '1/2:',
      '2/2:',
      'Operation continuing in background.',
      'Use `flotilla service ps svc1xxxxxxxxxxxxxxxxxxxxx` to check progress.',
      ''
    ].join('\n'))
  })

  it('lists services and their tasks as docker does', async () => {
    await run(['service', 'create', '-d', '--name', 'web', '--replicas', '2', '-p', '8080:80', 'nginx:1.27'])
    const id = [...h.state().services.keys()][0]!
    h.addTask({ id: 'task1aaaaaaaaaaaaaaaaaaaa', serviceId: id, slot: 1, nodeId: 'node1aaaaaa', status: { state: 'running', timestampMs: Date.now() - 3000, message: 'started', err: null, exitCode: null } })
    h.addTask({ id: 'task2bbbbbbbbbbbbbbbbbbbb', serviceId: id, slot: 2, status: { state: 'pending', timestampMs: Date.now(), message: '', err: 'no suitable node (insufficient resources on 2 nodes)', exitCode: null } })
    expect((await run(['service', 'ls'])).out).toBe([
      'ID             NAME      MODE         REPLICAS   IMAGE        PORTS',
      'svc1xxxxxxxx   web       replicated   1/2        nginx:1.27   *:8080->80/tcp',
      ''
    ].join('\n'))
    expect((await run(['service', 'ls', '-q'])).out).toBe('svc1xxxxxxxx\n')
    const ps = (await run(['service', 'ps', 'web'])).out.split('\n')
    expect(ps[0]).toMatch(/^ID +NAME +IMAGE +NODE +DESIRED STATE +CURRENT STATE +ERROR +PORTS$/)
    // The ingress port is the routing mesh's, not the task's: no PORTS, as docker's.
    expect(ps[1]).toMatch(/^task1aaaaaaa +web\.1 +nginx:1\.27 +alpha +Running +Running 3 seconds ago$/)
    expect(ps[2]).toMatch(/^task2bbbbbbb +web\.2 +nginx:1\.27 +Running +Pending (less than a second|1 second) ago +"no suitable node \(insufficien…"$/)
    expect((await run(['service', 'ps', '-q', 'web'])).out).toBe('task1aaaaaaaaaaaaaaaaaaaa\ntask2bbbbbbbbbbbbbbbbbbbb\n')
    expect((await run(['service', 'ps', '-f', 'desired-state=running', '-f', 'node=alpha', '-q', 'svc1'])).out).toBe('task1aaaaaaaaaaaaaaaaaaaa\n')
    await expect(run(['service', 'ps', 'web', 'nope'])).rejects.toThrow('no such service: nope')
    const inspected = JSON.parse((await run(['service', 'inspect', 'web'])).out) as Array<{ ID: string }>
    expect(inspected.map(s => s.ID)).toEqual([id])
  })

  it('shows a task\'s host-mode ports in `service ps`', async () => {
    await run(['service', 'create', '-d', '--name', 'edge', '-p', 'mode=host,target=443,published=8443', 'nginx:1.27'])
    const id = [...h.state().services.keys()][0]!
    h.addTask({ id: 'task3ccccccccccccccccccccc', serviceId: id, slot: 1, nodeId: 'node2bbbbbb', status: { state: 'running', timestampMs: Date.now() - 3000, message: 'started', err: null, exitCode: null } })
    const ps = (await run(['service', 'ps', 'edge'])).out.split('\n')
    expect(ps[1]).toMatch(/^task3ccccccc +edge\.1 +nginx:1\.27 +beta +Running +Running 3 seconds ago +\*:8443->443\/tcp$/)
  })

  it('attaches a service to networks with --network, by name or with aliases', async () => {
    const create = async (name: string): Promise<string> => ((await h.call('POST', '/networks/create', { Name: name, Driver: 'overlay' })).json as { Id: string }).Id
    const backend = await create('backend')
    const frontend = await create('frontend')
    await run(['service', 'create', '-d', '--name', 'api', '--network', 'name=backend,alias=db,alias=store', '--network', 'frontend', '--endpoint-mode', 'dnsrr', 'nginx:1.27'])
    const spec = only(h)
    // The manager stores network IDs for the names the flags give.
    expect(spec.TaskTemplate.Networks).toEqual([{ Target: backend, Aliases: ['db', 'store'] }, { Target: frontend }])
    expect(spec.EndpointSpec.Mode).toBe('dnsrr')
    await expect(run(['service', 'create', '-d', '--name', 'bad', '--network', 'name=backend,color=red', 'nginx'])).rejects.toThrow('unknown field "color=red"')
    await expect(run(['service', 'create', '-d', '--name', 'bad', '--endpoint-mode', 'anycast', 'nginx'])).rejects.toThrow('invalid endpoint mode anycast')
    expect(h.state().services.size).toBe(1)
  })

  it('scales, updates and removes', async () => {
    await run(['service', 'create', '-d', '--name', 'web', '-e', 'A=1', 'nginx:1.27'])
    await run(['service', 'create', '-d', '--name', 'agent', '--mode', 'global', 'nginx:1.27'])
    expect((await run(['service', 'scale', '-d', 'web=3'])).out).toBe('web scaled to 3\n')
    expect(only(h).Mode).toEqual({ Replicated: { Replicas: 3 } })
    await expect(run(['service', 'scale', '-d', 'agent=2', 'web=4'])).rejects.toThrow('agent: scale can only be used with replicated mode')
    expect(only(h).Mode).toEqual({ Replicated: { Replicas: 4 } })

    expect((await run(['service', 'update', '-d', '--image', 'nginx:1.28', '--env-add', 'B=2', '--env-rm', 'A', '--force', 'web'])).out).toBe('web\n')
    expect(only(h).TaskTemplate.ContainerSpec).toEqual({ Image: 'nginx:1.28', Env: ['B=2'] })
    expect(only(h).TaskTemplate.ForceUpdate).toBe(1)
    await expect(run(['service', 'update', '-d', '--replicas', '2', 'agent'])).rejects.toThrow('replicas can only be used with replicated mode')

    expect((await run(['service', 'rm', 'web', 'agent'])).out).toBe('web\nagent\n')
    expect(h.state().services.size).toBe(0)
    await expect(run(['service', 'rm', 'web'])).rejects.toThrow('service web not found')
  })

  it('sets UpdateConfig and RollbackConfig from docker\'s flags, starting from Swarm\'s defaults, and refuses bad values', async () => {
    await run(['service', 'create', '-d', '--name', 'web', '--update-parallelism', '2', '--update-delay', '1s', '--update-failure-action', 'rollback',
      '--update-monitor', '10s', '--update-max-failure-ratio', '0.25', '--update-order', 'start-first', '--rollback-parallelism', '0', 'nginx'])
    expect(only(h).UpdateConfig).toEqual({ Parallelism: 2, Delay: 1e9, FailureAction: 'rollback', Monitor: 10e9, MaxFailureRatio: 0.25, Order: 'start-first' })
    expect(only(h).RollbackConfig).toEqual({ Parallelism: 0, Delay: 0, FailureAction: 'pause', Monitor: 5e9, MaxFailureRatio: 0, Order: 'stop-first' })
    await run(['service', 'update', '-d', '--update-parallelism', '4', 'web'])
    expect(only(h).UpdateConfig).toMatchObject({ Parallelism: 4, Delay: 1e9, FailureAction: 'rollback' })
    await expect(run(['service', 'update', '-d', '--update-max-failure-ratio', '2', 'web'])).rejects.toThrow('must be between 0 and 1')
    await expect(run(['service', 'update', '-d', '--rollback-failure-action', 'rollback', 'web'])).rejects.toThrow('must be one of pause, continue')
    await expect(run(['service', 'update', '-d', '--update-order', 'sideways', 'web'])).rejects.toThrow('--update-order')
    expect(only(h).UpdateConfig.Parallelism).toBe(4)
  })

  it('labels a service for rebalancing with --rebalance, unlabels it with --no-rebalance, and asks for a one-shot rebalance', async () => {
    await run(['service', 'create', '-d', '--name', 'web', '--rebalance', '-l', 'team=a', 'nginx'])
    expect(only(h).Labels).toEqual({ team: 'a', 'flotilla.rebalance': 'true' })
    await run(['service', 'update', '-d', '--no-rebalance', 'web'])
    expect(only(h).Labels).toEqual({ team: 'a' })
    expect((await run(['service', 'rebalance', '-d', 'web'])).out).toBe('web\n')
    expect([...h.state().services.values()][0]!.rebalance).not.toBeNull()
    await run(['service', 'create', '-d', '--name', 'agent', '--mode', 'global', 'nginx'])
    await expect(run(['service', 'rebalance', '-d', 'agent'])).rejects.toThrow('is global')
  })

  it('rolls back to the previous spec with `service rollback` and `update --rollback`', async () => {
    await run(['service', 'create', '-d', '--name', 'web', 'nginx:1.27'])
    await expect(run(['service', 'rollback', '-d', 'web'])).rejects.toThrow('does not have a previous spec')
    await run(['service', 'update', '-d', '--image', 'nginx:1.28', 'web'])
    expect((await run(['service', 'rollback', '-d', 'web'])).out).toBe('web\n')
    const svc = [...h.state().services.values()][0]!
    expect(svc.spec.TaskTemplate.ContainerSpec.Image).toBe('nginx:1.27')
    expect(svc.updateStatus).toMatchObject({ state: 'rollback_started', message: 'manually requested rollback' })
    await run(['service', 'update', '-d', '--rollback', 'web'])
    expect(only(h).TaskTemplate.ContainerSpec.Image).toBe('nginx:1.28')
  })
})
