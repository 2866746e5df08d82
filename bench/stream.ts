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
 * Then D connection set-ups (--dials): each from a new host to the echoing one (TCP, noise handshake,
 * yamux, identify, gossipsub's subscription exchange on a topic both hosts joined), one stream opened and
 * one frame echoed, then SETUP_SETTLE_MS for identify and gossipsub to finish; the figure is the process
 * CPU of both ends over that, median and p90. Starting and stopping the new host are not counted.
 *
 * Usage: node dist/bench/stream.js [--reps 9] [--round-trips 1000] [--warmup 300] [--dials 40]
 * Prints the summary to stdout and progress to stderr; exits 1 on an error, 2 on bad flags.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { P2PHost } from '../src/membership/host.js'
import { silentLogger } from '../src/membership/logger.js'
import type { NodeKey } from '../src/membership/membership-state.js'
import { freePort } from '../test/support/agent-process.js'
import { setTimeout as sleep } from 'node:timers/promises'
import { UsageError, flagPairs, median, percentile, positiveInt, progress, runBench } from './support.js'

const PROTOCOL = '/flotilla-bench/echo/1.0.0'
const MAX_FRAME = 64 * 1024
const OPEN_TIMEOUT_MS = 10_000
const TOPIC = 'flotilla-bench'
/** After a connection's first frame: identify and gossipsub's subscription exchange run on after it. */
const SETUP_SETTLE_MS = 300

interface StreamArgs {
  readonly reps: number
  readonly roundTrips: number
  readonly warmup: number
  readonly dials: number
}

function parseArgs (argv: readonly string[]): StreamArgs {
  let reps = 9
  let roundTrips = 1000
  let warmup = 300
  let dials = 40
  for (const { flag, value, arg } of flagPairs(argv)) {
    if (flag === '--reps') reps = positiveInt(value, '--reps', 100)
    else if (flag === '--round-trips') roundTrips = positiveInt(value, '--round-trips', 1_000_000)
    else if (flag === '--warmup') warmup = positiveInt(value, '--warmup', 1_000_000, 0)
    else if (flag === '--dials') dials = positiveInt(value, '--dials', 1000)
    else throw new UsageError(`unknown argument "${arg}"; usage: stream.js [--reps 9] [--round-trips 1000] [--warmup 300] [--dials 40]`)
  }
  return { reps, roundTrips, warmup, dials }
}

async function hostOn (port: number): Promise<P2PHost> {
  const ma = `/ip4/127.0.0.1/tcp/${port}`
  return await P2PHost.start({ privateKey: await generateKeyPair('Ed25519') as unknown as NodeKey, listen: ma, announce: ma, logger: silentLogger })
}

runBench('stream', parseArgs, async args => {
  const client = await hostOn(await freePort())
  const serverPort = await freePort()
  const server = await hostOn(serverPort)
  try {
    server.subscribe(TOPIC)
    await server.handle(PROTOCOL, { maxFrameBytes: MAX_FRAME, timeoutMs: 0 }, async s => {
      for (;;) await s.write(await s.read())
    })
    const serverAddr = `/ip4/127.0.0.1/tcp/${serverPort}/p2p/${server.peerId}`
    const { stream } = await client.openStream(serverAddr, PROTOCOL, MAX_FRAME, AbortSignal.timeout(OPEN_TIMEOUT_MS))
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

    const setupMs: number[] = []
    for (let d = 1; d <= args.dials; d++) {
      const dialer = await hostOn(await freePort())
      try {
        dialer.subscribe(TOPIC)
        const before = process.cpuUsage()
        const opened = await dialer.openStream(serverAddr, PROTOCOL, MAX_FRAME, AbortSignal.timeout(OPEN_TIMEOUT_MS))
        await opened.stream.write(frame)
        await opened.stream.read()
        await sleep(SETUP_SETTLE_MS)
        const used = process.cpuUsage(before)
        setupMs.push((used.user + used.system) / 1000)
      } finally {
        await dialer.stop()
      }
    }
    progress(`connection set-ups: ${setupMs.map(x => x.toFixed(1)).join(' ')} ms`)
    console.log(`CPU per connection set-up (both ends: TCP, noise, yamux, identify, gossipsub, one stream and frame), ${args.dials} dials: ` +
      `median ${median(setupMs).toFixed(1)} ms, p90 ${percentile(setupMs, 90).toFixed(1)} ms`)
  } finally {
    await client.stop()
    await server.stop()
  }
})
