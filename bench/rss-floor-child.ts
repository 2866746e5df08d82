/**
 * The child process of bench/rss-floor.ts: reaches its stage, idles, runs a full GC and prints its
 * VmRSS in MB. Only Node's own modules are imported statically, so that `bare` is a bare process; the
 * libp2p host is imported for `host` alone.
 */
import { readFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'

const IDLE_MS = 3_000
const stage = process.argv[2]
if (stage !== 'bare' && stage !== 'host') throw new Error(`unknown stage "${stage}": bare or host`)

let stop: (() => Promise<void>) | null = null
if (stage === 'host') {
  const { P2PHost } = await import('../src/membership/host.js')
  const { generateKeyPair } = await import('@libp2p/crypto/keys')
  const { freePort } = await import('../test/support/agent-process.js')
  const quiet = { debug () {}, info () {}, warn () {}, error () {}, child () { return quiet } }
  const ma = `/ip4/127.0.0.1/tcp/${await freePort()}`
  // @libp2p/crypto declares its keys against another @libp2p/interface than libp2p's (membership-state.ts).
  const privateKey = await generateKeyPair('Ed25519') as unknown as Parameters<typeof P2PHost.start>[0]['privateKey']
  const host = await P2PHost.start({ privateKey, listen: ma, announce: ma, logger: quiet })
  stop = async () => { await host.stop() }
}
await sleep(IDLE_MS)
;(globalThis as { gc?: () => void }).gc?.()
await sleep(200)
const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync('/proc/self/status', 'utf8'))
if (m === null) throw new Error('cannot read VmRSS')
process.stdout.write(`${Number(m[1]) / 1024}\n`)
await stop?.()
