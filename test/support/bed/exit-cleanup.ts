/** Something that can remove itself synchronously, from an exit or signal handler. */
export interface SyncTeardown {
  teardownSync: () => void
}

const live = new Set<SyncTeardown>()
const SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP']
let installed = false

function onExit (): void {
  for (const t of [...live]) {
    try { t.teardownSync() } catch { /* best effort: the process is ending */ }
  }
  live.clear()
}

function onSignal (signal: NodeJS.Signals): void {
  onExit()
  uninstall()
  // With our handlers gone, the signal's default action (terminate) applies again.
  process.kill(process.pid, signal)
}

function install (): void {
  if (installed) return
  installed = true
  process.on('exit', onExit)
  for (const s of SIGNALS) process.on(s, onSignal)
}

function uninstall (): void {
  if (!installed) return
  installed = false
  process.off('exit', onExit)
  for (const s of SIGNALS) process.off(s, onSignal)
}

/**
 * Have `t.teardownSync()` run, best effort, if the process exits or gets SIGINT/SIGTERM/SIGHUP while `t`
 * is registered. The handlers are installed with the first registration and removed with the last, so
 * a process without a live bed keeps its default signal behaviour.
 */
export function registerExitTeardown (t: SyncTeardown): void {
  live.add(t)
  install()
}

export function unregisterExitTeardown (t: SyncTeardown): void {
  live.delete(t)
  if (live.size === 0) uninstall()
}
