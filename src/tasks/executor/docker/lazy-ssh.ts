/**
 * docker-modem loads its ssh transport, and with it ssh2 (~19 MB resident here, with its crypto and
 * native parts), when dockerode is imported, though a node whose engine is a unix socket or plain
 * TCP never uses it. This puts a stand-in for docker-modem's `lib/ssh.js` in the CommonJS cache before
 * dockerode loads: it loads the real module on the first `ssh://` connection only. Import this module
 * before dockerode (docker-executor.ts does).
 */
import { createRequire, Module } from 'node:module'

const require = createRequire(import.meta.url)

function installLazySsh (): void {
  let path: string
  try {
    path = require.resolve('docker-modem/lib/ssh.js', { paths: [require.resolve('dockerode')] })
  } catch {
    return // another docker-modem layout: leave it to load as it does
  }
  if (require.cache[path] !== undefined) return
  const stub = new Module(path)
  stub.filename = path
  stub.loaded = true
  let real: ((...a: unknown[]) => unknown) | null = null
  stub.exports = function lazySsh (this: unknown, ...args: unknown[]): unknown {
    if (real === null) {
      delete require.cache[path]
      real = require(path) as (...a: unknown[]) => unknown
    }
    return real.apply(this, args)
  }
  require.cache[path] = stub
}

installLazySsh()
