import { run, runSync } from './commands.js'
import type { BedTools } from './prerequisites.js'
import type { RunNames } from './names.js'

/** One host's place on the bed's network. */
export interface HostLink {
  /** The host's netns (`ip netns` name). */
  readonly netns: string
  /** The host's end of its veth, inside its netns; the other end is on the bridge. */
  readonly veth: string
  /** The host's IPv4 address on the bed's /24. */
  readonly ip: string
}

const STEP_TIMEOUT_MS = 10_000

/**
 * A /24 for the run's hosts, `10.213.X.0/24` with X random, that overlaps no address or route of the
 * root namespace (the default route aside: the subnet lives only inside the bed's namespaces, so the
 * machine's own traffic never meets it). Returns the first three octets, e.g. `10.213.57`.
 */
export async function pickSubnet (tools: BedTools): Promise<string> {
  const routes = (await run(tools.ip, ['-4', '-o', 'route', 'show', 'table', 'all'], { timeoutMs: STEP_TIMEOUT_MS })).stdout
  const addrs = (await run(tools.ip, ['-4', '-o', 'addr', 'show'], { timeoutMs: STEP_TIMEOUT_MS })).stdout
  const taken: Array<[number, number]> = []
  for (const m of `${routes}\n${addrs}`.matchAll(/(?:^|\s)(\d+\.\d+\.\d+\.\d+)(?:\/(\d+))?/gm)) {
    const prefix = m[2] === undefined ? 32 : Number(m[2])
    taken.push([ipToInt(m[1]!), prefix])
  }
  const start = Math.floor(Math.random() * 256)
  for (let k = 0; k < 256; k++) {
    const x = (start + k) % 256
    const net = ipToInt(`10.213.${x}.0`)
    if (taken.every(([addr, prefix]) => !overlaps(net, 24, addr, prefix))) return `10.213.${x}`
  }
  throw new Error('every 10.213.X.0/24 overlaps an address or route of this machine')
}

function ipToInt (ip: string): number {
  return ip.split('.').reduce((acc, o) => acc * 256 + Number(o), 0)
}

function overlaps (a: number, aPrefix: number, b: number, bPrefix: number): boolean {
  const prefix = Math.min(aPrefix, bPrefix)
  if (prefix === 0) return false // a default route, not an overlap
  const mask = prefix === 32 ? 0xffffffff : (0xffffffff << (32 - prefix)) >>> 0
  return ((a & mask) >>> 0) === ((b & mask) >>> 0)
}

/** Create the bridge's own netns (not the root one, whose FORWARD policy a running dockerd sets to DROP) and the bridge in it. */
export async function createBridge (tools: BedTools, names: RunNames): Promise<void> {
  await run(tools.ip, ['netns', 'add', names.bridgeNetns], { timeoutMs: STEP_TIMEOUT_MS })
  await run(tools.ip, ['-n', names.bridgeNetns, 'link', 'set', 'lo', 'up'], { timeoutMs: STEP_TIMEOUT_MS })
  await run(tools.ip, ['-n', names.bridgeNetns, 'link', 'add', names.bridge, 'type', 'bridge'], { timeoutMs: STEP_TIMEOUT_MS })
  await run(tools.ip, ['-n', names.bridgeNetns, 'link', 'set', names.bridge, 'up'], { timeoutMs: STEP_TIMEOUT_MS })
}

/**
 * Create host i's netns with loopback up and one veth to the bridge, its address `<subnet>.<i>/24`. The veth is created with both
 * ends already in their namespaces, so no name of the run ever appears in the root namespace.
 */
export async function createHost (tools: BedTools, names: RunNames, subnet: string, i: number): Promise<HostLink> {
  const link: HostLink = { netns: names.hostNetns(i), veth: names.hostVeth(i), ip: `${subnet}.${i}` }
  const ip = async (...args: string[]): Promise<void> => { await run(tools.ip, args, { timeoutMs: STEP_TIMEOUT_MS }) }
  await ip('netns', 'add', link.netns)
  await ip('-n', link.netns, 'link', 'set', 'lo', 'up')
  await ip('link', 'add', link.veth, 'netns', link.netns, 'type', 'veth', 'peer', 'name', names.bridgeVeth(i), 'netns', names.bridgeNetns)
  await ip('-n', link.netns, 'addr', 'add', `${link.ip}/24`, 'dev', link.veth)
  await ip('-n', link.netns, 'link', 'set', link.veth, 'up')
  await ip('-n', names.bridgeNetns, 'link', 'set', names.bridgeVeth(i), 'master', names.bridge, 'up')
  return link
}

/** The netns names that exist now (`ip netns list`) and match `pattern`. */
export function listBedNetns (tools: Pick<BedTools, 'ip'>, pattern: RegExp): string[] {
  const out = runSync(tools.ip, ['netns', 'list']).stdout
  return out.split('\n').map(l => l.trim().split(/\s+/)[0] ?? '').filter(n => pattern.test(n))
}

/** The pids of processes in a netns (`ip netns pids`); empty when it does not exist. */
export function netnsPids (tools: Pick<BedTools, 'ip'>, netns: string): number[] {
  return runSync(tools.ip, ['netns', 'pids', netns]).stdout.split(/\s+/).filter(s => s !== '').map(Number)
}

/** Delete a netns (idempotent). Its veth ends and iptables rules go with it once no process is left in it. */
export function deleteNetnsSync (tools: Pick<BedTools, 'ip'>, netns: string): void {
  runSync(tools.ip, ['netns', 'del', netns])
}
