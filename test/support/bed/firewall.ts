import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { run, type CommandResult } from './commands.js'
import { BedError } from './errors.js'
import type { BedTools } from './prerequisites.js'

/**
 * The bed's own iptables chains in each host's netns, jumped to first from PREROUTING and OUTPUT of
 * the raw table. Faults add DROP rules only to these. The raw table is one dockerd never touches:
 * fault chains kept in the filter table, beside dockerd's, were seen to vanish in a host's netns
 * (`No chain/target/match`) in about one run in five, with nothing of the bed touching them.
 * PREROUTING also sees packets bound for the host's containers, not only for the host.
 */
export const FAULT_CHAIN_IN = 'FLB-FAULT-IN'
export const FAULT_CHAIN_OUT = 'FLB-FAULT-OUT'

const IPTABLES_TIMEOUT_MS = 10_000
/**
 * iptables on a host's raw table has failed in CI with `No chain/target/match` (the fault chains gone,
 * in about one run in three) and once with `chain … in table raw is incompatible, use 'nft' tool`.
 * The first is real: the raw table printed after it held only its two policies, so something empties a
 * host's raw table, and retries do not bring the chains back (addRule makes them again). Who empties
 * it is not found: 20 s of reads against a loop of iptables-restore commits to filter, nat and mangle
 * (as dockerd and the agent make) failed none. Those messages are tried again a bounded number of
 * times, each try logged, in case a read only overlapped such a change.
 */
const TRANSIENT_IPTABLES = /incompatible|No chain\/target\/match|Resource temporarily unavailable/
const IPTABLES_ATTEMPTS = 5
const IPTABLES_RETRY_MS = 200

/** `iptables -w 5 -t raw …args` in `netns`, tried again on a transient failure (see above). */
async function rawTable (tools: BedTools, netns: string, args: readonly string[], allowFailure = false): Promise<CommandResult> {
  for (let attempt = 1; ; attempt++) {
    const r = await run(tools.ip, ['netns', 'exec', netns, tools.iptables, '-w', '5', '-t', 'raw', ...args], { timeoutMs: IPTABLES_TIMEOUT_MS, allowFailure: true })
    if (r.code === 0) return r
    const message = r.stderr.trim() || r.stdout.trim()
    if (attempt < IPTABLES_ATTEMPTS && TRANSIENT_IPTABLES.test(message)) {
      console.warn(`bed: iptables -t raw ${args.join(' ')} in ${netns} failed (${message}); trying again (${attempt}/${IPTABLES_ATTEMPTS})`)
      await sleep(IPTABLES_RETRY_MS)
      continue
    }
    if (allowFailure) return r
    throw new BedError('bed-command', `ip netns exec ${netns} iptables -t raw ${args.join(' ')} exited with ${r.code ?? 'a signal'}: ${message}`)
  }
}

/** One iptables rule in one netns: `iptables -A chain …spec` to add it, `-D` to remove it. */
export interface FirewallRule {
  readonly netns: string
  readonly chain: typeof FAULT_CHAIN_IN | typeof FAULT_CHAIN_OUT
  readonly spec: readonly string[]
}

/**
 * Create the fault chains in `netns` and hook them first into raw PREROUTING and OUTPUT, by one
 * iptables-restore of a rules file it writes in `scratchDir`.
 */
export async function installFaultChains (tools: BedTools, netns: string, scratchDir: string): Promise<void> {
  const rules = [
    '*raw',
    `:${FAULT_CHAIN_IN} - [0:0]`,
    `:${FAULT_CHAIN_OUT} - [0:0]`,
    `-I PREROUTING 1 -j ${FAULT_CHAIN_IN}`,
    `-I OUTPUT 1 -j ${FAULT_CHAIN_OUT}`,
    'COMMIT',
    ''
  ].join('\n')
  const file = join(scratchDir, 'fault-chains.rules')
  writeFileSync(file, rules)
  await run(tools.ip, ['netns', 'exec', netns, tools.iptablesRestore, '--noflush', file], { timeoutMs: IPTABLES_TIMEOUT_MS })
}

/**
 * Add `rule` (appended to its chain). Should the fault chains still be missing after the tries of
 * `rawTable`, the raw table is printed (to find who removed them), the missing chain is made and
 * hooked again, and the rule added once more: the fault still happens.
 */
export async function addRule (tools: BedTools, rule: FirewallRule): Promise<void> {
  const add = async (): Promise<void> => {
    await rawTable(tools, rule.netns, ['-A', rule.chain, ...rule.spec])
  }
  try {
    await add()
  } catch (err) {
    if (!/No chain/.test((err as Error).message)) throw err
    const raw = await rawTable(tools, rule.netns, ['-S'], true)
    console.warn(`bed: the fault chains of ${rule.netns} were gone; installing them again. Its raw table was:\n${raw.stdout}${raw.stderr}`)
    const ipt = async (args: string[], allowFailure = false): Promise<boolean> => (await rawTable(tools, rule.netns, args, allowFailure)).code === 0
    // Only the missing chain, so that the rules of the other one stay.
    const hook = rule.chain === FAULT_CHAIN_IN ? 'PREROUTING' : 'OUTPUT'
    await ipt(['-N', rule.chain], true)
    if (!await ipt(['-C', hook, '-j', rule.chain], true)) await ipt(['-I', hook, '1', '-j', rule.chain])
    await add()
  }
}

/** Remove `rule`; a rule (or netns) that is already gone is not an error. */
export async function removeRule (tools: BedTools, rule: FirewallRule): Promise<void> {
  await rawTable(tools, rule.netns, ['-D', rule.chain, ...rule.spec], true)
}

/** The rules of both fault chains in `netns`, as `iptables -S` prints them (for tests and diagnostics). */
export async function listFaultRules (tools: BedTools, netns: string): Promise<string[]> {
  const lines: string[] = []
  for (const chain of [FAULT_CHAIN_IN, FAULT_CHAIN_OUT]) {
    const out = await rawTable(tools, netns, ['-S', chain])
    lines.push(...out.stdout.split('\n').filter(l => l.startsWith('-A ')))
  }
  return lines
}
