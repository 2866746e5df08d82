import type { Server } from 'node:http'
import { join } from 'node:path'
import type { Logger } from '../membership/index.js'
import { DockerExecutor, serveDispatch } from '../tasks/index.js'
import { Agent } from './agent.js'
import type { AgentConfig } from './config.js'
import { controlApi } from './control/api.js'
import { listenControlSocket, type ApiHandler } from './control/http-server.js'
import { serveForwardedCalls } from './control/forward.js'
import { serveLogs } from './control/logs-protocol.js'
import { ManagerEvents } from './events/manager-events.js'
import { serveEvents } from './events/protocol.js'

/** A running agent and its control socket, built by `startAgent`, ended by `stop`. */
export interface RunningAgent {
  readonly agent: Agent
  stop(): Promise<void>
}

/**
 * The composition root: the executor for the node's engine, the agent, then the control socket. The
 * socket opens after the agent has resumed or inited; a `--join` may still be retrying then (the
 * socket reports LocalNodeState "pending").
 */
export async function startAgent (config: AgentConfig, logger: Logger, onFatal: (err: unknown) => void): Promise<RunningAgent> {
  // The data plane keeps its files (each task's hosts file) next to the node's state.
  const executor = new DockerExecutor(config.dockerHost, { stateDir: join(config.dataDir, 'overlay'), logger: logger.child('overlay') }, {
    secretsDir: config.secretsDir,
    configsDir: join(config.dataDir, 'configs')
  })
  // The API serves calls forwarded from other nodes on every membership the agent starts.
  let api: ApiHandler | null = null
  const events = new ManagerEvents({ onFailure: onFatal })
  const nowNs = (): bigint => BigInt(Date.now()) * 1_000_000n
  const agent = new Agent(config, {
    logger,
    executor,
    now: () => Date.now(),
    onFatal,
    onMembership: async m => {
      await serveForwardedCalls(m, async req => await api!(req))
      await serveLogs(m, executor)
      await serveEvents(m, () => events.local(), nowNs)
      await serveDispatch(m, () => {
        const dispatcher = agent.dispatcher
        return dispatcher !== null ? { dispatcher } : { leaderId: agent.manager?.leaderId ?? m.leaderHint() }
      })
    },
    onManager: mgr => { events.follow(mgr) },
    removeNode: async id => {
      const res = await api!({ method: 'DELETE', path: `/nodes/${id}`, query: new URLSearchParams('force=true'), body: Buffer.alloc(0), headers: {} })
      if (res.status >= 300) throw new Error((res.json as { message?: string } | undefined)?.message ?? `status ${res.status}`)
    }
  })
  api = controlApi(agent, { local: () => events.local(), logger, nowNs })
  await agent.start()
  let server: Server
  try {
    server = await listenControlSocket(config.socketPath, api, logger)
  } catch (err) {
    await agent.stop()
    throw err
  }
  logger.child('control').info('control socket ready', { socket: config.socketPath })
  return {
    agent,
    async stop () {
      await new Promise<void>(resolve => { server.close(() => { resolve() }); server.closeAllConnections() })
      await agent.stop()
    }
  }
}
