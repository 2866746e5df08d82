import { describe, expect, it } from 'vitest'
import { FlotillaError } from '../../../src/membership/errors.js'
import { Router } from '../../../src/node/control/router.js'
import type { ApiRequest, ApiResponse } from '../../../src/node/control/http-server.js'

interface Call { readonly route: string, readonly path: string, readonly method: string, readonly params: Record<string, string> }

function request (method: string, path: string): ApiRequest {
  return { method, path, query: new URLSearchParams(), body: Buffer.alloc(0), headers: {} }
}

/** A router over Docker-like routes whose handlers record what they were called with. */
function setup (): { calls: Call[], handle: (method: string, path: string) => Promise<ApiResponse> } {
  const calls: Call[] = []
  const route = (name: string) => async (req: ApiRequest, params: Readonly<Record<string, string>>): Promise<ApiResponse> => {
    calls.push({ route: name, path: req.path, method: req.method, params: { ...params } })
    return { status: 200, json: { route: name } }
  }
  const router = new Router()
    .add('GET', '/_ping', route('ping'))
    .add('GET', '/nodes', route('list nodes'))
    .add('GET', '/nodes/{id}', route('inspect node'))
    .add('DELETE', '/nodes/{id}', route('remove node'))
    .add('POST', '/nodes/{id}/update', route('update node'))
    .add('POST', '/swarm/init', route('swarm init'))
  const handler = router.handler()
  return { calls, handle: async (method, path) => await handler(request(method, path)) }
}

async function rejection (p: Promise<unknown>): Promise<unknown> {
  try {
    const v = await p
    throw new Error(`expected a rejection, got ${JSON.stringify(v)}`)
  } catch (err) {
    return err
  }
}

describe('Router', () => {
  it.each(['/nodes', '/v1.41/nodes', '/v1.24/nodes', '/v1.100/nodes', '/nodes/'])('routes %s to the node list with the version stripped', async (path) => {
    const { calls, handle } = setup()
    const res = await handle('GET', path)
    expect(res).toEqual({ status: 200, json: { route: 'list nodes' } })
    expect(calls).toEqual([{ route: 'list nodes', path: path.replace(/^\/v1\.\d+/, ''), method: 'GET', params: {} }])
  })

  it('decodes {id} parameters', async () => {
    const { calls, handle } = setup()
    await handle('GET', '/v1.41/nodes/abc%20def%2Fghi')
    await handle('POST', '/nodes/n1/update')
    expect(calls.map(c => [c.route, c.params])).toEqual([
      ['inspect node', { id: 'abc def/ghi' }],
      ['update node', { id: 'n1' }]
    ])
  })

  it('dispatches on the method among routes of one path', async () => {
    const { calls, handle } = setup()
    await handle('DELETE', '/nodes/n1')
    await handle('GET', '/nodes/n1')
    expect(calls.map(c => c.route)).toEqual(['remove node', 'inspect node'])
  })

  it.each(['/nope', '/v1.41/nope', '/nodes/a/b', '/v1.41', '/', '/v2.0/nodes', '/nodesx'])('throws not-found "page not found" for %s', async (path) => {
    const { calls, handle } = setup()
    const err = await rejection(handle('GET', path))
    expect(err).toBeInstanceOf(FlotillaError)
    expect(err).toMatchObject({ code: 'not-found', message: 'page not found' })
    expect(calls).toEqual([])
  })

  it.each<[string, string]>([['POST', '/nodes'], ['PUT', '/nodes/n1'], ['GET', '/swarm/init'], ['HEAD', '/v1.41/swarm/init']])('answers 405 to %s %s', async (method, path) => {
    const { calls, handle } = setup()
    const res = await handle(method, path)
    expect(res.status).toBe(405)
    expect(res.json).toEqual({ message: expect.stringContaining(method) as unknown })
    expect(calls).toEqual([])
  })

  it('serves HEAD with the GET route', async () => {
    const { calls, handle } = setup()
    const res = await handle('HEAD', '/v1.41/_ping')
    expect(res.status).toBe(200)
    expect(calls).toEqual([{ route: 'ping', path: '/_ping', method: 'HEAD', params: {} }])
  })

  it('refuses a malformed percent-encoding in a parameter as a client error, not an internal one', async () => {
    // The socket maps a non-FlotillaError to 500 'internal'; a bad path from the client is its own mistake.
    const { calls, handle } = setup()
    const err = await rejection(handle('GET', '/nodes/%E0%A4%A'))
    expect(err).toBeInstanceOf(FlotillaError)
    expect(['invalid-argument', 'not-found']).toContain((err as FlotillaError).code)
    expect(calls).toEqual([])
  })

  it('names the route template a request matches, for metrics labels', () => {
    const router = new Router().add('GET', '/nodes', async () => ({ status: 200 })).add('POST', '/nodes/{id}/update', async () => ({ status: 200 }))
    expect(router.routeOf('GET', '/v1.41/nodes')).toBe('/nodes')
    expect(router.routeOf('HEAD', '/nodes/')).toBe('/nodes')
    expect(router.routeOf('POST', '/nodes/abc/update')).toBe('/nodes/{id}/update')
    expect(router.routeOf('DELETE', '/nodes/abc/update')).toBe('unmatched')
    expect(router.routeOf('GET', '/nope')).toBe('unmatched')
  })
})
