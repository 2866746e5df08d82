import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { readdirSync, readlinkSync } from 'node:fs'
import Docker from 'dockerode'
import { callSocket, runCommand, waitFor, type AgentProcess } from '../support/agent-process.js'
import { TestCluster } from '../support/cluster.js'
import { dockerClis, requireEngine } from '../support/docker-engine.js'
import { NODE_LABEL, describeResult, removeContainers, running, scaleThrough, serviceSpec, tasksOf, engine } from '../support/services.js'
import { ensureTestImage } from '../support/test-image.js'
import { MuxParser } from '../../src/tasks/executor/docker/log-frames.js'

const clis = dockerClis()
/** Each task writes a numbered line to stdout and one to stderr every 0.2 s. */
const CHATTY = ['sh', '-c', 'i=0; while true; do echo "line $i from $HOSTNAME"; echo "err $i from $HOSTNAME" >&2; i=$((i+1)); sleep 0.2; done']
/** `web.<slot>.<task12>@<host>    | <msg>`, after an optional timestamp. */
const PREFIXED = /^(?:(\S+) )?web\.(\d+)\.([0-9a-z]{12})@(\S+)\s+\| (.*)$/

/** How many sockets agent `a`'s process holds open (its engine log streams among them). */
function socketCount (a: AgentProcess): number {
  return readdirSync(`/proc/${a.pid!}/fd`).filter(fd => {
    try { return readlinkSync(`/proc/${a.pid!}/fd/${fd}`).startsWith('socket:') } catch { return false }
  }).length
}

interface Parsed { readonly timestamp?: string, readonly slot: number, readonly task12: string, readonly host: string, readonly msg: string }

/** The prefixed lines of a run's stdout and stderr together (`--tail 1` may give a task's stderr line only). */
function both (r: { stdout: string, stderr: string }): Parsed[] {
  return [...parse(r.stdout), ...parse(r.stderr.split('\n').filter(l => PREFIXED.test(l)).join('\n'))]
}

function parse (out: string): Parsed[] {
  return out.split('\n').filter(l => l !== '').map(l => {
    const m = PREFIXED.exec(l)
    if (m === null) throw new Error(`not a prefixed log line: ${JSON.stringify(l)}`)
    return { timestamp: m[1], slot: Number(m[2]), task12: m[3]!, host: m[4]!, msg: m[5]! }
  })
}

// `docker service logs` (and GET /services|tasks/{id}/logs) on 3 agents sharing one engine, through
// both docker CLIs and dockerode, from a worker's socket and the manager's.
describe('service logs on 3 agents', () => {
  let cluster: TestCluster
  let manager: AgentProcess
  let w1: AgentProcess
  let w2: AgentProcess
  let nodeIds = new Map<string, string>()
  let serviceId = ''

  const docker = async (cli: string, a: AgentProcess, args: readonly string[], timeoutMs = 15_000): Promise<{ code: number | null, stdout: string, stderr: string }> =>
    await runCommand(cli, ['-H', `unix://${a.socket}`, ...args], timeoutMs, { ...process.env, DOCKER_HOST: undefined, DOCKER_CONTEXT: undefined })

  /** Running tasks of web, by 12-character ID prefix → hostname of their node. */
  const runningTasks = async (): Promise<Map<string, string>> => {
    const hosts = new Map([...nodeIds].map(([h, id]) => [id, h]))
    return new Map(running(await tasksOf(manager, 'web')).map(t => [t.ID.slice(0, 12), hosts.get(t.NodeID ?? '') ?? '?']))
  }

  beforeAll(async () => {
    await requireEngine()
    await ensureTestImage()
    cluster = await TestCluster.start({ size: 3, managers: 1, hostnamePrefix: 'logs' })
    ;[manager, w1, w2] = cluster.agents as [AgentProcess, AgentProcess, AgentProcess]
    await cluster.waitForReady(3, 30_000)
    nodeIds = await cluster.nodeIds()
    const r = await manager.api('POST', '/services/create', serviceSpec('web', { replicas: 3, args: CHATTY }), 30_000)
    expect(r.status, describeResult(r)).toBe(201)
    serviceId = r.body.ID
    await waitFor('3 running tasks of web, one per node', async () => {
      const tasks = await runningTasks()
      return tasks.size === 3 && new Set(tasks.values()).size === 3
    }, 30_000)
    // Every task has written a few lines (the raw API, so that the CLI tests see settled output).
    await waitFor('3 lines from every task', async () => {
      const r = await callSocket(w1.socket, 'GET', '/services/web/logs?stdout=1&details=1', undefined, 5_000)
      const text = String(r.body)
      return [...(await runningTasks()).keys()].every(t => (text.match(new RegExp(`task\\.id=${t}[0-9a-z]* line`, 'g')) ?? []).length >= 3)
    }, 20_000)
  }, 90_000)

  beforeEach(({ onTestFailed }) => { onTestFailed(() => { console.log(cluster.logs()) }) })

  afterAll(async () => {
    await cluster?.stop()
    const d = engine()
    for (const id of nodeIds.values()) await removeContainers(d, [`${NODE_LABEL}=${id}`])
  })

  for (const cli of clis) {
    it(`${cli}: lines of all 3 tasks, --tail, --timestamps, stderr, on a worker's socket and the manager's`, async () => {
      const tasks = await runningTasks()
      for (const a of [w1, manager]) {
        const all = await docker(cli, a, ['service', 'logs', 'web'])
        expect(all.code, all.stderr).toBe(0)
        const out = parse(all.stdout)
        expect(new Set(out.map(l => l.task12))).toEqual(new Set(tasks.keys()))
        for (const l of out) {
          expect(l.msg).toMatch(/^line \d+ from [0-9a-f]{12}$/)
          expect(l.host).toBe(tasks.get(l.task12))
        }
        // stderr lines go to stderr, prefixed the same way.
        const err = parse(all.stderr)
        expect(new Set(err.map(l => l.task12))).toEqual(new Set(tasks.keys()))
        expect(err.every(l => /^err \d+ from /.test(l.msg))).toBe(true)
      }

      const tail = await docker(cli, w2, ['service', 'logs', '--tail', '2', 'web'])
      expect(tail.code, tail.stderr).toBe(0)
      const perTask = new Map<string, number>()
      for (const l of [...parse(tail.stdout), ...parse(tail.stderr)]) perTask.set(l.task12, (perTask.get(l.task12) ?? 0) + 1)
      expect(Object.fromEntries(perTask)).toEqual(Object.fromEntries([...tasks.keys()].map(t => [t, 2])))

      const ts = await docker(cli, w1, ['service', 'logs', '--timestamps', '--tail', '3', 'web'])
      expect(ts.code, ts.stderr).toBe(0)
      const stamped = parse(ts.stdout)
      expect(stamped.length).toBeGreaterThan(0)
      for (const l of stamped) {
        expect(l.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/)
        expect(Math.abs(Date.parse(l.timestamp!) - Date.now())).toBeLessThan(60_000)
      }

      // A task's logs alone (the CLI tries the service, then the task).
      const one = [...tasks.keys()][0]!
      const task = await docker(cli, w2, ['service', 'logs', '--tail', '1', one])
      expect(task.code, task.stderr).toBe(0)
      expect(new Set(both(task).map(l => l.task12))).toEqual(new Set([one]))

      const missing = await docker(cli, w1, ['service', 'logs', 'nosuch'])
      expect(missing.code).not.toBe(0)
      expect(missing.stderr).toContain('nosuch')
    }, 30_000)
  }

  it('flotilla service logs prints the same lines as docker, --tail per task, stderr on stderr', async () => {
    const tasks = await runningTasks()
    const r = await w1.cli(['service', 'logs', '--tail', '2', 'web'], 15_000)
    expect(r.code, r.stderr).toBe(0)
    const lines = [...r.stdout.trim().split('\n'), ...r.stderr.trim().split('\n')].filter(l => l !== '')
    expect(lines).toHaveLength(6) // 2 per task, over both streams
    for (const l of lines) {
      const m = /^web\.\d\.([0-9a-z]{12})@(\S+) +\| /.exec(l)
      expect(m, l).not.toBeNull()
      expect(tasks.get(m![1]!)).toBe(m![2])
    }
    const missing = await w1.cli(['service', 'logs', 'nosuch'])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain('service nosuch not found')
  })

  it('refuses a bad query or an unknown service with Docker\'s errors; a task\'s logs alone through GET /tasks/{id}/logs', async () => {
    const none = await callSocket(w1.socket, 'GET', '/services/nosuch/logs?stdout=1', undefined, 5_000)
    expect(none.status).toBe(404)
    expect(none.body.message).toMatch(/^service nosuch not found/)
    const noStream = await callSocket(w1.socket, 'GET', '/services/web/logs', undefined, 5_000)
    expect(noStream.status).toBe(400)
    expect(noStream.body.message).toBe("must specify at least one of 'stdout' or 'stderr'")
    const badTail = await callSocket(w1.socket, 'GET', '/services/web/logs?stdout=1&tail=x', undefined, 5_000)
    expect(badTail.status).toBe(400)
    expect(badTail.body.message).toBe('tail value must be a positive integer or "all"')

    const t = running(await tasksOf(manager, 'web'))[0]!
    const r = await callSocket(manager.socket, 'GET', `/v1.41/tasks/${t.ID}/logs?stdout=1&details=1&tail=2`, undefined, 5_000)
    expect(r.status).toBe(200)
    expect(r.headers['content-type']).toBe('application/vnd.docker.multiplexed-stream')
  })

  it('dockerode getService(id).logs returns the multiplexed buffer, the same on a worker and the manager', async () => {
    const tasks = await runningTasks()
    for (const a of [w2, manager]) {
      const buf = await (new Docker({ socketPath: a.socket, timeout: 10_000 }).getService(serviceId).logs({ stdout: true, stderr: true, follow: false, details: true, tail: 2 } as any) as unknown as Promise<Buffer>)
      expect(Buffer.isBuffer(buf)).toBe(true)
      const frames = new MuxParser().push(buf)
      expect(new Set(frames.map(f => f.stream))).toEqual(new Set([1, 2]))
      const seen = new Set<string>()
      for (const f of frames) {
        const m = /^com\.docker\.swarm\.node\.id=([0-9a-z]+),com\.docker\.swarm\.service\.id=([0-9a-z]+),com\.docker\.swarm\.task\.id=([0-9a-z]+) (line|err) \d+ from \S+\n$/.exec(f.payload.toString())
        expect(m, f.payload.toString()).not.toBeNull()
        expect(m![2]).toBe(serviceId)
        expect([...nodeIds.values()]).toContain(m![1])
        seen.add(m![3]!.slice(0, 12))
      }
      expect(seen).toEqual(new Set(tasks.keys()))
    }
  })

  for (const [i, cli] of clis.entries()) {
    it(`${cli}: -f streams every task, a task added by scaling up too, and ends when the CLI is killed`, async () => {
      const replicas = 4 + i
      const baseline = cluster.agents.map(socketCount)
      const child = spawn(cli, ['-H', `unix://${w1.socket}`, 'service', 'logs', '-f', '--tail', '1', 'web'], {
        stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DOCKER_HOST: undefined, DOCKER_CONTEXT: undefined }
      })
      let stdout = ''
      let stderr = ''
      child.stdout.setEncoding('utf8').on('data', (c: string) => { stdout += c })
      child.stderr.setEncoding('utf8').on('data', (c: string) => { stderr += c })
      const exited = new Promise<number | null>(resolve => { child.once('exit', code => { resolve(code) }) })
      try {
        const before = await runningTasks()
        // Lines keep coming from every task: more than --tail's one each.
        await waitFor('followed lines from every task', () => {
          const seen = parse(stdout.slice(0, stdout.lastIndexOf('\n') + 1))
          return [...before.keys()].every(t => seen.filter(l => l.task12 === t).length >= 3)
        }, 15_000)
        const up = await scaleThrough(manager, 'web', replicas)
        expect(up.status, describeResult(up)).toBe(200)
        const added = await waitFor('the added task running', async () => {
          const now = await runningTasks()
          const fresh = [...now.keys()].filter(t => !before.has(t))
          return now.size === replicas && fresh.length === 1 ? fresh[0]! : false
        }, 20_000)
        await waitFor(`lines of the added task ${added}`, () => parse(stdout.slice(0, stdout.lastIndexOf('\n') + 1)).some(l => l.task12 === added), 15_000)
        expect(child.exitCode, stderr).toBeNull()
      } finally {
        child.kill('SIGKILL')
      }
      await exited
      // Every node has closed its engine log streams of this follow (each one a socket to the engine).
      await waitFor('the agents back to their sockets before the follow', () => cluster.agents.every((a, j) => socketCount(a) <= baseline[j]!), 5_000)
      // The agent is fine and the stream is gone: another call works, and the agent's log shows no failure.
      const again = await docker(cli, w1, ['service', 'logs', '--tail', '1', 'web'])
      expect(again.code, again.stderr).toBe(0)
      expect(new Set(both(again).map(l => l.task12)).size).toBe(replicas)
      expect(w1.logs).not.toContain('streamed response failed')
    }, 45_000)
  }

  it('a node that cannot be reached loses its lines only, and the warning names it', async () => {
    const tasks = await runningTasks()
    await w2.kill('SIGKILL')
    const w2Id = nodeIds.get(w2.hostname)!
    const r = await callSocket(w1.socket, 'GET', '/services/web/logs?stdout=1&stderr=1&details=1&tail=1', undefined, 15_000)
    expect(r.status).toBe(200)
    const cli = clis[0]
    if (cli === undefined) return
    const out = await docker(cli, w1, ['service', 'logs', '--tail', '1', 'web'])
    expect(out.code).toBe(1)
    const lines = both(out)
    const expected = [...tasks].filter(([, h]) => h !== w2.hostname).map(([t]) => t)
    expect(new Set(lines.map(l => l.task12))).toEqual(new Set(expected))
    expect(out.stderr).toContain(`Error grabbing logs: warning: incomplete log stream. some logs could not be retrieved for the following reasons: node ${w2Id} is not available`)
  }, 30_000)
})
