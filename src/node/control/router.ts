import { FlotillaError } from '../../membership/index.js'
import type { ApiHandler, ApiRequest, ApiResponse } from './http-server.js'

/** A route's handler gets the request and the path's named parameters. */
export type RouteHandler = (req: ApiRequest, params: Readonly<Record<string, string>>) => Promise<ApiResponse>

interface Route {
  readonly method: string
  readonly path: string
  readonly pattern: RegExp
  readonly names: readonly string[]
  readonly handler: RouteHandler
}

/** `/v1.41/nodes` → `/nodes`: Docker accepts any API version prefix on every path. */
const VERSION_PREFIX = /^\/v1\.\d{1,3}(?=\/)/

/** A request path without its API version prefix. */
export function unversioned (path: string): string {
  return path.replace(VERSION_PREFIX, '')
}

/**
 * Method + path dispatch with `{name}` parameters. Unknown paths answer Docker's 404 `page not found`;
 * a known path with another method answers 405.
 */
export class Router {
  private readonly routes: Route[] = []

  add (method: string, path: string, handler: RouteHandler): this {
    const names: string[] = []
    const pattern = new RegExp('^' + path.replace(/\{(\w+)\}/g, (_m, name: string) => { names.push(name); return '([^/]+)' }) + '/?$')
    this.routes.push({ method, path, pattern, names, handler })
    return this
  }

  /**
   * The pattern of the route `method path` would be served by (`/services/{id}`), for metrics labels
   * whose values must stay bounded; `unmatched` when no route takes it.
   */
  routeOf (method: string, path: string): string {
    const p = unversioned(path)
    const m = method === 'HEAD' ? 'GET' : method
    return this.routes.find(r => r.method === m && r.pattern.test(p))?.path ?? 'unmatched'
  }

  handler (): ApiHandler {
    return async (req) => {
      const path = unversioned(req.path)
      let pathMatched = false
      for (const r of this.routes) {
        const m = r.pattern.exec(path)
        if (m === null) continue
        pathMatched = true
        const method = req.method === 'HEAD' ? 'GET' : req.method // HEAD is GET without the body
        if (method !== r.method) continue
        const params: Record<string, string> = {}
        r.names.forEach((n, i) => {
          try {
            params[n] = decodeURIComponent(m[i + 1]!)
          } catch {
            throw new FlotillaError('invalid-argument', `malformed percent-encoding in path parameter ${n}: ${m[i + 1]!}`)
          }
        })
        return await r.handler({ ...req, path }, params)
      }
      if (pathMatched) return { status: 405, json: { message: `method ${req.method} not allowed on ${path}` } }
      throw new FlotillaError('not-found', 'page not found')
    }
  }
}
