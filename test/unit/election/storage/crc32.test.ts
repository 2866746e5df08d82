import { crc32 as zlibCrc32 } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { crc32 } from '../../../../src/election/storage/crc32.js'

describe('crc32 (IEEE)', () => {
  it.each([
    ['', 0x00000000],
    ['a', 0xE8B7BE43],
    ['123456789', 0xCBF43926],
    ['The quick brown fox jumps over the lazy dog', 0x414FA339]
  ])('crc32(%j) = %i', (text, expected) => {
    expect(crc32(new TextEncoder().encode(text))).toBe(expected)
  })

  it('agrees with zlib on pseudo-random buffers of many lengths', () => {
    let x = 12345
    for (let len = 0; len < 300; len += 7) {
      const buf = new Uint8Array(len)
      for (let i = 0; i < len; i++) {
        x = (x * 1103515245 + 12345) >>> 0
        buf[i] = x >>> 24
      }
      expect(crc32(buf)).toBe(zlibCrc32(buf))
    }
  })

  it('covers a sub-range and continues from a seed', () => {
    const bytes = new TextEncoder().encode('xx123456789yy')
    expect(crc32(bytes, 2, 11)).toBe(0xCBF43926)
    expect(crc32(bytes, 6, 11, crc32(bytes, 2, 6))).toBe(0xCBF43926)
  })
})
