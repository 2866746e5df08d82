/**
 * flotilla agents sharing the benchmarks' engine (1 manager + size − 1 workers), the counterpart of
 * SwarmMode: `start` runs them and waits until all are ready, recording their node IDs and the cluster in
 * `live` (stopped on SIGINT); `stop` stops them and removes their task containers; `manager()` is the
 * first agent, or an AgentDiedError with its log when it has exited.
 */
import type Docker from 'dockerode'
import type { AgentProcess } from '../test/support/agent-process.js'
import { TestCluster } from '../test/support/cluster.js'
import { NODE_LABEL, removeContainers } from '../test/support/services.js'
import { AgentDiedError, type Live } from './support.js'

export class FlotillaAgents {
  private cluster: TestCluster | null = null
  private nodeIds: string[] = []

  constructor (private readonly docker: Docker, private readonly size: number, private readonly hostnamePrefix: string, private readonly live: Live) {}

  async start (): Promise<void> {
    const cluster = await TestCluster.start({ size: this.size, managers: 1, hostnamePrefix: this.hostnamePrefix, logLevel: 'info' })
    this.cluster = cluster
    this.live.cluster = cluster
    await cluster.waitForReady(this.size, 30_000)
    this.nodeIds = await Promise.all(cluster.agents.map(async a => ((await a.api('GET', '/info')).body as { Swarm: { NodeID: string } }).Swarm.NodeID))
  }

  async stop (): Promise<void> {
    await this.cluster?.stop()
    this.live.cluster = null
    for (const id of this.nodeIds) await removeContainers(this.docker, [`${NODE_LABEL}=${id}`])
  }

  manager (): AgentProcess {
    const a = this.cluster?.agents[0]
    if (a === undefined) throw new Error('the flotilla agents are not started')
    if (!a.running) throw new AgentDiedError(`agent ${a.hostname} exited:\n${a.logs.slice(-4000)}`)
    return a
  }
}
