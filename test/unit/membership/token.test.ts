import { describe, expect, it } from 'vitest'
import { FlotillaError } from '../../../src/membership/errors.js'
import { generateRootKeyPair } from '../../../src/membership/certificate.js'
import { TOKEN_PREFIX, formatToken, newTokenSecret, parseToken, roleForSecret, rootKeyDigest } from '../../../src/membership/token.js'
import { catchError } from '../../support/errors.js'

const TOKEN_SHAPE = /^FLTKN-1-[0-9a-z]{50}-[0-9a-z]{25}$/

describe('formatToken / parseToken', () => {
  it('formats FLTKN-1-<50 base36 digest>-<25 base36 secret>', () => {
    const root = generateRootKeyPair()
    const secret = newTokenSecret()
    const token = formatToken(root.publicKeyDer, secret)
    expect(token).toMatch(TOKEN_SHAPE)
    expect(token.startsWith(TOKEN_PREFIX)).toBe(true)
  })

  it('round trips digest and secret', () => {
    const root = generateRootKeyPair()
    const secret = newTokenSecret()
    const parsed = parseToken(formatToken(root.publicKeyDer, secret))
    expect(parsed).toEqual({ rootDigest: rootKeyDigest(root.publicKeyDer), secret })
  })

  it('newTokenSecret gives 25 base36 characters, different each time', () => {
    const a = newTokenSecret()
    const b = newTokenSecret()
    expect(a).toMatch(/^[0-9a-z]{25}$/)
    expect(b).toMatch(/^[0-9a-z]{25}$/)
    expect(a).not.toBe(b)
  })

  const digest = 'a'.repeat(50)
  const secret = 'b'.repeat(25)
  it.each([
    ['empty', ''],
    ['only the prefix', 'FLTKN-1-'],
    ['Swarm prefix', `SWMTKN-1-${digest}-${secret}`],
    ['wrong version', `FLTKN-2-${digest}-${secret}`],
    ['lowercase prefix', `fltkn-1-${digest}-${secret}`],
    ['digest one short', `FLTKN-1-${'a'.repeat(49)}-${secret}`],
    ['digest one long', `FLTKN-1-${'a'.repeat(51)}-${secret}`],
    ['secret one short', `FLTKN-1-${digest}-${'b'.repeat(24)}`],
    ['secret one long', `FLTKN-1-${digest}-${'b'.repeat(26)}`],
    ['uppercase digest', `FLTKN-1-${digest.toUpperCase()}-${secret}`],
    ['uppercase secret', `FLTKN-1-${digest}-${secret.toUpperCase()}`],
    ['non-base36 character', `FLTKN-1-${'a'.repeat(49)}_-${secret}`],
    ['missing separator', `FLTKN-1-${digest}${secret}`],
    ['trailing garbage', `FLTKN-1-${digest}-${secret}-x`]
  ])('rejects %s with invalid-argument and a hint', (_name, token) => {
    const err = catchError(() => parseToken(token))
    expect(err).toBeInstanceOf(FlotillaError)
    const e = err as FlotillaError
    expect(e.code).toBe('invalid-argument')
    expect(e.retryable).toBe(false)
    expect(e.hint).toMatch(/join-token/)
  })
})

describe('roleForSecret', () => {
  const secrets = { worker: 'w'.repeat(25), manager: 'm'.repeat(25) }
  it.each([
    ['the worker secret', secrets.worker, 'worker'],
    ['the manager secret', secrets.manager, 'manager'],
    ['another secret', 'x'.repeat(25), null],
    ['an empty secret', '', null],
    ['a prefix of the worker secret', secrets.worker.slice(0, 24), null],
    ['the worker secret with a suffix', `${secrets.worker}w`, null]
  ])('%s grants %s', (_name, presented, role) => {
    expect(roleForSecret(secrets, presented)).toBe(role)
  })
})

describe('rootKeyDigest', () => {
  it('is 50 base36 characters, stable for one key and different for another', () => {
    const a = generateRootKeyPair()
    const b = generateRootKeyPair()
    expect(rootKeyDigest(a.publicKeyDer)).toMatch(/^[0-9a-z]{50}$/)
    expect(rootKeyDigest(a.publicKeyDer)).toBe(rootKeyDigest(new Uint8Array(a.publicKeyDer)))
    expect(rootKeyDigest(a.publicKeyDer)).not.toBe(rootKeyDigest(b.publicKeyDer))
  })
})
