/**
 * A small, test-only PlainBuffer *encoder* (docs/plainbuffer.md) for fixtures, fuzzing and the
 * decode benchmark. It shares no code with tunnel/plainbuffer.ts (own CRC, own layout) so that one bug
 * cannot hide on both sides; it reproduces docs/plainbuffer.md §Worked examples byte for byte (see plainbuffer.test.ts).
 */
export type EncValue =
  | { type: 'integer'; value: bigint }
  | { type: 'double'; value: number }
  | { type: 'boolean'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'binary'; value: Uint8Array };

export interface EncCell {
  name: string;
  value?: EncValue;
  /** A number writes that raw op byte (e.g. 0x04 INCREMENT, which records must never hold). */
  op?: 'delete-one' | 'delete-all' | number;
  timestampMs?: number;
}

export interface EncRow {
  /** Omit for an origin_record without primary key. */
  pk?: Array<{ name: string; value: EncValue }>;
  cells?: EncCell[];
  deleteMarker?: boolean;
  seq?: { epoch: number; timestampUs: bigint; rowIndex: number };
  /** Unknown extension entries, written after the sequence info. */
  extraExtension?: Array<{ tag: number; bytes: Uint8Array }>;
}

// Bitwise CRC-8 (poly 0x07), tabulated here independently of tunnel/crc8.ts.
const CRC_TABLE = Array.from({ length: 256 }, (_, i) => {
  let crc = i;
  for (let bit = 0; bit < 8; bit++) crc = crc & 0x80 ? ((crc << 1) ^ 0x07) & 0xff : (crc << 1) & 0xff;
  return crc;
});

function crc8(crc: number, bytes: ArrayLike<number>): number {
  for (let i = 0; i < bytes.length; i++) crc = CRC_TABLE[crc ^ bytes[i]!]!;
  return crc;
}

class Out {
  readonly bytes: number[] = [];
  u8(v: number) {
    this.bytes.push(v & 0xff);
  }
  u32(v: number) {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v >>> 0);
    this.raw(b);
  }
  i32(v: number) {
    const b = Buffer.alloc(4);
    b.writeInt32LE(v);
    this.raw(b);
  }
  i64(v: bigint) {
    const b = Buffer.alloc(8);
    b.writeBigInt64LE(v);
    this.raw(b);
  }
  raw(b: ArrayLike<number>) {
    for (let i = 0; i < b.length; i++) this.bytes.push(b[i]!);
  }
}

/** vt + payload, the bytes that are both written (after a u32 length) and checksummed. */
function valueBytes(v: EncValue): Buffer {
  switch (v.type) {
    case 'integer': {
      const b = Buffer.alloc(9);
      b[0] = 0x00;
      b.writeBigInt64LE(v.value, 1);
      return b;
    }
    case 'double': {
      const b = Buffer.alloc(9);
      b[0] = 0x01;
      b.writeDoubleLE(v.value, 1);
      return b;
    }
    case 'boolean':
      return Buffer.from([0x02, v.value ? 1 : 0]);
    case 'string':
    case 'binary': {
      const payload = v.type === 'string' ? Buffer.from(v.value, 'utf8') : Buffer.from(v.value);
      const head = Buffer.alloc(5);
      head[0] = v.type === 'string' ? 0x03 : 0x07;
      head.writeUInt32LE(payload.length, 1);
      return Buffer.concat([head, payload]);
    }
  }
}

function writeCell(out: Out, cell: EncCell): number {
  const name = Buffer.from(cell.name, 'utf8');
  out.u8(0x03);
  out.u8(0x04);
  out.u32(name.length);
  out.raw(name);
  let crc = crc8(0, name);
  if (cell.value) {
    const vb = valueBytes(cell.value);
    out.u8(0x05);
    out.u32(vb.length);
    out.raw(vb);
    crc = crc8(crc, vb);
  }
  const op = typeof cell.op === 'number' ? cell.op : cell.op === 'delete-one' ? 0x03 : cell.op === 'delete-all' ? 0x01 : undefined;
  if (op !== undefined) {
    out.u8(0x06);
    out.u8(op);
  }
  if (cell.timestampMs !== undefined) {
    const ts = Buffer.alloc(8);
    ts.writeBigInt64LE(BigInt(cell.timestampMs));
    out.u8(0x07);
    out.raw(ts);
    crc = crc8(crc, ts);
  }
  if (op !== undefined) crc = crc8(crc, [op]);
  out.u8(0x0a);
  out.u8(crc);
  return crc;
}

export function encodeRow(row: EncRow): Uint8Array {
  const out = new Out();
  out.u32(0x75);
  const cellCrcs: number[] = [];
  if (row.pk) {
    out.u8(0x01);
    for (const pk of row.pk) cellCrcs.push(writeCell(out, { name: pk.name, value: pk.value }));
  }
  if (row.cells && row.cells.length > 0) {
    out.u8(0x02);
    for (const c of row.cells) cellCrcs.push(writeCell(out, c));
  }
  if (row.deleteMarker) out.u8(0x08);
  if (row.seq || row.extraExtension) {
    const ext = new Out();
    if (row.seq) {
      ext.u8(0x0c);
      ext.u32(19);
      ext.u8(0x0d);
      ext.i32(row.seq.epoch);
      ext.u8(0x0e);
      ext.i64(row.seq.timestampUs);
      ext.u8(0x0f);
      ext.i32(row.seq.rowIndex);
    }
    for (const e of row.extraExtension ?? []) {
      ext.u8(e.tag);
      ext.u32(e.bytes.length);
      ext.raw(e.bytes);
    }
    out.u8(0x0b);
    out.u32(ext.bytes.length);
    out.raw(ext.bytes);
  }
  out.u8(0x09);
  out.u8(crc8(crc8(0, cellCrcs), [row.deleteMarker ? 1 : 0]));
  return Uint8Array.from(out.bytes);
}

export const str = (value: string): EncValue => ({ type: 'string', value });
export const int = (value: bigint | number): EncValue => ({ type: 'integer', value: BigInt(value) });
export const dbl = (value: number): EncValue => ({ type: 'double', value });
export const bool = (value: boolean): EncValue => ({ type: 'boolean', value });
export const bin = (value: Uint8Array): EncValue => ({ type: 'binary', value });
