/**
 * CRC-8 of PlainBuffer (docs/plainbuffer.md §CRC-8): "crc-8-ATM", polynomial x^8+x^2+x+1 (0x07), init 0,
 * MSB-first, no reflection, no final XOR. Multi-byte integers are fed low byte first, which is exactly their
 * little-endian wire order — so the decoder can checksum raw byte ranges without re-encoding anything.
 */
export const CRC8_TABLE: Uint8Array = (() => {
  const table = new Uint8Array(256);
  for (let i = 0; i < 256; i++) {
    let x = i;
    for (let bit = 0; bit < 8; bit++) x = x & 0x80 ? ((x << 1) ^ 0x07) & 0xff : (x << 1) & 0xff;
    table[i] = x;
  }
  return table;
})();

export function crc8Byte(crc: number, byte: number): number {
  return CRC8_TABLE[(crc ^ byte) & 0xff]!;
}

/**
 * Two bytes per lookup: CRC8_PAIRS[((crc ^ b0) << 8) | b1] is the CRC after b0 then b1 (64 KiB, built once
 * per thread). A CRC is a chain of dependent table loads; halving the chain makes long ranges (strings, the
 * 8 bytes of every cell's timestamp) about twice as fast.
 */
const CRC8_PAIRS: Uint8Array = (() => {
  const pairs = new Uint8Array(65536);
  for (let a = 0; a < 256; a++) {
    const first = CRC8_TABLE[a]!;
    for (let b = 0; b < 256; b++) pairs[(a << 8) | b] = CRC8_TABLE[first ^ b]!;
  }
  return pairs;
})();

/** CRC over bytes[start, end). */
export function crc8Range(crc: number, bytes: Uint8Array, start: number, end: number): number {
  let i = start;
  for (const pairsEnd = end - 1; i < pairsEnd; i += 2) crc = CRC8_PAIRS[((crc ^ bytes[i]!) << 8) | bytes[i + 1]!]!;
  if (i < end) crc = CRC8_TABLE[crc ^ bytes[i]!]!;
  return crc;
}
