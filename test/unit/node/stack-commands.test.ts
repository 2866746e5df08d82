import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { readFileSync } from 'node:fs'
import type { Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Command } from 'commander'
import { listenControlSocket } from '../../../src/node/control/http-server.js'
import { createLogger } from '../../../src/membership/index.js'
import { addStackCommands, type StackCliIo } from '../../../src/node/cli/stack-commands.js'
import { harness, type Harness } from './service-harness.js'
import { recording, type Recorder } from './socket-recorder.js'

const NS = 'com.docker.stack.namespace'

const COMPOSE = `
version: "3.8"
services:
  web:
    image: nginx:\${TAG:-1.27}
    ports: ["8080:80"]
    environment: [MODE=prod]
    secrets: [db]
    configs: [{ source: site, target: /etc/nginx/conf.d/site.conf }]
    healthcheck: { test: curl -f http://localhost/, interval: 10s }
    deploy:
      replicas: 2
      update_config: { parallelism: 1, delay: 5s, order: start-first }
      resources: { reservations: { memory: 64M } }
  api:
    image: api:2
    networks: [back]
networks:
  back: { attachable: true }
secrets:
  db: { file: ./db.txt }
configs:
  site: { file: ./site.conf }
`

// `flotilla stack …` end to end: commander, the Compose loader, the socket client, and the service,
// network, secret and config routes over an in-memory store.
describe('flotilla stack', () => {
  let dir: string
  let socket: string
  let server: Server
  let h: Harness
  let rec: Recorder

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'flotilla-stack-cli-'))
    socket = join(dir, 'flotilla.sock')
    h = harness()
    rec = recording(h.handler)
    server = await listenControlSocket(socket, rec.handler, createLogger('error', () => {}))
    await mkdir(join(dir, 'app'))
    await writeFile(join(dir, 'app', 'docker-compose.yml'), COMPOSE)
    await writeFile(join(dir, 'app', 'db.txt'), 'hunter2')
    await writeFile(join(dir, 'app', 'site.conf'), 'server {}\n')
  })

  afterEach(async () => {
    await new Promise<void>(resolve => { server.close(() => { resolve() }) })
    await rm(dir, { recursive: true, force: true })
  })

  async function run (args: string[], o: { stdin?: string, env?: Record<string, string> } = {}): Promise<{ out: string, err: string }> {
    let out = ''
    let err = ''
    const io: StackCliIo = {
      err: s => { err += s },
      env: o.env ?? {},
      cwd: dir,
      readStdin: async () => Buffer.from(o.stdin ?? ''),
      readFile: p => readFileSync(p)
    }
    const program = new Command('flotilla').exitOverride().configureOutput({ writeErr: s => { err += s }, writeOut: s => { out += s } })
    addStackCommands(program, () => socket, s => { out += s }, io)
    try {
      await program.parseAsync(['node', 'flotilla', ...args])
    } catch (e) {
      Object.assign(e as object, { out, err })
      throw e
    }
    return { out, err }
  }

  const services = (): any[] => [...h.state().services.values()]
  const sent = (path: string): any[] => rec.calls.filter(c => c.method === 'POST' && c.path === path).map(c => c.body)

  it('deploys a stack: its networks, secrets, configs and services, namespaced and labelled', async () => {
    const { out, err } = await run(['stack', 'deploy', '-c', 'app/docker-compose.yml', 'shop'], { env: { TAG: '1.28' } })
    expect(out).toBe([
      'Creating network shop_back',
      'Creating network shop_default',
      'Creating secret shop_db',
      'Creating config shop_site',
      'Creating service shop_api',
      'Creating service shop_web',
      ''
    ].join('\n'))
    expect(err).toBe('')
    const nets = [...h.state().networks.values()].filter(n => n.name.startsWith('shop_'))
    expect(nets.map(n => [n.name, n.spec.Labels, n.spec.Attachable])).toEqual([['shop_back', { [NS]: 'shop' }, true], ['shop_default', { [NS]: 'shop' }, false]])
    expect([...h.state().secrets.values()].map(x => [x.name, x.spec.Labels])).toEqual([['shop_db', { [NS]: 'shop' }]])
    expect([...h.state().configs.values()].map(x => [x.name, x.spec.Labels, Buffer.from(x.data).toString()])).toEqual([['shop_site', { [NS]: 'shop' }, 'server {}\n']])
    const web = services().find(s => s.name === 'shop_web')!
    expect(web.spec.Labels).toEqual({ [NS]: 'shop', 'com.docker.stack.image': 'nginx:1.28' })
    expect(web.spec.Mode).toEqual({ Replicated: { Replicas: 2 } })
    expect(web.spec.TaskTemplate.ContainerSpec).toMatchObject({ Image: 'nginx:1.28', Env: ['MODE=prod'], Labels: { [NS]: 'shop' }, Healthcheck: { Test: ['CMD-SHELL', 'curl -f http://localhost/'], Interval: 10e9 } })
    expect(web.spec.UpdateConfig).toEqual({ Parallelism: 1, Delay: 5e9, Monitor: 0, MaxFailureRatio: 0, Order: 'start-first' })
    const defaultNet = nets.find(n => n.name === 'shop_default')!
    expect(web.spec.TaskTemplate.Networks).toEqual([{ Target: defaultNet.id, Aliases: ['web'] }])
    // References by name, with the IDs the socket gave at creation (docker's ParseSecrets/ParseConfigs).
    const webSent = sent('/services/create').find(b => b.Name === 'shop_web')
    expect(webSent.TaskTemplate.ContainerSpec.Secrets).toEqual([{ File: { Name: 'db', UID: '0', GID: '0', Mode: 0o444 }, SecretName: 'shop_db', SecretID: 'obj1zzzzzzzzzzzzzzzzzzzzz' }])
    expect(webSent.TaskTemplate.ContainerSpec.Configs).toEqual([{ File: { Name: '/etc/nginx/conf.d/site.conf', UID: '0', GID: '0', Mode: 0o444 }, ConfigName: 'shop_site', ConfigID: 'obj2zzzzzzzzzzzzzzzzzzzzz' }])
    expect(web.spec.TaskTemplate.ContainerSpec.Secrets).toEqual(webSent.TaskTemplate.ContainerSpec.Secrets)
  })

  it('updates on a second deploy, leaves existing secrets, and prunes with --prune', async () => {
    await run(['stack', 'deploy', '-c', 'app/docker-compose.yml', 'shop'])
    const web = services().find(s => s.name === 'shop_web')!
    // A forced update through the API: a deploy keeps ForceUpdate, so it restarts nothing by itself.
    await h.call('POST', `/services/${web.id as string}/update?version=${web.version as number}`, { ...web.spec, TaskTemplate: { ...web.spec.TaskTemplate, ForceUpdate: 3 } })
    const version = services().find(s => s.name === 'shop_web')!.version
    await writeFile(join(dir, 'app', 'docker-compose.yml'), COMPOSE.replace(/ {2}api:\n {4}image: api:2\n {4}networks: \[back\]\n/, '').replace('replicas: 2', 'replicas: 5'))
    rec.calls.length = 0
    const { out } = await run(['stack', 'deploy', '--prune', '-c', 'app/docker-compose.yml', 'shop'])
    expect(sent('/services/create')).toEqual([])
    expect(out).toBe([
      'Removing service shop_api',
      `Updating service shop_web (id: ${web.id as string})`,
      ''
    ].join('\n'))
    const updated = services().find(s => s.name === 'shop_web')!
    expect(updated.spec.Mode).toEqual({ Replicated: { Replicas: 5 } })
    expect(updated.spec.TaskTemplate.ForceUpdate).toBe(3)
    expect(rec.calls.find(c => c.path === `/services/${web.id as string}/update`)!.query).toBe(`version=${version as number}`)
    expect(services().map(s => s.name)).toEqual(['shop_web'])
    // The secret and config exist: not created again, not written at all (their labels are the same).
    expect(rec.writes().filter(c => /^\/(secrets|configs)/.test(c.path))).toEqual([])
  })

  it('leaves an existing secret\'s and config\'s data, updates their labels, and says when a config\'s data differs', async () => {
    await run(['stack', 'deploy', '-c', 'app/docker-compose.yml', 'shop'])
    const secret = [...h.state().secrets.values()][0]!
    await writeFile(join(dir, 'app', 'site.conf'), 'server { listen 81; }\n')
    await writeFile(join(dir, 'app', 'docker-compose.yml'), COMPOSE.replace('db: { file: ./db.txt }', 'db: { file: ./db.txt, labels: { rotated: "no" } }'))
    rec.calls.length = 0
    const { out, err } = await run(['stack', 'deploy', '-c', 'app/docker-compose.yml', 'shop'])
    expect(out).not.toContain('Creating')
    expect(err).toBe('config shop_site exists with other data: it is left as it is (a config\'s data cannot be updated; give it a new name: to change it)\n')
    expect(rec.writes().filter(c => /^\/(secrets|configs)/.test(c.path)).map(c => [c.path, c.query, c.body])).toEqual([
      [`/secrets/${secret.id}/update`, `version=${secret.version}`, { Name: 'shop_db', Labels: { rotated: 'no', [NS]: 'shop' } }]
    ])
    expect([...h.state().secrets.values()][0]!.spec.Labels).toEqual({ rotated: 'no', [NS]: 'shop' })
    expect(Buffer.from([...h.state().configs.values()][0]!.data).toString()).toBe('server {}\n')
  })

  it('writes nothing when the file is refused, an external network is missing, or a name is taken', async () => {
    await writeFile(join(dir, 'app', 'bad.yml'), 'services:\n  web:\n    image: x\n    build: .\n')
    await expect(run(['stack', 'deploy', '-c', 'app/bad.yml', 'shop'])).rejects.toThrow('services.web.build: not supported by flotilla')
    expect(rec.calls).toEqual([])
    await writeFile(join(dir, 'app', 'ext.yml'), 'services:\n  web: { image: x, networks: [edge] }\n  api: { image: y }\nnetworks:\n  edge: { external: true }\n')
    await expect(run(['stack', 'deploy', '-c', 'app/ext.yml', 'shop'])).rejects.toThrow('network "edge" is declared as external, but could not be found')
    await h.call('POST', '/services/create', { Name: 'shop_api', TaskTemplate: { ContainerSpec: { Image: 'y' } } })
    await writeFile(join(dir, 'app', 'taken.yml'), 'services:\n  web: { image: x }\n  api: { image: y }\n')
    await expect(run(['stack', 'deploy', '-c', 'app/taken.yml', 'shop'])).rejects.toThrow('service shop_api already exists and is not part of stack shop')
    expect(rec.writes()).toEqual([])
    expect([...h.state().networks.values()].map(n => n.name)).toEqual(['ingress'])
    await expect(run(['stack', 'deploy', '-c', 'app/none.yml', 'shop'])).rejects.toThrow('cannot read Compose file app/none.yml: ENOENT')
    await expect(run(['stack', 'deploy', 'shop'])).rejects.toThrow('specify a Compose file (with --compose-file)')
    await expect(run(['stack', 'deploy', '-c', 'app/taken.yml', '--resolve-image', 'sometimes', 'shop'])).rejects.toThrow('invalid option sometimes for flag --resolve-image')
  })

  it('reads the Compose file from stdin, and several files in order (repeated or comma-separated)', async () => {
    await run(['stack', 'deploy', '-c', '-', 'pipe'], { stdin: 'services:\n  one: { image: busybox }\n' })
    await writeFile(join(dir, 'app', 'a.yml'), 'services:\n  web: { image: nginx:1.27, deploy: { replicas: 1 } }\n')
    await writeFile(join(dir, 'app', 'b.yml'), 'services:\n  web: { deploy: { replicas: 4 } }\n')
    await run(['stack', 'deploy', '-c', 'app/a.yml,app/b.yml', 'two'])
    expect(services().map(s => [s.name, s.spec.Mode])).toEqual([['pipe_one', { Replicated: { Replicas: 1 } }], ['two_web', { Replicated: { Replicas: 4 } }]])
  })

  it('lists stacks, their services and their tasks as docker does', async () => {
    await run(['stack', 'deploy', '-c', 'app/docker-compose.yml', 'shop'])
    await run(['stack', 'deploy', '-c', '-', 'tools'], { stdin: 'services:\n  one: { image: busybox }\n' })
    await h.call('POST', '/services/create', { Name: 'loose', TaskTemplate: { ContainerSpec: { Image: 'busybox' } } })
    expect((await run(['stack', 'ls'])).out).toBe('NAME      SERVICES\nshop      2\ntools     1\n')
    expect((await run(['stack', 'ls', '--format', '{{.Name}}:{{.Services}}'])).out).toBe('shop:2\ntools:1\n')
    const web = services().find(s => s.name === 'shop_web')!
    const api = services().find(s => s.name === 'shop_api')!
    const lines = (await run(['stack', 'services', 'shop'])).out.split('\n')
    expect(lines[0]).toMatch(/^ID +NAME +MODE +REPLICAS +IMAGE +PORTS$/)
    expect(lines[1]).toMatch(new RegExp(`^${(api.id as string).slice(0, 12)} +shop_api +replicated +0/1 +api:2 *$`))
    expect(lines[2]).toMatch(new RegExp(`^${(web.id as string).slice(0, 12)} +shop_web +replicated +0/2 +nginx:1\\.27 +\\*:8080->80/tcp$`))
    expect((await run(['stack', 'services', '-q', 'shop'])).out).toBe(`${(api.id as string).slice(0, 12)}\n${(web.id as string).slice(0, 12)}\n`)
    expect((await run(['stack', 'services', '-f', 'name=shop_w', '--format', '{{.Name}} {{.Replicas}}', 'shop'])).out).toBe('shop_web 0/2\n')
    expect(await run(['stack', 'services', 'nothing'])).toEqual({ out: '', err: 'Nothing found in stack: nothing\n' })

    await expect(run(['stack', 'ps', 'shop'])).rejects.toThrow('nothing found in stack: shop')
    h.addTask({ id: 'task1aaaaaaaaaaaaaaaaaaaa', serviceId: web.id, slot: 1, nodeId: 'node1aaaaaa', status: { state: 'running', timestampMs: Date.now() - 3000, message: 'started', err: null, exitCode: null } })
    h.addTask({ id: 'task2bbbbbbbbbbbbbbbbbbbb', serviceId: api.id, slot: 1, nodeId: 'node2bbbbbb', status: { state: 'running', timestampMs: Date.now() - 3000, message: 'started', err: null, exitCode: null } })
    const ps = (await run(['stack', 'ps', 'shop'])).out.split('\n')
    expect(ps[0]).toMatch(/^ID +NAME +IMAGE +NODE +DESIRED STATE +CURRENT STATE +ERROR +PORTS$/)
    expect(ps[1]).toMatch(/^task2bbbbbbb +shop_api\.1 +api:2 +beta +Running +Running 3 seconds ago$/)
    expect(ps[2]).toMatch(/^task1aaaaaaa +shop_web\.1 +nginx:1\.27 +alpha +Running +Running 3 seconds ago$/)
    expect((await run(['stack', 'ps', '-q', '-f', 'node=alpha', 'shop'])).out).toBe('task1aaaaaaaaaaaaaaaaaaaa\n')
    await expect(run(['stack', 'ps', 'nothing'])).rejects.toThrow('nothing found in stack: nothing')
  })

  it('removes a stack: services, then secrets, configs and networks; says when nothing is there', async () => {
    await run(['stack', 'deploy', '-c', 'app/docker-compose.yml', 'shop'])
    await run(['stack', 'deploy', '-c', '-', 'tools'], { stdin: 'services:\n  one: { image: busybox }\n' })
    const { out, err } = await run(['stack', 'rm', 'shop', 'nothing'])
    expect(out).toBe([
      'Removing service shop_api',
      'Removing service shop_web',
      'Removing secret shop_db',
      'Removing config shop_site',
      'Removing network shop_back',
      'Removing network shop_default',
      ''
    ].join('\n'))
    expect(err).toBe('Nothing found in stack: nothing\n')
    expect(services().map(s => s.name)).toEqual(['tools_one'])
    expect([...h.state().networks.values()].map(n => n.name).sort()).toEqual(['ingress', 'tools_default'])
    expect(h.state().secrets.size + h.state().configs.size).toBe(0)
  })

  it('reports what it could not remove and goes on with the rest', async () => {
    await run(['stack', 'deploy', '-c', '-', 'tools'], { stdin: 'services:\n  one: { image: busybox }\n' })
    const net = [...h.state().networks.values()].find(n => n.name === 'tools_default')!
    // A service outside the stack on the stack's network: the network cannot go.
    await h.call('POST', '/services/create', { Name: 'squatter', TaskTemplate: { ContainerSpec: { Image: 'busybox' }, Networks: [{ Target: net.id }] } })
    let failure: any
    try {
      await run(['stack', 'down', 'tools'])
    } catch (e) {
      failure = e
    }
    expect(failure.message).toBe('failed to remove some resources from stack: tools')
    expect(failure.out).toBe('Removing service tools_one\nRemoving network tools_default\n')
    expect(failure.err).toMatch(new RegExp(`^Failed to remove network ${net.id}: .+\n$`))
    expect(services().map(s => s.name)).toEqual(['squatter'])
  })
})
