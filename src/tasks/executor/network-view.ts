/**
 * What a node's data plane needs to know of the cluster's overlay networks (what Docker's overlay driver
 * learns from its gossiped network DB): the networks this node takes part in, the other nodes' tunnel
 * endpoints, and every service on them with its VIP and its running tasks' addresses. The leader's
 * dispatcher computes it from the store and sends it on each node's session whenever it changes;
 * the node's data plane (executor/docker/overlay) programs the host from it. Pure data.
 */

/** A port the routing mesh publishes on every node (a service port in ingress mode). */
export interface IngressPort {
  readonly protocol: 'tcp' | 'udp' | 'sctp'
  readonly publishedPort: number
  readonly targetPort: number
}

/** One service attached to a network, as seen from that network. */
export interface ServiceOnNetwork {
  readonly serviceId: string
  readonly name: string
  /** The attachment's extra names (`--network name=n,alias=a`): resolve as `name` does. */
  readonly aliases: readonly string[]
  /** 'vip': `name` resolves to `vip`, connections to it spread over `tasks`; 'dnsrr': `name` resolves to the task addresses. */
  readonly endpointMode: 'vip' | 'dnsrr'
  /** The service's virtual IP on this network (bare address, `10.0.1.2`); null in dnsrr mode. */
  readonly vip: string | null
  /** The addresses (bare) on this network of the service's tasks that run now, on any node, sorted. */
  readonly tasks: ReadonlyArray<{ readonly taskId: string, readonly address: string }>
  /** Ingress network only: the service's ports published in ingress mode. */
  readonly ingressPorts: readonly IngressPort[]
}

/** One overlay network as one node sees it. */
export interface NetworkView {
  readonly id: string
  readonly name: string
  /** `10.0.1.0/24`. */
  readonly subnet: string
  /** The network's gateway address (bare): the bridge's address on nodes that have no address of their own here. */
  readonly gateway: string
  readonly vxlanId: number
  /** The routing mesh's network. */
  readonly ingress: boolean
  readonly internal: boolean
  /**
   * This node's own address on the network (bare), allocated by the leader: the ingress network gives
   * every node one, the source of the routing mesh's traffic to the tasks. Null on other networks.
   */
  readonly nodeAddress: string | null
  /** The tunnel endpoints (host addresses) of the other nodes that take part in this network, sorted. */
  readonly peers: readonly string[]
  readonly services: readonly ServiceOnNetwork[]
}

/** Everything the node's data plane programs. `vtep` is this node's own tunnel endpoint address. */
export interface NodeNetworkView {
  readonly vtep: string
  readonly networks: readonly NetworkView[]
}

/** A task's address on one network (the store's type; Docker's NetworkAttachment). */
export type { TaskNetworkAddress } from '../../election/index.js'
import type { TaskNetworkAddress } from '../../election/index.js'

/**
 * A node's data plane: the host side of its overlay networks (SwarmKit/libnetwork's overlay driver, the
 * routing mesh, and the service VIPs and names). Every method is idempotent; errors are FlotillaErrors,
 * `retryable` when trying again later may succeed (the network is not programmed yet, the engine did not answer).
 */
export interface DataPlane {
  /**
   * Bring the host in line with `view`: each network created or repaired (engine network, VXLAN device,
   * forwarding entries to its peers), those no longer in the view removed once no container uses them,
   * the routing mesh's rules for the ingress ports, and the names and VIP rules of this node's running
   * task containers. Called with the first view after the agent starts (repairing what it finds wrong),
   * then with each new view. Resolves when the host matches.
   */
  apply(view: NodeNetworkView): Promise<void>
  /**
   * What the task's container create request needs from the data plane: the hosts file mounted at
   * /etc/hosts (written before the container exists). Called before the create.
   */
  createOptions(task: { readonly taskId: string, readonly networks: readonly TaskNetworkAddress[] }): Promise<{ readonly binds: readonly string[] }>
  /** After the create, before the start: connect the container to each network with its address and aliases; write its hosts file. */
  attach(task: { readonly taskId: string, readonly networks: readonly TaskNetworkAddress[] }, containerId: string): Promise<void>
  /** After the start: the VIP rules inside the container's network namespace (`pid` is its init process). */
  started(task: { readonly taskId: string, readonly networks: readonly TaskNetworkAddress[] }, containerId: string, pid: number): Promise<void>
  /** The task's container was removed: forget it and remove its hosts file. */
  removed(taskId: string): Promise<void>
  /** Stop timers; programmed state stays on the host (the next start repairs it). */
  close(): Promise<void>
}
