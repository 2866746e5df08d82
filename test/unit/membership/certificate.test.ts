import { describe, expect, it } from 'vitest'
import { FlotillaError } from '../../../src/membership/errors.js'
import { decode, encode } from '../../../src/membership/codec.js'
import { newObjectId } from '../../../src/membership/ids.js'
import {
  MAX_CERTIFICATE_BYTES, certificateClaims, generateRootKeyPair, issueCertificate, verifyCertificate, type CertificateClaims
} from '../../../src/membership/certificate.js'
import { catchError } from '../../support/errors.js'

function expectUnauthenticated (fn: () => unknown): FlotillaError {
  const err = catchError(fn)
  expect(err).toBeInstanceOf(FlotillaError)
  expect((err as FlotillaError).code).toBe('unauthenticated')
  return err as FlotillaError
}

function fixture (): { root: ReturnType<typeof generateRootKeyPair>, clusterId: string, claims: Omit<CertificateClaims, 'v' | 'serial'>, cert: Uint8Array } {
  const root = generateRootKeyPair()
  const clusterId = newObjectId()
  const claims = { clusterId, nodeId: newObjectId(), peerId: '12D3KooWpeer', role: 'worker' as const, issuedAtMs: 1_700_000_000_000 }
  return { root, clusterId, claims, cert: issueCertificate(root, claims) }
}

/** Split an encoded certificate into its signed body and signature. */
function parts (cert: Uint8Array): [Uint8Array, Uint8Array] {
  const outer = decode(cert, MAX_CERTIFICATE_BYTES) as [Uint8Array, Uint8Array]
  return [new Uint8Array(outer[0]), new Uint8Array(outer[1])]
}

function flip (bytes: Uint8Array, i: number): Uint8Array {
  const out = new Uint8Array(bytes)
  out[i] = out[i]! ^ 0x01
  return out
}

describe('issueCertificate / verifyCertificate', () => {
  it('round trips the claims, with v 1 and a serial', () => {
    const { root, clusterId, claims, cert } = fixture()
    const verified = verifyCertificate(cert, root.publicKeyDer, clusterId)
    expect(verified).toMatchObject({ v: 1, ...claims })
    expect(verified.serial).toMatch(/^[0-9a-f]{16}$/)
    expect(cert.byteLength).toBeLessThanOrEqual(MAX_CERTIFICATE_BYTES)
  })

  it('keeps the manager role', () => {
    const { root, clusterId, claims } = fixture()
    const cert = issueCertificate(root, { ...claims, role: 'manager' })
    expect(verifyCertificate(cert, root.publicKeyDer, clusterId).role).toBe('manager')
  })

  it('gives two certificates for the same claims different serials', () => {
    const { root, clusterId, claims, cert } = fixture()
    const again = issueCertificate(root, claims)
    expect(verifyCertificate(again, root.publicKeyDer, clusterId).serial)
      .not.toBe(verifyCertificate(cert, root.publicKeyDer, clusterId).serial)
  })

  it('certificateClaims reads the claims without a key', () => {
    const { claims, cert } = fixture()
    expect(certificateClaims(cert)).toMatchObject(claims)
  })

  it('refuses a certificate signed by another root key', () => {
    const { clusterId, claims } = fixture()
    const other = generateRootKeyPair()
    const trusted = generateRootKeyPair()
    const cert = issueCertificate(other, claims)
    expectUnauthenticated(() => verifyCertificate(cert, trusted.publicKeyDer, clusterId))
  })

  it('refuses a certificate of another cluster', () => {
    const { root, cert, clusterId } = fixture()
    const e = expectUnauthenticated(() => verifyCertificate(cert, root.publicKeyDer, newObjectId()))
    expect(e.message).toContain(clusterId)
  })

  it('refuses a certificate whose body has one flipped byte, at any position', () => {
    const { root, clusterId, cert } = fixture()
    const [body, signature] = parts(cert)
    for (let i = 0; i < body.byteLength; i++) {
      const tampered = encode([flip(body, i), signature])
      expectUnauthenticated(() => verifyCertificate(tampered, root.publicKeyDer, clusterId))
    }
  })

  it('refuses a certificate whose signature has one flipped byte, at any position', () => {
    const { root, clusterId, cert } = fixture()
    const [body, signature] = parts(cert)
    expect(signature.byteLength).toBe(64)
    for (let i = 0; i < signature.byteLength; i++) {
      const tampered = encode([body, flip(signature, i)])
      expectUnauthenticated(() => verifyCertificate(tampered, root.publicKeyDer, clusterId))
    }
  })

  it('refuses any single flipped byte of the encoded certificate', () => {
    const { root, clusterId, cert } = fixture()
    for (let i = 0; i < cert.byteLength; i++) {
      expectUnauthenticated(() => verifyCertificate(flip(cert, i), root.publicKeyDer, clusterId))
    }
  })

  it('refuses claims signed by the root that are not a certificate', () => {
    // A valid signature over a body of the wrong shape (a node ID that is not an object ID).
    const { root, clusterId, claims } = fixture()
    const cert = issueCertificate(root, { ...claims, nodeId: 'not-an-object-id' })
    expectUnauthenticated(() => verifyCertificate(cert, root.publicKeyDer, clusterId))
  })

  it.each([
    ['empty bytes', new Uint8Array(0)],
    ['a truncated msgpack', new Uint8Array([0x92, 0xc4, 0x10, 0x01])],
    ['a msgpack number', encode(42)],
    ['a msgpack string', encode('certificate')],
    ['an array of one', encode([new Uint8Array(8)])],
    ['an array of three', encode([new Uint8Array(8), new Uint8Array(64), new Uint8Array(1)])],
    ['an array of strings', encode(['body', 'signature'])],
    ['random-looking bytes', new Uint8Array(Array.from({ length: 200 }, (_, i) => (i * 151 + 7) & 0xff))]
  ])('refuses %s', (_name, bytes) => {
    const { root, clusterId } = fixture()
    expectUnauthenticated(() => verifyCertificate(bytes, root.publicKeyDer, clusterId))
  })

  it('refuses an input over MAX_CERTIFICATE_BYTES before decoding it', () => {
    const { root, clusterId, cert } = fixture()
    const [body, signature] = parts(cert)
    // A well-formed, correctly signed certificate padded past the cap is still refused.
    const oversized = encode([body, signature, new Uint8Array(MAX_CERTIFICATE_BYTES)])
    expect(oversized.byteLength).toBeGreaterThan(MAX_CERTIFICATE_BYTES)
    const e = expectUnauthenticated(() => verifyCertificate(oversized, root.publicKeyDer, clusterId))
    expect((e.cause as FlotillaError).code).toBe('too-large')
  })
})
