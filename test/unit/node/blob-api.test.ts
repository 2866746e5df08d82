import { describe, expect, it } from 'vitest'
import { FlotillaError } from '../../../src/membership/errors.js'
import { applyCommand } from '../../../src/election/state/apply.js'
import { decodeStore, encodeStore } from '../../../src/election/state/snapshot-codec.js'
import { encodeCommand, type Command } from '../../../src/election/state/commands.js'
import { DEFAULT_ADDRESS_POOL, EMPTY_STATE, type StoreState } from '../../../src/election/index.js'
import { seal, secretsKey, taskSecretsOf, unseal } from '../../../src/tasks/index.js'
import { errorResponse, type ApiResponse } from '../../../src/node/control/http-server.js'
import { Router } from '../../../src/node/control/router.js'
import { addServiceRoutes, type ClusterCall, type ServiceManager } from '../../../src/node/control/service-api.js'
import { addBlobRoutes, MAX_BLOB_BYTES } from '../../../src/node/control/blob-api.js'
import { findNode } from '../../../src/node/control/api.js'

const NOW = Date.UTC(2026, 0, 2, 3, 4, 5)
const ROOT_KEY = new Uint8Array(Array.from({ length: 48 }, (_, i) => i))
const PLAIN = 'correct horse battery staple'

interface Harness {
  call: (method: string, path: string, body?: unknown) => Promise<ApiResponse>
  state: () => StoreState
  proposed: Command[]
}

/** The secret, config and service routes over a store (with a cluster and its root key) applying proposals for real. */
function harness (): Harness {
  let state: StoreState = applyCommand(EMPTY_STATE, 1, {
    op: 'cluster.init',
    cluster: { id: 'c1', createdAtMs: NOW, updatedAtMs: NOW, spec: {}, root: { publicKeyDer: new Uint8Array(), privateKeyDer: ROOT_KEY }, secrets: { worker: 'w', manager: 'm' }, addressPool: DEFAULT_ADDRESS_POOL },
    node: { id: 'n1', peerId: 'p1', hostname: 'h1', spec: { role: 'manager', availability: 'active', labels: {} }, certificate: new Uint8Array(), status: { state: 'ready', message: '', sinceMs: 0, addr: '' }, description: null, networkAddresses: [], createdAtMs: NOW, updatedAtMs: NOW }
  }).state
  const proposed: Command[] = []
  let ids = 0
  const mgr: ServiceManager = {
    store: { get state () { return state } },
    propose: async cmd => {
      proposed.push(cmd)
      const applied = applyCommand(state, state.index + 1, cmd)
      state = applied.state
      if (!applied.result.ok) throw new FlotillaError(applied.result.code, applied.result.message)
    }
  }
  const cluster: ClusterCall = async (_req, _write, local) => await local(mgr)
  const requiredVersion = (q: URLSearchParams): number => Number(q.get('version'))
  const router = addBlobRoutes(addServiceRoutes(new Router(), { cluster, requiredVersion, findNode, now: () => NOW, newId: () => `svc${++ids}${'x'.repeat(21)}` }),
    { cluster, now: () => NOW, newId: () => `obj${++ids}${'y'.repeat(21)}` })
  const handler = router.handler()
  return {
    proposed,
    state: () => state,
    call: async (method, path, body) => {
      const url = new URL(path, 'http://flotilla')
      try {
        return await handler({ method, path: url.pathname, query: url.searchParams, body: Buffer.from(body === undefined ? '' : JSON.stringify(body)), headers: {} })
      } catch (err) {
        return errorResponse(err)
      }
    }
  }
}

const b64 = (s: string): string => Buffer.from(s).toString('base64')
const message = (r: ApiResponse): string => (r.json as { message?: string } | undefined)?.message ?? ''

describe('sealing', () => {
  it('opens what it sealed for the same secret only, and the sealed bytes do not hold the plaintext', () => {
    const key = secretsKey(ROOT_KEY)
    const sealed = seal(key, 's1', Buffer.from(PLAIN))
    expect(Buffer.from(sealed).includes(Buffer.from(PLAIN))).toBe(false)
    expect(Buffer.from(unseal(key, 's1', sealed)).toString()).toBe(PLAIN)
    expect(() => unseal(key, 's2', sealed)).toThrow(/does not open/)
    expect(() => unseal(secretsKey(new Uint8Array(48)), 's1', sealed)).toThrow(/does not open/)
    const tampered = Buffer.from(sealed)
    tampered[20] = tampered[20]! ^ 1
    expect(() => unseal(key, 's1', tampered)).toThrow(/does not open/)
  })
})

describe('secrets and configs on the socket', () => {
  it('creates a secret whose data no read returns and no entry or snapshot holds in the clear', async () => {
    const h = harness()
    const r = await h.call('POST', '/secrets/create', { Name: 'db_password', Labels: { app: 'shop' }, Data: b64(PLAIN) })
    expect(r.status).toBe(201)
    const id = (r.json as { ID: string }).ID
    const shown = await h.call('GET', `/secrets/${id}`)
    expect(shown.json).toEqual({ ID: id, Version: { Index: 2 }, CreatedAt: expect.any(String) as string, UpdatedAt: expect.any(String) as string, Spec: { Name: 'db_password', Labels: { app: 'shop' } } })
    expect(JSON.stringify((await h.call('GET', '/secrets')).json)).not.toContain(b64(PLAIN))
    expect(Buffer.from(encodeCommand(h.proposed[0]!)).includes(Buffer.from(PLAIN))).toBe(false)
    const snapshot = Buffer.from(encodeStore(h.state()))
    expect(snapshot.includes(Buffer.from(PLAIN))).toBe(false)
    // The snapshot round-trips, and the leader opens it for the node that runs a task referencing it.
    const restored = decodeStore(snapshot)
    const blobs = taskSecretsOf(restored, { Image: 'x', Secrets: [{ File: { Name: 'pw', UID: '0', GID: '0', Mode: 0o400 }, SecretID: id, SecretName: 'db_password' }] })
    expect(blobs.secrets.map(s => [s.name, Buffer.from(s.data).toString()])).toEqual([['db_password', PLAIN]])
  })

  it('shows a config\'s data, filters by name, label and id, and changes labels only', async () => {
    const h = harness()
    const id = ((await h.call('POST', '/configs/create', { Name: 'nginx.conf', Data: b64('server {}') })).json as { ID: string }).ID
    await h.call('POST', '/configs/create', { Name: 'other', Labels: { tier: 'web' }, Data: b64('x') })
    expect(((await h.call('GET', `/configs/nginx.conf`)).json as { Spec: { Data: string } }).Spec.Data).toBe(b64('server {}'))
    const names = async (filters: object): Promise<string[]> =>
      ((await h.call('GET', `/configs?filters=${encodeURIComponent(JSON.stringify(filters))}`)).json as Array<{ Spec: { Name: string } }>).map(c => c.Spec.Name)
    expect(await names({ label: { tier: true } })).toEqual(['other'])
    expect(await names({ name: { ngin: true } })).toEqual(['nginx.conf'])
    expect(await names({ id: { [id.slice(0, 5)]: true } })).toEqual(['nginx.conf'])
    const v = (h.state().configs.get(id)!).version
    expect((await h.call('POST', `/configs/${id}/update?version=${v}`, { Name: 'nginx.conf', Labels: { a: 'b' }, Data: b64('server {}') })).status).toBe(200)
    expect(h.state().configs.get(id)!.spec.Labels).toEqual({ a: 'b' })
    const changed = await h.call('POST', `/configs/${id}/update?version=${h.state().configs.get(id)!.version}`, { Name: 'nginx.conf', Data: b64('other') })
    expect(changed.status).toBe(400)
    expect(message(changed)).toMatch(/only updates to Labels are allowed/)
    const stale = await h.call('POST', `/configs/${id}/update?version=${v}`, { Name: 'nginx.conf', Labels: {} })
    expect(stale.status).toBe(409)
  })

  it.each<[string, unknown, number, RegExp]>([
    ['a name with a slash', { Name: 'a/b', Data: b64('x') }, 400, /Name: invalid name "a\/b"/],
    ['a name of 65 characters', { Name: 'a'.repeat(65), Data: b64('x') }, 400, /only 64/],
    ['data that is not base64', { Name: 'pw', Data: 'not base64!' }, 400, /Data: is not base64/],
    ['no data', { Name: 'pw' }, 400, /Data: secret data must be larger than 0/],
    ['data over 500 KiB', { Name: 'pw', Data: Buffer.alloc(MAX_BLOB_BYTES + 1).toString('base64') }, 400, /less than 512000 bytes/],
    ['a driver', { Name: 'pw', Data: b64('x'), Driver: { Name: 'vault' } }, 400, /Driver: secret drivers are not supported/],
    ['a body that is no spec', [1, 2], 400, /secret spec/]
  ])('refuses %s and stores nothing', async (_what, body, status, text) => {
    const h = harness()
    const r = await h.call('POST', '/secrets/create', body)
    expect(r.status).toBe(status)
    expect(message(r)).toMatch(text)
    expect(h.state().secrets.size).toBe(0)
  })

  it('refuses a taken name with 409, and removes a secret only when no service uses it, naming the services', async () => {
    const h = harness()
    const id = ((await h.call('POST', '/secrets/create', { Name: 'pw', Data: b64(PLAIN) })).json as { ID: string }).ID
    expect((await h.call('POST', '/secrets/create', { Name: 'pw', Data: b64('y') })).status).toBe(409)
    const svc = await h.call('POST', '/services/create', {
      Name: 'db', TaskTemplate: { ContainerSpec: { Image: 'busybox', Secrets: [{ SecretName: 'pw', File: { Name: 'password' } }] } }
    })
    expect(svc.status, message(svc)).toBe(201)
    const stored = [...h.state().services.values()][0]!.spec.TaskTemplate.ContainerSpec.Secrets
    expect(stored).toEqual([{ File: { Name: 'password', UID: '0', GID: '0', Mode: 0o444 }, SecretID: id, SecretName: 'pw' }])
    const rm = await h.call('DELETE', `/secrets/pw`)
    expect(rm.status).toBe(409)
    expect(message(rm)).toBe('secret \'pw\' is in use by the following service: db')
    await h.call('DELETE', '/services/db')
    expect((await h.call('DELETE', '/secrets/pw')).status).toBe(204)
    expect(h.state().secrets.size).toBe(0)
  })

  it.each<[string, object, number, RegExp]>([
    ['a secret that does not exist', { Secrets: [{ SecretName: 'nope' }] }, 404, /secret not found: nope/],
    ['a config that does not exist', { Configs: [{ ConfigName: 'nope' }] }, 404, /config not found: nope/],
    ['two secrets at one target', { Secrets: [{ SecretName: 'pw', File: { Name: 'x' } }, { SecretName: 'pw2', File: { Name: 'x' } }] }, 400, /conflicting target: 'x'/],
    ['a target with ..', { Secrets: [{ SecretName: 'pw', File: { Name: '../etc/passwd' } }] }, 400, /must not contain "\.\."/],
    ['a non-numeric owner', { Secrets: [{ SecretName: 'pw', File: { Name: 'x', UID: 'root' } }] }, 400, /numeric user ID/]
  ])('refuses a service referencing %s, and stores nothing', async (_what, refs, status, text) => {
    const h = harness()
    await h.call('POST', '/secrets/create', { Name: 'pw', Data: b64('a') })
    await h.call('POST', '/secrets/create', { Name: 'pw2', Data: b64('b') })
    const r = await h.call('POST', '/services/create', { Name: 'db', TaskTemplate: { ContainerSpec: { Image: 'busybox', ...refs } } })
    expect(message(r)).toMatch(text)
    expect(r.status).toBe(status)
    expect(h.state().services.size).toBe(0)
  })
})
