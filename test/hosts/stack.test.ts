import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { callSocket, waitFor } from '../support/agent-process.js'
import { TEST_IMAGE, TestBed, type BedHost } from '../support/bed/index.js'
import { dockerClis } from '../support/docker-engine.js'

// `docker stack deploy|ls|services|ps|rm` with both stock docker CLIs on a worker's socket, on a 3-host
// bed (h1 manages, h2 and h3 work): a compose file with two services on the stack's overlay network, a
// file secret and a file config; one service reaches the other by its name in the stack.

async function run (file: string, args: readonly string[], cwd?: string): Promise<{ code: number, stdout: string, stderr: string }> {
  return await new Promise(resolve => {
    execFile(file, args, { timeout: 90_000, encoding: 'utf8', ...(cwd === undefined ? {} : { cwd }) }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr })
    })
  })
}

/** web (on the workers only, published on the routing mesh at `port`, healthy once it serves) and a client, on the stack's own network. */
function compose (replicas: number, withClient: boolean, port: number): string {
  return `version: "3.8"
services:
  web:
    image: ${TEST_IMAGE}
    command: ["sh", "-c", "mkdir -p /www && cat /run/secrets/token /etc/motd > /www/index.html && echo $$GREETING >> /www/index.html && exec httpd -f -p 80 -h /www"]
    stop_signal: SIGKILL
    environment:
      GREETING: hello
    ports: ["${port}:80"]
    healthcheck:
      test: ["CMD-SHELL", "test -f /www/index.html"]
      interval: 1s
      timeout: 1s
      retries: 3
    networks: [front]
    deploy:
      replicas: ${replicas}
      placement:
        constraints: [node.role == worker]
      resources:
        limits: { memory: 64M }
      restart_policy: { condition: any, delay: 1s }
      update_config: { parallelism: 2, delay: 0s, order: start-first }
      rollback_config: { parallelism: 1 }
    secrets: [token]
    configs:
      - source: motd
        target: /etc/motd
${withClient
    ? `  client:
    image: ${TEST_IMAGE}
    command: ["sleep", "3600"]
    stop_signal: SIGKILL
    networks: [front]
`
    : ''}networks:
  front:
    driver: overlay
secrets:
  token:
    file: ./token.txt
configs:
  motd:
    file: ./motd.txt
`
}

describe('docker stack on a worker\'s socket, on 3 hosts with their own engines', () => {
  let bed: TestBed | undefined
  let h1: BedHost, h2: BedHost, h3: BedHost
  let dir = ''

  beforeAll(async () => {
    bed = await TestBed.start({ hosts: 3 })
    await bed.formCluster({ managers: 1 })
    ;[h1, h2, h3] = bed.hosts as [BedHost, BedHost, BedHost]
    dir = mkdtempSync(join(tmpdir(), 'flotilla-stack-'))
    writeFileSync(join(dir, 'token.txt'), 'token-42\n')
    writeFileSync(join(dir, 'motd.txt'), 'welcome\n')
  }, 180_000)

  beforeEach(ctx => { ctx.onTestFailed(() => { if (bed !== undefined) console.log(bed.logs()) }) })

  afterAll(async () => {
    await bed?.teardown()
    if (dir !== '') rmSync(dir, { recursive: true, force: true })
  }, 60_000)

  for (const bin of dockerClis()) {
    const v = bin.includes('local') ? '28' : '20'
    it(`docker ${v}: deploys, re-deploys with changes, prunes and removes a stack; its services reach each other by name`, async () => {
      const stack = `app${v}`
      const port = v === '28' ? 8081 : 8082
      const docker = async (args: readonly string[], via: BedHost = h3): Promise<string> => {
        const r = await run(bin, ['-H', `unix://${via.agent.socket}`, ...args], dir)
        if (r.code !== 0) throw new Error(`docker ${args.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`)
        return r.stdout
      }
      writeFileSync(join(dir, `${stack}.yml`), compose(2, true, port))
      await docker(['stack', 'deploy', '-c', `${stack}.yml`, stack])
      expect(await docker(['stack', 'ls', '--format', '{{.Name}} {{.Services}}'])).toContain(`${stack} 2`)
      await waitFor(`${stack}'s 3 tasks running`, async () => {
        const ps = (await docker(['stack', 'ps', stack, '--filter', 'desired-state=running', '--format', '{{.CurrentState}}'])).trim().split('\n')
        return ps.length === 3 && ps.every(l => l.startsWith('Running'))
      }, 90_000, 250)
      expect(await docker(['stack', 'services', stack, '--format', '{{.Name}} {{.Replicas}}'], h2)).toMatch(new RegExp(`${stack}_web 2/2`))
      expect((await docker(['network', 'ls', '--filter', `label=com.docker.stack.namespace=${stack}`, '--format', '{{.Name}}'])).trim()).toBe(`${stack}_front`)
      // Published on the routing mesh: h1 runs no task of web (workers only) and answers on the port.
      const meshed = await waitFor(`port ${port} on h1`, async () => {
        const r = await run('ip', ['netns', 'exec', h2.netns, 'timeout', '3', '/bin/busybox', 'wget', '-q', '-O', '-', `http://${h1.ip}:${port}/`])
        return r.code === 0 ? r.stdout : undefined
      }, 20_000, 200)
      expect(meshed).toBe('token-42\nwelcome\nhello\n')

      // The client reaches web by its name in the stack, over the stack's network, on whichever host it runs.
      const clientHost = await waitFor('the client container', async () => {
        for (const h of [h1, h2, h3]) {
          const filters = encodeURIComponent(JSON.stringify({ label: [`com.docker.swarm.service.name=${stack}_client`], status: ['running'] }))
          const list = (await callSocket(h.engine.socket, 'GET', `/containers/json?filters=${filters}`, undefined, 10_000)).body as Array<{ Id: string }>
          if (list[0] !== undefined) return { h, id: list[0].Id }
        }
        return undefined
      }, 30_000, 200)
      const fetchWeb = async (): Promise<string | null> => {
        const r = await run('/usr/local/bin/docker', ['-H', `unix://${clientHost.h.engine.socket}`, 'exec', clientHost.id, 'busybox', 'timeout', '3', 'wget', '-q', '-O', '-', 'http://web/'])
        return r.code === 0 ? r.stdout : null
      }
      expect(await waitFor('web by name from the client', fetchWeb, 15_000, 200)).toBe('token-42\nwelcome\nhello\n')

      // Re-deploy with a change: 3 replicas, and without the client (pruned).
      writeFileSync(join(dir, `${stack}.yml`), compose(3, false, port))
      await docker(['stack', 'deploy', '--prune', '-c', `${stack}.yml`, stack])
      await waitFor(`${stack}_web at 3/3 and no client`, async () => {
        const services = (await docker(['stack', 'services', stack, '--format', '{{.Name}} {{.Replicas}}'])).trim()
        if (services !== `${stack}_web 3/3`) throw new Error(`services now: ${services}; tasks: ${await docker(['stack', 'ps', stack, '--no-trunc', '--format', '{{.Name}} {{.CurrentState}} {{.Error}}'])}`)
        return true
      }, 60_000, 250)

      await docker(['stack', 'rm', stack])
      await waitFor(`everything of ${stack} gone`, async () => {
        const left = [
          ...(await docker(['service', 'ls', '-q', '--filter', `label=com.docker.stack.namespace=${stack}`])).trim().split('\n'),
          ...(await docker(['network', 'ls', '-q', '--filter', `label=com.docker.stack.namespace=${stack}`])).trim().split('\n'),
          ...(await docker(['secret', 'ls', '-q', '--filter', `label=com.docker.stack.namespace=${stack}`])).trim().split('\n'),
          ...(await docker(['config', 'ls', '-q', '--filter', `label=com.docker.stack.namespace=${stack}`])).trim().split('\n')
        ].filter(x => x !== '')
        return left.length === 0
      }, 30_000, 250)
      expect(await docker(['stack', 'ls'])).not.toContain(stack)
    }, 240_000)
  }

  it('flotilla stack deploy|ls|services|ps|rm, and secret and config ls, drive the same stack on a worker\'s socket', async () => {
    const stack = 'appfl'
    const flotilla = async (args: readonly string[]): Promise<string> => {
      const r = await h3.agent.cli(args, 90_000)
      if (r.code !== 0) throw new Error(`flotilla ${args.join(' ')} exited ${String(r.code)}: ${r.stderr}${r.stdout}`)
      return r.stdout
    }
    writeFileSync(join(dir, `${stack}.yml`), compose(2, true, 8083))
    await flotilla(['stack', 'deploy', '-c', join(dir, `${stack}.yml`), stack])
    expect(await flotilla(['stack', 'ls'])).toMatch(new RegExp(`${stack}\\s+2`))
    expect(await flotilla(['secret', 'ls'])).toContain(`${stack}_token`)
    expect(await flotilla(['config', 'ls'])).toContain(`${stack}_motd`)
    await waitFor(`${stack}'s services converged`, async () => /appfl_web\s+replicated\s+2\/2/.test(await flotilla(['stack', 'services', stack])), 90_000, 250)
    expect(await flotilla(['stack', 'ps', stack])).toMatch(/appfl_client\.1/)
    await flotilla(['stack', 'rm', stack])
    await waitFor(`${stack} gone`, async () => !(await flotilla(['stack', 'ls'])).includes(stack) && !(await flotilla(['secret', 'ls'])).includes(stack), 30_000, 250)
  }, 240_000)
})
