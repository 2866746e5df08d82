import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { statSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AgentProcess, callSocket, freePort } from '../support/agent-process.js'

// One real agent: the control socket's Docker-shaped answers and its handling of bad input.
describe('control socket', () => {
  let dir: string
  let agent: AgentProcess

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'flotilla-socket-'))
    agent = new AgentProcess({ baseDir: dir, hostname: 'sock-1', port: await freePort() })
    await agent.start([])
  })
  afterAll(async () => {
    await agent?.kill()
    rmSync(dir, { recursive: true, force: true })
  })

  it('is a unix socket with mode 0660', () => {
    const st = statSync(agent.socket)
    expect(st.isSocket()).toBe(true)
    expect(st.mode & 0o777).toBe(0o660)
  })

  it('answers HEAD and GET /_ping with an API-Version header, and serves versioned paths', async () => {
    const head = await agent.api('HEAD', '/_ping')
    expect(head.status).toBe(200)
    expect(head.headers['api-version']).toBe('1.41')
    const get = await agent.api('GET', '/_ping')
    expect(get.body).toBe('OK')
    for (const v of ['/v1.24', '/v1.41', '/v1.50']) {
      const r = await agent.api('GET', `${v}/version`)
      expect(r.status).toBe(200)
      expect(r.body.ApiVersion).toBe('1.41')
      expect(r.body.MinAPIVersion).toBe('1.24')
    }
  })

  it('reports an inactive node before init, and Docker\'s 503 for swarm endpoints', async () => {
    const info = await agent.api('GET', '/info')
    expect(info.body.Swarm.LocalNodeState).toBe('inactive')
    expect(info.body.Name).toBe('sock-1')
    for (const path of ['/swarm', '/nodes', '/nodes/x']) {
      const r = await agent.api('GET', path)
      expect(r.status).toBe(503)
      expect(r.body.message).toMatch(/not part of a swarm/)
    }
    const leave = await agent.api('POST', '/swarm/leave')
    expect(leave.status).toBe(503)
  })

  it('refuses bad input with a 4xx and a clear message, and changes nothing', async () => {
    const cases: Array<{ method: string, path: string, raw?: string, body?: unknown, status: number, message: RegExp }> = [
      { method: 'POST', path: '/swarm/init', raw: '{"ListenAddr": ', status: 400, message: /invalid JSON/ },
      { method: 'POST', path: '/swarm/init', raw: '', status: 400, message: /body is empty/ },
      { method: 'POST', path: '/swarm/init', body: { ListenAddr: 42 }, status: 400, message: /ListenAddr/ },
      { method: 'POST', path: '/swarm/init', body: { Spec: { Raft: { ElectionTick: 'ten' } } }, status: 400, message: /Spec\.Raft\.ElectionTick/ },
      { method: 'POST', path: '/swarm/init', body: { ListenAddr: 'example.com:80' }, status: 400, message: /ListenAddr.*not an IP address/ },
      { method: 'POST', path: '/swarm/init', body: { AutoLockManagers: true }, status: 400, message: /autolock/ },
      { method: 'POST', path: '/swarm/join', body: { JoinToken: 'x' }, status: 400, message: /RemoteAddrs/ },
      { method: 'POST', path: '/swarm/join', body: { RemoteAddrs: ['127.0.0.1:1'], JoinToken: 'x' }, status: 400, message: /invalid join token/ },
      { method: 'GET', path: '/no/such/route', status: 404, message: /page not found/ },
      { method: 'DELETE', path: '/swarm/init', status: 405, message: /not allowed/ }
    ]
    for (const c of cases) {
      const r = await callSocket(agent.socket, c.method, c.path, c.body, 10_000, c.raw)
      expect(r.status, `${c.method} ${c.path} ${c.raw ?? JSON.stringify(c.body)}`).toBe(c.status)
      expect(r.body.message, `${c.method} ${c.path}`).toMatch(c.message)
    }
    const big = Buffer.alloc(1024 * 1024 + 10, 'a')
    const r = await callSocket(agent.socket, 'POST', '/swarm/init', undefined, 10_000, big).catch((err: Error) => ({ status: -1, body: { message: err.message }, headers: {} }))
    // The agent either answers 413 or cuts the upload short; either way nothing is applied.
    if (r.status !== -1) {
      expect(r.status).toBe(413)
      expect(r.body.message).toMatch(/1 MiB/)
    }
    expect(agent.running).toBe(true)
    expect((await agent.api('GET', '/info')).body.Swarm.LocalNodeState).toBe('inactive')
  })

  it('inits through the socket; then refuses a second init and bad filters, and looks nodes up by ID, prefix and hostname', async () => {
    const init = await agent.api('POST', '/swarm/init', { ListenAddr: agent.addr, AdvertiseAddr: agent.addr })
    expect(init.status).toBe(200)
    expect(typeof init.body).toBe('string')
    expect(init.body).toMatch(/^[0-9a-z]{25}$/)
    const again = await agent.api('POST', '/swarm/init', {})
    expect(again.status).toBe(503)
    expect(again.body.message).toMatch(/already part of a swarm/)
    const bad = await agent.api('GET', '/nodes?filters=%7Bnope')
    expect(bad.status).toBe(400)
    expect(bad.body.message).toMatch(/invalid filters/)
    const unknownFilter = await agent.api('GET', `/nodes?filters=${encodeURIComponent('{"colour":{"red":true}}')}`)
    expect(unknownFilter.status).toBe(400)
    const id = init.body as string
    for (const ref of [id, id.slice(0, 6), 'sock-1']) {
      const r = await agent.api('GET', `/nodes/${ref}`)
      expect(r.status).toBe(200)
      expect(r.body.ID).toBe(id)
    }
    expect((await agent.api('GET', '/nodes/zzzz')).status).toBe(404)
    const managers = await agent.api('GET', `/nodes?filters=${encodeURIComponent('{"role":{"manager":true}}')}`)
    expect(managers.body.map((n: any) => n.ID)).toEqual([id])
    const workers = await agent.api('GET', `/nodes?filters=${encodeURIComponent('{"role":{"worker":true}}')}`)
    expect(workers.body).toEqual([])
    const leave = await agent.api('POST', '/swarm/leave')
    expect(leave.status).toBe(503)
    expect(leave.body.message).toMatch(/--force/)
    expect((await agent.api('POST', '/swarm/leave?force=true')).status).toBe(200)
    expect((await agent.api('GET', '/info')).body.Swarm.LocalNodeState).toBe('inactive')
  })
})
