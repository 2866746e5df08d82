/**
 * Docker's own swarm mode on the benchmarks' engine, the figure flotilla is compared with: `start`
 * makes a one-node swarm (`swarm init --advertise-addr 127.0.0.1`) and refuses an engine already in
 * swarm mode (someone else's swarm, never left by a bench); `stop` always leaves the swarm it made,
 * removes its task containers, and the docker_gwbridge network if the bench's init made it.
 */
import type Docker from 'dockerode'
import { NODE_LABEL, removeContainers } from '../test/support/services.js'
import { progress } from './support.js'

const GWBRIDGE = 'docker_gwbridge'

export class SwarmMode {
  private nodeId = ''
  private initialised = false
  private hadGwBridge = false

  constructor (private readonly docker: Docker) {}

  async start (): Promise<void> {
    const info = await this.docker.info() as { Swarm: { LocalNodeState: string } }
    if (info.Swarm.LocalNodeState !== 'inactive') {
      throw new Error(`the engine is already in swarm mode (${info.Swarm.LocalNodeState}): leave it first (docker swarm leave --force) if it is not in use`)
    }
    this.hadGwBridge = (await this.docker.listNetworks({ filters: { name: [GWBRIDGE] } })).some(n => n.Name === GWBRIDGE)
    await this.docker.swarmInit({ ListenAddr: '127.0.0.1:2377', AdvertiseAddr: '127.0.0.1' })
    this.initialised = true
    this.nodeId = ((await this.docker.info()) as { Swarm: { NodeID: string } }).Swarm.NodeID
  }

  async stop (): Promise<void> {
    if (!this.initialised) return
    this.initialised = false
    try {
      await this.docker.swarmLeave({ force: true })
    } finally {
      if (this.nodeId !== '') await removeContainers(this.docker, [`${NODE_LABEL}=${this.nodeId}`])
      // swarm init makes the docker_gwbridge network and leave keeps it.
      if (!this.hadGwBridge) await this.docker.getNetwork(GWBRIDGE).remove().catch((err: unknown) => { progress(`could not remove ${GWBRIDGE}: ${(err as Error).message}`) })
    }
  }
}
