/**
 * CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320, init and final xor 0xFFFFFFFF: the zlib/PNG CRC),
 * table-driven, one byte per step. It guards WAL records and snapshot files against torn writes and bit
 * rot, not against tampering. Check value: crc32("123456789") === 0xCBF43926.
 */
const TABLE = buildTable()

function buildTable (): Uint32Array {
  const table = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = (c & 1) !== 0 ? 0xEDB88320 ^ (c >>> 1) : c >>> 1
    table[n] = c >>> 0
  }
  return table
}

/**
 * CRC-32 of `bytes[start, end)` as an unsigned 32-bit number (`start`/`end` default to the whole array).
 * Pass a previous result as `seed` to continue it over more bytes: crc32(b, 0, n, crc32(a)) === crc32(a ++ b).
 */
export function crc32 (bytes: Uint8Array, start = 0, end = bytes.length, seed = 0): number {
  let c = (seed ^ 0xFFFFFFFF) >>> 0
  for (let i = start; i < end; i++) {
    // Indices are in range by construction; the non-null assertion avoids a branch in the hot loop.
    c = TABLE[(c ^ bytes[i]!) & 0xFF]! ^ (c >>> 8)
  }
  return (c ^ 0xFFFFFFFF) >>> 0
}
