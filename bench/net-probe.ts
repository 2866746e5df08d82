/**
 * The network benchmark's probe (bench/network.ts), run by `nsenter -t PID -n node net-probe.js …` inside
 * a host's or a task container's network namespace, so that each figure measures exactly the path a
 * task's traffic takes (its veth, the overlay bridge, VXLAN, the other host). One JSON line on stdout.
 *
 *   serve PORT              TCP server: echoes what it reads (ping-pong), or discards it (bulk) and
 *                           answers the byte count when the client half-closes. Runs until killed.
 *   connect HOST PORT N     N sequential connects, each closed once established: median and p90 in ms.
 *   rtt HOST PORT N         one connection, N one-byte round trips: median and p90 in ms.
 *   bulk HOST PORT MB       one connection, MB mebibytes sent then half-closed; the server's count ends it: Mbit/s.
 *   watch HOST PORT MS      HTTP GET / every 10 ms for MS ms, new connection each: one line per answer
 *                           `{"at": epochMs, "body": "…"}` (the bench reads which task answered when).
 */
import { connect, createServer, type Socket } from 'node:net'
import { performance } from 'node:perf_hooks'

function out (v: unknown): void {
  process.stdout.write(`${JSON.stringify(v)}\n`)
}

function quantile (xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN
}

async function open (host: string, port: number): Promise<Socket> {
  return await new Promise((resolve, reject) => {
    const s = connect({ host, port, noDelay: true })
    s.once('connect', () => { resolve(s) })
    s.once('error', reject)
    s.setTimeout(5000, () => { s.destroy(new Error(`connect to ${host}:${port} timed out`)) })
  })
}

function serve (port: number): void {
  createServer(sock => {
    sock.setNoDelay(true)
    let mode: 'ping' | 'bulk' | null = null
    let count = 0
    sock.on('data', (chunk: Buffer) => {
      mode ??= chunk[0] === 0x62 ? 'bulk' : 'ping' // 'b'
      if (mode === 'ping') sock.write(chunk)
      else count += chunk.length
    })
    sock.on('end', () => { if (mode === 'bulk') sock.end(`${count}\n`); else sock.end() })
    sock.on('error', () => { sock.destroy() })
  }).listen(port, '0.0.0.0', () => { out({ listening: port }) })
}

async function connects (host: string, port: number, n: number): Promise<void> {
  const ms: number[] = []
  for (let i = 0; i < n; i++) {
    const t0 = performance.now()
    const s = await open(host, port)
    ms.push(performance.now() - t0)
    s.destroy()
  }
  out({ medianMs: quantile(ms, 0.5), p90Ms: quantile(ms, 0.9), n })
}

async function rtt (host: string, port: number, n: number): Promise<void> {
  const s = await open(host, port)
  const ms: number[] = []
  for (let i = 0; i < n; i++) {
    const t0 = performance.now()
    await new Promise<void>(resolve => { s.once('data', () => { resolve() }); s.write('p') })
    ms.push(performance.now() - t0)
  }
  s.destroy()
  out({ medianMs: quantile(ms, 0.5), p90Ms: quantile(ms, 0.9), n })
}

async function bulk (host: string, port: number, mib: number): Promise<void> {
  const s = await open(host, port)
  const chunk = Buffer.alloc(256 * 1024, 0x62)
  const total = mib * 1024 * 1024
  const t0 = performance.now()
  const answered = new Promise<string>(resolve => { let text = ''; s.on('data', (c: Buffer) => { text += c.toString() }); s.on('end', () => { resolve(text) }) })
  for (let sent = 0; sent < total; sent += chunk.length) {
    if (!s.write(chunk)) await new Promise<void>(resolve => { s.once('drain', () => { resolve() }) })
  }
  s.end()
  const counted = Number((await answered).trim())
  const seconds = (performance.now() - t0) / 1000
  out({ mbitPerS: counted * 8 / 1e6 / seconds, bytes: counted, seconds })
}

async function watch (host: string, port: number, durationMs: number): Promise<void> {
  const end = Date.now() + durationMs
  while (Date.now() < end) {
    const at = Date.now()
    try {
      const s = await open(host, port)
      const body = await new Promise<string>((resolve, reject) => {
        let text = ''
        s.on('data', (c: Buffer) => { text += c.toString() })
        s.on('end', () => { resolve(text) })
        s.on('error', reject)
        s.end(`GET / HTTP/1.0\r\nHost: ${host}\r\n\r\n`)
      })
      out({ at, body: body.split('\r\n\r\n')[1]?.trim() ?? '' })
    } catch {
      out({ at, body: null })
    }
    await new Promise(resolve => setTimeout(resolve, 10))
  }
}

const [mode, a, b, c] = process.argv.slice(2)
const run = async (): Promise<void> => {
  switch (mode) {
    case 'serve': serve(Number(a)); return
    case 'connect': await connects(a!, Number(b), Number(c)); return
    case 'rtt': await rtt(a!, Number(b), Number(c)); return
    case 'bulk': await bulk(a!, Number(b), Number(c)); return
    case 'watch': await watch(a!, Number(b), Number(c)); return
    default: throw new Error(`usage: net-probe serve PORT | connect|rtt HOST PORT N | bulk HOST PORT MB | watch HOST PORT MS (not ${mode ?? 'nothing'})`)
  }
}
run().catch((err: unknown) => { process.stderr.write(`${(err as Error).message}\n`); process.exit(1) })
