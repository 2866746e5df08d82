import { describe, expect, it } from 'vitest'
import { allowedHosts, checkHostAndOrigin, csrfMatches } from '../../../../src/node/ui/guard.js'

describe('the dashboard\'s Host and Origin check', () => {
  const loopback = allowedHosts({ ip: '127.0.0.1', port: 8420 }, ['n1'], ['127.0.0.1', '10.0.0.5'])

  it('takes the listener\'s own address and localhost on loopback, and nothing else', () => {
    expect([...loopback].sort()).toEqual(['127.0.0.1:8420', 'localhost:8420'])
    expect(checkHostAndOrigin({ host: '127.0.0.1:8420' }, loopback)).toEqual({ ok: true })
    expect(checkHostAndOrigin({ host: 'LOCALHOST:8420', origin: 'http://localhost:8420' }, loopback)).toEqual({ ok: true })
  })

  it.each([
    ['a rebinding domain', { host: 'evil.example:8420' }],
    ['another port', { host: '127.0.0.1:8421' }],
    ['no Host at all', {}],
    ['the machine\'s name on a loopback listener', { host: 'n1:8420' }]
  ])('refuses %s with 403', (_name, headers) => {
    const v = checkHostAndOrigin(headers, loopback)
    expect(v.ok).toBe(false)
    expect(v.ok ? 0 : v.status).toBe(403)
  })

  it.each([
    ['another site', 'http://evil.example'],
    ['the same host over https (another origin)', 'https://127.0.0.1:8420'],
    ['an opaque origin', 'null']
  ])('refuses an Origin of %s', (_name, origin) => {
    expect(checkHostAndOrigin({ host: '127.0.0.1:8420', origin }, loopback).ok).toBe(false)
  })

  it('on a wildcard listener takes every interface address, localhost and the machine\'s names', () => {
    const any = allowedHosts({ ip: '0.0.0.0', port: 9000 }, ['n1', ''], ['127.0.0.1', '10.0.0.5', '::1'])
    expect([...any].sort()).toEqual(['10.0.0.5:9000', '127.0.0.1:9000', '[::1]:9000', 'localhost:9000', 'n1:9000'])
  })

  it('on an address others reach takes it and the machine\'s names, not localhost', () => {
    expect([...allowedHosts({ ip: '10.0.0.5', port: 8420 }, ['n1'])].sort()).toEqual(['10.0.0.5:8420', 'n1:8420'])
  })
})

describe('the CSRF token', () => {
  it('matches only the same token', () => {
    expect(csrfMatches('abc', 'abc')).toBe(true)
    expect(csrfMatches('abc', 'abd')).toBe(false)
    expect(csrfMatches('abc', 'abcd')).toBe(false)
    expect(csrfMatches('abc', undefined)).toBe(false)
    expect(csrfMatches('abc', ['abc'])).toBe(false)
  })
})
