import { afterAll, describe, expect, it } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AgentProcess, freePort, runCommand, waitFor } from '../support/agent-process.js'
import { dockerClis, requireEngine } from '../support/docker-engine.js'

const clis = dockerClis()

describe('docker CLI binaries', () => {
  it('at least one stock docker CLI is installed', () => {
    expect(clis.length, 'no docker CLI at /usr/local/bin/docker or /usr/bin/docker (apt-get install docker.io)').toBeGreaterThan(0)
  })
})

// The stock docker CLI drives swarm init/join/join-token/leave and node ls/inspect on the agents' sockets.
for (const docker of clis) {
  describe(`${docker} against flotilla agents`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'flotilla-dockercli-'))
    const agents: AgentProcess[] = []
    afterAll(async () => {
      await Promise.all(agents.map(async a => { await a.kill() }))
      rmSync(dir, { recursive: true, force: true })
    })
    const run = async (a: AgentProcess, ...args: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> =>
      await runCommand(docker, ['-H', `unix://${a.socket}`, ...args], 30_000, { ...process.env, DOCKER_HOST: undefined, DOCKER_CONTEXT: undefined })

    it('inits, joins, lists, inspects, rotates and leaves', async () => {
      const engine = await requireEngine()
      const m = new AgentProcess({ baseDir: dir, hostname: 'cli-manager', port: await freePort() })
      const w = new AgentProcess({ baseDir: dir, hostname: 'cli-worker', port: await freePort() })
      agents.push(m, w)
      await Promise.all([m.start([]), w.start([])])

      const init = await run(m, 'swarm', 'init', '--advertise-addr', '127.0.0.1')
      expect(init.code, init.stderr).toBe(0)
      const nodeId = /current node \(([0-9a-z]{25})\) is now a manager/.exec(init.stdout)?.[1]
      expect(nodeId).toBeDefined()
      expect(init.stdout).toContain(`docker swarm join --token FLTKN-1-`)
      expect(init.stdout).toContain(` ${m.addr}`)

      const token = (await run(m, 'swarm', 'join-token', '-q', 'worker')).stdout.trim()
      expect(token).toMatch(/^FLTKN-1-[0-9a-z]{50}-[0-9a-z]{25}$/)
      const jt = await run(m, 'swarm', 'join-token', 'manager')
      expect(jt.stdout).toMatch(new RegExp(`docker swarm join --token FLTKN-1-\\S+ ${m.addr.replace(/\./g, '\\.')}`))

      const join = await run(w, 'swarm', 'join', '--token', token, m.addr)
      expect(join.code, join.stderr).toBe(0)
      // The docker CLI names the role from Info.Swarm.ControlAvailable, which is true on every flotilla node
      // (a worker's socket takes cluster control): it says "manager"; the node's role stays worker.
      expect(join.stdout).toContain('This node joined a swarm as a manager.')

      await waitFor('both nodes ready on both', async () => {
        for (const a of [m, w]) {
          const r = await run(a, 'node', 'ls', '--format', '{{.Hostname}} {{.Status}}')
          if (!/cli-manager Ready/.test(r.stdout) || !/cli-worker Ready/.test(r.stdout)) return false
        }
        return true
      })
      const ls = await run(m, 'node', 'ls')
      expect(ls.code).toBe(0)
      expect(ls.stdout.split('\n')[0]).toMatch(/^ID\s+HOSTNAME\s+STATUS\s+AVAILABILITY\s+MANAGER STATUS\s+ENGINE VERSION$/)
      expect(ls.stdout).toMatch(new RegExp(`${nodeId!} \\*\\s+cli-manager\\s+Ready\\s+Active\\s+Leader\\s+${engine.version.replace(/[+.]/g, '\\$&')}`))
      expect(ls.stdout).toMatch(/cli-worker\s+Ready\s+Active\s+\S/)
      const q = await run(w, 'node', 'ls', '-q')
      expect(q.stdout.trim().split('\n')).toHaveLength(2)
      const managers = await run(w, 'node', 'ls', '--filter', 'role=manager', '--format', '{{.Hostname}}')
      expect(managers.stdout.trim()).toBe('cli-manager')

      const self = await run(m, 'node', 'inspect', 'self')
      expect(self.code, self.stderr).toBe(0)
      const selfJson = JSON.parse(self.stdout)
      expect(selfJson[0].ID).toBe(nodeId)
      expect(selfJson[0].ManagerStatus.Addr).toBe(m.addr)
      const pretty = await run(m, 'node', 'inspect', '--pretty', 'cli-worker')
      expect(pretty.stdout).toMatch(/Hostname:\s+cli-worker/)
      expect(pretty.stdout).toMatch(/State:\s+Ready/)

      const rotate = await run(m, 'swarm', 'join-token', '--rotate', 'worker')
      expect(rotate.code, rotate.stderr).toBe(0)
      expect(rotate.stdout).toContain('Successfully rotated worker join token.')
      const newToken = (await run(m, 'swarm', 'join-token', '-q', 'worker')).stdout.trim()
      expect(newToken).not.toBe(token)

      const leaveWorker = await run(w, 'swarm', 'leave')
      expect(leaveWorker.code, leaveWorker.stderr).toBe(0)
      expect(leaveWorker.stdout).toContain('Node left the swarm.')
      await waitFor('the worker to show down after leaving', async () =>
        /cli-worker Down/.test((await run(m, 'node', 'ls', '--format', '{{.Hostname}} {{.Status}}')).stdout))

      const leaveManager = await run(m, 'swarm', 'leave')
      expect(leaveManager.code).toBe(1)
      expect(leaveManager.stderr).toMatch(/Error response from daemon: .*Use `--force`/)
      const forced = await run(m, 'swarm', 'leave', '--force')
      expect(forced.code, forced.stderr).toBe(0)
      const info = await run(m, 'info', '--format', '{{.Swarm.LocalNodeState}}')
      expect(info.stdout.trim()).toBe('inactive')
    })
  })
}
