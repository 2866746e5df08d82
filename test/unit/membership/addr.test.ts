import { describe, expect, it } from 'vitest'
import { FlotillaError } from '../../../src/membership/errors.js'
import { DEFAULT_PORT, formatHostPort, fromMultiaddr, isUnspecified, parseHostPort, toMultiaddr, type HostPort } from '../../../src/membership/addr.js'
import { catchError } from '../../support/errors.js'

describe('parseHostPort', () => {
  it.each<[string, HostPort]>([
    ['1.2.3.4', { ip: '1.2.3.4', port: DEFAULT_PORT }],
    ['1.2.3.4:80', { ip: '1.2.3.4', port: 80 }],
    ['  1.2.3.4:80  ', { ip: '1.2.3.4', port: 80 }],
    ['0.0.0.0:1', { ip: '0.0.0.0', port: 1 }],
    ['10.0.0.5:65535', { ip: '10.0.0.5', port: 65535 }],
    ['[::1]:80', { ip: '::1', port: 80 }],
    ['[::1]', { ip: '::1', port: DEFAULT_PORT }],
    ['::1', { ip: '::1', port: DEFAULT_PORT }],
    ['fe80::1', { ip: 'fe80::1', port: DEFAULT_PORT }],
    ['localhost:5', { ip: '127.0.0.1', port: 5 }],
    ['localhost', { ip: '127.0.0.1', port: DEFAULT_PORT }]
  ])('parses %j', (input, expected) => {
    expect(parseHostPort(input, '--addr')).toEqual(expected)
  })

  it('uses the given default port', () => {
    expect(parseHostPort('1.2.3.4', '--addr', 2377)).toEqual({ ip: '1.2.3.4', port: 2377 })
  })

  it.each([
    'example.com:80',
    'example.com',
    ':80',
    '',
    '1.2.3.4:0',
    '1.2.3.4:70000',
    '1.2.3.4:65536',
    '1.2.3.4:-1',
    '1.2.3.4:http',
    '1.2.3.4:8.5',
    '1.2.3',
    '256.1.1.1:80',
    '[::1]:0',
    '[example.com]:80',
    '[::1]:'
  ])('rejects %j with invalid-argument naming the field', (input) => {
    const err = catchError(() => parseHostPort(input, '--listen-addr'))
    expect(err).toBeInstanceOf(FlotillaError)
    expect((err as FlotillaError).code).toBe('invalid-argument')
    expect((err as FlotillaError).message).toMatch(/^--listen-addr: /)
  })
})

describe('parseHostPort port digits', () => {
  // A port is decimal digits, as Docker's net.SplitHostPort + strconv.ParseUint read it; Number() also
  // accepts hex, exponents, signs and inner spaces, which would silently dial another port than typed.
  it('rejects a port written other than in decimal digits', () => {
    const inputs = ['1.2.3.4:0x50', '1.2.3.4:1e2', '1.2.3.4:+80', '1.2.3.4: 80', '[::1]:0x50']
    const accepted: Array<[string, HostPort]> = []
    for (const input of inputs) {
      try {
        accepted.push([input, parseHostPort(input, '--listen-addr')])
      } catch (err) {
        expect(err).toBeInstanceOf(FlotillaError)
        expect((err as FlotillaError).code).toBe('invalid-argument')
      }
    }
    expect(accepted).toEqual([])
  })
})

describe('toMultiaddr / fromMultiaddr / formatHostPort', () => {
  it.each<[HostPort, string, string]>([
    [{ ip: '1.2.3.4', port: 80 }, '/ip4/1.2.3.4/tcp/80', '1.2.3.4:80'],
    [{ ip: '0.0.0.0', port: 4242 }, '/ip4/0.0.0.0/tcp/4242', '0.0.0.0:4242'],
    [{ ip: '::1', port: 80 }, '/ip6/::1/tcp/80', '[::1]:80'],
    [{ ip: 'fe80::1', port: 65535 }, '/ip6/fe80::1/tcp/65535', '[fe80::1]:65535']
  ])('%j ⇄ %s', (hp, ma, text) => {
    expect(toMultiaddr(hp)).toBe(ma)
    expect(fromMultiaddr(ma)).toEqual(hp)
    expect(formatHostPort(hp)).toBe(text)
    expect(parseHostPort(text, 'addr')).toEqual(hp)
  })

  it('reads the TCP endpoint of a multiaddr with a /p2p suffix', () => {
    expect(fromMultiaddr('/ip4/10.0.0.1/tcp/4242/p2p/12D3KooWabc')).toEqual({ ip: '10.0.0.1', port: 4242 })
  })

  it.each(['', '/dns4/example.com/tcp/80', '/ip4/1.2.3.4/udp/80', '/ip4/1.2.3.4', 'ip4/1.2.3.4/tcp/80'])('fromMultiaddr(%j) is null', (ma) => {
    expect(fromMultiaddr(ma)).toBeNull()
  })

  it('isUnspecified knows the wildcard addresses', () => {
    expect(isUnspecified('0.0.0.0')).toBe(true)
    expect(isUnspecified('::')).toBe(true)
    expect(isUnspecified('127.0.0.1')).toBe(false)
  })
})
