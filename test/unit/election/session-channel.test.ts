import { describe, expect, it } from 'vitest'
import type { FrameStream, Membership } from '../../../src/membership/index.js'
import { SESSION_PROTOCOL, SessionChannel } from '../../../src/election/session-channel.js'

const SESSION = { t: 'session', leaderId: 'L', node: { role: 'worker', certificate: new Uint8Array([1]) }, revoked: [] }

/** A stream that answers each poll with the next of `answers` (an Error is thrown by that read). */
function scripted (answers: unknown[]): FrameStream & { polls: number, closed: boolean } {
  const s = {
    polls: 0,
    closed: false,
    async write (v: unknown) { expect(v).toEqual({ t: 'poll' }); s.polls++ },
    async read () {
      const a = answers.shift()
      if (a === undefined) throw new Error('no answer scripted')
      if (a instanceof Error) throw a
      return a
    },
    async close () { s.closed = true },
    abort () { s.closed = true }
  }
  return s
}

/** A membership whose dials return the given streams in turn, recording (target, protocol). */
function dialer (streams: FrameStream[]): { m: Membership, dials: string[] } {
  const dials: string[] = []
  const m = {
    dialMember: async (nodeId: string, protocol: string) => {
      dials.push(`${nodeId} ${protocol}`)
      const s = streams.shift()
      if (s === undefined) throw new Error('no stream')
      return s
    }
  } as unknown as Membership
  return { m, dials }
}

describe('SessionChannel: session polls over one stream per leader', () => {
  it('polls the same leader over one stream', async () => {
    const s = scripted([SESSION, SESSION, SESSION])
    const { m, dials } = dialer([s])
    const ch = new SessionChannel()
    for (let i = 0; i < 3; i++) expect(await ch.poll(m, 'L')).toMatchObject({ leaderId: 'L', revoked: [] })
    expect(dials).toEqual([`L ${SESSION_PROTOCOL}`])
    expect(s.polls).toBe(3)
    expect(s.closed).toBe(false)
  })

  it('opens a new stream when the leader changes, and closes the old one', async () => {
    const a = scripted([SESSION])
    const b = scripted([SESSION])
    const { m, dials } = dialer([a, b])
    const ch = new SessionChannel()
    await ch.poll(m, 'L')
    await ch.poll(m, 'M')
    expect(dials.map(d => d.split(' ')[0])).toEqual(['L', 'M'])
    expect(a.closed).toBe(true)
  })

  it('drops the stream on a failure, on a malformed answer and on not-leader; the next poll dials again', async () => {
    const broken = scripted([new Error('stream reset')])
    const malformed = scripted([{ t: 'session' }])
    const follower = scripted([{ t: 'not-leader', leaderId: 'M' }])
    const { m, dials } = dialer([broken, malformed, follower])
    const ch = new SessionChannel()
    await expect(ch.poll(m, 'L')).rejects.toThrow('stream reset')
    await expect(ch.poll(m, 'L')).rejects.toThrow('malformed session answer')
    expect(await ch.poll(m, 'L')).toEqual({ notLeader: 'M' })
    expect(dials).toHaveLength(3)
    expect([broken.closed, malformed.closed, follower.closed]).toEqual([true, true, true])
  })
})

describe('SessionChannel: closed while a dial is under way', () => {
  it('closes the stream that opens after close() instead of keeping it', async () => {
    const s = scripted([SESSION])
    let open!: (v: FrameStream) => void
    const m = { dialMember: async () => await new Promise<FrameStream>(resolve => { open = resolve }) } as unknown as Membership
    const ch = new SessionChannel()
    const polled = ch.poll(m, 'L')
    await Promise.resolve()
    ch.close()
    open(s)
    await expect(polled).rejects.toThrow('session poll stopped')
    expect(s.closed).toBe(true)
    expect(s.polls).toBe(0)
  })
})
