import { describe, expect, it } from 'vitest'
import { FlotillaError } from '../../../src/membership/errors.js'
import { encode } from '../../../src/membership/codec.js'
import { applyCommand } from '../../../src/election/state/apply.js'
import { decodeStore, encodeStore } from '../../../src/election/state/snapshot-codec.js'
import { DEFAULT_ADDRESS_POOL, EMPTY_STATE, type ServiceObject, type StoreState } from '../../../src/election/index.js'
import { allocateNetwork, ingressSpec } from '../../../src/tasks/index.js'
import { errorResponse, type ApiResponse } from '../../../src/node/control/http-server.js'
import { Router } from '../../../src/node/control/router.js'
import type { ClusterCall, ServiceManager } from '../../../src/node/control/service-api.js'
import { addNetworkRoutes } from '../../../src/node/control/network-api.js'

const NOW = Date.UTC(2026, 0, 2, 3, 4, 5)

/** The network routes over a store with a cluster (and its ingress network) that applies proposals with the real apply function. */
function harness (): { call: (method: string, path: string, body?: unknown) => Promise<ApiResponse>, state: () => StoreState, setState: (s: StoreState) => void } {
  const ingress = allocateNetwork(ingressSpec(), 'ingress0000000000000000000', [], DEFAULT_ADDRESS_POOL, NOW)
  let state: StoreState = applyCommand(EMPTY_STATE, 1, {
    op: 'cluster.init',
    cluster: { id: 'c1', createdAtMs: NOW, updatedAtMs: NOW, spec: {}, root: { publicKeyDer: new Uint8Array(), privateKeyDer: new Uint8Array() }, secrets: { worker: 'w', manager: 'm' }, addressPool: DEFAULT_ADDRESS_POOL },
    node: { id: 'n1', peerId: 'p1', hostname: 'h1', spec: { role: 'manager', availability: 'active', labels: {} }, certificate: new Uint8Array(), status: { state: 'unknown', message: '', sinceMs: 0, addr: '' }, description: null, networkAddresses: [], createdAtMs: NOW, updatedAtMs: NOW },
    networks: [ingress]
  }).state
  let ids = 0
  const mgr: ServiceManager = {
    store: { get state () { return state } },
    propose: async cmd => {
      const applied = applyCommand(state, state.index + 1, cmd)
      state = applied.state
      if (!applied.result.ok) throw new FlotillaError(applied.result.code, applied.result.message)
    }
  }
  const cluster: ClusterCall = async (_req, _write, local) => await local(mgr)
  const handler = addNetworkRoutes(new Router(), { cluster, now: () => NOW, newId: () => `net${++ids}${'x'.repeat(22)}` }).handler()
  return {
    state: () => state,
    setState: s => { state = s },
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

/** What the docker 28 CLI sends for `docker network create -d overlay NAME`. */
const cliBody = (name: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  Name: name, CheckDuplicate: true, Driver: 'overlay', Scope: '', EnableIPv6: false, IPAM: { Driver: 'default', Options: {}, Config: [] },
  Internal: false, Attachable: false, Ingress: false, ConfigOnly: false, ConfigFrom: null, Options: {}, Labels: {}, ...extra
})

describe('network routes', () => {
  it('creates an overlay network with the next /24 and shows it as Docker does', async () => {
    const h = harness()
    const r = await h.call('POST', '/networks/create', cliBody('backend', { Attachable: true, Labels: { team: 'a' } }))
    expect(r.status).toBe(201)
    const id = (r.json as { Id: string }).Id
    const got = await h.call('GET', '/networks/backend')
    expect(got.json).toMatchObject({
      Name: 'backend', Id: id, Scope: 'swarm', Driver: 'overlay', Attachable: true, Ingress: false, Internal: false, Labels: { team: 'a' },
      IPAM: { Driver: 'default', Config: [{ Subnet: '10.0.1.0/24', Gateway: '10.0.1.1' }] },
      Options: { 'com.docker.network.driver.overlay.vxlanid_list': '4097' }, Created: new Date(NOW).toISOString()
    })
    expect((await h.call('GET', `/networks/${id.slice(0, 6)}`)).json).toMatchObject({ Name: 'backend' })
  })

  it('lists every network, ingress first, with filters', async () => {
    const h = harness()
    await h.call('POST', '/networks/create', cliBody('front', { Labels: { tier: 'web' } }))
    await h.call('POST', '/networks/create', cliBody('back'))
    const names = async (filters?: unknown): Promise<string[]> =>
      ((await h.call('GET', `/networks${filters === undefined ? '' : `?filters=${encodeURIComponent(JSON.stringify(filters))}`}`)).json as Array<{ Name: string }>).map(n => n.Name)
    expect(await names()).toEqual(['ingress', 'front', 'back'])
    expect(await names({ name: { fro: true } })).toEqual(['front'])
    expect(await names({ label: { 'tier=web': true } })).toEqual(['front'])
    expect(await names({ driver: { bridge: true } })).toEqual([])
    expect(await names({ scope: { swarm: true }, type: { custom: true } })).toEqual(['ingress', 'front', 'back'])
    expect((await h.call('GET', '/networks?filters=%7B%22colour%22%3A%7B%22x%22%3Atrue%7D%7D')).status).toBe(400)
  })

  it('refuses what it cannot honour with a 400 naming the field, and stores nothing', async () => {
    const h = harness()
    const before = h.state().networks.size
    for (const [body, message] of [
      [cliBody('b', { Driver: 'bridge' }), /Driver: flotilla makes overlay networks only/],
      [cliBody('bad name'), /Name: "bad name" is not a valid network name/],
      [cliBody('b', { EnableIPv6: true }), /EnableIPv6/],
      [cliBody('b', { Options: { encrypted: '' } }), /Options.encrypted: flotilla does not encrypt/],
      [cliBody('b', { IPAM: { Driver: 'default', Config: [{ Subnet: '10.9.0.1/24' }] } }), /IPAM\.Config\[0\]\.Subnet: "10\.9\.0\.1\/24" has host bits set/],
      [cliBody('b', { IPAM: { Driver: 'default', Config: [{ Subnet: '10.9.0.0/24' }, { Subnet: '10.9.1.0/24' }] } }), /one IPv4 pool/],
      [cliBody('b', { IPAM: { Driver: 'dhcp' } }), /IPAM\.Driver/],
      [{ Name: 5 }, /Name/]
    ] as const) {
      const r = await h.call('POST', '/networks/create', body)
      expect(r.status, JSON.stringify(body)).toBe(400)
      expect((r.json as { message: string }).message).toMatch(message)
    }
    expect(h.state().networks.size).toBe(before)
  })

  it('answers 409 for a taken name, an overlapping subnet and a second ingress', async () => {
    const h = harness()
    await h.call('POST', '/networks/create', cliBody('a', { IPAM: { Driver: 'default', Config: [{ Subnet: '10.50.0.0/16' }] } }))
    expect((await h.call('POST', '/networks/create', cliBody('a'))).status).toBe(409)
    const overlap = await h.call('POST', '/networks/create', cliBody('b', { IPAM: { Config: [{ Subnet: '10.50.3.0/24' }] } }))
    expect([overlap.status, (overlap.json as { message: string }).message]).toEqual([409, "subnet 10.50.3.0/24 overlaps network a's 10.50.0.0/16"])
    expect((await h.call('POST', '/networks/create', cliBody('mesh', { Ingress: true }))).status).toBe(409)
  })

  it('removes a network, refusing while a service attaches to it and naming the services', async () => {
    const h = harness()
    const id = ((await h.call('POST', '/networks/create', cliBody('app'))).json as { Id: string }).Id
    const service = (name: string): ServiceObject => ({
      id: `svc-${name}`, name, version: 1, createdAtMs: NOW, updatedAtMs: NOW, previousSpec: null, endpoint: { ports: [], virtualIps: [] }, updateStatus: null, rebalance: null,
      spec: { Name: name, Mode: { Replicated: { Replicas: 1 } }, TaskTemplate: { ContainerSpec: { Image: 'busybox' }, Networks: [{ Target: id }] } }
    })
    const s = h.state()
    h.setState({ ...s, services: new Map([['svc-web', service('web')], ['svc-api', service('api')]]) })
    const refused = await h.call('DELETE', '/networks/app')
    expect([refused.status, (refused.json as { message: string }).message]).toEqual([409, 'network app is in use by services api, web'])
    h.setState({ ...h.state(), services: new Map() })
    expect((await h.call('DELETE', '/networks/app')).status).toBe(204)
    expect((await h.call('GET', '/networks/app')).status).toBe(404)
    expect((await h.call('DELETE', '/networks/app')).status).toBe(404)
  })

  it('keeps networks and the address pool through a snapshot, and reads an older snapshot as having none', async () => {
    const h = harness()
    await h.call('POST', '/networks/create', cliBody('kept'))
    const back = decodeStore(encodeStore(h.state()))
    expect([...back.networks.values()].map(n => [n.name, n.subnet, n.vxlanId])).toEqual([['ingress', '10.0.0.0/24', 4096], ['kept', '10.0.1.0/24', 4097]])
    expect(back.cluster?.addressPool).toEqual(DEFAULT_ADDRESS_POOL)
    // A snapshot as the store wrote it before networks: no networks, a cluster without an address pool.
    const { addressPool: _p, ...olderCluster } = h.state().cluster!
    const fromOlder = decodeStore(encode({ v: 1, index: 3, cluster: olderCluster, nodes: [...h.state().nodes.values()], revoked: [], services: [], tasks: [] }))
    expect(fromOlder.networks.size).toBe(0)
    expect(fromOlder.cluster?.addressPool).toEqual(DEFAULT_ADDRESS_POOL)
  })
})
