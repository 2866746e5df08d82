import { describe, expect, it } from 'vitest'
import { FlotillaError } from '../../../src/membership/errors.js'
import { encode } from '../../../src/membership/codec.js'
import { newObjectId } from '../../../src/membership/ids.js'
import { generateRootKeyPair, issueCertificate, type CertificateClaims } from '../../../src/membership/certificate.js'
import {
  MAX_HEARTBEAT_BYTES, authenticateHeartbeat, decodeHeartbeat, encodeHeartbeat, type ClusterTrust, type Heartbeat
} from '../../../src/membership/heartbeat.js'
import { catchError } from '../../support/errors.js'

function expectCode (fn: () => unknown, codes: readonly string[]): FlotillaError {
  const err = catchError(fn)
  expect(err).toBeInstanceOf(FlotillaError)
  expect(codes).toContain((err as FlotillaError).code)
  return err as FlotillaError
}

function heartbeat (cert: Uint8Array = new Uint8Array([1, 2, 3])): Heartbeat {
  return {
    v: 1,
    cert,
    incarnation: 3,
    seq: 17,
    sentAtMs: 1_700_000_000_000,
    hostname: 'node-1',
    addrs: ['/ip4/10.0.0.1/tcp/4242', '/ip6/::1/tcp/4242'],
    status: 'ready',
    description: {
      os: 'linux',
      arch: 'x86_64',
      nanoCpus: 2_000_000_000,
      memoryBytes: 8 * 1024 ** 3,
      engine: { state: 'available', version: '27.0.1', labels: { zone: 'a' } }
    },
    leaderId: 'abc'
  }
}

/** Encode a heartbeat-like record with `patch` applied (undefined removes a field). */
function frame (patch: Record<string, unknown>): Uint8Array {
  const v: Record<string, unknown> = { ...heartbeat(), ...patch }
  for (const [k, x] of Object.entries(patch)) if (x === undefined) delete v[k]
  return encode(v)
}

function withDescription (patch: Record<string, unknown>): Uint8Array {
  const d: Record<string, unknown> = { ...heartbeat().description, ...patch }
  for (const [k, x] of Object.entries(patch)) if (x === undefined) delete d[k]
  return frame({ description: d })
}

describe('encodeHeartbeat / decodeHeartbeat', () => {
  it('round trips every field', () => {
    const hb = heartbeat()
    const decoded = decodeHeartbeat(encodeHeartbeat(hb))
    expect({ ...decoded, cert: new Uint8Array(decoded.cert) }).toEqual(hb)
  })

  it('round trips a leaving heartbeat of a node whose engine is unavailable', () => {
    const hb: Heartbeat = {
      ...heartbeat(),
      status: 'leaving',
      addrs: [],
      description: { ...heartbeat().description, engine: { state: 'unavailable', message: 'no engine' } }
    }
    const decoded = decodeHeartbeat(encodeHeartbeat(hb))
    expect(decoded.status).toBe('leaving')
    expect(decoded.addrs).toEqual([])
    expect(decoded.description.engine).toEqual({ state: 'unavailable', message: 'no engine' })
  })

  it('accepts 16 addrs', () => {
    const addrs = Array.from({ length: 16 }, (_, i) => `/ip4/10.0.0.${i}/tcp/4242`)
    expect(decodeHeartbeat(frame({ addrs })).addrs).toEqual(addrs)
  })

  it('refuses a frame over MAX_HEARTBEAT_BYTES with too-large', () => {
    const big = frame({ cert: new Uint8Array(MAX_HEARTBEAT_BYTES) })
    expect(big.byteLength).toBeGreaterThan(MAX_HEARTBEAT_BYTES)
    expectCode(() => decodeHeartbeat(big), ['too-large'])
  })

  it('refuses bytes that do not decode', () => {
    expectCode(() => decodeHeartbeat(new Uint8Array([0xc1])), ['invalid-argument'])
    expectCode(() => decodeHeartbeat(new Uint8Array(0)), ['invalid-argument'])
  })

  it.each([
    ['not a map', encode([1, 2, 3])],
    ['a string', encode('heartbeat')],
    ['version 2', frame({ v: 2 })],
    ['no v', frame({ v: undefined })],
    ['no cert', frame({ cert: undefined })],
    ['cert as a string', frame({ cert: 'abc' })],
    ['no incarnation', frame({ incarnation: undefined })],
    ['negative incarnation', frame({ incarnation: -1 })],
    ['fractional seq', frame({ seq: 1.5 })],
    ['seq as a string', frame({ seq: '17' })],
    ['no sentAtMs', frame({ sentAtMs: undefined })],
    ['hostname as a number', frame({ hostname: 42 })],
    ['hostname over 256 characters', frame({ hostname: 'h'.repeat(257) })],
    ['no addrs', frame({ addrs: undefined })],
    ['addrs as a string', frame({ addrs: '/ip4/10.0.0.1/tcp/4242' })],
    ['addrs holding a number', frame({ addrs: [42] })],
    ['17 addrs', frame({ addrs: Array.from({ length: 17 }, (_, i) => `/ip4/10.0.0.${i}/tcp/4242`) })],
    ['an addr over 256 characters', frame({ addrs: [`/dns4/${'a'.repeat(260)}/tcp/1`] })],
    ['no status', frame({ status: undefined })],
    ['status down', frame({ status: 'down' })],
    ['status READY', frame({ status: 'READY' })],
    ['no description', frame({ description: undefined })],
    ['description null', frame({ description: null })],
    ['no leaderId', frame({ leaderId: undefined })],
    ['numeric leaderId', frame({ leaderId: 4 })],
    ['description without os', withDescription({ os: undefined })],
    ['description with arch as a number', withDescription({ arch: 64 })],
    ['description with negative nanoCpus', withDescription({ nanoCpus: -1 })],
    ['description with memoryBytes as a string', withDescription({ memoryBytes: '8G' })],
    ['description without engine', withDescription({ engine: undefined })],
    ['engine state running', withDescription({ engine: { state: 'running', version: '27.0.1', labels: {} } })],
    ['engine state missing', withDescription({ engine: { version: '27.0.1', labels: {} } })],
    ['available engine without version', withDescription({ engine: { state: 'available', labels: {} } })],
    ['available engine without labels', withDescription({ engine: { state: 'available', version: '27.0.1' } })],
    ['available engine with a numeric label', withDescription({ engine: { state: 'available', version: '27.0.1', labels: { a: 1 } } })],
    ['available engine with 65 labels', withDescription({
      engine: { state: 'available', version: '27.0.1', labels: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`l${i}`, 'x'])) }
    })],
    ['unavailable engine without message', withDescription({ engine: { state: 'unavailable' } })],
    ['unavailable engine with a message over 1024 characters', withDescription({ engine: { state: 'unavailable', message: 'm'.repeat(1025) } })]
  ])('refuses a heartbeat with %s as invalid-argument', (_name, bytes) => {
    const e = expectCode(() => decodeHeartbeat(bytes), ['invalid-argument'])
    expect(e.message).toMatch(/heartbeat is malformed|does not decode/)
  })
})

describe('authenticateHeartbeat', () => {
  function setup (): { trust: ClusterTrust, root: ReturnType<typeof generateRootKeyPair>, nodeId: string } {
    const root = generateRootKeyPair()
    return { root, trust: { clusterId: newObjectId(), rootPublicKeyDer: root.publicKeyDer }, nodeId: newObjectId() }
  }

  it('accepts a heartbeat whose certificate binds the sending peer, and returns its claims', () => {
    const { root, trust, nodeId } = setup()
    const cert = issueCertificate(root, { clusterId: trust.clusterId, nodeId, peerId: 'peer-a', role: 'manager', issuedAtMs: 5 })
    const claims = authenticateHeartbeat(decodeHeartbeat(encodeHeartbeat(heartbeat(cert))), 'peer-a', trust)
    expect(claims).toMatchObject({ clusterId: trust.clusterId, nodeId, peerId: 'peer-a', role: 'manager', issuedAtMs: 5 })
  })

  it('refuses a certificate bound to another peer', () => {
    const { root, trust, nodeId } = setup()
    const cert = issueCertificate(root, { clusterId: trust.clusterId, nodeId, peerId: 'peer-a', role: 'worker', issuedAtMs: 5 })
    const e = expectCode(() => authenticateHeartbeat(heartbeat(cert), 'peer-b', trust), ['unauthenticated'])
    expect(e.message).toContain('another peer')
  })

  it('refuses a certificate of another cluster', () => {
    const { root, trust, nodeId } = setup()
    const cert = issueCertificate(root, { clusterId: newObjectId(), nodeId, peerId: 'peer-a', role: 'worker', issuedAtMs: 5 })
    expectCode(() => authenticateHeartbeat(heartbeat(cert), 'peer-a', trust), ['unauthenticated'])
  })

  it('refuses a certificate signed by another root key', () => {
    const { trust, nodeId } = setup()
    const cert = issueCertificate(generateRootKeyPair(), { clusterId: trust.clusterId, nodeId, peerId: 'peer-a', role: 'worker', issuedAtMs: 5 })
    expectCode(() => authenticateHeartbeat(heartbeat(cert), 'peer-a', trust), ['unauthenticated'])
  })

  it('refuses a revoked certificate, asking isRevoked with its claims', () => {
    const { root, trust, nodeId } = setup()
    const cert = issueCertificate(root, { clusterId: trust.clusterId, nodeId, peerId: 'peer-a', role: 'worker', issuedAtMs: 5 })
    const asked: CertificateClaims[] = []
    const revoking: ClusterTrust = { ...trust, isRevoked: c => { asked.push(c); return true } }
    const e = expectCode(() => authenticateHeartbeat(heartbeat(cert), 'peer-a', revoking), ['unauthenticated'])
    expect(e.message).toContain('revoked')
    expect(asked).toHaveLength(1)
    expect(asked[0]?.nodeId).toBe(nodeId)
  })

  it('accepts when isRevoked answers false', () => {
    const { root, trust, nodeId } = setup()
    const cert = issueCertificate(root, { clusterId: trust.clusterId, nodeId, peerId: 'peer-a', role: 'worker', issuedAtMs: 5 })
    const claims = authenticateHeartbeat(heartbeat(cert), 'peer-a', { ...trust, isRevoked: () => false })
    expect(claims.nodeId).toBe(nodeId)
  })
})
