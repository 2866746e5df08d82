import { existsSync, mkdirSync, readdirSync, rmdirSync } from 'node:fs'
import { join } from 'node:path'
import { AgentProcess, waitFor } from '../agent-process.js'
import { TEST_IMAGE, ensureTestImage, writeTestImageTar } from '../test-image.js'
import { cgroupRemountScript } from './cgroups.js'
import { run } from './commands.js'
import { BedEngine } from './engine.js'
import { BedError } from './errors.js'
import { registerExitTeardown, unregisterExitTeardown } from './exit-cleanup.js'
import { addRule, installFaultChains, listFaultRules, removeRule, type FirewallRule } from './firewall.js'
import { FaultLog, NETWORK_FAULTS, cutRule, faultHosts, isolateRules, lossRules, type Fault, type FaultKind } from './faults.js'
import { defaultBaseRoot, newRunId, processState, runNames, writeOwner, type RunNames } from './names.js'
import { createBridge, createHost, pickSubnet } from './network.js'
import { findRunRemains, purgeRunSync, removeLeftovers, type RunRemains } from './purge.js'
import { checkPrerequisites, type BedTools } from './prerequisites.js'

/** What a caller passes to `TestBed.start`. */
export interface BedInit {
  /** How many hosts (default 5, at most 254). */
  readonly hosts?: number
  /** Where the run's directory goes (default: /tmp, or /var/tmp when /tmp is overlayfs). */
  readonly baseRoot?: string
  /** Every agent's TCP port on its host's address (default 4242, flotilla's default). */
  readonly agentPort?: number
  /** The agents' `--log-level` (default debug). */
  readonly logLevel?: string
  /** Load TEST_IMAGE into every engine (default true). */
  readonly loadImage?: boolean
  /** Remove the remains of crashed earlier runs first (default true; runs with a live owner are never touched). */
  readonly removeLeftovers?: boolean
  /** Deadline for each engine to answer (default 30 000 ms). */
  readonly engineTimeoutMs?: number
}

/** One host of the bed: a netns with one veth to the bridge, its own dockerd and one flotilla agent. */
export interface BedHost {
  /** 1-based. */
  readonly index: number
  /** `h1`…: the agent's `--hostname`, hence the node's Description.Hostname. */
  readonly name: string
  readonly netns: string
  /** The host's end of its veth (inside `netns`). */
  readonly veth: string
  /** The host's IPv4 address; its agent listens on and advertises `ip:agentPort`. */
  readonly ip: string
  readonly engine: BedEngine
  /** Its socket is on the shared filesystem: call it from the root namespace (`agent.api`, `callSocket`). */
  readonly agent: AgentProcess
}

/** A host by object, name (`h2`) or 1-based index. */
export type HostRef = BedHost | string | number

/** What `formCluster` made. */
export interface BedCluster {
  readonly managers: readonly BedHost[]
  readonly workers: readonly BedHost[]
  /** Each host's node ID, by host name. */
  readonly nodeIds: ReadonlyMap<string, string>
}

/** How long each phase of `start` took, in ms (for benches). */
export interface BedTimings {
  network: number
  engines: number
  agents: number
  total: number
}

/**
 * N hosts on one machine, each a network namespace with its own dockerd and flotilla agent, joined by a
 * bridge in a netns of its own, with reversible faults. Build it with `TestBed.start`, end it with
 * `teardown` (idempotent; also run, best effort and synchronously, if the process exits or is signalled).
 * Everything it makes carries the run id (`flb` + 4 base36), so runs never collide. Needs root.
 */
export class TestBed {
  readonly hosts: BedHost[] = []
  readonly timings: BedTimings = { network: 0, engines: 0, agents: 0, total: 0 }
  private readonly faultLog = new FaultLog()
  private tornDown: Promise<void> | null = null
  private readonly createdShimDir: boolean

  private constructor (
    private readonly tools: BedTools,
    readonly names: RunNames,
    readonly baseRoot: string,
    /** The hosts' /24, as its first three octets (`10.213.57`). */
    readonly subnet: string
  ) {
    this.createdShimDir = !existsSync('/run/containerd')
  }

  get runId (): string { return this.names.runId }
  get dir (): string { return this.names.dir }

  /**
   * Build the bed: network (bridge netns, N host netns, veths, addresses, fault chains), then on every
   * host at once its engine (then TEST_IMAGE) and its agent, started without --init/--join (see
   * `formCluster`). Fails with a BedError, never a skip, when the machine cannot host it; on any failure
   * it removes what it made before throwing.
   */
  static async start (init: BedInit = {}): Promise<TestBed> {
    const t0 = Date.now()
    const tools = checkPrerequisites()
    const count = init.hosts ?? 5
    if (!Number.isInteger(count) || count < 1 || count > 254) throw new BedError('bed-state', `hosts must be 1-254, not ${count}`)
    const baseRoot = init.baseRoot ?? defaultBaseRoot()
    if (init.removeLeftovers !== false) removeLeftovers([baseRoot])
    const subnet = await pickSubnet(tools)
    const names = runNames(newRunId(baseRoot), baseRoot)
    mkdirSync(names.dir, { recursive: true, mode: 0o700 })
    writeOwner(names.dir)
    const bed = new TestBed(tools, names, baseRoot, subnet)
    registerExitTeardown(bed)
    try {
      const tar = init.loadImage === false ? undefined : writeTestImageTar(names.dir)
      tar?.catch(() => { /* awaited below */ })
      await createBridge(tools, names)
      const links = await Promise.all(Array.from({ length: count }, async (_, k) => {
        const link = await createHost(tools, names, subnet, k + 1)
        await installFaultChains(tools, link.netns, names.dir)
        return link
      }))
      bed.timings.network = Date.now() - t0
      const remountScript = cgroupRemountScript()
      for (const [k, link] of links.entries()) {
        const i = k + 1
        const engine = new BedEngine({ tools, netns: link.netns, dir: join(names.dir, 'engines', names.hostName(i)), cgroupParent: names.cgroupParent(i), remountScript })
        const agent = new AgentProcess({
          baseDir: join(names.dir, 'agents'),
          hostname: names.hostName(i),
          port: init.agentPort ?? 4242,
          listenIp: link.ip,
          launchPrefix: [tools.ip, 'netns', 'exec', link.netns],
          dockerHost: `unix://${engine.socket}`,
          logLevel: init.logLevel ?? 'debug'
        })
        bed.hosts.push({ index: i, name: names.hostName(i), ...link, engine, agent })
      }
      await Promise.all(bed.hosts.map(async h => {
        await h.engine.start(init.engineTimeoutMs)
        bed.timings.engines = Math.max(bed.timings.engines, Date.now() - t0)
        await Promise.all([
          tar === undefined ? undefined : ensureTestImage(h.engine.socket, await tar),
          h.agent.start([])
        ])
        bed.timings.agents = Math.max(bed.timings.agents, Date.now() - t0)
      }))
      bed.timings.total = Date.now() - t0
      return bed
    } catch (err) {
      try {
        await bed.teardown()
      } catch (teardownErr) {
        throw new BedError('bed-state', `the bed failed to start (${(err as Error).message}), and its teardown failed too: ${(teardownErr as Error).message}`, undefined, { cause: err })
      }
      throw err
    }
  }

  /** The host `ref` names; throws a BedError for an unknown one. */
  host (ref: HostRef): BedHost {
    if (typeof ref === 'object') return ref
    const h = typeof ref === 'number' ? this.hosts[ref - 1] : this.hosts.find(x => x.name === ref)
    if (h === undefined) throw new BedError('bed-state', `no host ${String(ref)} in bed ${this.runId} (hosts: ${this.hosts.map(x => x.name).join(', ')})`)
    return h
  }

  /**
   * Form one cluster of every host: `swarm init` on host 1's socket (as `--init` does), then `swarm join`
   * to host 1's address with the manager token on hosts 2..managers and the worker token on the rest,
   * all at once; then wait until every agent lists every node ready. Default 3 managers, 60 s.
   */
  async formCluster (opts: { managers?: number, timeoutMs?: number } = {}): Promise<BedCluster> {
    const managers = Math.min(opts.managers ?? 3, this.hosts.length)
    const timeoutMs = opts.timeoutMs ?? 60_000
    const [first, ...rest] = this.hosts
    if (first === undefined) throw new BedError('bed-state', 'the bed has no host')
    const init = await first.agent.api('POST', '/swarm/init', {}, timeoutMs)
    if (init.status !== 200) throw new BedError('bed-state', `swarm init on ${first.name} answered ${init.status}: ${JSON.stringify(init.body)}`)
    const swarm = await first.agent.api('GET', '/swarm')
    const tokens = swarm.body?.JoinTokens as { Manager: string, Worker: string } | undefined
    if (swarm.status !== 200 || tokens === undefined) throw new BedError('bed-state', `GET /swarm on ${first.name} answered ${swarm.status}: ${JSON.stringify(swarm.body)}`)
    await Promise.all(rest.map(async h => {
      const token = h.index <= managers ? tokens.Manager : tokens.Worker
      const r = await h.agent.api('POST', '/swarm/join', { RemoteAddrs: [first.agent.addr], JoinToken: token }, timeoutMs)
      if (r.status !== 200) throw new BedError('bed-state', `swarm join on ${h.name} answered ${r.status}: ${JSON.stringify(r.body)}`)
    }))
    await this.waitForReady(timeoutMs)
    const nodeIds = new Map<string, string>()
    for (const h of this.hosts) nodeIds.set(h.name, (await h.agent.api('GET', '/info')).body.Swarm.NodeID as string)
    return { managers: this.hosts.slice(0, managers), workers: this.hosts.slice(managers), nodeIds }
  }

  /** Wait until every running, unpaused agent lists every host's node, all ready. */
  async waitForReady (timeoutMs = 30_000): Promise<void> {
    const paused = new Set(this.faults.filter(f => f.kind === 'agent-paused').map(f => f.kind === 'agent-paused' ? f.host : ''))
    await waitFor(`every agent of bed ${this.runId} to list ${this.hosts.length} ready nodes`, async () => {
      for (const h of this.hosts.filter(x => x.agent.running && !paused.has(x.name))) {
        const r = await h.agent.api('GET', '/nodes', undefined, 5_000)
        if (r.status !== 200 || !Array.isArray(r.body) || r.body.length !== this.hosts.length) return false
        if (!r.body.every((n: { Status?: { State?: string } }) => n.Status?.State === 'ready')) return false
      }
      return true
    }, timeoutMs, 200)
  }

  /** The faults in force, oldest first. */
  get faults (): Fault[] { return this.faultLog.list() }

  /** Drop every packet in and out of the host's veth (DROP, not reject: peers see silence, as in a real partition). */
  async isolate (ref: HostRef): Promise<void> {
    const h = this.host(ref)
    await this.addRules({ kind: 'isolate', host: h.name }, isolateRules(h.netns, h.veth))
  }

  /** Drop the packets `from` sends to `to` (in `from`'s netns); `to` → `from` still flows. Cut both ways with two calls. */
  async cut (from: HostRef, to: HostRef): Promise<void> {
    const a = this.host(from)
    const b = this.host(to)
    await this.addRules({ kind: 'cut', from: a.name, to: b.name }, [cutRule(a.netns, b.ip)])
  }

  /** Drop each packet in and out of the host's veth with `probability` (0 < p <= 1). */
  async loss (ref: HostRef, probability: number): Promise<void> {
    if (!(probability > 0 && probability <= 1)) throw new BedError('bed-state', `loss probability must be in (0, 1], not ${probability}`)
    const h = this.host(ref)
    await this.addRules({ kind: 'loss', host: h.name, probability }, lossRules(h.netns, h.veth, probability))
  }

  /**
   * Limit the host's link to `kbitPerSecond` each way with a tbf qdisc on both veth ends. This adds queueing
   * delay under load only: the kernel has no netem, so a fixed delay is not available.
   */
  async throttle (ref: HostRef, kbitPerSecond: number): Promise<void> {
    const h = this.host(ref)
    const tc = this.tools.tc
    if (tc === undefined) throw new BedError('bed-prerequisite', 'throttle needs `tc`', 'apt-get install -y iproute2')
    const ends: Array<[string, string]> = [[h.netns, h.veth], [this.names.bridgeNetns, this.names.bridgeVeth(h.index)]]
    const tbf = ['tbf', 'rate', `${kbitPerSecond}kbit`, 'burst', '16kb', 'latency', '200ms']
    for (const [ns, dev] of ends) await run(this.tools.ip, ['netns', 'exec', ns, tc, 'qdisc', 'replace', 'dev', dev, 'root', ...tbf])
    this.faultLog.add({ kind: 'throttle', host: h.name, kbitPerSecond }, async () => {
      for (const [ns, dev] of ends) await run(this.tools.ip, ['netns', 'exec', ns, tc, 'qdisc', 'del', 'dev', dev, 'root'], { allowFailure: true })
    })
  }

  /** SIGSTOP the host's agent and wait until it is stopped (its sockets stay open; peers time out on it). Undo with `resumeAgent` or `heal`. */
  async pauseAgent (ref: HostRef): Promise<void> {
    const h = this.host(ref)
    const pid = this.agentPid(h)
    process.kill(pid, 'SIGSTOP')
    this.faultLog.add({ kind: 'agent-paused', host: h.name }, async () => {
      this.signalIfAlive(pid, 'SIGCONT')
      await waitFor(`the agent of ${h.name} to continue`, () => processState(pid) !== 'T', 5_000, 10)
    })
    // A signal is delivered asynchronously: return once the process is stopped.
    await waitFor(`the agent of ${h.name} to stop`, () => processState(pid) === 'T', 5_000, 10)
  }

  /** SIGCONT the host's agent and wait until it runs again. */
  async resumeAgent (ref: HostRef): Promise<void> {
    const h = this.host(ref)
    await this.faultLog.undo(f => f.kind === 'agent-paused' && f.host === h.name)
  }

  /** SIGKILL the host's agent and wait for its exit. Undo with `restartAgent` or `heal`. */
  async killAgent (ref: HostRef): Promise<void> {
    const h = this.host(ref)
    await h.agent.kill('SIGKILL')
    this.faultLog.forget(f => f.kind === 'agent-paused' && f.host === h.name)
    this.faultLog.add({ kind: 'agent-killed', host: h.name }, async () => { await h.agent.start([]) })
  }

  /** Start the host's agent again from its data dir (it rejoins by itself) and wait for its socket. */
  async restartAgent (ref: HostRef): Promise<void> {
    const h = this.host(ref)
    await this.faultLog.undo(f => f.kind === 'agent-killed' && f.host === h.name)
    if (!h.agent.running) await h.agent.start([])
  }

  /** Stop the host's engine: its containers are killed and dockerd exits (BedEngine.stop). Undo with `startEngine` or `heal`. */
  async stopEngine (ref: HostRef): Promise<void> {
    const h = this.host(ref)
    await h.engine.stop()
    this.faultLog.add({ kind: 'engine-stopped', host: h.name }, async () => { await h.engine.start() })
  }

  /** Start the host's engine again on the same data root and wait until it answers. */
  async startEngine (ref: HostRef): Promise<void> {
    const h = this.host(ref)
    await this.faultLog.undo(f => f.kind === 'engine-stopped' && f.host === h.name)
    if (!h.engine.running) await h.engine.start()
  }

  /**
   * Undo, newest first, every fault that touches `ref` (every fault, without it): network rules and qdiscs
   * removed, paused agents resumed, killed agents restarted, stopped engines started. `only` limits it to
   * some kinds (e.g. `NETWORK_FAULTS`). Returns what it undid.
   */
  async heal (ref?: HostRef, opts: { only?: readonly FaultKind[] } = {}): Promise<Fault[]> {
    const name = ref === undefined ? undefined : this.host(ref).name
    return await this.faultLog.undo(f => (name === undefined || faultHosts(f).includes(name)) && (opts.only === undefined || opts.only.includes(f.kind)))
  }

  /** Undo only the network faults (isolate, cut, loss, throttle) of `ref`, or of every host. */
  async healNetwork (ref?: HostRef): Promise<Fault[]> {
    return await this.heal(ref, { only: NETWORK_FAULTS })
  }

  /** The rules in the host's fault chains, as `iptables -S` prints them. */
  async faultRules (ref: HostRef): Promise<string[]> {
    return await listFaultRules(this.tools, this.host(ref).netns)
  }

  /** Whether a TCP connection from `from`'s netns to `to`'s address and `port` (default 4242) opens within `timeoutMs` (default 2 000). */
  async canConnect (from: HostRef, to: HostRef, port = 4242, timeoutMs = 2_000): Promise<boolean> {
    const a = this.host(from)
    const b = this.host(to)
    const seconds = (timeoutMs / 1000).toFixed(2)
    const r = await run(this.tools.ip, ['netns', 'exec', a.netns, this.tools.timeout, '-s', 'KILL', seconds, this.tools.bash, '-c', `exec 3<>/dev/tcp/${b.ip}/${port}`],
      { timeoutMs: timeoutMs + 5_000, allowFailure: true })
    return r.code === 0
  }

  /** Every agent's log (the last 300 lines each, without per-request debug lines) and each engine's, for a failing test. */
  logs (): string {
    return this.hosts.map(h => {
      const lines = h.agent.logs.split('\n').filter(l => !l.includes('DEBUG [control] request'))
      return `===== ${h.name} agent =====\n${lines.slice(-300).join('\n')}\n===== ${h.name} engine =====\n${h.engine.logs.split('\n').slice(-50).join('\n')}`
    }).join('\n')
  }

  /** What of this run still exists on the machine (all empty after `teardown`). */
  remains (): RunRemains {
    return findRunRemains(this.runId, [this.baseRoot])
  }

  /**
   * Remove everything the run made: agents (SIGKILL), engines (containers killed, dockerd stopped, then
   * anything left SIGKILLed), cgroups, namespaces with their veths and iptables rules, the run's directory,
   * and /run/containerd/s when the run created it and it is empty. Idempotent; bounded in time
   * (about 10 s at worst per engine, 5 s for the rest). Throws, after removing all it could, if something stayed.
   */
  async teardown (): Promise<void> {
    this.tornDown ??= this.doTeardown()
    await this.tornDown
  }

  /** The synchronous, best-effort teardown the exit and signal handlers run. */
  teardownSync (): void {
    for (const h of this.hosts) if (h.agent.pid !== undefined) this.signalIfAlive(h.agent.pid, 'SIGKILL')
    purgeRunSync(this.remains())
    this.removeShimDir()
  }

  private async doTeardown (): Promise<void> {
    this.faultLog.clear()
    await Promise.allSettled(this.hosts.map(async h => { await h.agent.kill('SIGKILL') }))
    await Promise.allSettled(this.hosts.map(async h => { await h.engine.stop() }))
    const problems = purgeRunSync(this.remains())
    this.removeShimDir()
    unregisterExitTeardown(this)
    if (problems.length > 0) throw new BedError('bed-state', `teardown of bed ${this.runId} left: ${problems.join('; ')}`)
  }

  private removeShimDir (): void {
    if (!this.createdShimDir) return
    for (const d of ['/run/containerd/s', '/run/containerd']) {
      try { if (readdirSync(d).length === 0) rmdirSync(d) } catch { /* absent, or in use by another engine */ }
    }
  }

  private async addRules (fault: Fault, rules: FirewallRule[]): Promise<void> {
    const added: FirewallRule[] = []
    try {
      for (const r of rules) { await addRule(this.tools, r); added.push(r) }
    } catch (err) {
      for (const r of added) await removeRule(this.tools, r)
      throw err
    }
    this.faultLog.add(fault, async () => { for (const r of rules) await removeRule(this.tools, r) })
  }

  private agentPid (h: BedHost): number {
    const pid = h.agent.pid
    if (pid === undefined || !h.agent.running) throw new BedError('bed-state', `the agent of ${h.name} is not running`)
    return pid
  }

  private signalIfAlive (pid: number, signal: NodeJS.Signals): void {
    try { process.kill(pid, signal) } catch { /* exited already */ }
  }
}

export { TEST_IMAGE }
