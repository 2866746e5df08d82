#!/usr/bin/env -S node --max-semi-space-size=1
// Entry point of the `flotilla` command. --max-semi-space-size=1 caps V8's young generation at 1 MiB per
// semi-space (default 16); src/node/main.ts applies the agent's V8 flags however it is started.
// libp2p's dependencies need Node 22 or later; when this file is
// run by an older Node (e.g. a system Node 20 outside npm scripts), re-run it under the Node 22 that the
// `node` devDependency installs, or say clearly what is missing.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const major = Number(process.versions.node.split('.')[0])
if (major < 22) {
  const bundled = fileURLToPath(new URL('../node_modules/node/bin/node', import.meta.url))
  if (existsSync(bundled)) {
    const result = spawnSync(bundled, ['--max-semi-space-size=1', fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' })
    process.exit(result.status ?? 1)
  }
  process.stderr.write(`flotilla needs Node.js 22 or later (this is ${process.version}); run it through npx or npm scripts, or install Node 22.\n`)
  process.exit(1)
}
await import('../dist/src/node/main.js')
