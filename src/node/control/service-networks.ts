/**
 * A service spec's networks as the store keeps them: each Target a network ID (dockerd resolves names
 * before SwarmKit sees them), the ingress network never named (Swarm attaches it by itself to services
 * that publish in ingress mode). Read on the leader, against its store.
 */
import { FlotillaError } from '../../membership/index.js'
import type { NetworkObject, ServiceSpec } from '../../election/index.js'
import { findByRef } from './schemas.js'

export function resolveServiceNetworks (spec: ServiceSpec, networks: Iterable<NetworkObject>): ServiceSpec {
  const attached = spec.TaskTemplate.Networks ?? []
  if (attached.length === 0) return spec
  const all = [...networks]
  const seen = new Set<string>()
  const resolved = attached.map((a, i) => {
    const n = findByRef(all, a.Target, 'network', 'create it with `docker network create -d overlay NAME`, or list them with `docker network ls`')
    if (n.spec.Ingress) {
      throw new FlotillaError('invalid-argument', `TaskTemplate.Networks[${i}]: service cannot be explicitly attached to the ingress network "${n.name}"`, {
        hint: 'publish a port in ingress mode (--publish) and the routing mesh attaches the service to it'
      })
    }
    if (seen.has(n.id)) throw new FlotillaError('invalid-argument', `TaskTemplate.Networks[${i}]: network ${n.name} is attached more than once`)
    seen.add(n.id)
    return { ...a, Target: n.id }
  })
  return { ...spec, TaskTemplate: { ...spec.TaskTemplate, Networks: resolved } }
}
