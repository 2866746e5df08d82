import { describe, expect, it } from 'vitest'
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, copyFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { execFile } from 'node:child_process'
import { NODE, repoRoot } from '../support/agent-process.js'

// The layering rule (.dependency-cruiser.cjs), run as `npm run lint:deps` does, on the real tree and on
// small trees that each break one rule: the rule must pass the first and name the break in each other.
const ROOT = repoRoot()
const DEPCRUISE = join(ROOT, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs')

interface Violation { readonly rule: { readonly name: string }, readonly from: string, readonly to: string }

async function cruise (cwd: string): Promise<Violation[]> {
  // depcruise exits non-zero when it finds violations: its JSON report is read either way.
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(NODE, [DEPCRUISE, 'src', '--config', '.dependency-cruiser.cjs', '--output-type', 'json'], { cwd, timeout: 120_000, maxBuffer: 64 << 20 }, (err, out, stderr) => {
      if (out === '') reject(new Error(`dependency-cruiser printed nothing: ${err?.message ?? ''} ${stderr}`))
      else resolve(out)
    })
  })
  const out = JSON.parse(stdout) as { summary: { violations: Violation[] } }
  return out.summary.violations
}

/** A tree holding `files` (path → source), with the project's rule, tsconfig and node_modules. */
function tree (files: Readonly<Record<string, string>>): string {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-layers-'))
  copyFileSync(join(ROOT, '.dependency-cruiser.cjs'), join(dir, '.dependency-cruiser.cjs'))
  copyFileSync(join(ROOT, 'tsconfig.json'), join(dir, 'tsconfig.json'))
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'))
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true })
    writeFileSync(join(dir, path), text)
  }
  return dir
}

async function violationsOf (files: Readonly<Record<string, string>>): Promise<string[]> {
  const dir = tree(files)
  try {
    return (await cruise(dir)).map(v => `${v.rule.name}: ${v.from} -> ${v.to}`)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

describe('layers: membership ← election ← tasks ← node, no cycles, libp2p and dockerode in their rooms', () => {
  it('the source tree keeps every rule', async () => {
    expect(await cruise(ROOT)).toEqual([])
  })

  it('refuses an import from src/election into src/tasks', async () => {
    const v = await violationsOf({
      'src/tasks/orchestrator/types.ts': 'export interface ServiceObject { readonly id: string }\n',
      'src/election/state/objects.ts': "import type { ServiceObject } from '../../tasks/orchestrator/types.js'\nexport type S = ServiceObject\n"
    })
    expect(v).toEqual(['election-imports-only-membership: src/election/state/objects.ts -> src/tasks/orchestrator/types.ts'])
  })

  it('refuses an import from src/membership into src/election, and from src/tasks into src/node', async () => {
    const v = await violationsOf({
      'src/election/store.ts': 'export const store = 1\n',
      'src/membership/table.ts': "import { store } from '../election/store.js'\nexport const t = store\n",
      'src/node/config.ts': 'export const config = 1\n',
      'src/tasks/worker.ts': "import { config } from '../node/config.js'\nexport const w = config\n"
    })
    expect(v.sort()).toEqual([
      'membership-imports-no-upper-layer: src/membership/table.ts -> src/election/store.ts',
      'tasks-imports-no-node: src/tasks/worker.ts -> src/node/config.ts'
    ])
  })

  it('refuses a cycle between two files of one folder', async () => {
    const v = await violationsOf({
      'src/election/state/apply.ts': "import { b } from './apply-tasks.js'\nexport const a = (): number => b()\n",
      'src/election/state/apply-tasks.ts': "import { a } from './apply.js'\nexport const b = (): number => a()\n"
    })
    expect(v.every(s => s.startsWith('no-circular:'))).toBe(true)
    expect(v.length).toBeGreaterThan(0)
  })

  it('refuses libp2p outside src/membership and dockerode outside the Docker executor', async () => {
    const v = await violationsOf({
      'src/node/agent.ts': "import type { PrivateKey } from '@libp2p/interface'\nexport type K = PrivateKey\n",
      'src/tasks/scheduler/engine.ts': "import Docker from 'dockerode'\nexport const d = Docker\n",
      'src/tasks/executor/docker/docker-executor.ts': "import Docker from 'dockerode'\nexport const d = Docker\n",
      'src/membership/host.ts': "import { createLibp2p } from 'libp2p'\nexport const c = createLibp2p\n"
    })
    expect(v.map(s => s.replace(/ -> .*$/, '')).sort()).toEqual([
      'dockerode-only-in-executor: src/tasks/scheduler/engine.ts',
      'libp2p-only-in-membership: src/node/agent.ts'
    ])
  })

  it('refuses prom-client outside src/node/metrics', async () => {
    const v = await violationsOf({
      'src/election/raft-node.ts': "import { Counter } from 'prom-client'\nexport const c = Counter\n",
      'src/node/metrics/raft-metrics.ts': "import { Counter } from 'prom-client'\nexport const c = Counter\n"
    })
    expect(v.map(s => s.replace(/ -> .*$/, ''))).toEqual(['prom-client-only-in-metrics: src/election/raft-node.ts'])
  })
})
