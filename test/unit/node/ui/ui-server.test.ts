import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { request } from 'node:http'
import { createLogger } from '../../../../src/membership/logger.js'
import { muxFrame } from '../../../../src/tasks/index.js'
import type { ApiHandler, ApiRequest, ApiResponse } from '../../../../src/node/control/http-server.js'
import { startUi, type UiServer } from '../../../../src/node/ui/ui-server.js'
import type { DashboardState } from '../../../../src/node/ui/model.js'
import { freePort, waitFor } from '../../../support/agent-process.js'
import { httpCall as call } from '../../../support/http.js'
import { harness, type Harness } from '../service-harness.js'

/** The first `state` message of the page's event feed. */
async function firstState (port: number): Promise<DashboardState> {
  return await new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/api/stream', headers: { Host: `127.0.0.1:${port}` }, timeout: 5000 }, res => {
      let text = ''
      res.setEncoding('utf8').on('data', (c: string) => {
        text += c
        const m = /event: state\ndata: (.*)\n\n/.exec(text)
        if (m !== null) { resolve(JSON.parse(m[1]!) as DashboardState); req.destroy() }
      })
    })
    req.on('timeout', () => { req.destroy(new Error('no state on the feed')) })
    req.on('error', (err) => { if (!/socket hang up|aborted/.test(err.message)) reject(err) })
    req.end()
  })
}

describe('the dashboard\'s listener', () => {
  let h: Harness
  let ui: UiServer | null = null
  let port = 0
  const seen: string[] = []

  /** The service routes of the harness, plus what the dashboard also reads: events, a node, a task's logs. */
  function api (): ApiHandler {
    return async (req: ApiRequest): Promise<ApiResponse> => {
      seen.push(`${req.method} ${req.path}`)
      if (req.path === '/events') {
        return { status: 200, stream: async (write) => { await write(Buffer.from('{"Type":"service","Action":"create","Actor":{"ID":"s","Attributes":{"name":"web"}},"scope":"swarm","time":1,"timeNano":1000000000}\n')) } }
      }
      if (req.path === '/nodes/node1aaaaaa' && req.method === 'GET') return { status: 200, json: { ID: 'node1aaaaaa', Version: { Index: 7 }, Spec: { Role: 'worker', Availability: 'active', Labels: {} } } }
      if (req.path === '/nodes/node1aaaaaa/update') return { status: 200 }
      if (/^\/tasks\/[^/]+\/logs$/.test(req.path)) {
        return { status: 200, headers: { 'Content-Type': 'application/vnd.docker.multiplexed-stream' }, stream: async (write) => { await write(Buffer.concat([muxFrame(1, Buffer.from('hello\n')), muxFrame(2, Buffer.from('oops\n'))])) } }
      }
      return await h.handler(req)
    }
  }

  async function start (actions: boolean): Promise<void> {
    port = await freePort()
    ui = await startUi({
      listen: { ip: '127.0.0.1', port },
      actions,
      api: api(),
      self: () => ({ nodeId: 'node1aaaaaa', hostname: 'alpha', role: 'worker' }),
      hostnames: ['alpha'],
      metrics: async () => ({ contentType: 'text/plain; version=0.0.4', text: 'flotilla_up 1\n' }),
      logger: createLogger('error', () => {}),
      refreshMs: 100
    })
  }

  beforeEach(async () => {
    h = harness()
    seen.length = 0
    const created = await h.call('POST', '/services/create', { Name: 'web', TaskTemplate: { ContainerSpec: { Image: 'busybox:1', Env: ['PASSWORD=hunter2'] } }, Mode: { Replicated: { Replicas: 2 } } })
    expect(created.status).toBe(201)
  })

  afterEach(async () => {
    await ui?.stop()
    ui = null
  })

  it('serves the page with its CSRF token, its script and style, all under a strict policy', async () => {
    await start(false)
    const page = await call(port, 'GET', '/')
    expect(page.status).toBe(200)
    expect(page.headers['content-type']).toContain('text/html')
    expect(page.text).toMatch(/<meta name="csrf-token" content="[A-Za-z0-9_-]{43}">/)
    expect(page.headers['content-security-policy']).toContain("script-src 'self'")
    expect(page.headers['x-frame-options']).toBe('DENY')
    for (const [path, type] of [['/app.js', 'text/javascript'], ['/app.css', 'text/css'], ['/favicon.svg', 'image/svg+xml']] as const) {
      const r = await call(port, 'GET', path)
      expect(r.status).toBe(200)
      expect(r.headers['content-type']).toContain(type)
      expect(r.text.length).toBeGreaterThan(50)
    }
  })

  it('answers unknown paths 404, and never proxies the socket\'s other routes', async () => {
    await start(true)
    for (const path of ['/nope', '/swarm', '/api/swarm', '/secrets', '/api/secrets', '/nodes', '/app.js/x']) {
      expect((await call(port, 'GET', path)).status, path).toBe(404)
    }
    expect((await call(port, 'DELETE', '/api/state')).status).toBe(405)
    expect(seen).toEqual([])
  })

  it('refuses a foreign Host (DNS rebinding) and a foreign Origin with 403, before anything is read', async () => {
    await start(true)
    const rebound = await call(port, 'GET', '/api/state', { Host: `evil.example:${port}` })
    expect(rebound.status).toBe(403)
    expect(rebound.json.message).toContain('is not this dashboard\'s address')
    const foreign = await call(port, 'GET', '/api/state', { Origin: 'http://evil.example' })
    expect(foreign.status).toBe(403)
    expect((await call(port, 'GET', '/metrics', { Host: `localhost.evil.example:${port}` })).status).toBe(403)
    expect(seen).toEqual([])
    expect((await call(port, 'GET', '/api/state', { Host: `localhost:${port}`, Origin: `http://localhost:${port}` })).status).toBe(200)
  })

  it('pushes the cluster and its events on the feed, and serves the state as JSON', async () => {
    h.addTask({ id: 'task1', serviceId: h.state().services.values().next().value!.id, nodeId: 'node1aaaaaa', slot: 1 })
    await start(false)
    const state = await firstState(port)
    expect(state).toMatchObject({ actions: false, error: null, self: { hostname: 'alpha' } })
    expect(state.services.map(s => [s.name, s.image, s.desired])).toEqual([['web', 'busybox:1', 2]])
    expect(state.tasks.map(t => [t.name, t.nodeId, t.state])).toEqual([['web.1', 'node1aaaaaa', 'running']])
    expect(JSON.stringify(state)).not.toContain('hunter2')
    const json = await call(port, 'GET', '/api/state')
    expect(json.json.services[0].name).toBe('web')
    // Only the allow-listed reads reached the API.
    expect(new Set(seen.map(s => s.replace(/\/tasks\/[^/]+\/logs/, '/tasks/{id}/logs')))).toEqual(new Set(['GET /nodes', 'GET /services', 'GET /tasks', 'GET /events']))
  })

  it('shows a service\'s tasks and a task\'s last log lines', async () => {
    const id = h.state().services.values().next().value!.id
    h.addTask({ id: 'task1', serviceId: id, nodeId: 'node1aaaaaa', slot: 1 })
    await start(false)
    const tasks = await call(port, 'GET', `/api/services/${id}/tasks`)
    expect(tasks.json.map((t: any) => t.name)).toEqual(['web.1'])
    const logs = await call(port, 'GET', '/api/tasks/task1/logs?tail=10')
    expect(logs.json).toEqual([{ stream: 'stdout', text: 'hello' }, { stream: 'stderr', text: 'oops' }])
    expect((await call(port, 'GET', '/api/services/nope/tasks')).status).toBe(404)
  })

  it('refuses every action when read-only, and changes nothing', async () => {
    await start(false)
    const page = await call(port, 'GET', '/')
    const token = /name="csrf-token" content="([^"]+)"/.exec(page.text)![1]!
    const r = await call(port, 'POST', `/api/services/web/scale`, { 'X-CSRF-Token': token, 'Content-Type': 'application/json' }, { replicas: 5 })
    expect(r.status).toBe(403)
    expect(r.json.message).toContain('--ui-actions')
    expect(h.proposed.map(c => c.op)).toEqual(['service.create'])
  })

  it('with --ui-actions, refuses an action without the page\'s CSRF token and takes one with it, through the API', async () => {
    await start(true)
    const token = /name="csrf-token" content="([^"]+)"/.exec((await call(port, 'GET', '/')).text)![1]!
    for (const headers of [{}, { 'X-CSRF-Token': 'x'.repeat(43) }]) {
      const refused = await call(port, 'POST', '/api/services/web/scale', headers, { replicas: 5 })
      expect(refused.status).toBe(403)
      expect(refused.json.message).toContain('CSRF')
    }
    expect(h.proposed.map(c => c.op)).toEqual(['service.create'])
    const ok = { 'X-CSRF-Token': token, Origin: `http://127.0.0.1:${port}` }
    expect((await call(port, 'POST', '/api/services/web/scale', ok, { replicas: 5 })).status).toBe(200)
    expect((h.state().services.values().next().value!.spec.Mode as any).Replicated.Replicas).toBe(5)
    expect((await call(port, 'POST', '/api/services/web/image', ok, { image: 'busybox:2' })).status).toBe(200)
    expect(h.state().services.values().next().value!.spec.TaskTemplate.ContainerSpec.Image).toBe('busybox:2')
    expect((await call(port, 'POST', '/api/services/web/rollback', ok)).status).toBe(200)
    expect(h.state().services.values().next().value!.spec.TaskTemplate.ContainerSpec.Image).toBe('busybox:1')
    expect((await call(port, 'POST', '/api/nodes/node1aaaaaa/availability', ok, { availability: 'drain' })).status).toBe(200)
    expect(seen).toContain('POST /nodes/node1aaaaaa/update')
    // The API's own validation and errors, as the socket gives them.
    const bad = await call(port, 'POST', '/api/services/web/scale', ok, { replicas: -1 })
    expect(bad.status).toBe(400)
    const missing = await call(port, 'POST', '/api/services/nope/scale', ok, { replicas: 1 })
    expect(missing.status).toBe(404)
    expect(missing.json.message).toMatch(/^service nope not found \(list the services/)
    expect((await call(port, 'POST', '/api/services/web/launch', ok)).status).toBe(404)
  })

  it('serves /metrics', async () => {
    await start(false)
    const m = await call(port, 'GET', '/metrics')
    expect(m).toMatchObject({ status: 200, text: 'flotilla_up 1\n' })
    expect(m.headers['content-type']).toContain('version=0.0.4')
  })

  it('stops reading the cluster when the last page goes', async () => {
    await start(false)
    await firstState(port)
    await waitFor('the feed to close', () => ui!.hub.listening === 0, 5000, 20)
    const before = seen.length
    await new Promise(resolve => setTimeout(resolve, 300)) // three refresh periods: any read would show
    expect(seen.length).toBe(before)
  })
})
