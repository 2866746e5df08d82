import { describe, expect, it } from 'vitest'
import { MuxParser, fixedRfc3339Nano, muxFrame, parseTimestamped } from '../../../../src/tasks/executor/docker/log-frames.js'

describe('Docker multiplexed log frames', () => {
  it('parses frames cut anywhere across chunks, in order', () => {
    const bytes = Buffer.concat([muxFrame(1, Buffer.from('out\n')), muxFrame(2, Buffer.from('err\n')), muxFrame(1, Buffer.alloc(0)), muxFrame(3, Buffer.from('sys'))])
    for (let cut = 0; cut <= bytes.length; cut++) {
      const p = new MuxParser()
      const frames = [...p.push(bytes.subarray(0, cut)), ...p.push(bytes.subarray(cut))]
      expect(frames.map(f => [f.stream, f.payload.toString()])).toEqual([[1, 'out\n'], [2, 'err\n'], [1, ''], [3, 'sys']])
      expect(p.leftover).toBe(0)
    }
  })

  it('writes the 8-byte header: stream, three zeros, big-endian length', () => {
    expect([...muxFrame(2, Buffer.from('abc')).subarray(0, 8)]).toEqual([2, 0, 0, 0, 0, 0, 0, 3])
  })

  it('refuses a header that is not Docker\'s', () => {
    expect(() => new MuxParser().push(Buffer.from('2024-01-01T00:00:00Z raw tty text'))).toThrow(/not a multiplexed log stream/)
  })

  it.each([
    ['2024-05-01T12:00:00.123456789Z', '2024-05-01T12:00:00.123456789Z'],
    ['2024-05-01T12:00:00.5Z', '2024-05-01T12:00:00.500000000Z'],
    ['2024-05-01T12:00:00Z', '2024-05-01T12:00:00.000000000Z'],
    ['2024-05-01T14:00:00.000000001+02:00', '2024-05-01T12:00:00.000000001Z'],
    ['yesterday', undefined]
  ])('fixes %s to %s', (input, out) => {
    expect(fixedRfc3339Nano(input)).toBe(out)
  })

  it('splits a timestamped payload into time and text, keeping the newline', () => {
    expect(parseTimestamped(Buffer.from('2024-05-01T12:00:00.1Z hello world\n'))).toEqual({ timestamp: '2024-05-01T12:00:00.100000000Z', text: 'hello world\n' })
    expect(parseTimestamped(Buffer.from('2024-05-01T12:00:00.1Z\n'))).toEqual({ timestamp: '2024-05-01T12:00:00.100000000Z', text: '\n' })
    expect(parseTimestamped(Buffer.from('no time here\n'))).toBeUndefined()
  })
})
