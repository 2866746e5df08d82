/**
 * The child process of bench/rss-floor.ts: reaches its stage, idles, runs a full GC and prints its
 * VmRSS in MB. Only Node's own modules (and bench/support.ts, which imports nothing else at run time)
 * are imported statically, so that `bare` is a bare process; the libp2p host is imported for `host` alone.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { NodeKey } from '../src/membership/membership-state.js'
import { vmRssKb } from './support.js'

const IDLE_MS = 3_000
const stage = process.argv[2]
if (stage !== 'bare' && stage !== 'host') throw new Error(`unknown stage "${stage}": bare or host`)

let stop: (() => Promise<void>) | null = null
if (stage === 'host') {
  const { P2PHost } = await import('../src/membership/host.js')
  const { generateKeyPair } = await import('@libp2p/crypto/keys')
  const { freePort } = await import('../test/support/agent-process.js')
  const { silentLogger } = await import('../src/membership/logger.js')
  const ma = `/ip4/127.0.0.1/tcp/${await freePort()}`
  const host = await P2PHost.start({ privateKey: await generateKeyPair('Ed25519') as unknown as NodeKey, listen: ma, announce: ma, logger: silentLogger })
  stop = async () => { await host.stop() }
}
await sleep(IDLE_MS)
;(globalThis as { gc?: () => void }).gc?.()
await sleep(200)
process.stdout.write(`${vmRssKb('self') / 1024}\n`)
await stop?.()
