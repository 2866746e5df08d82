import { CHAIN_PREFIX } from './names.js'

/**
 * Rule sets and the `iptables-restore --noflush` input that brings a network namespace in line with one,
 * pure. The data plane owns every chain whose name starts with `FLOTILLA-` and rewrites each whole
 * (kube-proxy's iptables mode does the same with `KUBE-`): a chain the input declares is flushed under
 * --noflush, then refilled, and each table block commits atomically. Into chains it does not own
 * (OUTPUT, PREROUTING, DOCKER-USER…) it adds only jumps to its own, each kept exactly once; it finds
 * them, and stale chains of its own, in what `iptables-save` prints.
 */

/** The tables the data plane writes. */
export type Table = 'nat' | 'filter'
export const TABLES: readonly Table[] = ['filter', 'nat']

/** A jump from a chain the data plane does not own into one it does. */
export interface Jump {
  readonly chain: string
  /** The rule after `-A <chain> `, exactly as `iptables-save` prints it (it is matched as text). */
  readonly rule: string
}

/** What the data plane wants in one table. */
export interface TableRules {
  /** Owned chains (names start with CHAIN_PREFIX), in order, each with its rules after `-A <name> `. */
  readonly chains: ReadonlyArray<{ readonly name: string, readonly rules: readonly string[] }>
  /** Each present exactly once, inserted at the head of its chain when missing. */
  readonly jumps: readonly Jump[]
  /** Chains of others that must exist (created empty when missing, never flushed): DOCKER-USER. */
  readonly ensureChains: readonly string[]
}

/** A whole rule set: what one network namespace should hold of the data plane's rules. */
export type RuleSet = Readonly<Record<Table, TableRules>>

/** A rule set with nothing in it: applying it removes every owned chain and every jump to one. */
export const EMPTY_RULES: RuleSet = {
  filter: { chains: [], jumps: [], ensureChains: [] },
  nat: { chains: [], jumps: [], ensureChains: [] }
}

/** What `iptables-save` shows of one table: its chains and its rules (`-A CHAIN …` lines). */
export interface SavedTable {
  readonly chains: ReadonlySet<string>
  readonly rules: readonly string[]
}

/** Every table `iptables-save` printed, by name. */
export type SavedTables = ReadonlyMap<string, SavedTable>

/** Parse `iptables-save` output: per `*table` block, its `:CHAIN` declarations and `-A` rules. */
export function parseIptablesSave (text: string): SavedTables {
  const tables = new Map<string, { chains: Set<string>, rules: string[] }>()
  let current: { chains: Set<string>, rules: string[] } | undefined
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line.startsWith('*')) {
      current = { chains: new Set(), rules: [] }
      tables.set(line.slice(1), current)
    } else if (current === undefined || line === '' || line.startsWith('#')) {
      continue
    } else if (line.startsWith(':')) {
      const name = line.slice(1).split(/\s+/)[0]
      if (name !== undefined && name !== '') current.chains.add(name)
    } else if (line.startsWith('-A ')) {
      current.rules.push(line)
    } else if (line === 'COMMIT') {
      current = undefined
    }
  }
  return tables
}

/** Whether a chain name is the data plane's. */
export function isOwnedChain (name: string): boolean {
  return name.startsWith(CHAIN_PREFIX)
}

/** The chain a saved `-A CHAIN …` rule is in, and its target after `-j`. */
function splitRule (line: string): { chain: string, spec: string, target: string | undefined } {
  const rest = line.slice(3)
  const space = rest.indexOf(' ')
  const chain = space < 0 ? rest : rest.slice(0, space)
  const spec = space < 0 ? '' : rest.slice(space + 1)
  const target = / -j (\S+)/.exec(` ${spec}`)?.[1]
  return { chain, spec, target }
}

/**
 * The `iptables-restore --noflush` input that turns `current` into `desired`, or '' when there is nothing
 * to write. Per table, in this order: stale jumps (to owned chains, from chains not owned, not wanted,
 * or wanted but present more than once) deleted by their saved text; missing `ensureChains` created;
 * every wanted owned chain declared (so flushed) and every stale owned chain too; wanted jumps that are
 * missing inserted at their chain's head; the wanted chains' rules appended; stale owned chains
 * deleted (`-X`, after the flush emptied them and the jumps to them went). A table is written only when
 * it wants something or holds something of the data plane's.
 */
export function renderRestore (current: SavedTables, desired: RuleSet): string {
  const blocks: string[] = []
  for (const table of TABLES) {
    const want = desired[table]
    const saved = current.get(table) ?? { chains: new Set<string>(), rules: [] }
    const wantedChains = new Set(want.chains.map(c => c.name))
    const staleChains = [...saved.chains].filter(c => isOwnedChain(c) && !wantedChains.has(c)).sort()
    const remaining = new Map<string, number>()
    for (const j of want.jumps) remaining.set(`${j.chain} ${j.rule}`, 1)
    const deletes: string[] = []
    for (const line of saved.rules) {
      const { chain, spec, target } = splitRule(line)
      if (isOwnedChain(chain) || target === undefined || !isOwnedChain(target)) continue
      const key = `${chain} ${spec}`
      const left = remaining.get(key) ?? 0
      if (left > 0) remaining.set(key, left - 1)
      else deletes.push(`-D ${key}`)
    }
    const creates = want.ensureChains.filter(c => !saved.chains.has(c)).map(c => `:${c} - [0:0]`)
    const inserts = want.jumps.filter(j => (remaining.get(`${j.chain} ${j.rule}`) ?? 0) > 0).map(j => `-I ${j.chain} 1 ${j.rule}`)
    if (want.chains.length === 0 && want.jumps.length === 0 && creates.length === 0 && staleChains.length === 0 && deletes.length === 0) continue
    const lines = [
      `*${table}`,
      ...creates,
      ...want.chains.map(c => `:${c.name} - [0:0]`),
      ...staleChains.map(c => `:${c} - [0:0]`),
      ...deletes,
      ...inserts,
      ...want.chains.flatMap(c => c.rules.map(r => `-A ${c.name} ${r}`)),
      ...staleChains.map(c => `-X ${c}`),
      'COMMIT'
    ]
    blocks.push(lines.join('\n'))
  }
  return blocks.length === 0 ? '' : `${blocks.join('\n')}\n`
}

/** Whether `saved` holds any chain of the data plane's or any jump to one (what clean-up must leave at none). */
export function holdsOwnedRules (saved: SavedTables): boolean {
  for (const t of saved.values()) {
    if ([...t.chains].some(isOwnedChain)) return true
    if (t.rules.some(r => { const target = splitRule(r).target; return target !== undefined && isOwnedChain(target) })) return true
  }
  return false
}
