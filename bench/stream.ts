/**
 * Stream benchmark: the CPU one small frame costs on the libp2p stack every member protocol uses (tcp +
 * noise + yamux + flotilla's length-prefixed msgpackr frames, src/membership/frame-stream.ts). Two hosts
 * in this process on loopback; one opens a stream to the other, which echoes every frame back. A round
 * trip is a write and a read on each side: both ends of two messages. The frame is shaped like a SWIM
 * probe (a few fields and a 150-byte signed claim, about 220 bytes encoded).
 *
 * After a warm-up of W round trips, R repetitions of K sequential round trips each; the figure of a
 * repetition is process CPU (user + system, `process.cpuUsage`) over K. Prints the median and the range.
 * Sequential round trips keep one message in flight, as an idle agent's probes and heartbeats are.
 *
 * Usage: node dist/bench/stream.js [--reps 9] [--round-trips 1000] [--warmup 300]
 * Prints the summary to stdout and progress to stderr; exits 1 on an error, 2 on bad flags.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { P2PHost } from '../src/membership/host.js'
import type { Logger } from '../src/membership/logger.js'
import type { NodeKey } from '../src/membership/membership-state.js'
import { freePort } from '../test/support/agent-process.js'
import { UsageError, flagPairs, median, positiveInt, progress, runBench } from './support.js'

const PROTOCOL = '/flotilla-bench/echo/1.0.0'
const MAX_FRAME = 64 * 1024
const OPEN_TIMEOUT_MS = 10_000

interface StreamArgs {
  readonly reps: number
  readonly roundTrips: number
  readonly warmup: number
}

function parseArgs (argv: readonly string[]): StreamArgs {
  let reps = 9
  let roundTrips = 1000
  let warmup = 300
  for (const { flag, value, arg } of flagPairs(argv)) {
    if (flag === '--reps') reps = positiveInt(value, '--reps', 100)
    else if (flag === '--round-trips') roundTrips = positiveInt(value, '--round-trips', 1_000_000)
    else if (flag === '--warmup') warmup = positiveInt(value, '--warmup', 1_000_000, 0)
    else throw new UsageError(`unknown argument "${arg}"; usage: stream.js [--reps 9] [--round-trips 1000] [--warmup 300]`)
  }
  return { reps, roundTrips, warmup }
}

const quiet: Logger = { debug () {}, info () {}, warn () {}, error () {}, child () { return quiet } }

async function hostOn (port: number): Promise<P2PHost> {
  const ma = `/ip4/127.0.0.1/tcp/${port}`
  return await P2PHost.start({ privateKey: await generateKeyPair('Ed25519') as unknown as NodeKey, listen: ma, announce: ma, logger: quiet })
}

runBench('stream', parseArgs, async args => {
  const client = await hostOn(await freePort())
  const serverPort = await freePort()
  const server = await hostOn(serverPort)
  try {
    await server.handle(PROTOCOL, { maxFrameBytes: MAX_FRAME, timeoutMs: 0 }, async s => {
      for (;;) await s.write(await s.read())
    })
    const { stream } = await client.openStream(`/ip4/127.0.0.1/tcp/${serverPort}/p2p/${server.peerId}`, PROTOCOL, MAX_FRAME, AbortSignal.timeout(OPEN_TIMEOUT_MS))
    const frame = { t: 'ping', seq: 1, from: 'n'.repeat(26), inc: 3, claim: new Uint8Array(150).fill(7) }
    const roundTrip = async (): Promise<void> => {
      await stream.write(frame)
      await stream.read()
    }
    for (let i = 0; i < args.warmup; i++) await roundTrip()
    const perTripUs: number[] = []
    for (let r = 1; r <= args.reps; r++) {
      const before = process.cpuUsage()
      for (let i = 0; i < args.roundTrips; i++) await roundTrip()
      const used = process.cpuUsage(before)
      perTripUs.push((used.user + used.system) / args.roundTrips)
      progress(`rep ${r}: ${perTripUs.at(-1)!.toFixed(1)} µs CPU per round trip`)
    }
    await stream.close()
    console.log(`CPU per round trip (both ends of two ~220-byte frames), median of ${args.reps} × ${args.roundTrips}: ` +
      `${median(perTripUs).toFixed(1)} µs (range ${Math.min(...perTripUs).toFixed(1)}–${Math.max(...perTripUs).toFixed(1)})`)
  } finally {
    await client.stop()
    await server.stop()
  }
})
