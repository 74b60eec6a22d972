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
 * Slice-by-4 tables: the CRC has no init or final XOR, so it is linear, and the state after four bytes is
 * T4[s ^ b0] ^ T3[b1] ^ T2[b2] ^ T1[b3] (Tk: the table applied k times). One dependent lookup per four bytes
 * instead of four, from four 256-byte tables that stay in the L1 cache.
 */
const T1 = CRC8_TABLE;
const T2 = T1.map((x) => T1[x]!);
const T3 = T2.map((x) => T1[x]!);
const T4 = T3.map((x) => T1[x]!);

/** CRC over bytes[start, end). */
export function crc8Range(crc: number, bytes: Uint8Array, start: number, end: number): number {
  let i = start;
  for (const quadsEnd = end - 3; i < quadsEnd; i += 4) crc = T4[crc ^ bytes[i]!]! ^ T3[bytes[i + 1]!]! ^ T2[bytes[i + 2]!]! ^ T1[bytes[i + 3]!]!;
  for (; i < end; i++) crc = T1[crc ^ bytes[i]!]!;
  return crc;
}
