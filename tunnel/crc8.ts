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

/** CRC over bytes[start, end). */
export function crc8Range(crc: number, bytes: Uint8Array, start: number, end: number): number {
  for (let i = start; i < end; i++) crc = CRC8_TABLE[crc ^ bytes[i]!]!;
  return crc;
}
