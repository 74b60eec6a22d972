/**
 * PlainBuffer decoder of tablestore-local: the rows clients send (PutRow row, UpdateRow row_change,
 * DeleteRow / GetRow / GetRange keys, BatchWriteRow rows). Checks both CRCs like the Java reader, so
 * a client that gets the format wrong fails here rather than in production.
 */
import { OtslakeError } from '../../common/errors.js';
import type { ColumnValue, PkValue, SequenceInfo } from './model.js';
import { CELL_OP, HEADER, TAG, VT, crcByte, crcBytes, crcInt32, crcInt64 } from './plainbuffer-format.js';

export type KeyValue = PkValue | { type: 'INF_MIN' } | { type: 'INF_MAX' } | { type: 'AUTO_INCREMENT' };

export interface DecodedKeyCell {
  name: string;
  value: KeyValue;
}

export interface DecodedCell {
  name: string;
  value?: ColumnValue;
  op?: 'delete-one' | 'delete-all' | 'increment';
  /** ms */
  timestamp?: number;
}

export interface DecodedRow {
  primaryKey: DecodedKeyCell[];
  cells: DecodedCell[];
  deleteMarker: boolean;
  sequence?: SequenceInfo;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

class ByteReader {
  private readonly view: DataView;
  pos = 0;
  /** The tag most recently read: the grammar is "peek at what comes next". */
  tag = -1;

  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  fail(message: string): never {
    throw new OtslakeError('OTSL_DECODE_CORRUPT_RECORD', `PlainBuffer: ${message}`, { context: { byteOffset: this.pos } });
  }

  private need(n: number): void {
    if (this.pos + n > this.bytes.length) this.fail(`truncated: need ${n} more byte(s)`);
  }

  atEnd(): boolean {
    return this.pos >= this.bytes.length;
  }

  peek(): number {
    return this.tag;
  }

  /** The current tag and every byte after it are zero. */
  restIsZero(): boolean {
    if (this.tag !== 0) return false;
    for (let i = this.pos; i < this.bytes.length; i++) if (this.bytes[i] !== 0) return false;
    return true;
  }

  nextTag(): number {
    this.tag = this.atEnd() ? -1 : this.u8();
    return this.tag;
  }

  u8(): number {
    this.need(1);
    return this.bytes[this.pos++]!;
  }

  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  i32(): number {
    this.need(4);
    const v = this.view.getInt32(this.pos, true);
    this.pos += 4;
    return v;
  }

  i64(): bigint {
    this.need(8);
    const v = this.view.getBigInt64(this.pos, true);
    this.pos += 8;
    return v;
  }

  f64(): number {
    this.need(8);
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }

  raw(n: number): Uint8Array {
    this.need(n);
    const out = this.bytes.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  text(raw: Uint8Array, what: string): string {
    try {
      return utf8.decode(raw);
    } catch {
      return this.fail(`${what} is not valid UTF-8`);
    }
  }
}

interface ValueRead {
  value: KeyValue | ColumnValue;
  crc: number;
}

function readValue(r: ByteReader, crc: number): ValueRead {
  const valueLen = r.u32();
  const start = r.pos;
  const vt = r.u8();
  let out: ValueRead;
  switch (vt) {
    case VT.INTEGER: {
      const v = r.i64();
      out = { value: { type: 'INTEGER', value: v }, crc: crcInt64(crcByte(crc, vt), v) };
      break;
    }
    case VT.DOUBLE: {
      const pos = r.pos;
      const bits = r.i64();
      r.pos = pos;
      out = { value: { type: 'DOUBLE', value: r.f64() }, crc: crcInt64(crcByte(crc, vt), bits) };
      break;
    }
    case VT.BOOLEAN: {
      const b = r.u8();
      out = { value: { type: 'BOOLEAN', value: b !== 0 }, crc: crcByte(crcByte(crc, vt), b !== 0 ? 1 : 0) };
      break;
    }
    case VT.STRING:
    case VT.BLOB: {
      const n = r.u32();
      const raw = r.raw(n);
      const c = crcBytes(crcInt32(crcByte(crc, vt), n), raw);
      out = vt === VT.STRING ? { value: { type: 'STRING', value: r.text(raw, 'string value') }, crc: c } : { value: { type: 'BINARY', value: raw }, crc: c };
      break;
    }
    case VT.INF_MIN:
      out = { value: { type: 'INF_MIN' }, crc: crcByte(crc, vt) };
      break;
    case VT.INF_MAX:
      out = { value: { type: 'INF_MAX' }, crc: crcByte(crc, vt) };
      break;
    case VT.AUTO_INCREMENT:
      out = { value: { type: 'AUTO_INCREMENT' }, crc: crcByte(crc, vt) };
      break;
    default:
      return r.fail(`unknown value type 0x${vt.toString(16)}`);
  }
  if (r.pos - start !== valueLen) r.fail(`value length ${valueLen} does not match its content (${r.pos - start})`);
  return out;
}

function readName(r: ByteReader): { name: string; crc: number } {
  if (r.nextTag() !== TAG.CELL_NAME) r.fail('expected TAG_CELL_NAME');
  const raw = r.raw(r.u32());
  return { name: r.text(raw, 'cell name'), crc: crcBytes(0, raw) };
}

function readChecksum(r: ByteReader, expected: number, what: string): void {
  if (r.peek() !== TAG.CELL_CHECKSUM) r.fail(`expected TAG_CELL_CHECKSUM in ${what}`);
  const actual = r.u8();
  if (actual !== expected) r.fail(`cell checksum mismatch in ${what}: got 0x${actual.toString(16)}, computed 0x${expected.toString(16)}`);
  r.nextTag();
}

function readKeyCell(r: ByteReader): { cell: DecodedKeyCell; crc: number } {
  const { name, crc: nameCrc } = readName(r);
  if (r.nextTag() !== TAG.CELL_VALUE) r.fail(`primary-key column "${name}" has no value`);
  const { value, crc } = readValue(r, nameCrc);
  if (value.type === 'DOUBLE' || value.type === 'BOOLEAN') r.fail(`primary-key column "${name}" cannot be ${value.type}`);
  r.nextTag();
  readChecksum(r, crc, `primary-key column "${name}"`);
  return { cell: { name, value: value as KeyValue }, crc };
}

function readCell(r: ByteReader): { cell: DecodedCell; crc: number } {
  const { name, crc: nameCrc } = readName(r);
  let crc = nameCrc;
  const cell: DecodedCell = { name };
  r.nextTag();
  if (r.peek() === TAG.CELL_VALUE) {
    const read = readValue(r, crc);
    const t = read.value.type;
    if (t === 'INF_MIN' || t === 'INF_MAX' || t === 'AUTO_INCREMENT') r.fail(`column "${name}" cannot hold ${t}`);
    cell.value = read.value as ColumnValue;
    crc = read.crc;
    r.nextTag();
  }
  let op: number | undefined;
  if (r.peek() === TAG.CELL_TYPE) {
    op = r.u8();
    if (op === CELL_OP.DELETE_ONE_VERSION) cell.op = 'delete-one';
    else if (op === CELL_OP.DELETE_ALL_VERSION) cell.op = 'delete-all';
    else if (op === CELL_OP.INCREMENT) cell.op = 'increment';
    else r.fail(`unknown cell op 0x${op.toString(16)} in column "${name}"`);
    r.nextTag();
  }
  if (r.peek() === TAG.CELL_TIMESTAMP) {
    const ts = r.i64();
    if (ts < 0n || ts > BigInt(Number.MAX_SAFE_INTEGER)) r.fail(`column "${name}" has an invalid timestamp ${ts}`);
    cell.timestamp = Number(ts);
    crc = crcInt64(crc, ts);
    r.nextTag();
  }
  if (op !== undefined) crc = crcByte(crc, op);
  readChecksum(r, crc, `column "${name}"`);
  return { cell, crc };
}

function readExtension(r: ByteReader): SequenceInfo | undefined {
  const len = r.u32();
  const end = r.pos + len;
  let seq: SequenceInfo | undefined;
  while (r.pos < end) {
    const tag = r.u8();
    const innerLen = r.u32();
    if (tag !== TAG.SEQ_INFO) {
      r.raw(innerLen);
      continue;
    }
    if (r.u8() !== TAG.SEQ_INFO_EPOCH) r.fail('expected TAG_SEQ_INFO_EPOCH');
    const epoch = r.i32();
    if (r.u8() !== TAG.SEQ_INFO_TS) r.fail('expected TAG_SEQ_INFO_TS');
    const timestamp = r.i64();
    if (r.u8() !== TAG.SEQ_INFO_ROW_INDEX) r.fail('expected TAG_SEQ_INFO_ROW_INDEX');
    seq = { epoch, timestamp, rowIndex: r.i32() };
  }
  if (r.pos !== end) r.fail('extension length does not match its content');
  r.nextTag();
  return seq;
}

/** Reads one row starting at the tag already in `r.peek()`. */
function readRowBody(r: ByteReader): DecodedRow {
  const row: DecodedRow = { primaryKey: [], cells: [], deleteMarker: false };
  let rowCrc = 0;
  if (r.peek() !== TAG.ROW_PK) r.fail('expected TAG_ROW_PK');
  r.nextTag();
  while (r.peek() === TAG.CELL) {
    const { cell, crc } = readKeyCell(r);
    row.primaryKey.push(cell);
    rowCrc = crcByte(rowCrc, crc);
  }
  if (r.peek() === TAG.ROW_DATA) {
    r.nextTag();
    while (r.peek() === TAG.CELL) {
      const { cell, crc } = readCell(r);
      row.cells.push(cell);
      rowCrc = crcByte(rowCrc, crc);
    }
  }
  if (r.peek() === TAG.DELETE_ROW_MARKER) {
    row.deleteMarker = true;
    r.nextTag();
  }
  rowCrc = crcByte(rowCrc, row.deleteMarker ? 1 : 0);
  if (r.peek() === TAG.EXTENSION) {
    const seq = readExtension(r);
    if (seq !== undefined) row.sequence = seq;
  }
  if (r.peek() !== TAG.ROW_CHECKSUM) r.fail(`expected TAG_ROW_CHECKSUM, found tag 0x${r.peek().toString(16)}`);
  const actual = r.u8();
  if (actual !== rowCrc) r.fail(`row checksum mismatch: got 0x${actual.toString(16)}, computed 0x${rowCrc.toString(16)}`);
  r.nextTag();
  return row;
}

function readHeader(r: ByteReader): void {
  if (r.u32() !== HEADER) r.fail('bad header (expected 0x75)');
  r.nextTag();
}

/** Every row after one header (GetRange rows); zero bytes → no rows. */
export function decodeRows(bytes: Uint8Array): DecodedRow[] {
  if (bytes.length === 0) return [];
  const r = new ByteReader(bytes);
  readHeader(r);
  const rows: DecodedRow[] = [];
  while (r.peek() !== -1) rows.push(readRowBody(r));
  return rows;
}

/** Exactly one row after the header: a row change or a primary key of a request. */
export function decodeRow(bytes: Uint8Array): DecodedRow {
  const r = new ByteReader(bytes);
  readHeader(r);
  const row = readRowBody(r);
  // The npm SDK sizes its buffer before writing and overestimates delete cells, so its rows end
  // in zero padding; the service evidently ignores it. Anything else after the row is an error.
  if (r.peek() !== -1 && !r.restIsZero()) r.fail('trailing bytes after the row');
  return row;
}
