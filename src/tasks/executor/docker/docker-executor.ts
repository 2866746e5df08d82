import Docker from 'dockerode'
import { FlotillaError, type NodeDescription } from '../../../membership/index.js'
import { hostDescription } from '../host-description.js'
import type { Executor } from '../types.js'

/** How long the engine may take to answer `GET /info` before it counts as unavailable. */
const ENGINE_TIMEOUT_MS = 3000

/**
 * Parse a Docker host URL as the docker CLI takes it: unix:///path, tcp://host:port (or http://), or a
 * bare socket path. Throws `invalid-argument` otherwise.
 */
export function dockerOptions (url: string): Docker.DockerOptions {
  if (url.startsWith('unix://')) return { socketPath: url.slice('unix://'.length), timeout: ENGINE_TIMEOUT_MS }
  if (url.startsWith('/')) return { socketPath: url, timeout: ENGINE_TIMEOUT_MS }
  const m = /^(tcp|http):\/\/([^:/]+):(\d+)\/?$/.exec(url)
  if (m !== null) return { protocol: 'http', host: m[2]!, port: Number(m[3]), timeout: ENGINE_TIMEOUT_MS }
  throw new FlotillaError('invalid-argument', `docker host "${url}" is not unix:///path or tcp://host:port`)
}

/** The executor backed by one Docker engine through dockerode. */
export class DockerExecutor implements Executor {
  private readonly docker: Docker

  constructor (readonly dockerHost: string) {
    this.docker = new Docker(dockerOptions(dockerHost))
  }

  async describe (): Promise<NodeDescription> {
    try {
      const info = await this.docker.info() as {
        ServerVersion?: string, OSType?: string, Architecture?: string, NCPU?: number, MemTotal?: number, Labels?: string[]
      }
      const labels: Record<string, string> = {}
      for (const l of info.Labels ?? []) {
        const i = l.indexOf('=')
        if (i > 0) labels[l.slice(0, i)] = l.slice(i + 1)
      }
      const host = hostDescription({ state: 'available', version: info.ServerVersion ?? '', labels })
      return {
        ...host,
        os: info.OSType ?? host.os,
        arch: info.Architecture ?? host.arch,
        nanoCpus: (info.NCPU ?? 0) > 0 ? info.NCPU! * 1_000_000_000 : host.nanoCpus,
        memoryBytes: (info.MemTotal ?? 0) > 0 ? info.MemTotal! : host.memoryBytes
      }
    } catch (err) {
      return hostDescription({ state: 'unavailable', message: `Docker engine at ${this.dockerHost} does not answer: ${(err as Error).message}` })
    }
  }
}
