import type { Command } from 'commander'
import { call, CliError } from './client.js'

type Out = (s: string) => void
interface Swarm { JoinTokens: { Worker: string, Manager: string }, Version: { Index: number }, Spec: unknown }
interface Info { Swarm: { NodeID: string, ControlAvailable: boolean } }
interface NodeObj { ManagerStatus?: { Addr: string } }

async function managerAddr (socket: string, nodeId: string): Promise<string> {
  const node = (await call(socket, 'GET', `/nodes/${nodeId}`)).body as NodeObj
  return node.ManagerStatus?.Addr ?? ''
}

function joinInstructions (role: 'worker' | 'manager', token: string, addr: string): string {
  return `To add a ${role} to this swarm, run the following command:\n\n    flotilla swarm join --token ${token} ${addr}\n\n`
}

function roleArg (v: string): 'worker' | 'manager' {
  if (v !== 'worker' && v !== 'manager') throw new CliError(`unknown role ${v}`, 'use `worker` or `manager`')
  return v
}

/** `flotilla swarm init|join|join-token|leave`, with docker's output. */
export function addSwarmCommands (program: Command, socket: () => string, out: Out): void {
  const swarm = program.command('swarm').description('Manage the swarm (cluster)')

  swarm.command('init')
    .description('Initialize a swarm: this node becomes its first manager')
    .option('--listen-addr <ip:port>', 'listen address for libp2p (default: the agent\'s --listen-addr)')
    .option('--advertise-addr <ip:port>', 'address other nodes dial (default: the agent\'s --advertise-addr)')
    .option('--force-new-cluster', 'on a manager whose cluster lost quorum for good: restart the cluster from this manager\'s state, as its only manager')
    .action(async (o: { listenAddr?: string, advertiseAddr?: string, forceNewCluster?: boolean }) => {
      const s = socket()
      const nodeId = (await call(s, 'POST', '/swarm/init', {
        ListenAddr: o.listenAddr ?? '', AdvertiseAddr: o.advertiseAddr ?? '', ForceNewCluster: o.forceNewCluster === true, Spec: {}
      })).body as string
      const sw = (await call(s, 'GET', '/swarm')).body as Swarm
      out(`Swarm initialized: current node (${nodeId}) is now a manager.\n\n`)
      out(joinInstructions('worker', sw.JoinTokens.Worker, await managerAddr(s, nodeId)))
      out('To add a manager to this swarm, run \'flotilla swarm join-token manager\' and follow the instructions.\n\n')
    })

  swarm.command('join')
    .description('Join a swarm as a worker or a manager, as the token decides')
    .requiredOption('--token <token>', 'join token (from `flotilla swarm join-token` on a manager)')
    .option('--listen-addr <ip:port>', 'listen address for libp2p')
    .option('--advertise-addr <ip:port>', 'address other nodes dial')
    .argument('<host:port>', 'address of a manager')
    .action(async (addr: string, o: { token: string, listenAddr?: string, advertiseAddr?: string }) => {
      const s = socket()
      await call(s, 'POST', '/swarm/join', { ListenAddr: o.listenAddr ?? '', AdvertiseAddr: o.advertiseAddr ?? '', RemoteAddrs: [addr], JoinToken: o.token })
      const info = (await call(s, 'GET', '/info')).body as Info
      const self = (await call(s, 'GET', `/nodes/${info.Swarm.NodeID}`)).body as { Spec: { Role: string } }
      out(`This node joined a swarm as a ${self.Spec.Role}.\n`)
    })

  swarm.command('join-token')
    .description('Print (or rotate) the join token of a role')
    .option('-q, --quiet', 'print the token only')
    .option('--rotate', 'replace the token: the old one admits no one from now on')
    .argument('<worker|manager>', 'role')
    .action(async (roleText: string, o: { quiet?: boolean, rotate?: boolean }) => {
      const role = roleArg(roleText)
      const s = socket()
      let sw = (await call(s, 'GET', '/swarm')).body as Swarm
      if (o.rotate === true) {
        const q = role === 'worker' ? 'rotateWorkerToken=true' : 'rotateManagerToken=true'
        await call(s, 'POST', `/swarm/update?version=${sw.Version.Index}&${q}`, sw.Spec)
        sw = (await call(s, 'GET', '/swarm')).body as Swarm
        if (o.quiet !== true) out(`Successfully rotated ${role} join token.\n\n`)
      }
      const token = role === 'worker' ? sw.JoinTokens.Worker : sw.JoinTokens.Manager
      if (o.quiet === true) {
        out(`${token}\n`)
        return
      }
      const info = (await call(s, 'GET', '/info')).body as Info
      out(joinInstructions(role, token, await managerAddr(s, info.Swarm.NodeID)))
    })

  swarm.command('leave')
    .description('Leave the swarm')
    .option('-f, --force', 'leave even as a manager (the last manager leaving erases the swarm)')
    .action(async (o: { force?: boolean }) => {
      await call(socket(), 'POST', `/swarm/leave${o.force === true ? '?force=1' : ''}`)
      out('Node left the swarm.\n')
    })
}
