import Docker from 'dockerode'
import { existsSync } from 'node:fs'

/** The engine the Docker tests use: DOCKER_HOST or the default socket. */
export const ENGINE_SOCKET = process.env.DOCKER_HOST?.startsWith('unix://') === true ? process.env.DOCKER_HOST.slice(7) : '/var/run/docker.sock'

/**
 * The engine's version, or a loud failure: these tests never skip for lack of an engine (CI starts one
 * with .ci/run; locally, start dockerd).
 */
export async function requireEngine (): Promise<{ version: string, ncpu: number, memTotal: number }> {
  try {
    const info = await new Docker({ socketPath: ENGINE_SOCKET, timeout: 5000 }).info() as { ServerVersion: string, NCPU: number, MemTotal: number }
    return { version: info.ServerVersion, ncpu: info.NCPU, memTotal: info.MemTotal }
  } catch (err) {
    throw new Error(`NO DOCKER ENGINE answers at unix://${ENGINE_SOCKET} (${(err as Error).message}). ` +
      'The Docker tests need one: run `sudo bash .ci/run`, or start dockerd.')
  }
}

/** The docker CLI binaries on this machine: the 28.x at /usr/local/bin and Debian's 20.10 at /usr/bin. */
export function dockerClis (): string[] {
  return ['/usr/local/bin/docker', '/usr/bin/docker'].filter(p => existsSync(p))
}
