/**
 * PlainBuffer encoder of tablestore-local: response rows of the table API (GetRow, GetRange, range
 * keys) and Tunnel record bytes (§5.3). Cell fields go out in the one order readers accept (name,
 * value, type, timestamp, checksum) while the cell CRC takes the timestamp before the op byte.
 */
import type { Cell, CellChange, ChangeRecord, ColumnValue, PkCell, SequenceInfo, StoredRow } from './model.js';
import { CELL_OP, HEADER, TAG, VT, crcByte, crcBytes, crcInt32, crcInt64, doubleBits } from './plainbuffer-format.js';

const utf8 = new TextEncoder();

class ByteWriter {
  private buf: Uint8Array;
  private view: DataView;
  length = 0;

  constructor(initialBytes = 256) {
    this.buf = new Uint8Array(initialBytes);
    this.view = new DataView(this.buf.buffer);
  }

  private reserve(bytes: number): void {
    if (this.length + bytes <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + bytes) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(value: number): void {
    this.reserve(1);
    this.buf[this.length++] = value;
  }

  u32(value: number): void {
    this.reserve(4);
    this.view.setUint32(this.length, value >>> 0, true);
    this.length += 4;
  }

  i64(value: bigint): void {
    this.reserve(8);
    this.view.setBigInt64(this.length, BigInt.asIntN(64, value), true);
    this.length += 8;
  }

  bytes(value: Uint8Array): void {
    this.reserve(value.length);
    this.buf.set(value, this.length);
    this.length += value.length;
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

/** Value bytes (u32 len, vt, payload) plus the value's CRC contribution. */
function writeValue(w: ByteWriter, value: ColumnValue, crc: number): number {
  w.u8(TAG.CELL_VALUE);
  switch (value.type) {
    case 'INTEGER':
      w.u32(9);
      w.u8(VT.INTEGER);
      w.i64(value.value);
      return crcInt64(crcByte(crc, VT.INTEGER), value.value);
    case 'DOUBLE': {
      const bits = doubleBits(value.value);
      w.u32(9);
      w.u8(VT.DOUBLE);
      w.i64(bits);
      return crcInt64(crcByte(crc, VT.DOUBLE), bits);
    }
    case 'BOOLEAN':
      w.u32(2);
      w.u8(VT.BOOLEAN);
      w.u8(value.value ? 1 : 0);
      return crcByte(crcByte(crc, VT.BOOLEAN), value.value ? 1 : 0);
    case 'STRING':
    case 'BINARY': {
      const vt = value.type === 'STRING' ? VT.STRING : VT.BLOB;
      const raw = value.type === 'STRING' ? utf8.encode(value.value) : value.value;
      w.u32(5 + raw.length);
      w.u8(vt);
      w.u32(raw.length);
      w.bytes(raw);
      return crcBytes(crcInt32(crcByte(crc, vt), raw.length), raw);
    }
  }
}

function writeName(w: ByteWriter, name: string): number {
  const raw = utf8.encode(name);
  w.u8(TAG.CELL);
  w.u8(TAG.CELL_NAME);
  w.u32(raw.length);
  w.bytes(raw);
  return crcBytes(0, raw);
}

/** Writes one cell and returns its CRC (to be folded into the row CRC). */
function writeCell(w: ByteWriter, name: string, value: ColumnValue | undefined, op: number | undefined, timestampMs: number | undefined): number {
  let crc = writeName(w, name);
  if (value !== undefined) crc = writeValue(w, value, crc);
  if (op !== undefined) {
    w.u8(TAG.CELL_TYPE);
    w.u8(op);
  }
  if (timestampMs !== undefined) {
    w.u8(TAG.CELL_TIMESTAMP);
    w.i64(BigInt(timestampMs));
    crc = crcInt64(crc, BigInt(timestampMs));
  }
  if (op !== undefined) crc = crcByte(crc, op);
  w.u8(TAG.CELL_CHECKSUM);
  w.u8(crc);
  return crc;
}

function writePrimaryKey(w: ByteWriter, pk: PkCell[], rowCrc: number): number {
  w.u8(TAG.ROW_PK);
  let crc = rowCrc;
  for (const cell of pk) crc = crcByte(crc, writeCell(w, cell.name, cell.value, undefined, undefined));
  return crc;
}

function writeSequence(w: ByteWriter, seq: SequenceInfo): void {
  // Lengths as the Java writer computes them: seqLen = 5+9+5, extLen = 1+4+seqLen.
  w.u8(TAG.EXTENSION);
  w.u32(24);
  w.u8(TAG.SEQ_INFO);
  w.u32(19);
  w.u8(TAG.SEQ_INFO_EPOCH);
  w.u32(seq.epoch);
  w.u8(TAG.SEQ_INFO_TS);
  w.i64(seq.timestamp);
  w.u8(TAG.SEQ_INFO_ROW_INDEX);
  w.u32(seq.rowIndex);
}

function writeCellChange(w: ByteWriter, change: CellChange): number {
  switch (change.op) {
    case 'put':
      return writeCell(w, change.name, change.value, undefined, change.timestamp);
    case 'delete-one':
      return writeCell(w, change.name, undefined, CELL_OP.DELETE_ONE_VERSION, change.timestamp);
    case 'delete-all':
      return writeCell(w, change.name, undefined, CELL_OP.DELETE_ALL_VERSION, undefined);
  }
}

function writeStoredRow(w: ByteWriter, row: StoredRow): void {
  let crc = writePrimaryKey(w, row.primaryKey, 0);
  crc = writeCells(w, row.cells, crc);
  w.u8(TAG.ROW_CHECKSUM);
  w.u8(crcByte(crc, 0));
}

function writeCells(w: ByteWriter, cells: Cell[], rowCrc: number): number {
  if (cells.length === 0) return rowCrc;
  let crc = rowCrc;
  w.u8(TAG.ROW_DATA);
  for (const cell of cells) crc = crcByte(crc, writeCell(w, cell.name, cell.value, undefined, cell.timestamp));
  return crc;
}

/** One row with its header, as GetRow / PutRow(return_content) answer it. */
export function encodeRow(row: StoredRow): Uint8Array {
  const w = new ByteWriter();
  w.u32(HEADER);
  writeStoredRow(w, row);
  return w.finish();
}

/** Rows after a single header, as GetRange answers them; no rows → zero bytes. */
export function encodeRows(rows: StoredRow[]): Uint8Array {
  if (rows.length === 0) return new Uint8Array(0);
  const w = new ByteWriter(rows.length * 64);
  w.u32(HEADER);
  for (const row of rows) writeStoredRow(w, row);
  return w.finish();
}

/** A primary key alone (GetRange next_start_primary_key, Tunnel base tokens). */
export function encodePrimaryKey(pk: PkCell[]): Uint8Array {
  const w = new ByteWriter();
  w.u32(HEADER);
  const crc = writePrimaryKey(w, pk, 0);
  w.u8(TAG.ROW_CHECKSUM);
  w.u8(crcByte(crc, 0));
  return w.finish();
}

export interface StreamRecordOptions {
  /** Add the sequence-info extension: stream records yes, base-data rows no. */
  withSequence: boolean;
}

function isChangeRecord(value: ChangeRecord | StoredRow): value is ChangeRecord {
  return (value as ChangeRecord).action !== undefined;
}

/**
 * Exact Tunnel `Record.record` bytes for a change-log record or a base-data row: header, PK,
 * cells with timestamps on every PUT cell, the delete-row marker on DELETE_ROW, the sequence
 * extension when asked (never covered by the row CRC), and the row CRC.
 */
export function encodeStreamRecord(record: ChangeRecord | StoredRow, options: StreamRecordOptions): Uint8Array {
  const w = new ByteWriter(128);
  w.u32(HEADER);
  let crc = writePrimaryKey(w, record.primaryKey, 0);
  let deleteMarker = false;
  let seq: SequenceInfo | undefined;
  if (isChangeRecord(record)) {
    seq = record.seq;
    if (record.action === 'DELETE_ROW') {
      deleteMarker = true;
    } else if (record.changes.length > 0) {
      w.u8(TAG.ROW_DATA);
      for (const change of record.changes) crc = crcByte(crc, writeCellChange(w, change));
    }
  } else {
    crc = writeCells(w, record.cells, crc);
  }
  if (deleteMarker) w.u8(TAG.DELETE_ROW_MARKER);
  if (options.withSequence && seq !== undefined) writeSequence(w, seq);
  w.u8(TAG.ROW_CHECKSUM);
  w.u8(crcByte(crc, deleteMarker ? 1 : 0));
  return w.finish();
}
