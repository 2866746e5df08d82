import type Docker from 'dockerode'
import { createHash } from 'node:crypto'
import { resolve } from 'node:path'
import { FlotillaError, asFlotillaError, type Logger } from '../../../../membership/index.js'
import type { DataPlane, NodeNetworkView, TaskNetworkAddress } from '../../network-view.js'
import { engineError, engineMessage, engineStatus } from '../containers.js'
import { HostCommands } from './host-commands.js'
import { ingressRules } from './ingress-rules.js'
import { parseIptablesSave, renderRestore } from './iptables-plan.js'
import { bareAddress, engineNetworkName } from './names.js'
import { OverlayNetworks, type ProgrammedNetwork } from './overlay-networks.js'
import { TaskContainers } from './task-containers.js'

/** After a pass that left work (a leaving network still used, a failure), the next try comes this much later. */
const RETRY_MS = 1_000
/** How many tries in a row before waiting for the next view (or task removal) instead. */
const MAX_RETRIES = 120

/** What a caller passes to build a `DockerDataPlane`. */
export interface DockerDataPlaneInit {
  /** The node's engine (calls with a timeout). */
  readonly docker: Docker
  /** Where the hosts files go: `<stateDir>/hosts/<taskId>`. */
  readonly stateDir: string
  readonly logger: Logger
  /** Prepended to every host command (`['ip', 'netns', 'exec', 'ns1']` on a test bed); empty in production. */
  readonly hostPrefix?: readonly string[]
  /** Delay between tries of a pass that left work (default RETRY_MS). */
  readonly retryMs?: number
  /** Tries in a row before waiting for the next `apply` or `removed` (default MAX_RETRIES). */
  readonly maxRetries?: number
}

type TaskNetworks = { readonly taskId: string, readonly networks: readonly TaskNetworkAddress[] }

/**
 * The overlay data plane of one node over its Docker engine and the host's iproute2 and iptables (see
 * README.md): per network an engine bridge network joined to a VXLAN device with a forwarding entry per
 * peer; the routing mesh's rules on the host; each task container's hosts file and VIP rules. No netlink
 * of its own and no UDP socket: the kernel does the tunnelling. Every call runs after the one before has
 * finished (one queue), so a pass never interleaves with an attach. A pass that leaves work is tried
 * again every `retryMs`, at most `maxRetries` times in a row; `close` stops that (calls made after it
 * still run, but schedule no retry).
 */
export class DockerDataPlane implements DataPlane {
  private readonly docker: Docker
  private readonly logger: Logger
  private readonly commands: HostCommands
  private readonly networks: OverlayNetworks
  private readonly tasks: TaskContainers
  private readonly retryMs: number
  private readonly maxRetries: number
  private view: NodeNetworkView | null = null
  private ready: ReadonlyMap<string, ProgrammedNetwork> = new Map()
  /** What the last pass could not finish (leaving networks still used), for `removed` to try again. */
  private unfinished = false
  private hostRulesHash: string | undefined
  private tail: Promise<unknown> = Promise.resolve()
  private retryTimer: NodeJS.Timeout | undefined
  private retries = 0
  private closed = false

  constructor (init: DockerDataPlaneInit) {
    this.docker = init.docker
    this.logger = init.logger
    this.commands = new HostCommands({ prefix: init.hostPrefix ?? [] })
    this.networks = new OverlayNetworks({ docker: init.docker, commands: this.commands, logger: init.logger })
    // Absolute and clean: the engine reports a bind's source so, and the hosts files are recognised by it.
    this.tasks = new TaskContainers({ docker: init.docker, commands: this.commands, logger: init.logger, stateDir: resolve(init.stateDir) })
    this.retryMs = init.retryMs ?? RETRY_MS
    this.maxRetries = init.maxRetries ?? MAX_RETRIES
  }

  async apply (view: NodeNetworkView): Promise<void> {
    this.view = view
    this.retries = 0
    await this.serial(async () => { await this.pass() })
  }

  async createOptions (task: TaskNetworks): Promise<{ readonly binds: readonly string[] }> {
    if (task.networks.length === 0) return { binds: [] }
    return await this.serial(async () => {
      await this.tasks.writePlaceholder(task.taskId, task.networks, this.view?.networks ?? [])
      return { binds: [this.tasks.hostsBind(task.taskId)] }
    })
  }

  async attach (task: TaskNetworks, containerId: string): Promise<void> {
    if (task.networks.length === 0) return
    await this.serial(async () => {
      const targets = task.networks.map(n => {
        const p = this.ready.get(n.networkId)
        if (p === undefined) {
          throw new FlotillaError('unavailable', `network ${n.networkId} is not ready on this node yet`, {
            retryable: true, hint: 'the node programs a network when its view arrives; the task is tried again'
          })
        }
        return { n, p }
      })
      const info = await this.tasks.inspect(containerId)
      if (info === undefined) throw new FlotillaError('not-found', `container ${containerId.slice(0, 12)} of task ${task.taskId} does not exist`, { retryable: true })
      const connected = new Set(Object.values(info.NetworkSettings.Networks ?? {}).map(n => n.NetworkID))
      for (const { n, p } of targets) {
        if (connected.has(p.engineId)) continue
        await this.connect(containerId, p, n)
      }
      const c = await this.tasks.track(containerId, task.taskId, task.networks, info)
      if (c !== undefined) await this.tasks.program(c, this.view?.networks ?? [])
    })
  }

  async started (task: TaskNetworks, containerId: string, pid: number): Promise<void> {
    if (task.networks.length === 0) return
    await this.serial(async () => {
      const c = await this.tasks.track(containerId, task.taskId, task.networks)
      if (c === undefined) return
      this.tasks.setPid(c, pid)
      await this.tasks.program(c, this.view?.networks ?? [])
    })
  }

  async removed (taskId: string): Promise<void> {
    await this.serial(async () => { await this.tasks.forgetTask(taskId) })
    // A network that left the view may have waited for this container.
    if (this.unfinished && !this.closed) {
      this.retries = 0
      this.scheduleRetry()
    }
  }

  async close (): Promise<void> {
    this.closed = true
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer)
    this.retryTimer = undefined
    await this.tail.then(() => {}, () => {})
  }

  /** Run `fn` after every call queued before it. */
  private async serial<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn)
    this.tail = run.catch(() => {})
    return await run
  }

  /**
   * One pass over the last view: networks (leaving ones first), the host's routing-mesh rules, then
   * every running task container's names and VIP rules. Each part is tried even when one before failed;
   * the first failure is thrown at the end (the rest are logged) and the pass is tried again later.
   */
  private async pass (): Promise<void> {
    const view = this.view
    if (view === null) return
    const t0 = Date.now()
    const errors: FlotillaError[] = []
    let waiting: readonly string[] = []
    try {
      const sync = await this.networks.sync(view)
      this.ready = sync.ready
      waiting = sync.waiting
      errors.push(...sync.errors)
    } catch (err) {
      errors.push(asFlotillaError(err))
    }
    try {
      await this.syncHostRules(view)
    } catch (err) {
      errors.push(asFlotillaError(err))
    }
    errors.push(...await this.tasks.syncAll(view.networks, this.ready))
    this.unfinished = waiting.length > 0 || errors.length > 0
    this.logger.debug('applied the network view', { networks: view.networks.length, ready: this.ready.size, waiting: waiting.join(',') || undefined, failures: errors.length || undefined, ms: Date.now() - t0 })
    if (this.unfinished) this.scheduleRetry()
    else this.retries = 0
    const [first, ...rest] = errors
    if (first === undefined) return
    for (const e of rest) this.logger.warn('the network view was not applied in full', { error: e.message })
    throw rest.length === 0 ? first : new FlotillaError(first.code, `${first.message} (and ${rest.length} more failures)`, { retryable: first.retryable, hint: first.hint, cause: first })
  }

  /** The routing mesh's rules on the host, rewritten when they changed (and on the first pass, to repair what an earlier run left). */
  private async syncHostRules (view: NodeNetworkView): Promise<void> {
    const rules = ingressRules(view.networks.find(n => n.ingress))
    const hash = createHash('sha256').update(JSON.stringify(rules)).digest('hex')
    if (hash === this.hostRulesHash) return
    this.hostRulesHash = undefined
    const input = renderRestore(parseIptablesSave(await this.commands.iptablesSave()), rules)
    if (input !== '') await this.commands.iptablesRestore(input)
    this.hostRulesHash = hash
  }

  private scheduleRetry (): void {
    if (this.closed || this.retryTimer !== undefined) return
    if (this.retries >= this.maxRetries) {
      this.logger.warn('the network view is still not applied in full after retrying: waiting for the next view', { tries: this.retries })
      return
    }
    this.retries++
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined
      if (this.closed) return
      this.serial(async () => { await this.pass() }).catch((err: unknown) => {
        this.logger.warn('a retry of the network view failed; trying again', { error: (err as Error).message, try: this.retries })
      })
    }, this.retryMs)
    this.retryTimer.unref()
  }

  /** Connect a container to a programmed network with its address and aliases; already connected is fine. */
  private async connect (containerId: string, p: ProgrammedNetwork, n: TaskNetworkAddress): Promise<void> {
    try {
      await this.docker.getNetwork(p.engineId).connect({
        Container: containerId,
        EndpointConfig: { IPAMConfig: { IPv4Address: bareAddress(n.address) }, Aliases: [...n.aliases] }
      })
    } catch (err) {
      const status = engineStatus(err)
      if ((status === 403 || status === 409) && /already exists/i.test(engineMessage(err))) return
      const e = engineError(`connect container ${containerId.slice(0, 12)} to ${engineNetworkName(p.view.name)} with address ${n.address}`, err)
      // The engine did not answer, or the address is still held by a container being removed: both pass.
      throw new FlotillaError(e.code, e.message, { retryable: e.retryable || status === 403 || status === 409, cause: err })
    }
  }
}
