/**
 * PlainBuffer constants and CRC-8 (docs/plainbuffer.md §Tags, §CRC-8), written from the spec for the
 * emulator alone: the client has its own copy in tunnel/, so that one misreading of the format
 * cannot hide on both sides of the wire.
 */

export const HEADER = 0x75;

export const TAG = {
  ROW_PK: 0x01,
  ROW_DATA: 0x02,
  CELL: 0x03,
  CELL_NAME: 0x04,
  CELL_VALUE: 0x05,
  CELL_TYPE: 0x06,
  CELL_TIMESTAMP: 0x07,
  DELETE_ROW_MARKER: 0x08,
  ROW_CHECKSUM: 0x09,
  CELL_CHECKSUM: 0x0a,
  EXTENSION: 0x0b,
  SEQ_INFO: 0x0c,
  SEQ_INFO_EPOCH: 0x0d,
  SEQ_INFO_TS: 0x0e,
  SEQ_INFO_ROW_INDEX: 0x0f,
} as const;

export const VT = {
  INTEGER: 0x00,
  DOUBLE: 0x01,
  BOOLEAN: 0x02,
  STRING: 0x03,
  NULL: 0x06,
  BLOB: 0x07,
  INF_MIN: 0x09,
  INF_MAX: 0x0a,
  AUTO_INCREMENT: 0x0b,
} as const;

export const CELL_OP = {
  DELETE_ALL_VERSION: 0x01,
  DELETE_ONE_VERSION: 0x03,
  INCREMENT: 0x04,
} as const;

/** crc-8-ATM (x^8+x^2+x+1), init 0, MSB first, no reflection. */
const CRC8_TABLE = (() => {
  const table = new Uint8Array(256);
  for (let i = 0; i < 256; i++) {
    let x = i;
    for (let bit = 0; bit < 8; bit++) x = x & 0x80 ? ((x << 1) ^ 0x07) & 0xff : (x << 1) & 0xff;
    table[i] = x;
  }
  return table;
})();

export function crcByte(crc: number, byte: number): number {
  return CRC8_TABLE[(crc ^ byte) & 0xff]!;
}

export function crcBytes(crc: number, bytes: Uint8Array): number {
  let c = crc;
  for (let i = 0; i < bytes.length; i++) c = CRC8_TABLE[(c ^ bytes[i]!) & 0xff]!;
  return c;
}

/** Low byte first, as the writers feed int32 values. */
export function crcInt32(crc: number, value: number): number {
  let c = crc;
  for (let i = 0; i < 4; i++) c = crcByte(c, (value >>> (i * 8)) & 0xff);
  return c;
}

/** Low byte first; `value` is taken as its two's-complement 64-bit pattern. */
export function crcInt64(crc: number, value: bigint): number {
  let c = crc;
  let v = BigInt.asUintN(64, value);
  for (let i = 0; i < 8; i++) {
    c = crcByte(c, Number(v & 0xffn));
    v >>= 8n;
  }
  return c;
}

const F64 = new Float64Array(1);
const F64_BITS = new BigInt64Array(F64.buffer);

export function doubleBits(value: number): bigint {
  F64[0] = value;
  return F64_BITS[0]!;
}
