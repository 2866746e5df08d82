import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readdirSync, readlinkSync, readFileSync, mkdirSync } from 'node:fs'
import { request } from 'node:http'
import { createServer } from 'node:net'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The repository root, found from this file whether it runs as source (vitest) or from dist/ (bench). */
export function repoRoot (): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'src'))) return dir
    dir = dirname(dir)
  }
  throw new Error('repository root not found')
}

const ROOT = repoRoot()
/** Node 22 from the `node` devDependency (the machine's own may be older). */
export const NODE = existsSync(join(ROOT, 'node_modules/.bin/node')) ? join(ROOT, 'node_modules/.bin/node') : process.execPath
const MAIN = join(ROOT, 'dist/src/node/main.js')
const BIN = join(ROOT, 'bin/flotilla.js')
const GUARD = join(ROOT, 'test/support/dgram-guard.mjs')
/** The Node flags the `flotilla` command runs with, read from its shebang so that tests run what users run. */
const NODE_FLAGS = (/^#!.*?\bnode\b(.*)$/.exec(readFileSync(BIN, 'utf8').split('\n')[0] ?? '')?.[1] ?? '').trim().split(/\s+/).filter(f => f !== '')

/** Ports freePort has returned in this process. */
const handedOut = new Set<number>()

/**
 * A free TCP port on 127.0.0.1, below the kernel's ephemeral range (32768 and up on Linux): an agent
 * that waits for `swarm join` binds its port only later, and a port from the ephemeral range could be
 * taken meanwhile as the source port of some other agent's outbound connection.
 */
export async function freePort (): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000)
    // Free now is not enough: an agent given this port may not have bound it yet. Fifty agents drawing
    // from 12,000 ports collide one run in ten (bench:membership at 50 did), so a port is handed out once.
    if (handedOut.has(port)) continue
    const free = await new Promise<boolean>(resolveFree => {
      const s = createServer()
      s.once('error', () => { resolveFree(false) })
      s.listen(port, '127.0.0.1', () => { s.close(() => { resolveFree(true) }) })
    })
    if (free) {
      handedOut.add(port)
      return port
    }
  }
  throw new Error('no free port found in 20000-31999 after 100 attempts')
}

/** Poll `fn` until it returns a value other than undefined/false, or fail after `timeoutMs` with `what`. */
export async function waitFor<T> (what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 15_000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let lastErr: unknown
  for (;;) {
    try {
      const v = await fn()
      if (v !== undefined && v !== false) return v
    } catch (err) {
      lastErr = err
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr === undefined ? '' : `: ${(lastErr as Error).message}`}`)
    }
    await new Promise(r => setTimeout(r, intervalMs))
  }
}

export interface ApiResult {
  status: number
  body: any
  headers: Record<string, string | string[] | undefined>
}

/** One HTTP call on a unix socket, with a timeout. */
export async function callSocket (socketPath: string, method: string, path: string, body?: unknown, timeoutMs = 10_000, rawBody?: Buffer | string): Promise<ApiResult> {
  const payload = rawBody ?? (body === undefined ? undefined : JSON.stringify(body))
  return await new Promise((resolveCall, reject) => {
    const req = request({ socketPath, method, path, timeout: timeoutMs, headers: payload === undefined ? {} : { 'Content-Type': 'application/json' } }, res => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        let parsed: unknown = text
        try { parsed = text === '' ? undefined : JSON.parse(text) } catch { parsed = text }
        resolveCall({ status: res.statusCode ?? 0, body: parsed, headers: res.headers })
      })
    })
    req.on('timeout', () => { req.destroy(new Error(`${method} ${path} timed out`)) })
    req.on('error', reject)
    req.end(payload)
  })
}

export interface AgentOptions {
  /** Directory under which the agent's data dir and socket live. */
  readonly baseDir: string
  readonly hostname: string
  readonly port: number
  /** Arguments after `agent` besides the per-agent ones (e.g. --init, --join … --token …). */
  readonly args?: readonly string[]
  readonly dockerHost?: string
  readonly logLevel?: string
  /** The IPv4 address the agent listens on and advertises (`--listen-addr`/`--advertise-addr IP:port`); default 127.0.0.1, advertised implicitly. */
  readonly listenIp?: string
  /**
   * A command and arguments that run the agent's `node …` command line, e.g. `['ip', 'netns', 'exec', NS]`.
   * It must exec (not fork) its argument, so that `pid` is node's and signals (SIGSTOP, SIGKILL) reach the agent.
   */
  readonly launchPrefix?: readonly string[]
}

/** A real agent process with its own address, port, data dir, socket and hostname (127.0.0.1 unless `listenIp`). */
export class AgentProcess {
  readonly dataDir: string
  readonly socket: string
  readonly addr: string
  logs = ''
  private child: ChildProcess | null = null
  private exited: Promise<number | null> = Promise.resolve(null)

  constructor (readonly opts: AgentOptions) {
    this.dataDir = join(opts.baseDir, opts.hostname)
    this.socket = join(this.dataDir, 'flotilla.sock')
    this.addr = `${opts.listenIp ?? '127.0.0.1'}:${opts.port}`
    mkdirSync(this.dataDir, { recursive: true })
  }

  get hostname (): string { return this.opts.hostname }
  get pid (): number | undefined { return this.child?.pid ?? undefined }
  get running (): boolean { return this.child !== null && this.child.exitCode === null && this.child.signalCode === null }

  /** Start the process and wait until its socket answers `/_ping`. */
  async start (extraArgs: readonly string[] = this.opts.args ?? []): Promise<void> {
    const args = [
      ...NODE_FLAGS, '--import', GUARD, BIN, 'agent',
      '--data-dir', this.dataDir,
      '--socket', this.socket,
      '--listen-addr', this.addr,
      ...(this.opts.listenIp === undefined ? [] : ['--advertise-addr', this.addr]),
      '--hostname', this.opts.hostname,
      '--log-level', this.opts.logLevel ?? 'debug',
      ...(this.opts.dockerHost === undefined ? [] : ['--docker-host', this.opts.dockerHost]),
      ...extraArgs
    ]
    // Only this agent's own settings: no FLOTILLA_* variable of the test runner's leaks in.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('FLOTILLA_')))
    const [cmd, ...prefixArgs] = [...(this.opts.launchPrefix ?? []), NODE]
    const child = spawn(cmd, [...prefixArgs, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env })
    this.child = child
    child.stdout.setEncoding('utf8').on('data', (c: string) => { this.logs += c })
    child.stderr.setEncoding('utf8').on('data', (c: string) => { this.logs += c })
    this.exited = new Promise(res => { child.once('exit', code => { res(code) }) })
    await waitFor(`${this.opts.hostname}'s socket`, async () => {
      if (!this.running) return 'exited'
      return (await this.api('GET', '/_ping')).status === 200
    }, 20_000, 50).then(v => {
      if (v === 'exited') throw new Error(`agent ${this.opts.hostname} exited early:\n${this.logs}`)
    })
  }

  /** SIGKILL (or another signal) and wait for the exit. */
  async kill (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (!this.running) return
    this.child!.kill(signal)
    await this.exited
  }

  /** SIGTERM, then SIGKILL if it has not exited within 10 s. */
  async stop (): Promise<void> {
    if (!this.running) return
    this.child!.kill('SIGTERM')
    const t = setTimeout(() => { this.child?.kill('SIGKILL') }, 10_000)
    await this.exited
    clearTimeout(t)
  }

  async api (method: string, path: string, body?: unknown, timeoutMs = 10_000): Promise<ApiResult> {
    return await callSocket(this.socket, method, path, body, timeoutMs)
  }

  /** Run the flotilla CLI against this agent's socket. */
  async cli (args: readonly string[], timeoutMs = 30_000): Promise<{ code: number | null, stdout: string, stderr: string }> {
    return await runCommand(NODE, [MAIN, '--host', `unix://${this.socket}`, ...args], timeoutMs)
  }

  /** The socket inodes of the agent's open file descriptors that are UDP sockets (must be none). */
  udpSockets (): string[] {
    const pid = this.child?.pid
    if (pid === undefined) return []
    const inodes = new Set<string>()
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))
        if (m !== null) inodes.add(m[1]!)
      } catch { /* fd closed meanwhile */ }
    }
    const udp: string[] = []
    for (const table of ['udp', 'udp6']) {
      const lines = readFileSync(`/proc/${pid}/net/${table}`, 'utf8').trim().split('\n').slice(1)
      for (const line of lines) {
        const inode = line.trim().split(/\s+/)[9]
        if (inode !== undefined && inodes.has(inode)) udp.push(`${table}:${inode}`)
      }
    }
    return udp
  }
}

/** Run a command, collecting its output; fails the call (not the process) after `timeoutMs`. */
export async function runCommand (cmd: string, args: readonly string[], timeoutMs = 30_000, env?: NodeJS.ProcessEnv): Promise<{ code: number | null, stdout: string, stderr: string }> {
  return await new Promise((resolveRun, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString() })
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString() })
    const t = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${cmd} ${args.join(' ')} timed out after ${timeoutMs} ms`)) }, timeoutMs)
    child.once('error', err => { clearTimeout(t); reject(err) })
    child.once('close', code => { clearTimeout(t); resolveRun({ code, stdout, stderr }) })
  })
}

