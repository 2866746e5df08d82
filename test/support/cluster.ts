import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AgentProcess, freePort, waitFor } from './agent-process.js'

export interface ClusterOptions {
  /** How many agents in all; the first inits the cluster. */
  readonly size: number
  /** How many of them join with the manager token (the first is always a manager). */
  readonly managers?: number
  readonly hostnamePrefix?: string
  readonly logLevel?: string
}

/** Real agents on loopback forming one cluster, each with its own port, data dir, socket and hostname. */
export class TestCluster {
  readonly agents: AgentProcess[] = []
  readonly baseDir: string

  private constructor (prefix: string) {
    this.baseDir = mkdtempSync(join(tmpdir(), `flotilla-${prefix}-`))
  }

  /** Create an agent (not started) in this cluster's base dir. */
  async addAgent (hostname: string, logLevel?: string): Promise<AgentProcess> {
    const agent = new AgentProcess({ baseDir: this.baseDir, hostname, port: await freePort(), logLevel })
    this.agents.push(agent)
    return agent
  }

  /** A cluster with no agent yet (add them with `addAgent`). */
  static empty (prefix: string): TestCluster {
    return new TestCluster(prefix)
  }

  /** Start `size` agents: the first with --init, the rest with --join through the first, concurrently. */
  static async start (opts: ClusterOptions): Promise<TestCluster> {
    const prefix = opts.hostnamePrefix ?? 'node'
    const c = new TestCluster(prefix)
    try {
      const first = await c.addAgent(`${prefix}-1`, opts.logLevel)
      await first.start(['--init'])
      const sw = await first.api('GET', '/swarm')
      const managers = opts.managers ?? 1
      const rest: AgentProcess[] = []
      for (let i = 2; i <= opts.size; i++) rest.push(await c.addAgent(`${prefix}-${i}`, opts.logLevel))
      await Promise.all(rest.map(async (a, i) => {
        const token = i + 2 <= managers ? sw.body.JoinTokens.Manager : sw.body.JoinTokens.Worker
        await a.start(['--join', first.addr, '--token', token])
      }))
      return c
    } catch (err) {
      await c.stop()
      throw err
    }
  }

  /** Wait until every running agent lists `count` nodes, all ready. */
  async waitForReady (count: number, timeoutMs = 20_000): Promise<void> {
    await waitFor(`every agent to list ${count} ready nodes`, async () => {
      for (const a of this.agents.filter(x => x.running)) {
        const r = await a.api('GET', '/nodes')
        if (r.status !== 200 || r.body.length !== count || !r.body.every((n: any) => n.Status.State === 'ready')) return false
      }
      return true
    }, timeoutMs)
  }

  /** Each agent's node ID, by hostname, in the order the agents were added. */
  async nodeIds (): Promise<Map<string, string>> {
    const ids = new Map<string, string>()
    for (const a of this.agents) ids.set(a.hostname, (await a.api('GET', '/info')).body.Swarm.NodeID as string)
    return ids
  }

  /** Every agent's log for a failing test: the last 300 lines each, without the per-request debug lines. */
  logs (): string {
    return this.agents.map(a => {
      const lines = a.logs.split('\n').filter(l => !l.includes('DEBUG [control] request'))
      return `===== ${a.hostname} =====\n${lines.slice(-300).join('\n')}`
    }).join('\n')
  }

  async stop (): Promise<void> {
    await Promise.all(this.agents.map(async a => { await a.kill('SIGKILL') }))
    rmSync(this.baseDir, { recursive: true, force: true })
  }
}
