import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Docker from 'dockerode'
import { AgentProcess, freePort, runCommand, waitFor } from '../support/agent-process.js'
import { dockerClis } from '../support/docker-engine.js'

// Overlay networks as cluster objects: the stock docker CLIs, dockerode and the flotilla CLI on a
// worker's and a manager's socket (1 manager, 1 worker on loopback; no container is started).
describe('overlay networks through docker, dockerode and flotilla on any node', () => {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-networks-'))
  let manager: AgentProcess
  let worker: AgentProcess

  const docker = async (cli: string, a: AgentProcess, ...args: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> =>
    await runCommand(cli, ['-H', `unix://${a.socket}`, ...args], 30_000, { ...process.env, DOCKER_HOST: undefined, DOCKER_CONTEXT: undefined })

  beforeAll(async () => {
    manager = new AgentProcess({ baseDir: dir, hostname: 'net-manager', port: await freePort(), logLevel: 'info' })
    worker = new AgentProcess({ baseDir: dir, hostname: 'net-worker', port: await freePort(), logLevel: 'info' })
    await Promise.all([manager.start([]), worker.start([])])
    // swarm init with an address pool of its own, as `docker swarm init --default-addr-pool … --default-addr-pool-mask-length …`.
    const init = await docker(dockerClis()[0]!, manager, 'swarm', 'init', '--advertise-addr', '127.0.0.1', '--default-addr-pool', '10.123.0.0/16', '--default-addr-pool-mask-length', '26')
    expect(init.code, init.stderr).toBe(0)
    const token = (await manager.api('GET', '/swarm')).body.JoinTokens.Worker as string
    expect((await worker.api('POST', '/swarm/join', { RemoteAddrs: [manager.addr], JoinToken: token })).status).toBe(200)
    await waitFor('the worker to see a leader', async () => (await worker.api('GET', '/networks')).status === 200, 20_000)
  }, 60_000)

  afterAll(async () => {
    await Promise.all([manager, worker].map(async a => { await a?.kill() }))
    rmSync(dir, { recursive: true, force: true })
  })

  it('swarm init made the ingress network from the cluster\'s own pool, and /swarm reports the pool', async () => {
    const sw = (await worker.api('GET', '/swarm')).body
    expect([sw.DefaultAddrPool, sw.SubnetSize]).toEqual([['10.123.0.0/16'], 26])
    const ingress = (await worker.api('GET', '/networks/ingress')).body
    expect(ingress).toMatchObject({ Name: 'ingress', Driver: 'overlay', Scope: 'swarm', Ingress: true, IPAM: { Config: [{ Subnet: '10.123.0.0/26', Gateway: '10.123.0.1' }] } })
  })

  for (const cli of dockerClis()) {
    it(`${cli}: network create -d overlay, ls, inspect and rm on the worker's socket`, async () => {
      const name = `app-${cli.includes('local') ? 'new' : 'old'}`
      const created = await docker(cli, worker, 'network', 'create', '-d', 'overlay', '--attachable', '--label', 'stack=demo', name)
      expect(created.code, created.stderr).toBe(0)
      const id = created.stdout.trim()
      expect(id).toMatch(/^[0-9a-z]{25}$/)

      const ls = await docker(cli, manager, 'network', 'ls')
      expect(ls.code, ls.stderr).toBe(0)
      expect(ls.stdout.split('\n')[0]).toMatch(/^NETWORK ID\s+NAME\s+DRIVER\s+SCOPE$/)
      expect(ls.stdout).toMatch(new RegExp(`${id.slice(0, 12)}\\s+${name}\\s+overlay\\s+swarm`))
      expect(ls.stdout).toMatch(/\s+ingress\s+overlay\s+swarm/)
      const filtered = await docker(cli, worker, 'network', 'ls', '--filter', 'label=stack=demo', '--format', '{{.Name}}')
      expect(filtered.stdout.trim()).toBe(name)

      const inspect = await docker(cli, worker, 'network', 'inspect', name)
      expect(inspect.code, inspect.stderr).toBe(0)
      const [n] = JSON.parse(inspect.stdout) as Array<{ Id: string, Attachable: boolean, IPAM: { Config: Array<{ Subnet: string }> }, Labels: Record<string, string> }>
      expect(n).toMatchObject({ Id: id, Attachable: true, Labels: { stack: 'demo' } })
      expect(n!.IPAM.Config[0]!.Subnet).toMatch(/^10\.123\.0\.(64|128|192)\/26$/)

      const dup = await docker(cli, manager, 'network', 'create', '-d', 'overlay', name)
      expect(dup.code).not.toBe(0)
      expect(dup.stderr).toContain(`network with name ${name} already exists`)
      const bridge = await docker(cli, worker, 'network', 'create', '-d', 'bridge', 'local-only')
      expect(bridge.code).not.toBe(0)
      expect(bridge.stderr).toContain('flotilla makes overlay networks only')

      const rm = await docker(cli, worker, 'network', 'rm', name)
      expect(rm.code, rm.stderr).toBe(0)
      const gone = await docker(cli, manager, 'network', 'inspect', name)
      expect(gone.code).not.toBe(0)
      expect(gone.stderr).toMatch(/not found|No such network/)
    })
  }

  it('dockerode: createNetwork with a subnet and gateway, listNetworks with filters, inspect, remove', async () => {
    const d = new Docker({ socketPath: worker.socket, timeout: 10_000 })
    const net = await d.createNetwork({ Name: 'data', Driver: 'overlay', IPAM: { Driver: 'default', Config: [{ Subnet: '10.124.0.0/24', Gateway: '10.124.0.254' }] } })
    const info = await net.inspect() as { Name: string, IPAM: { Config: Array<{ Subnet: string, Gateway: string }> } }
    expect(info.IPAM.Config).toEqual([{ Subnet: '10.124.0.0/24', Gateway: '10.124.0.254' }])
    expect((await d.listNetworks({ filters: { name: ['data'] } })).map(n => n.Name)).toEqual(['data'])
    await expect(d.createNetwork({ Name: 'clash', Driver: 'overlay', IPAM: { Config: [{ Subnet: '10.124.0.128/25' }] } })).rejects.toMatchObject({ statusCode: 409 })
    await net.remove()
    await expect(d.getNetwork('data').inspect()).rejects.toMatchObject({ statusCode: 404 })
  })

  it('flotilla network create, ls, inspect and rm', async () => {
    const f = async (...args: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> => await worker.cli(args)
    const c = await f('network', 'create', '--subnet', '10.125.0.0/24', 'cli-net')
    expect(c.code, c.stderr).toBe(0)
    const ls = await f('network', 'ls')
    expect(ls.stdout).toMatch(/cli-net\s+overlay\s+swarm/)
    const inspect = JSON.parse((await f('network', 'inspect', 'cli-net')).stdout) as Array<{ IPAM: { Config: Array<{ Subnet: string }> } }>
    expect(inspect[0]!.IPAM.Config[0]!.Subnet).toBe('10.125.0.0/24')
    const bad = await f('network', 'create', '--gateway', '10.0.0.1', 'x')
    expect(bad.code).not.toBe(0)
    expect(bad.stderr).toContain('--gateway needs --subnet')
    expect((await f('network', 'rm', 'cli-net')).code).toBe(0)
    expect((await f('network', 'ls', '-q')).stdout.trim().split('\n')).toHaveLength(1)
  })
})
