import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { callSocket, waitFor } from '../agent-process.js'
import { cgroupDirs, cgroupTreePids } from './cgroups.js'
import { BedError } from './errors.js'
import { netnsPids } from './network.js'
import type { BedTools } from './prerequisites.js'

export interface EngineInit {
  readonly tools: BedTools
  /** The host's netns; dockerd, its containerd and the shims run in it. */
  readonly netns: string
  /** The engine's own directory: data root, exec root, socket, pidfile, log, daemon.json. */
  readonly dir: string
  /** The cgroup, at every hierarchy's root, that holds this engine's containers (`--cgroup-parent`). */
  readonly cgroupParent: string
  /** The `sh` script (cgroups.ts `cgroupRemountScript`) that remounts the cgroup tree, then execs "$@". */
  readonly remountScript: string
  /** dockerd's `--iptables` (default true). */
  readonly iptables?: boolean
}

/**
 * One dockerd in a host's netns, with its own data root, exec root, pidfile, socket and cgroup parent,
 * started as `ip netns exec NS sh -c '<remount cgroups>; exec dockerd …'` (ip execs; so does sh) so that
 * `pid` is dockerd's. It reads an empty daemon.json of its own, never /etc/docker/daemon.json.
 */
export class BedEngine {
  /** The engine's API socket; `unix://` + this is its DOCKER_HOST. */
  readonly socket: string
  readonly dataRoot: string
  readonly execRoot: string
  /** dockerd's and containerd's output, for a failing test. */
  logs = ''
  private child: ChildProcess | null = null
  private exited: Promise<void> = Promise.resolve()

  constructor (readonly init: EngineInit) {
    this.socket = join(init.dir, 'docker.sock')
    this.dataRoot = join(init.dir, 'data')
    this.execRoot = join(init.dir, 'run')
    mkdirSync(init.dir, { recursive: true })
    writeFileSync(join(init.dir, 'daemon.json'), '{}\n')
  }

  get pid (): number | undefined { return this.child?.pid }
  get running (): boolean { return this.child !== null && this.child.exitCode === null && this.child.signalCode === null }

  /** Start dockerd and wait (up to `timeoutMs`) until its socket answers `/_ping`; fails with its log if it exits first. */
  async start (timeoutMs = 30_000): Promise<void> {
    if (this.running) return
    const { tools, netns, dir, cgroupParent, remountScript } = this.init
    const args = [
      'netns', 'exec', netns, '/bin/sh', '-c', remountScript, 'sh', tools.dockerd,
      '--config-file', join(dir, 'daemon.json'),
      '--data-root', this.dataRoot,
      '--exec-root', this.execRoot,
      '--pidfile', join(dir, 'docker.pid'),
      '--host', `unix://${this.socket}`,
      '--cgroup-parent', `/${cgroupParent}`,
      `--iptables=${String(this.init.iptables ?? true)}`,
      '--log-level', 'warn'
    ]
    const child = spawn(tools.ip, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    this.child = child
    child.stdout.setEncoding('utf8').on('data', (c: string) => { this.logs += c })
    child.stderr.setEncoding('utf8').on('data', (c: string) => { this.logs += c })
    this.exited = new Promise(resolveExit => { child.once('exit', () => { resolveExit() }) })
    const ready = await waitFor(`dockerd in ${netns} to answer on ${this.socket}`, async () => {
      if (!this.running) return 'exited'
      return (await callSocket(this.socket, 'GET', '/_ping', undefined, 2_000)).status === 200 && 'ready'
    }, timeoutMs, 50).catch(async (err: unknown) => {
      await this.kill()
      throw new BedError('bed-timeout', `${(err as Error).message}\n${this.logs}`)
    })
    if (ready === 'exited') throw new BedError('bed-state', `dockerd in ${netns} exited early:\n${this.logs}`)
  }

  /**
   * Stop the engine as a machine's shutdown would, but fast: SIGKILL every container process (found by
   * the engine's cgroup parent), then SIGTERM dockerd and wait up to `timeoutMs` for it (it stops its
   * containerd; the shims exit with their containers), then SIGKILL whatever of the engine is left.
   */
  async stop (timeoutMs = 10_000): Promise<void> {
    this.killContainers()
    if (this.running) {
      this.child!.kill('SIGTERM')
      const timer = setTimeout(() => { this.child?.kill('SIGKILL') }, timeoutMs)
      await this.exited
      clearTimeout(timer)
    }
    await this.killLeftovers()
  }

  /** SIGKILL dockerd, its containerd, shims and containers at once, as a crash would. */
  async kill (): Promise<void> {
    this.killContainers()
    if (this.running) this.child!.kill('SIGKILL')
    await this.exited
    await this.killLeftovers()
  }

  /** The pids of the engine's own processes in the netns (dockerd, containerd, shims): those whose command line names its exec root. */
  enginePids (): number[] {
    return netnsPids(this.init.tools, this.init.netns).filter(pid => {
      try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(this.execRoot) } catch { return false }
    })
  }

  /** The pids of the engine's containers' processes. */
  containerPids (): number[] {
    return cgroupDirs(this.init.cgroupParent).flatMap(d => cgroupTreePids(d))
  }

  private killContainers (): void {
    for (const pid of new Set(this.containerPids())) {
      try { process.kill(pid, 'SIGKILL') } catch { /* gone */ }
    }
  }

  private async killLeftovers (): Promise<void> {
    const pids = this.enginePids()
    for (const pid of pids) {
      try { process.kill(pid, 'SIGKILL') } catch { /* gone */ }
    }
    if (pids.length > 0) await waitFor('the engine\'s processes to exit', () => this.enginePids().length === 0, 5_000, 20)
  }
}
