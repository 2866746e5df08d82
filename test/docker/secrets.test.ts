import { readdirSync, readFileSync, statSync, statfsSync, writeFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { runCommand, waitFor, type AgentProcess } from '../support/agent-process.js'
import { TestCluster } from '../support/cluster.js'
import { dockerClis, requireEngine, ENGINE_SOCKET } from '../support/docker-engine.js'
import { SERVICE_LABEL, engine, taskContainers } from '../support/services.js'
import { TEST_IMAGE, ensureTestImage } from '../support/test-image.js'

// Secrets and configs through both stock docker CLIs on a worker's socket: 3 managers and a worker
// sharing this machine's engine. The plaintext must reach the task's file and nowhere on disk.

const TMPFS_MAGIC = 0x01021994

/** Every regular file under `dir` (symlinks and sockets skipped). */
function filesUnder (dir: string): string[] {
  const out: string[] = []
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) out.push(...filesUnder(p))
    else if (e.isFile()) out.push(p)
  }
  return out
}

describe('secrets and configs through the docker CLI on a worker (3 managers + 1 worker, one engine)', () => {
  let cluster: TestCluster
  let worker: AgentProcess
  const docker = engine()

  const cli = async (bin: string, args: readonly string[], input?: string): Promise<string> => {
    const file = join(cluster.baseDir, 'stdin')
    writeFileSync(file, input ?? '')
    const r = await runCommand('sh', ['-c', `"$0" "$@" < ${file}`, bin, '-H', `unix://${worker.socket}`, ...args], 60_000)
    if (r.code !== 0) throw new Error(`${bin} ${args.join(' ')} exited ${String(r.code)}: ${r.stderr}${r.stdout}`)
    return r.stdout
  }
  const execIn = async (container: string, cmd: readonly string[]): Promise<string> => {
    const r = await runCommand('/usr/local/bin/docker', ['-H', `unix://${ENGINE_SOCKET}`, 'exec', container, ...cmd], 20_000)
    if (r.code !== 0) throw new Error(`exec ${cmd.join(' ')}: ${r.stderr}`)
    return r.stdout
  }
  const containerOf = async (service: string): Promise<{ id: string, mounts: Array<{ Source: string, Destination: string }> }> => {
    const found = await waitFor(`a running container of ${service}`, async () => {
      const cs = (await taskContainers(docker, [`${SERVICE_LABEL}=${service}`], true))
      return cs.length === 1 ? cs[0] : undefined
    }, 60_000, 200)
    const info = await docker.getContainer(found.id).inspect()
    return { id: found.id, mounts: info.Mounts.map(m => ({ Source: m.Source, Destination: m.Destination })) }
  }

  beforeAll(async () => {
    await requireEngine()
    await ensureTestImage()
    cluster = await TestCluster.start({ size: 4, managers: 3, hostnamePrefix: 'sec' })
    worker = cluster.agents[3]!
    await cluster.waitForReady(4, 30_000)
  }, 120_000)

  beforeEach(({ onTestFailed }) => { onTestFailed(() => { console.log(cluster.logs()) }) })

  afterAll(async () => {
    await cluster?.stop()
  }, 60_000)

  for (const bin of dockerClis()) {
    const v = bin.includes('local') ? '28' : '20'
    it(`docker ${v}: a secret and a config reach the task's files, the secret from a tmpfs and from nowhere on disk; in use, they stay`, async () => {
      const plain = `s3cr3t-${v}-${Date.now()}`
      const pw = `pw${v}`
      const conf = `app${v}.conf`
      await cli(bin, ['secret', 'create', '--label', 'app=shop', pw, '-'], plain)
      await cli(bin, ['config', 'create', conf, '-'], 'listen 8080\n')
      expect(await cli(bin, ['secret', 'ls', '--format', '{{.Name}}'])).toContain(pw)
      const inspected = await cli(bin, ['secret', 'inspect', pw])
      expect(inspected).toContain('"app": "shop"')
      expect(inspected).not.toContain(Buffer.from(plain).toString('base64'))
      expect(inspected).not.toContain(plain)

      const svc = `sec${v}`
      await cli(bin, ['service', 'create', '--detach', '--name', svc, '--stop-signal', 'KILL',
        '--secret', `source=${pw},target=password,mode=0400`, '--config', `source=${conf},target=/etc/app.conf`, TEST_IMAGE, 'sleep', '3600'])
      const c = await containerOf(svc)
      expect(await execIn(c.id, ['cat', '/run/secrets/password'])).toBe(plain)
      expect((await execIn(c.id, ['busybox', 'stat', '-c', '%a %u', '/run/secrets/password'])).trim()).toBe('400 0')
      expect(await execIn(c.id, ['cat', '/etc/app.conf'])).toBe('listen 8080\n')
      const secretFile = c.mounts.find(m => m.Destination === '/run/secrets/password')!.Source
      expect(statfsSync(secretFile).type).toBe(TMPFS_MAGIC)

      // No manager's data dir (WAL, snapshots, keys) and no agent's holds the plaintext.
      for (const a of cluster.agents) {
        for (const f of filesUnder(a.dataDir)) {
          if (statSync(f).size > 64 * 2 ** 20) continue
          expect(readFileSync(f).includes(Buffer.from(plain)), `${f} holds the secret`).toBe(false)
        }
      }

      await expect(cli(bin, ['secret', 'rm', pw])).rejects.toThrow(new RegExp(`secret '${pw}' is in use by the following service: ${svc}`))
      await expect(cli(bin, ['config', 'rm', conf])).rejects.toThrow(/is in use by the following service/)

      // A new secret in place of the old one rolls the task.
      const plain2 = `${plain}-rotated`
      await cli(bin, ['secret', 'create', `${pw}b`, '-'], plain2)
      await cli(bin, ['service', 'update', '--detach', '--secret-rm', pw, '--secret-add', `source=${pw}b,target=password`, svc])
      await waitFor('the task rolled to the new secret', async () => {
        const now = await containerOf(svc)
        return now.id !== c.id && await execIn(now.id, ['cat', '/run/secrets/password']) === plain2
      }, 60_000, 250)
      // The replaced task's container stays as history, stopped; its secret left the node when it stopped.
      expect((await docker.getContainer(c.id).inspect()).State.Running).toBe(false)
      await waitFor('the stopped task\'s secret file gone', () => !existsSync(secretFile), 10_000, 100)
      await cli(bin, ['service', 'rm', svc])
      await waitFor('the service\'s containers gone', async () => (await taskContainers(docker, [`${SERVICE_LABEL}=${svc}`], false)).length === 0, 30_000, 200)
      await cli(bin, ['secret', 'rm', pw, `${pw}b`])
      await cli(bin, ['config', 'rm', conf])
      expect(await cli(bin, ['secret', 'ls', '--format', '{{.Name}}'])).not.toContain(pw)
    }, 180_000)
  }

  it('refuses a malformed secret with a clear error and stores nothing', async () => {
    const bin = '/usr/local/bin/docker'
    await expect(cli(bin, ['secret', 'create', 'bad/name', '-'], 'x')).rejects.toThrow(/invalid name "bad\/name"/)
    await expect(cli(bin, ['secret', 'create', 'big', '-'], 'x'.repeat(600 * 1024))).rejects.toThrow(/less than 512000 bytes/)
    await expect(cli(bin, ['service', 'create', '--detach', '--secret', 'nope', TEST_IMAGE, 'sleep', '1'])).rejects.toThrow(/secret not found: nope/)
    expect(await cli(bin, ['secret', 'ls', '-q'])).toBe('')
  })

  it('wipes the secrets of a node removed from the cluster', async () => {
    const bin = '/usr/local/bin/docker'
    await cli(bin, ['secret', 'create', 'removal', '-'], 'gone-with-the-node')
    const nodeId = (await worker.api('GET', '/info')).body.Swarm.NodeID as string
    await cli(bin, ['service', 'create', '--detach', '--name', 'onworker', '--stop-signal', 'KILL', '--constraint', `node.id==${nodeId}`, '--secret', 'removal', TEST_IMAGE, 'sleep', '3600'])
    const c = await containerOf('onworker')
    const file = c.mounts.find(m => m.Destination === '/run/secrets/removal')!.Source
    const secretsDir = join(file, '..', '..')
    expect(existsSync(file)).toBe(true)
    const manager = cluster.agents[0]!
    const rm = await runCommand(bin, ['-H', `unix://${manager.socket}`, 'node', 'rm', '--force', nodeId], 30_000)
    expect(rm.code, rm.stderr).toBe(0)
    await waitFor('the removed node\'s secrets dir gone', () => !existsSync(secretsDir), 30_000, 200)
  }, 120_000)
})
