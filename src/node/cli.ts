import { Command, Option } from 'commander'
import { asFlotillaError, formatToken } from '../membership/index.js'
import { currentEnvironment, defaultDataDir, defaultSocket, resolveAgentConfig, type AgentInit } from './config.js'
import { createLogger } from '../membership/index.js'
import { startAgent } from './composition-root.js'
import { CliError, socketPathOf } from './cli/client.js'
import { addSwarmCommands } from './cli/swarm-commands.js'
import { addNodeCommands } from './cli/node-commands.js'
import { addServiceCommands } from './cli/service-commands.js'
import { addNetworkCommands } from './cli/network-commands.js'
import { addConfigCommands, addSecretCommands } from './cli/secret-commands.js'
import { addStackCommands } from './cli/stack-commands.js'

const out = (s: string): void => { process.stdout.write(s) }
const err = (s: string): void => { process.stderr.write(s) }

function fail (e: unknown): never {
  if (e instanceof CliError) {
    err(`Error: ${e.message}\n`)
    if (e.hint !== undefined) err(`Hint: ${e.hint}\n`)
  } else {
    const fe = asFlotillaError(e)
    err(`Error: ${fe.message}\n`)
    if (fe.hint !== undefined) err(`Hint: ${fe.hint}\n`)
  }
  process.exit(1)
}

async function runAgent (init: AgentInit): Promise<void> {
  const config = resolveAgentConfig(init, currentEnvironment())
  const logger = createLogger(config.logLevel, err)
  const running = await startAgent(config, logger, (e: unknown) => {
    const fe = asFlotillaError(e)
    logger.error('agent stopped', { err: fe.message, hint: fe.hint })
    fail(fe)
  })
  const m = running.agent.membership
  out(`flotilla agent running; control socket: ${config.socketPath}\n`)
  out(`  flotilla --host unix://${config.socketPath} node ls\n  docker -H unix://${config.socketPath} node ls\n`)
  if (running.uiUrl !== null) out(`dashboard: ${running.uiUrl}${config.ui?.actions === true ? ' (actions enabled)' : ' (read-only)'}\n`)
  const cluster = running.agent.manager?.store.state.cluster ?? null
  if (m !== null && cluster !== null) {
    out(`To add a worker to this swarm, run on the other host:\n    flotilla agent --join ${m.advertiseAddr} --token ${formatToken(cluster.root.publicKeyDer, cluster.secrets.worker)}\n`)
    out(`To add a manager: the same with --token ${formatToken(cluster.root.publicKeyDer, cluster.secrets.manager)}\n`)
  }
  let stopping = false
  const stop = (signal: string): void => {
    if (stopping) return
    stopping = true
    logger.info('stopping', { signal })
    running.stop().then(() => process.exit(0), (e: unknown) => { logger.error('stop failed', { err: (e as Error).message }); process.exit(1) })
  }
  process.on('SIGTERM', () => { stop('SIGTERM') })
  process.on('SIGINT', () => { stop('SIGINT') })
}

function program (): Command {
  const env = currentEnvironment()
  const p = new Command('flotilla')
    .description('Docker Swarm mode as a peer-to-peer agent: run `flotilla agent` on each host, then drive it like docker.')
    .addOption(new Option('-H, --host <unix://path>', 'the agent\'s control socket').env('FLOTILLA_HOST'))
    .showHelpAfterError()
  const socket = (): string => {
    const h = p.opts<{ host?: string }>().host
    return h === undefined ? defaultSocket(env, defaultDataDir(env)) : socketPathOf(h)
  }
  p.command('agent')
    .description('Run the agent (the daemon); with --init or --join it also creates or joins a cluster')
    .addOption(new Option('--data-dir <dir>', 'node key, certificate and state (default: /var/lib/flotilla as root, else ~/.local/share/flotilla)').env('FLOTILLA_DATA_DIR'))
    .addOption(new Option('--socket <path>', 'control socket (default: /run/flotilla.sock as root, else $XDG_RUNTIME_DIR/flotilla.sock or in the data dir)').env('FLOTILLA_SOCKET'))
    .addOption(new Option('--listen-addr <ip:port>', 'libp2p TCP listen address').default('0.0.0.0:4242').env('FLOTILLA_LISTEN_ADDR'))
    .addOption(new Option('--advertise-addr <ip:port>', 'address peers dial (default: the listen address, or the first non-loopback IPv4)').env('FLOTILLA_ADVERTISE_ADDR'))
    .addOption(new Option('--hostname <name>', 'host name this node reports (default: the machine\'s)').env('FLOTILLA_HOSTNAME'))
    .addOption(new Option('--docker-host <url>', 'Docker engine for the executor (default: $DOCKER_HOST or unix:///var/run/docker.sock)').env('FLOTILLA_DOCKER_HOST'))
    .addOption(new Option('--init', 'create a new cluster with this node as its first manager').env('FLOTILLA_INIT'))
    .addOption(new Option('--join <ip:port>', 'join the cluster of the node at this address').env('FLOTILLA_JOIN'))
    .addOption(new Option('--token <token>', 'join token, with --join').env('FLOTILLA_TOKEN'))
    .addOption(new Option('--log-level <level>', 'debug, info, warn or error').default('info').env('FLOTILLA_LOG_LEVEL'))
    .addOption(new Option('--secrets-dir <dir>', 'where task secrets are written; must be on a tmpfs (default: under /run or /dev/shm)').env('FLOTILLA_SECRETS_DIR'))
    .addOption(new Option('--ui [ip:port]', 'serve the web dashboard and /metrics (default address 127.0.0.1:8420; off unless given)').env('FLOTILLA_UI'))
    .addOption(new Option('--ui-actions', 'let the dashboard scale, update, roll back and drain (read-only otherwise)').env('FLOTILLA_UI_ACTIONS'))
    .action(async (o: AgentInit) => { await runAgent(o) })
  addSwarmCommands(p, socket, out)
  addNodeCommands(p, socket, out)
  addServiceCommands(p, socket, out)
  addNetworkCommands(p, socket, out)
  addSecretCommands(p, socket, out)
  addConfigCommands(p, socket, out)
  addStackCommands(p, socket, out)
  return p
}

program().parseAsync(process.argv).catch(fail)
