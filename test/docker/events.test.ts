import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { callSocket, runCommand, waitFor, type AgentProcess } from '../support/agent-process.js'
import { TestCluster } from '../support/cluster.js'
import { requireEngine } from '../support/docker-engine.js'
import { NODE_LABEL, describeResult, engine, removeContainers, scaleThrough, serviceSpec, waitRunningTasks } from '../support/services.js'
import { ensureTestImage } from '../support/test-image.js'

const DOCKER_28 = '/usr/local/bin/docker'
const DOCKER_20 = '/usr/bin/docker'
const CLI_ENV = { ...process.env, DOCKER_HOST: undefined, DOCKER_CONTEXT: undefined }

interface EventJson {
  Type: string
  Action: string
  Actor: { ID: string, Attributes: Record<string, string> }
  scope: string
  time: number
  timeNano: number
}

/** A running `docker events` and the JSON lines it printed so far. */
class EventsProcess {
  readonly events: EventJson[] = []
  private readonly child: ChildProcess
  private stdout = ''
  stderr = ''

  constructor (cli: string, socket: string, args: readonly string[]) {
    this.child = spawn(cli, ['-H', `unix://${socket}`, 'events', '--format', '{{json .}}', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: CLI_ENV })
    this.child.stdout!.setEncoding('utf8').on('data', (c: string) => {
      this.stdout += c
      const lines = this.stdout.split('\n')
      this.stdout = lines.pop()!
      for (const l of lines) if (l.trim() !== '') this.events.push(JSON.parse(l) as EventJson)
    })
    this.child.stderr!.setEncoding('utf8').on('data', (c: string) => { this.stderr += c })
  }

  /** The first event `pred` accepts, waiting up to `timeoutMs`. */
  async find (what: string, pred: (e: EventJson) => boolean, timeoutMs: number): Promise<EventJson> {
    return await waitFor(what, () => {
      if (this.child.exitCode !== null) throw new Error(`docker events exited ${this.child.exitCode}: ${this.stderr}`)
      return this.events.find(pred)
    }, timeoutMs, 50).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}; printed so far: ${JSON.stringify(this.events)}; stderr: ${this.stderr}`)
    })
  }

  async stop (): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return
    const exited = new Promise(resolve => { this.child.once('exit', resolve) })
    this.child.kill('SIGTERM')
    await exited
  }
}

/** Unix seconds with milliseconds, as `--since`/`--until` take them. */
const unixNow = (): string => (Date.now() / 1000).toFixed(3)

// `docker events` against a worker's socket: the stream comes from the manager over /flotilla/events/1.0.0
// while the changes are made through the manager's socket; 1 manager and 2 workers share this engine.
describe('docker events on a worker\'s socket', () => {
  let cluster: TestCluster
  let manager: AgentProcess
  let w1: AgentProcess
  let w2: AgentProcess
  let nodeIds = new Map<string, string>()
  const running: EventsProcess[] = []
  const docker = engine()

  beforeAll(async () => {
    await requireEngine()
    await ensureTestImage()
    cluster = await TestCluster.start({ size: 3, managers: 1, hostnamePrefix: 'evt' })
    ;[manager, w1, w2] = cluster.agents as [AgentProcess, AgentProcess, AgentProcess]
    await cluster.waitForReady(3, 30_000)
    nodeIds = await cluster.nodeIds()
  }, 90_000)

  beforeEach(({ onTestFailed }) => { onTestFailed(() => { console.log(cluster.logs()) }) })

  afterAll(async () => {
    await Promise.all(running.map(async p => { await p.stop() }))
    await cluster?.stop()
    for (const id of nodeIds.values()) await removeContainers(docker, [`${NODE_LABEL}=${id}`])
  })

  const events = (cli: string, via: AgentProcess, args: readonly string[]): EventsProcess => {
    const p = new EventsProcess(cli, via.socket, args)
    running.push(p)
    return p
  }

  it('streams a service\'s create, update and remove made through the manager; --until ends it by itself', async () => {
    const since = unixNow()
    const t0 = Date.now()
    const live = events(DOCKER_28, w1, ['--since', since, '--filter', 'type=service', '--filter', 'service=evt-web'])
    const created = await manager.api('POST', '/services/create', serviceSpec('evt-web', { replicas: 1 }), 30_000)
    expect(created.status, describeResult(created)).toBe(201)
    const id = created.body.ID as string
    const create = await live.find('service create', e => e.Action === 'create', 15_000)
    console.log(`service create seen on a worker's docker events after ${Date.now() - t0} ms`)
    expect(create).toMatchObject({ Type: 'service', Action: 'create', scope: 'swarm', Actor: { ID: id, Attributes: { name: 'evt-web' } } })
    expect(create.time).toBe(Math.floor(create.timeNano / 1e9))
    expect(Math.abs(create.time * 1000 - Date.now())).toBeLessThan(60_000)

    const scaled = await scaleThrough(manager, 'evt-web', 2)
    expect(scaled.status, describeResult(scaled)).toBe(200)
    const update = await live.find('service update with replicas', e => e.Action === 'update' && e.Actor.Attributes['replicas.new'] === '2', 15_000)
    expect(update.Actor).toEqual({ ID: id, Attributes: { name: 'evt-web', 'replicas.old': '1', 'replicas.new': '2' } })

    const removed = await manager.api('DELETE', `/services/${id}`)
    expect(removed.status, describeResult(removed)).toBe(200)
    await live.find('service remove', e => e.Action === 'remove', 15_000)
    await live.stop()
    const order = live.events.map(e => e.Action).filter(a => a === 'create' || a === 'remove')
    expect(order).toEqual(['create', 'remove'])
    expect(live.events.every(e => e.Type === 'service' && e.Actor.ID === id)).toBe(true)

    // The same window again, from both CLIs, with --until: the manager's ring answers and the CLI exits.
    const until = unixNow()
    for (const cli of [DOCKER_28, DOCKER_20].filter(c => existsSync(c))) {
      const past = await runCommand(cli, ['-H', `unix://${w1.socket}`, 'events', '--since', since, '--until', until, '--filter', 'type=service', '--format', '{{json .}}'], 20_000, CLI_ENV)
      expect(past.code, `${cli}: ${past.stderr}`).toBe(0)
      const got = past.stdout.trim().split('\n').map(l => JSON.parse(l) as EventJson).filter(e => e.Actor.ID === id)
      expect(got.map(e => e.Action), cli).toEqual(live.events.map(e => e.Action))
      // Docker's own line format: `<time> service create <id> (name=evt-web)`.
      const plain = await runCommand(cli, ['-H', `unix://${w1.socket}`, 'events', '--since', since, '--until', until, '--filter', 'event=create', '--filter', `service=${id}`], 20_000, CLI_ENV)
      expect(plain.code, plain.stderr).toBe(0)
      expect(plain.stdout.trim()).toMatch(new RegExp(`^\\d{4}-\\d\\d-\\d\\dT[\\d:.]+(Z|[+-]\\d\\d:\\d\\d) service create ${id} \\(name=evt-web\\)$`))
    }

    // The raw answer: dockerd's status, type and one object per line.
    const raw = await callSocket(w1.socket, 'GET', `/v1.41/events?since=${since}&until=${until}&filters=${encodeURIComponent('{"type":{"service":true}}')}`)
    expect(raw.status).toBe(200)
    expect(raw.headers['content-type']).toBe('application/json')
    const bad = await callSocket(w1.socket, 'GET', '/v1.41/events?filters=nope')
    expect(bad.status).toBe(400)
  }, 120_000)

  it('shows a killed agent\'s node going down, and its tasks rescheduled, on another worker\'s stream', async () => {
    const since = unixNow()
    const created = await manager.api('POST', '/services/create', serviceSpec('evt-spread', { replicas: 3, restart: { Delay: 200_000_000 } }), 30_000)
    expect(created.status, describeResult(created)).toBe(201)
    const tasks = await waitRunningTasks(manager, 'evt-spread', 3, 40_000)
    const w2Id = nodeIds.get(w2.hostname)!
    const onW2 = tasks.filter(t => t.NodeID === w2Id).length
    expect(onW2).toBeGreaterThan(0)
    const nodes = events(DOCKER_28, w1, ['--since', since, '--filter', 'type=node'])
    const reschedules = events(DOCKER_28, w1, ['--since', since, '--filter', 'event=reschedule'])
    const t0 = Date.now()
    await w2.kill('SIGKILL')
    const down = await nodes.find('node down', e => e.Actor.ID === w2Id && e.Actor.Attributes['state.new'] === 'down', 30_000)
    console.log(`node down seen on a worker's docker events ${Date.now() - t0} ms after SIGKILL`)
    expect(down).toMatchObject({ Type: 'node', Action: 'update', scope: 'swarm', Actor: { Attributes: { name: w2.hostname, 'state.old': 'ready', 'state.new': 'down' } } })
    const moved = await reschedules.find('reschedule', e => e.Actor.Attributes.node === w2Id, 30_000)
    expect(moved).toMatchObject({
      Type: 'service', Action: 'reschedule', Actor: { ID: created.body.ID, Attributes: { name: 'evt-spread', node: w2Id, 'node.name': w2.hostname, reason: 'node down', 'tasks.rescheduled': String(onW2) } }
    })
    expect(nodes.events.every(e => e.Type === 'node')).toBe(true)
  }, 120_000)
})

// The stream outlives the manager serving it: the worker's socket reconnects to another manager and
// resumes after the last event it wrote. 3 managers and a worker; no task runs.
describe('docker events across the loss of the manager serving them', () => {
  let cluster: TestCluster
  let p: EventsProcess | null = null

  beforeAll(async () => {
    cluster = await TestCluster.start({ size: 4, managers: 3, hostnamePrefix: 'evm' })
    await cluster.waitForReady(4, 40_000)
  }, 90_000)

  beforeEach(({ onTestFailed }) => { onTestFailed(() => { console.log(cluster.logs()) }) })

  afterAll(async () => {
    await p?.stop()
    await cluster?.stop()
  })

  it('keeps streaming on a worker after the leader is killed, each event once', async () => {
    const [m1, m2, , worker] = cluster.agents as [AgentProcess, AgentProcess, AgentProcess, AgentProcess]
    p = new EventsProcess(DOCKER_28, worker.socket, ['--since', unixNow(), '--filter', 'type=service'])
    const spec = (name: string): Record<string, unknown> => serviceSpec(name, { replicas: 0 })
    const a = await m2.api('POST', '/services/create', spec('evm-a'), 30_000)
    expect(a.status, describeResult(a)).toBe(201)
    await p.find('create of evm-a', e => e.Actor.Attributes.name === 'evm-a', 15_000)
    await m1.kill('SIGKILL')
    const t0 = Date.now()
    // Written through a surviving manager once a new leader is elected (the call waits for one).
    const b = await waitFor('a service created after the leader died', async () => {
      const r = await m2.api('POST', '/services/create', spec('evm-b'), 30_000)
      return r.status === 201 ? r : false
    }, 40_000, 500)
    expect(b.status).toBe(201)
    await p.find('create of evm-b', e => e.Actor.Attributes.name === 'evm-b', 30_000)
    console.log(`event after the leader's death seen ${Date.now() - t0} ms after the kill`)
    const creates = p.events.filter(e => e.Action === 'create').map(e => e.Actor.Attributes.name)
    expect(creates).toEqual(['evm-a', 'evm-b'])
    // It did lose its source (the leader serves a worker's stream) and found another.
    expect(worker.logs).toContain('events stream reconnecting')
  }, 120_000)
})
