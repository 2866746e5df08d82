import type { Server } from 'node:http'
import { hostname as osHostname } from 'node:os'
import { join } from 'node:path'
import type { Logger } from '../membership/index.js'
import { DockerExecutor, serveDispatch } from '../tasks/index.js'
import { Agent } from './agent.js'
import type { AgentConfig } from './config.js'
import { controlApi } from './control/api.js'
import { listenControlSocket, type ApiHandler } from './control/http-server.js'
import { serveForwardedCalls } from './control/forward.js'
import { serveLogs } from './control/logs-protocol.js'
import { unversioned } from './control/router.js'
import { ManagerEvents } from './events/manager-events.js'
import { serveEvents } from './events/protocol.js'
import { AgentMetrics } from './metrics/agent-metrics.js'
import { startUi, type UiServer } from './ui/ui-server.js'

/** A running agent and its control socket, built by `startAgent`, ended by `stop`. */
export interface RunningAgent {
  readonly agent: Agent
  /** The dashboard's address (`--ui`), or null when it is off. */
  readonly uiUrl: string | null
  stop(): Promise<void>
}

/**
 * The composition root: the metrics, the executor for the node's engine, the agent, then the control
 * socket and (with `--ui`) the dashboard. The socket opens after the agent has resumed or inited; a
 * `--join` may still be retrying then (the socket reports LocalNodeState "pending").
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
  const metrics = new AgentMetrics({ membership: () => agent.membership, manager: () => agent.manager, nowMs: () => Date.now() })
  const agent: Agent = new Agent(config, {
    logger,
    executor,
    now: () => Date.now(),
    onFatal,
    onMembership: async m => {
      metrics.followMembership(m)
      await serveForwardedCalls(m, async req => await api!(req), logger.child('forward'))
      await serveLogs(m, executor)
      await serveEvents(m, () => events.local(), nowNs)
      await serveDispatch(m, () => {
        const dispatcher = agent.dispatcher
        return dispatcher !== null ? { dispatcher } : { leaderId: agent.manager?.leaderId ?? m.leaderHint() }
      })
    },
    onManager: mgr => {
      events.follow(mgr)
      metrics.followManager(mgr)
    },
    observe: { raft: metrics.raftObserver, leaderCommitted: (cmd, mgr) => { metrics.leaderCommitted(cmd, mgr) } },
    removeNode: async id => {
      const res = await api!({ method: 'DELETE', path: `/nodes/${id}`, query: new URLSearchParams('force=true'), body: Buffer.alloc(0), headers: {} })
      if (res.status >= 300) throw new Error((res.json as { message?: string } | undefined)?.message ?? `status ${res.status}`)
    }
  })
  const control = controlApi(agent, { local: () => events.local(), logger, nowNs })
  api = control.handle
  const exposition = async (): Promise<{ contentType: string, text: string }> => await metrics.exposition()
  // The socket's own requests are counted (not the calls forwarded from other nodes, nor the dashboard's
  // in-process reads); `GET /metrics` is answered here, never forwarded.
  const socketHandler: ApiHandler = async req => {
    const started = performance.now()
    const isMetrics = req.method === 'GET' && unversioned(req.path) === '/metrics'
    const res = isMetrics
      ? await exposition().then(m => ({ status: 200, text: m.text, headers: { 'Content-Type': m.contentType } }))
      : await control.handle(req)
    metrics.observeRequest('socket', req.method, isMetrics ? '/metrics' : control.routeOf(req.method, req.path), res.status, (performance.now() - started) / 1000)
    return res
  }
  await agent.start()
  let server: Server | null = null
  let ui: UiServer | null = null
  try {
    server = await listenControlSocket(config.socketPath, socketHandler, logger)
    if (config.ui !== null) {
      ui = await startUi({
        listen: config.ui.listen,
        actions: config.ui.actions,
        api: control.handle,
        self: () => ({ nodeId: agent.membership?.nodeId ?? '', hostname: config.hostname, role: agent.membership?.role ?? '' }),
        hostnames: [config.hostname, osHostname()],
        metrics: exposition,
        observe: (method, route, status, seconds) => { metrics.observeRequest('ui', method, route, status, seconds) },
        logger
      })
    }
  } catch (err) {
    if (server !== null) await closeServer(server)
    await agent.stop()
    throw err
  }
  logger.child('control').info('control socket ready', { socket: config.socketPath })
  const socket = server
  return {
    agent,
    uiUrl: ui?.url ?? null,
    async stop () {
      await ui?.stop()
      await closeServer(socket)
      await agent.stop()
    }
  }
}

async function closeServer (server: Server): Promise<void> {
  await new Promise<void>(resolve => { server.close(() => { resolve() }); server.closeAllConnections() })
}
