// Process entry. msgpackr's native string decoder (msgpackr-extract) costs ~9 MB of resident memory
// for no gain on heartbeat-sized frames; it is read once at load, so switch it off before anything
// imports msgpackr.
process.env.MSGPACKR_NATIVE_ACCELERATION_DISABLED ??= 'true'

/**
 * V8 flags the agent runs with, whichever way it is started (the bin's shebang passes them, `node
 * bin/flotilla.js` does not): the young generation capped at 1 MiB per semi-space (default 16) and no
 * background GC or compiler threads. The idle agent allocates little; measured here, these keep its
 * resident size at 93 MB instead of 127 MB. Heap sizes are fixed when V8 starts, so an agent started
 * without them replaces itself (execve, same pid) with one that has them.
 */
const AGENT_V8_FLAGS = ['--max-semi-space-size=1', '--single-threaded']

function withAgentFlags (): void {
  if (process.argv[2] !== 'agent' || AGENT_V8_FLAGS.every(f => process.execArgv.includes(f))) return
  if (typeof process.execve !== 'function' || process.env.FLOTILLA_REEXECED === '1') return
  const flags = AGENT_V8_FLAGS.filter(f => !process.execArgv.includes(f))
  process.execve(process.execPath, [process.execPath, ...process.execArgv, ...flags, ...process.argv.slice(1)], { ...process.env, FLOTILLA_REEXECED: '1' })
}

withAgentFlags()
await import('./cli.js')
