/** A published port's transport protocol, as Docker's API writes it. */
export type PortProtocol = 'tcp' | 'udp' | 'sctp'

/**
 * A PortConfig after the leader's allocator has run (src/tasks/allocator): protocol, publish mode and
 * published port are always set. Stored on a service (Docker's Service.Endpoint.Ports) and on each task.
 */
export interface AllocatedPort {
  readonly Name?: string
  readonly Protocol: PortProtocol
  readonly TargetPort: number
  /** 1–65535: the spec's own port, or one kept from the service's previous allocation, or the lowest free dynamic port. */
  readonly PublishedPort: number
  /** 'ingress': published on every node by the routing mesh; 'host': on the task's node by its engine. */
  readonly PublishMode: 'ingress' | 'host'
}

/** The key of a published port in a set of taken ports: `"tcp/8080"`. Two services may not share one. */
export function portKey (protocol: PortProtocol, publishedPort: number): string {
  return `${protocol}/${publishedPort}`
}
