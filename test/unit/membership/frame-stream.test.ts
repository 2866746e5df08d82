import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { P2PHost } from '../../../src/membership/host.js'
import { FlotillaError } from '../../../src/membership/errors.js'
import type { FrameStream } from '../../../src/membership/frame-stream.js'
import { silentLogger } from '../../../src/membership/logger.js'
import type { NodeKey } from '../../../src/membership/membership-state.js'
import { freePort } from '../../support/agent-process.js'

// Frames over a real libp2p connection on loopback (tcp + noise + yamux), as every member protocol uses them.
const SMALL_CAP = 1024
const BIG_CAP = 1 << 20

/** What the serving side saw on one stream: the frames it read, and the error that ended its reads. */
interface Served { frames: unknown[], ended: Error | null }

let a: P2PHost
let b: P2PHost
let bAddr: string
const served: Served[] = []

async function hostOn (port: number): Promise<P2PHost> {
  const ma = `/ip4/127.0.0.1/tcp/${port}`
  return await P2PHost.start({ privateKey: await generateKeyPair('Ed25519') as unknown as NodeKey, listen: ma, announce: ma, logger: silentLogger })
}

beforeAll(async () => {
  a = await hostOn(await freePort())
  const port = await freePort()
  b = await hostOn(port)
  bAddr = `/ip4/127.0.0.1/tcp/${port}/p2p/${b.peerId}`
  // Echoes every frame back, in order, and records what it read.
  await b.handle('/test/echo/1', { maxFrameBytes: BIG_CAP, timeoutMs: 0 }, async s => {
    for (;;) await s.write(await s.read())
  })
  // Reads with a small cap until its stream ends or fails.
  await b.handle('/test/capped/1', { maxFrameBytes: SMALL_CAP, timeoutMs: 0 }, async s => {
    const seen: Served = { frames: [], ended: null }
    served.push(seen)
    try {
      for (;;) seen.frames.push(await s.read())
    } catch (err) {
      seen.ended = err as Error
    }
  })
})

afterAll(async () => {
  await a?.stop()
  await b?.stop()
})

async function open (protocol: string): Promise<FrameStream> {
  return (await a.openStream(bAddr, protocol, BIG_CAP, AbortSignal.timeout(10_000))).stream
}

async function until (what: string, ok: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

describe('frameStream over libp2p', () => {
  it('carries frames of every prefix length whole and in order, written back to back', async () => {
    const s = await open('/test/echo/1')
    // 0 and 127 bytes: one-byte prefix; 128 and 16 KiB: two; 100 KiB: three, and more than one yamux frame.
    const sizes = [0, 1, 127, 128, 300, 16_384, 100_000, 5]
    const sent = sizes.map((n, i) => ({ i, body: new Uint8Array(n).fill(i + 1) }))
    await Promise.all(sent.map(async f => { await s.write(f) }))
    for (const f of sent) {
      const got = await s.read() as { i: number, body: Uint8Array }
      expect(got.i).toBe(f.i)
      expect(new Uint8Array(got.body)).toEqual(f.body)
    }
    await s.close()
  })

  it('keeps a transfer flowing past the yamux receive window (window granted at half)', async () => {
    const s = await open('/test/echo/1')
    // 96 frames of 8 KiB each way: 768 KiB, three times the initial 256 KiB window, with nothing read
    // back until every write has been taken.
    const frames = Array.from({ length: 96 }, (_, i) => new Uint8Array(8192).fill(i % 251))
    const reading = (async () => {
      const got: number[] = []
      for (let i = 0; i < frames.length; i++) got.push((await s.read() as Uint8Array)[0]!)
      return got
    })()
    for (const f of frames) await s.write(f)
    expect(await reading).toEqual(frames.map(f => f[0]))
    await s.close()
  })

  it('refuses a frame over the reader\'s cap before decoding it, and reads nothing after it', async () => {
    const before = served.length
    const s = await open('/test/capped/1')
    await s.write({ ok: 1 })
    await s.write({ big: new Uint8Array(SMALL_CAP * 2) })
    await s.write({ ok: 2 })
    await until('the capped reader to fail', () => served[before]?.ended != null)
    const seen = served[before]!
    expect(seen.frames).toEqual([{ ok: 1 }])
    expect(seen.ended).toBeInstanceOf(FlotillaError)
    expect((seen.ended as FlotillaError).code).toBe('too-large')
    s.abort(new Error('done'))
  })

  it('fails a read when the stream ends, and an aborted read loses no frame', async () => {
    const s = await open('/test/echo/1')
    const ac = new AbortController()
    const pending = s.read(ac.signal)
    ac.abort(new Error('gave up'))
    await expect(pending).rejects.toThrow('gave up')
    await s.write({ n: 7 })
    // The chunk the aborted read asked for is the next read's.
    expect(await s.read(AbortSignal.timeout(5_000))).toEqual({ n: 7 })
    await s.close()
    // The echo side ends its reads with an error when this side closes, and closes its own end then.
    await expect(s.read(AbortSignal.timeout(5_000))).rejects.toThrow(/stream ended|closed/)
  })
})
