import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AgentProcess, callSocket, freePort, runCommand, waitFor } from '../support/agent-process.js'
import { TestCluster } from '../support/cluster.js'
import { dockerClis, requireEngine } from '../support/docker-engine.js'
import { NODE_LABEL, describeResult, engine, inspectService, removeContainers, running, tasksOf } from '../support/services.js'
import { TEST_IMAGE, ensureTestImage } from '../support/test-image.js'

/**
 * Every docker CLI command of issue 5 (but `service logs` and rollbacks, tested elsewhere), run with both
 * stock CLIs (28.x at /usr/local/bin, Debian's 20.10 at /usr/bin) against a manager's and a worker's
 * socket of one 3-agent cluster: exit codes, the output as Docker prints it, and each write's effect
 * read back through the API. swarm init/join/leave and the out-of-swarm errors get agents of their own.
 */
const CLIS = dockerClis()
const ENV = { ...process.env, DOCKER_HOST: undefined, DOCKER_CONTEXT: undefined, DOCKER_API_VERSION: undefined }

interface Run { readonly code: number | null, readonly stdout: string, readonly stderr: string }

const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
const lines = (s: string): string[] => s.trimEnd().split('\n')
/** A table's header split on Docker's column gaps (two or more spaces). */
const columns = (header: string | undefined): string[] => (header ?? '').trim().split(/\s{2,}/)

describe('docker CLI fidelity on a manager\'s and a worker\'s socket', () => {
  let cluster: TestCluster
  let manager: AgentProcess
  let w1: AgentProcess
  let ids = new Map<string, string>()
  const extra: AgentProcess[] = []
  const docker = engine()

  const run = async (cli: string, a: AgentProcess, ...args: string[]): Promise<Run> =>
    await runCommand(cli, ['-H', `unix://${a.socket}`, ...args], 40_000, ENV)
  /** Run and expect exit 0, with the output in the failure message. */
  const ok = async (cli: string, a: AgentProcess, ...args: string[]): Promise<string> => {
    const r = await run(cli, a, ...args)
    expect(r.code, `${cli} ${args.join(' ')} on ${a.hostname}:\n${r.stdout}\n${r.stderr}`).toBe(0)
    return r.stdout
  }
  /** Every CLI against the manager's and a worker's socket. */
  const combos = (): Array<{ cli: string, a: AgentProcess, tag: string }> =>
    CLIS.flatMap((cli, i) => [manager, w1].map(a => ({ cli, a, tag: `c${i}${a === manager ? 'm' : 'w'}` })))

  beforeAll(async () => {
    expect(CLIS.length, 'no docker CLI installed').toBeGreaterThan(0)
    await requireEngine()
    await ensureTestImage()
    cluster = await TestCluster.start({ size: 3, managers: 1, hostnamePrefix: 'fid', logLevel: 'info' })
    ;[manager, w1] = cluster.agents as [AgentProcess, AgentProcess, AgentProcess]
    await cluster.waitForReady(3, 30_000)
    ids = await cluster.nodeIds()
  }, 90_000)

  afterAll(async () => {
    await Promise.all(extra.map(async a => { await a.kill() }))
    await cluster?.stop()
    for (const id of ids.values()) await removeContainers(docker, [`${NODE_LABEL}=${id}`])
  }, 60_000)

  it('docker version negotiates API 1.41; every /v1.24 … /v1.50 path is served', async () => {
    for (const { cli, a } of combos()) {
      const out = await ok(cli, a, 'version')
      expect(out).toMatch(/Server: flotilla/)
      expect(out).toMatch(/API version:\s+1\.41 \(minimum version 1\.24\)/)
      expect(out).toMatch(/Server: flotilla\n Engine:\n {2}Version:\s+0\.1\.0/)
      expect(out).toMatch(/Server:[\s\S]*Experimental:\s+false/)
      if (cli === '/usr/local/bin/docker') expect(out).toMatch(/API version:\s+1\.41 \(downgraded from 1\.50\)/)
      expect((await ok(cli, a, 'version', '--format', '{{.Server.APIVersion}}')).trim()).toBe('1.41')
    }
    const ping = await w1.api('HEAD', '/_ping')
    expect(ping.status).toBe(200)
    expect(ping.headers['api-version']).toBe('1.41')
    for (let minor = 24; minor <= 50; minor++) {
      const r = await w1.api('GET', `/v1.${minor}/nodes`)
      expect(r.status, `/v1.${minor}/nodes`).toBe(200)
    }
  })

  it('docker info shows the Swarm section as dockerd 20.10 prints it', async () => {
    const sw = (await manager.api('GET', '/swarm')).body
    for (const { cli, a } of combos()) {
      const out = await ok(cli, a, 'info')
      const swarm = /\n Swarm: active\n([\s\S]*?)\n [A-Z]/.exec(out)?.[1] ?? ''
      expect(swarm, out).toContain(`  NodeID: ${ids.get(a.hostname)!}`)
      // Every node's socket takes cluster control (a worker forwards it): ControlAvailable, so "Is Manager: true".
      expect(swarm).toContain('  Is Manager: true')
      expect(swarm).toMatch(/ {2}Node Address: 127\.0\.0\.1\n {2}Manager Addresses:\n {3}127\.0\.0\.1:\d+/)
      expect(swarm).toContain(`   ${manager.addr}`)
      {
        // On a worker too: its socket reads the cluster from the leader.
        expect(swarm).toContain(`  ClusterID: ${sw.ID as string}\n  Managers: 1\n  Nodes: 3\n`)
        expect(swarm).toMatch(/ {2}Raft:\n {3}Snapshot Interval: 10000\n {3}Number of Old Snapshots to Retain: 0\n {3}Heartbeat Tick: 1\n {3}Election Tick: 10\n/)
        expect(swarm).toMatch(/ {2}Orchestration:\n {3}Task History Retention Limit: \d+/)
        expect(swarm).toMatch(/ {2}Dispatcher:\n {3}Heartbeat Period: \d+ seconds/)
      }
    }
  })

  it('swarm join-token [-q] [--rotate] worker|manager prints the join command on a manager and on a worker', async () => {
    for (const { cli, a } of combos()) {
      const sw = (await manager.api('GET', '/swarm')).body
      for (const role of ['worker', 'manager'] as const) {
        const token = (role === 'worker' ? sw.JoinTokens.Worker : sw.JoinTokens.Manager) as string
        expect((await ok(cli, a, 'swarm', 'join-token', '-q', role)).trim()).toBe(token)
        const out = await ok(cli, a, 'swarm', 'join-token', role)
        // Docker's text, with the address of the node asked when it is a manager. The docker CLI prints a
        // join command only for a node with a ManagerStatus: on a worker it prints nothing (use -q there).
        expect(out).toBe(a === manager ? `To add a ${role} to this swarm, run the following command:\n\n    docker swarm join --token ${token} ${manager.addr}\n\n` : '')
      }
    }
    // A worker's own node stays a worker for `node inspect self`.
    for (const cli of CLIS) expect((await ok(cli, w1, 'node', 'inspect', 'self', '--format', '{{json .ManagerStatus}}')).trim()).toBe('null')
    for (const cli of CLIS) {
      const before = (await manager.api('GET', '/swarm')).body.JoinTokens
      const out = await ok(cli, w1, 'swarm', 'join-token', '--rotate', 'worker')
      expect(out).toBe('Successfully rotated worker join token.\n\n')
      const after = (await manager.api('GET', '/swarm')).body.JoinTokens
      expect(after.Worker).not.toBe(before.Worker)
      expect(after.Manager).toBe(before.Manager)
      expect((await ok(cli, w1, 'swarm', 'join-token', '-q', 'worker')).trim()).toBe(after.Worker)
      const q = await ok(cli, manager, 'swarm', 'join-token', '-q', '--rotate', 'manager')
      expect(q.trim()).toBe((await manager.api('GET', '/swarm')).body.JoinTokens.Manager)
      expect(q.trim()).not.toBe(before.Manager)
    }
  })

  it('swarm update stores --task-history-limit and --dispatcher-heartbeat in the swarm spec', async () => {
    let limit = 6
    for (const { cli, a } of combos()) {
      const out = await ok(cli, a, 'swarm', 'update', '--task-history-limit', String(limit), '--dispatcher-heartbeat', '6s')
      expect(out.trim()).toBe('Swarm updated.')
      const spec = (await manager.api('GET', '/swarm')).body.Spec
      expect(spec.Orchestration.TaskHistoryRetentionLimit).toBe(limit)
      expect(spec.Dispatcher.HeartbeatPeriod).toBe(6e9)
      expect(await ok(cli, manager, 'info')).toMatch(new RegExp(`Task History Retention Limit: ${limit}\\n[\\s\\S]*Heartbeat Period: 6 seconds`))
      limit++
    }
    await ok(CLIS[0]!, w1, 'swarm', 'update', '--task-history-limit', '5', '--dispatcher-heartbeat', '5s')
    // A stale version is a 409.
    const sw = (await w1.api('GET', '/swarm')).body
    const stale = await w1.api('POST', `/swarm/update?version=${(sw.Version.Index as number) - 1}`, sw.Spec)
    expect(stale.status, describeResult(stale)).toBe(409)
  })

  it('swarm ca is refused clearly: no X.509 CA to show, CA rotation not supported', async () => {
    for (const { cli, a } of combos()) {
      const show = await run(cli, a, 'swarm', 'ca')
      expect(show.code).toBe(1)
      expect(show.stdout).toBe('')
      expect(show.stderr).toContain('No CA information available')
      const rotate = await run(cli, a, 'swarm', 'ca', '--rotate', '-d')
      expect(rotate.code).toBe(1)
      expect(rotate.stderr).toMatch(/Error response from daemon: CA rotation is not supported by flotilla.*docker swarm join-token --rotate/)
    }
  })

  it('node ls [-q] [--filter role=|name=|id=] [--format]', async () => {
    for (const { cli, a } of combos()) {
      const out = lines(await ok(cli, a, 'node', 'ls'))
      expect(columns(out[0])).toEqual(['ID', 'HOSTNAME', 'STATUS', 'AVAILABILITY', 'MANAGER STATUS', 'ENGINE VERSION'])
      expect(out).toHaveLength(4)
      expect(out.find(l => l.includes(' * '))).toMatch(new RegExp(`^${ids.get(a.hostname)!} \\*\\s+${a.hostname}\\s+Ready\\s+Active`))
      expect(out.find(l => l.includes('fid-1'))).toMatch(/\s+fid-1\s+Ready\s+Active\s+Leader\s+\d/)
      expect(out.find(l => l.includes('fid-3'))).toMatch(new RegExp(`^${ids.get('fid-3')!}\\s+fid-3\\s+Ready\\s+Active\\s+\\d`))
      expect(lines(await ok(cli, a, 'node', 'ls', '-q')).sort()).toEqual([...ids.values()].sort())
      expect((await ok(cli, a, 'node', 'ls', '--filter', 'role=manager', '--format', '{{.Hostname}}')).trim()).toBe('fid-1')
      expect(lines(await ok(cli, a, 'node', 'ls', '--filter', 'role=worker', '--format', '{{.Hostname}}')).sort()).toEqual(['fid-2', 'fid-3'])
      expect((await ok(cli, a, 'node', 'ls', '--filter', 'name=fid-2', '-q')).trim()).toBe(ids.get('fid-2'))
      expect((await ok(cli, a, 'node', 'ls', '--filter', `id=${ids.get('fid-3')!.slice(0, 6)}`, '--format', '{{.Hostname}} {{.Status}} {{.Availability}}')).trim()).toBe('fid-3 Ready Active')
    }
  })

  it('node inspect [--pretty] self|ID|name', async () => {
    for (const { cli, a } of combos()) {
      const self = JSON.parse(await ok(cli, a, 'node', 'inspect', 'self'))
      expect(self[0].ID).toBe(ids.get(a.hostname))
      expect(self[0].Description.Hostname).toBe(a.hostname)
      const two = JSON.parse(await ok(cli, a, 'node', 'inspect', ids.get('fid-1')!, 'fid-3'))
      expect(two.map((n: any) => n.Description.Hostname)).toEqual(['fid-1', 'fid-3'])
      expect(two[0].ManagerStatus).toEqual({ Leader: true, Reachability: 'reachable', Addr: manager.addr })
      const pretty = await ok(cli, a, 'node', 'inspect', '--pretty', 'fid-1')
      expect(pretty).toMatch(new RegExp(`^ID:\\s+${ids.get('fid-1')!}\\nHostname:\\s+fid-1\\nJoined at:\\s+\\d{4}-`))
      expect(pretty).toMatch(/Status:\n State:\s+Ready\n Availability:\s+Active\n Address:\s+127\.0\.0\.1\nManager Status:\n Address:\s+127\.0\.0\.1:\d+\n Raft Status:\s+Reachable\n Leader:\s+Yes\n/)
      expect(pretty).toMatch(/Platform:\n Operating System:\s+linux\n Architecture:\s+\S+\nResources:\n CPUs:\s+\d+\n Memory:\s+\S+/)
    }
  })

  it('node update --availability|--label-add|--label-rm|--role, promote and demote', async () => {
    const nodeSpec = async (host: string): Promise<any> => (await manager.api('GET', `/nodes/${host}`)).body.Spec
    for (const { cli, a } of combos()) {
      expect((await ok(cli, a, 'node', 'update', '--availability', 'pause', '--label-add', 'zone=a', '--label-add', 'disk', 'fid-3')).trim()).toBe('fid-3')
      expect(await nodeSpec('fid-3')).toEqual({ Labels: { zone: 'a', disk: '' }, Role: 'worker', Availability: 'pause' })
      expect((await ok(cli, a, 'node', 'ls', '--filter', 'name=fid-3', '--format', '{{.Availability}}')).trim()).toBe('Pause')
      await ok(cli, a, 'node', 'update', '--availability', 'active', '--label-rm', 'zone', ids.get('fid-3')!)
      expect(await nodeSpec('fid-3')).toEqual({ Labels: { disk: '' }, Role: 'worker', Availability: 'active' })
      await ok(cli, a, 'node', 'update', '--label-rm', 'disk', 'fid-3')
    }
    const reachable = async (): Promise<boolean> => (await manager.api('GET', '/nodes/fid-3')).body.ManagerStatus?.Reachability === 'reachable'
    const demoted = async (): Promise<boolean> => (await manager.api('GET', '/nodes/fid-3')).body.ManagerStatus === undefined
    for (const [i, cli] of CLIS.entries()) {
      const [up, down] = i % 2 === 0 ? [w1, manager] : [manager, w1]
      expect((await ok(cli, up, 'node', 'promote', 'fid-3')).trim()).toBe('Node fid-3 promoted to a manager in the swarm.')
      await waitFor('fid-3 to be a reachable manager', reachable, 20_000)
      expect((await nodeSpec('fid-3')).Role).toBe('manager')
      expect((await ok(cli, down, 'node', 'ls', '--filter', 'role=manager', '--format', '{{.Hostname}} {{.ManagerStatus}}')).trim().split('\n').sort()).toEqual(['fid-1 Leader', 'fid-3 Reachable'])
      expect((await ok(cli, down, 'node', 'demote', 'fid-3')).trim()).toBe('Manager fid-3 demoted in the swarm.')
      await waitFor('fid-3 to be a worker again', demoted, 20_000)
      await ok(cli, up, 'node', 'update', '--role', 'manager', 'fid-3')
      await waitFor('fid-3 to be a reachable manager', reachable, 20_000)
      await ok(cli, down, 'node', 'update', '--role', 'worker', 'fid-3')
      await waitFor('fid-3 to be a worker again', demoted, 20_000)
    }
    await cluster.waitForReady(3, 20_000)
  }, 120_000)

  it('swarm init [--advertise-addr] [--listen-addr], join, leave [--force], node rm [--force]; 503 outside a swarm', async () => {
    for (const [i, cli] of CLIS.entries()) {
      const lone = new AgentProcess({ baseDir: cluster.baseDir, hostname: `fid-lone-${i}`, port: await freePort(), logLevel: 'info' })
      const joiner = new AgentProcess({ baseDir: cluster.baseDir, hostname: `fid-join-${i}`, port: await freePort(), logLevel: 'info' })
      extra.push(lone, joiner)
      await Promise.all([lone.start([]), joiner.start([])])

      for (const args of [['node', 'ls'], ['service', 'ls'], ['swarm', 'join-token', 'worker']]) {
        const r = await run(cli, lone, ...args)
        expect(r.code, args.join(' ')).toBe(1)
        expect(r.stderr).toMatch(/^Error response from daemon: This node is not part of a swarm/)
      }
      expect((await lone.api('GET', '/services')).status).toBe(503)
      const notIn = await run(cli, lone, 'swarm', 'leave')
      expect(notIn.code).toBe(1)
      expect(notIn.stderr).toContain('Error response from daemon: This node is not part of a swarm')
      expect((await ok(cli, lone, 'info', '--format', '{{.Swarm.LocalNodeState}}')).trim()).toBe('inactive')

      const init = await ok(cli, lone, 'swarm', 'init', '--advertise-addr', '127.0.0.1', '--listen-addr', lone.addr)
      const id = /^Swarm initialized: current node \(([0-9a-z]{25})\) is now a manager\.\n/.exec(init)?.[1]
      expect(id, init).toBeDefined()
      expect(init).toMatch(new RegExp(`To add a worker to this swarm, run the following command:\\n\\n    docker swarm join --token FLTKN-1-\\S+ ${esc(lone.addr)}\\n\\nTo add a manager to this swarm, run 'docker swarm join-token manager' and follow the instructions\\.`))
      expect((await ok(cli, lone, 'node', 'ls', '-q')).trim()).toBe(id)
      const again = await run(cli, lone, 'swarm', 'init')
      expect(again.code).toBe(1)
      expect(again.stderr).toMatch(/Error response from daemon: .*already part of a swarm/)
      const refuse = await run(cli, lone, 'swarm', 'leave')
      expect(refuse.code).toBe(1)
      expect(refuse.stderr).toMatch(/Error response from daemon: .*Use `--force`/)
      expect((await ok(cli, lone, 'swarm', 'leave', '--force')).trim()).toBe('Node left the swarm.')
      expect((await lone.api('GET', '/nodes')).status).toBe(503)

      const token = (await manager.api('GET', '/swarm')).body.JoinTokens.Worker as string
      // The docker CLI names the role from ControlAvailable, true on every flotilla node: "manager". The node is a worker.
      expect((await ok(cli, joiner, 'swarm', 'join', '--token', token, manager.addr)).trim()).toBe('This node joined a swarm as a manager.')
      const joinerId = (await joiner.api('GET', '/info')).body.Swarm.NodeID as string
      expect((await manager.api('GET', `/nodes/${joinerId}`)).body.Spec.Role).toBe('worker')
      await waitFor('the joiner to be ready', async () => (await manager.api('GET', `/nodes/${joinerId}`)).body?.Status?.State === 'ready', 20_000)
      const live = await run(cli, w1, 'node', 'rm', joinerId)
      expect(live.code).toBe(1)
      expect(live.stderr).toContain(`Error response from daemon: node ${joinerId} is not down and can't be removed`)
      if (i % 2 === 0) {
        expect((await ok(cli, joiner, 'swarm', 'leave')).trim()).toBe('Node left the swarm.')
        await waitFor('the joiner to be down', async () => (await manager.api('GET', `/nodes/${joinerId}`)).body?.Status?.State === 'down', 30_000)
        expect((await ok(cli, w1, 'node', 'rm', `fid-join-${i}`)).trim()).toBe(`fid-join-${i}`)
      } else {
        expect((await ok(cli, manager, 'node', 'rm', '--force', joinerId)).trim()).toBe(joinerId)
      }
      expect((await manager.api('GET', `/nodes/${joinerId}`)).status).toBe(404)
      await Promise.all([lone.kill(), joiner.kill()])
    }
  }, 120_000)

  it('service create/ls/ps/inspect/scale/update/rm on both sockets, node ps', async () => {
    const names = combos().map(c => `fid-${c.tag}`)
    for (const [k, { cli, a, tag }] of combos().entries()) {
      const name = names[k]!
      const detach = a === manager
      const r = await run(cli, a, 'service', 'create', ...(detach ? ['-d'] : []), '--name', name, '--replicas', '2', '--label', `tier=${tag}`,
        '--env', 'A=1', '--stop-signal', 'SIGKILL', TEST_IMAGE, 'sleep', '3600')
      expect(r.code, r.stdout + r.stderr).toBe(0)
      const id = lines(r.stdout)[0]!
      expect(id).toMatch(/^[0-9a-z]{25}$/)
      // The CLI asks GET /distribution/<image>/json first; the 404 makes it warn and send the tag unpinned, as dockerd does for an image on no registry.
      if (cli === '/usr/local/bin/docker') expect(r.stderr).toContain(`image ${TEST_IMAGE} could not be accessed on a registry to record`)
      if (!detach) {
        expect(r.stdout).toMatch(/overall progress: 2 out of 2 tasks/)
        // CLI 28 names the service (`verify: Service <id> converged`), 20.10 does not.
        expect(lines(r.stdout).at(-1)).toMatch(new RegExp(`^verify: Service (?:${id} )?converged$`))
      } else {
        expect(lines(r.stdout)).toEqual([id])
      }
      const s = await inspectService(manager, name)
      expect(s.ID).toBe(id)
      expect(s.Spec.TaskTemplate.ContainerSpec).toMatchObject({ Image: TEST_IMAGE, Args: ['sleep', '3600'], Env: ['A=1'] })
      expect(s.Spec.Labels).toEqual({ tier: tag })
    }
    await waitFor('every service to run 2 tasks', async () => {
      for (const n of names) if (running(await tasksOf(manager, n)).length !== 2) return false
      return true
    }, 30_000)

    for (const { cli, a, tag } of combos()) {
      const ls = lines(await ok(cli, a, 'service', 'ls'))
      expect(columns(ls[0])).toEqual(['ID', 'NAME', 'MODE', 'REPLICAS', 'IMAGE', 'PORTS'])
      for (const n of names) expect(ls.find(l => l.includes(` ${n} `)), n).toMatch(new RegExp(`^[0-9a-z]{12}\\s+${n}\\s+replicated\\s+2/2\\s+${esc(TEST_IMAGE)}\\s*$`))
      expect((await ok(cli, a, 'service', 'ls', '--filter', `label=tier=${tag}`, '--format', '{{.Name}} {{.Replicas}} {{.Mode}}')).trim()).toBe(`fid-${tag} 2/2 replicated`)
      expect(lines(await ok(cli, a, 'service', 'ls', '--filter', 'name=fid-c', '--format', '{{.Name}}')).sort()).toEqual([...names].sort())
      expect(lines(await ok(cli, a, 'service', 'ls', '--filter', 'mode=replicated', '-q'))).toHaveLength(names.length)
      expect((await ok(cli, a, 'service', 'ls', '--filter', 'mode=global', '-q')).trim()).toBe('')

      const name = `fid-${tag}`
      const tasks = running(await tasksOf(manager, name))
      const ps = lines(await ok(cli, a, 'service', 'ps', name))
      expect(columns(ps[0])).toEqual(['ID', 'NAME', 'IMAGE', 'NODE', 'DESIRED STATE', 'CURRENT STATE', 'ERROR', 'PORTS'])
      for (const t of tasks) {
        const host = [...ids.entries()].find(([, v]) => v === t.NodeID)![0]
        expect(ps.find(l => l.startsWith(t.ID.slice(0, 12)))).toMatch(new RegExp(`^${t.ID.slice(0, 12)}\\s+${name}\\.${t.Slot!}\\s+${esc(TEST_IMAGE)}\\s+${host}\\s+Running\\s+Running (?:less than a second|\\d+ seconds?) ago\\s*$`))
      }
      expect(lines(await ok(cli, a, 'service', 'ps', '-q', name)).sort()).toEqual(tasks.map(t => t.ID).sort())
      expect(lines(await ok(cli, a, 'service', 'ps', '--no-trunc', '--filter', 'desired-state=running', name)).slice(1).map(l => l.split(/\s+/)[0]).sort()).toEqual(tasks.map(t => t.ID).sort())
      expect(lines(await ok(cli, a, 'service', 'ps', '--format', '{{.Name}} {{.DesiredState}}', name)).sort()).toEqual([`${name}.1 Running`, `${name}.2 Running`])

      const inspect = JSON.parse(await ok(cli, a, 'service', 'inspect', name))
      expect(inspect[0].Spec.Name).toBe(name)
      const pretty = await ok(cli, a, 'service', 'inspect', '--pretty', name)
      expect(pretty).toMatch(new RegExp(`\\nID:\\t\\t[0-9a-z]{25}\\nName:\\t\\t${name}\\nLabels:\\n tier=${tag}\\nService Mode:\\tReplicated\\n Replicas:\\t2\\n`))
      expect(pretty).toMatch(new RegExp(`ContainerSpec:\\n Image:\\t\\t${esc(TEST_IMAGE)}\\n Args:\\t\\tsleep 3600 \\n Env:\\t\\tA=1 ?\\n`))

      // node ps [NODE]: the tasks on a node, through /tasks?filters={"node":…}
      const nodePs = lines(await ok(cli, a, 'node', 'ps', '--filter', `name=${name}`))
      expect(columns(nodePs[0])).toEqual(['ID', 'NAME', 'IMAGE', 'NODE', 'DESIRED STATE', 'CURRENT STATE', 'ERROR', 'PORTS'])
      expect(nodePs.length - 1).toBe(tasks.filter(t => t.NodeID === ids.get(a.hostname)).length)
      for (const host of ['fid-1', 'fid-2', 'fid-3']) {
        const onNode = tasks.filter(t => t.NodeID === ids.get(host)).map(t => t.ID).sort()
        expect(lines(await ok(cli, a, 'node', 'ps', '-q', '--no-trunc', '--filter', `name=${name}`, host)).filter(l => l !== '').sort()).toEqual(onNode)
      }
    }

    // scale a=1 b=2, with and without --detach
    for (const [i, cli] of CLIS.entries()) {
      const a = i % 2 === 0 ? w1 : manager
      const [x, y] = [names[0]!, names[1]!]
      const out = await ok(cli, a, 'service', 'scale', ...(i % 2 === 0 ? [] : ['-d']), `${x}=1`, `${y}=3`)
      expect(out).toMatch(new RegExp(`^${x} scaled to 1\\n${y} scaled to 3\\n`))
      if (i % 2 === 0) expect(out.trimEnd()).toMatch(new RegExp(`verify: Service (?:${x} )?converged[\\s\\S]*verify: Service (?:${y} )?converged$`))
      expect((await inspectService(manager, x)).Spec.Mode).toEqual({ Replicated: { Replicas: 1 } })
      expect((await inspectService(manager, y)).Spec.Mode).toEqual({ Replicated: { Replicas: 3 } })
      await ok(cli, a, 'service', 'scale', '-d', `${x}=2`, `${y}=2`)
    }

    // update: each flag, its effect read back through the API
    for (const { cli, a, tag } of combos()) {
      const name = `fid-${tag}`
      const spec = async (): Promise<any> => (await inspectService(manager, name)).Spec
      expect((await ok(cli, a, 'service', 'update', '-d', '--replicas', '3', name)).trim()).toBe(name)
      expect((await spec()).Mode.Replicated.Replicas).toBe(3)
      await ok(cli, a, 'service', 'update', '-d', '--env-add', 'B=2', '--env-rm', 'A', '--label-add', 'x=y', name)
      let s = await spec()
      expect(s.TaskTemplate.ContainerSpec.Env).toEqual(['B=2'])
      expect(s.Labels).toEqual({ tier: tag, x: 'y' })
      await ok(cli, a, 'service', 'update', '-d', '--constraint-add', 'node.role==worker', '--constraint-add', 'node.hostname!=nope', name)
      expect([...(await spec()).TaskTemplate.Placement.Constraints].sort()).toEqual(['node.hostname!=nope', 'node.role==worker'])
      await ok(cli, a, 'service', 'update', '-d', '--constraint-rm', 'node.hostname!=nope', name)
      expect((await spec()).TaskTemplate.Placement.Constraints).toEqual(['node.role==worker'])
      const before = (await spec()).TaskTemplate.ForceUpdate ?? 0
      await ok(cli, a, 'service', 'update', '-d', '--force', name)
      s = await spec()
      expect(s.TaskTemplate.ForceUpdate).toBe(before + 1)
      // A replica change alone converges through the CLI's progress display.
      const scaled = await run(cli, a, 'service', 'update', '--replicas', '2', name)
      expect(scaled.code, scaled.stdout + scaled.stderr).toBe(0)
      expect(lines(scaled.stdout).at(-1)).toMatch(new RegExp(`^verify: Service (?:${name} )?converged$`))
    }

    // errors, in Docker's words and status codes
    for (const { cli, a } of combos()) {
      const dup = await run(cli, a, 'service', 'create', '-d', '--name', names[0]!, TEST_IMAGE)
      expect(dup.code).toBe(1)
      expect(dup.stderr).toContain(`Error response from daemon: service ${names[0]!} already exists`)
      const noSvc = await run(cli, a, 'service', 'rm', 'fid-nope')
      expect(noSvc.code).toBe(1)
      // CLI 28 prints the daemon's 404 message; 20.10 turns a 404 into its own "No such service".
      expect(noSvc.stderr).toMatch(/^(?:Error response from daemon: service fid-nope not found|Error: No such service: fid-nope)/)
      const noNode = await run(cli, a, 'node', 'inspect', 'fid-nope')
      expect(noNode.code).toBe(1)
      expect(noNode.stderr).toMatch(/(?:Error response from daemon: node fid-nope not found|Error: No such node: fid-nope)/)
      const noSvcInspect = await run(cli, a, 'service', 'inspect', 'fid-nope')
      expect(noSvcInspect.code).toBe(1)
      expect(noSvcInspect.stderr).toContain('no such service: fid-nope')
      const bad = await run(cli, a, 'service', 'create', '-d', '--name', 'bad name', TEST_IMAGE)
      expect(bad.code).toBe(1)
      expect(bad.stderr).toMatch(/^Error response from daemon: Name: /m)
    }
    for (const a of [manager, w1]) {
      expect((await a.api('GET', '/services/fid-nope')).status).toBe(404)
      expect((await a.api('GET', '/nodes/fid-nope')).status).toBe(404)
      expect((await a.api('GET', '/tasks/nope')).status).toBe(404)
      const s = await inspectService(a, names[0]!)
      expect((await a.api('POST', '/services/create', { ...s.Spec })).status).toBe(409)
      const stale = await a.api('POST', `/services/${s.ID}/update?version=${s.Version.Index - 1}`, s.Spec)
      expect(stale.status, describeResult(stale)).toBe(409)
      const invalid = await a.api('POST', '/services/create', { Name: 'fid-invalid', TaskTemplate: { ContainerSpec: {} }, Mode: { Replicated: { Replicas: 1 } } })
      expect(invalid.status, describeResult(invalid)).toBe(400)
      const n = (await a.api('GET', '/nodes/fid-2')).body
      const staleNode = await a.api('POST', `/nodes/${n.ID as string}/update?version=${(n.Version.Index as number) - 1}`, n.Spec)
      expect(staleNode.status, describeResult(staleNode)).toBe(409)
    }

    // rm a b
    for (const [i, cli] of CLIS.entries()) {
      const pair = names.slice(i * 2, i * 2 + 2)
      const a = i % 2 === 0 ? w1 : manager
      expect(lines(await ok(cli, a, 'service', 'rm', ...pair))).toEqual(pair)
      for (const n of pair) expect((await manager.api('GET', `/services/${n}`)).status).toBe(404)
    }
    expect((await ok(CLIS[0]!, w1, 'service', 'ls', '-q')).trim()).toBe('')
  }, 150_000)

  it('answers the socket without a swarm for every version prefix', async () => {
    const r = await callSocket(w1.socket, 'GET', '/v1.41/version')
    expect(r.status).toBe(200)
    expect(r.body.ApiVersion).toBe('1.41')
    expect(r.body.MinAPIVersion).toBe('1.24')
  })
})
