import { createConnection, createServer, type Server, type Socket } from 'node:net'
import { rmSync } from 'node:fs'
import { ENGINE_SOCKET } from './docker-engine.js'

/**
 * A unix socket in front of the real engine: an agent given it as its --docker-host talks to the real
 * engine until `cut` closes every connection and stops listening — an engine that dies under a node.
 */
export class EngineProxy {
  private readonly sockets = new Set<Socket>()

  private constructor (readonly path: string, private readonly server: Server) {
    server.on('connection', client => {
      const engine = createConnection(ENGINE_SOCKET)
      for (const s of [client, engine]) {
        this.sockets.add(s)
        s.on('error', () => { client.destroy(); engine.destroy() })
        s.on('close', () => { this.sockets.delete(s); client.destroy(); engine.destroy() })
      }
      client.pipe(engine)
      engine.pipe(client)
    })
  }

  static async start (path: string): Promise<EngineProxy> {
    rmSync(path, { force: true })
    const server = createServer()
    await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(path, resolve) })
    return new EngineProxy(path, server)
  }

  get url (): string {
    return `unix://${this.path}`
  }

  /** The engine is gone: open connections drop and new ones are refused. */
  async cut (): Promise<void> {
    for (const s of this.sockets) s.destroy()
    await new Promise<void>(resolve => { this.server.close(() => { resolve() }) })
    rmSync(this.path, { force: true })
  }
}
