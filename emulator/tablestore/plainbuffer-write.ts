/**
 * PlainBuffer encoder of tablestore-local: response rows of the table API (GetRow, GetRange, range
 * keys) and Tunnel record bytes (docs/plainbuffer.md). Cell fields go out in the one order readers accept (name,
 * value, type, timestamp, checksum) while the cell CRC takes the timestamp before the op byte.
 *
 * Every ReadRecords answer encodes its records, so this is the emulator's hot path: bytes go
 * straight into one growable scratch buffer and the CRCs are table lookups over the bytes just
 * written. That works because the writers feed integers to the CRC low byte first, i.e. in their
 * little-endian wire order, and a value's CRC covers exactly its (vt, payload) bytes. Change-log
 * records never change once appended, so their bytes are encoded once and kept (keepStreamRecord,
 * per log index in the table store); base-data images are written straight from a row's columns
 * (writeBaseImage) and kept per row until it is written (base-images.ts).
 */
import type { Cell, CellChange, ChangeRecord, ColumnValue, PkCell, SequenceInfo, StoredRow } from './model.js';
import { CELL_OP, HEADER, TAG, VT, crcByte } from './plainbuffer-format.js';

const TWO_32 = 4294967296;
const utf8 = new TextEncoder();

/** crcByte(c, b) === CRC8_TABLE[c ^ b]: the same CRC-8, as an array the loops below index. */
const CRC8_TABLE = Uint8Array.from({ length: 256 }, (_, i) => crcByte(0, i));

const SCRATCH_BYTES = 64 * 1024;
/** The scratch buffer every encode writes into; grown on demand, shrunk back after a huge answer. */
let buf = new Uint8Array(SCRATCH_BYTES);
let view = new DataView(buf.buffer);
let pos = 0;

function reserve(bytes: number): void {
  if (pos + bytes <= buf.length) return;
  let size = buf.length * 2;
  while (size < pos + bytes) size *= 2;
  const next = new Uint8Array(size);
  next.set(buf.subarray(0, pos));
  buf = next;
  view = new DataView(next.buffer);
}

function crcRange(crc: number, start: number, end: number): number {
  const b = buf;
  for (let i = start; i < end; i++) crc = CRC8_TABLE[crc ^ b[i]!]!;
  return crc;
}

function putU32(at: number, value: number): void {
  buf[at] = value & 0xff;
  buf[at + 1] = (value >>> 8) & 0xff;
  buf[at + 2] = (value >>> 16) & 0xff;
  buf[at + 3] = (value >>> 24) & 0xff;
}

function putI64(at: number, value: bigint): void {
  view.setBigInt64(at, value, true);
}

/** Millisecond timestamps are numbers; a non-negative safe integer needs no bigint on the way. */
function putTimestamp(at: number, ms: number): void {
  if (ms >= 0 && ms <= Number.MAX_SAFE_INTEGER && Number.isInteger(ms)) {
    putU32(at, ms % TWO_32);
    putU32(at + 4, Math.floor(ms / TWO_32));
  } else {
    putI64(at, BigInt(ms));
  }
}

/** UTF-8 of `text` at `at` (space reserved by the caller: 3 bytes per UTF-16 unit); returns the byte count. */
function putUtf8(at: number, text: string): number {
  const n = text.length;
  // Names and most values are short ASCII: a JS loop beats a call into the native encoder.
  if (n < 64) {
    const b = buf;
    for (let i = 0; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c >= 0x80) return utf8.encodeInto(text, b.subarray(at)).written;
      b[at + i] = c;
    }
    return n;
  }
  return utf8.encodeInto(text, buf.subarray(at)).written;
}

/** Value bytes (tag, u32 len, vt, payload); returns the CRC with the value's (vt, payload) folded in. */
function writeValue(value: ColumnValue, crc: number): number {
  switch (value.type) {
    case 'INTEGER':
    case 'DOUBLE': {
      reserve(14);
      buf[pos] = TAG.CELL_VALUE;
      putU32(pos + 1, 9);
      const start = pos + 5;
      if (value.type === 'INTEGER') {
        buf[start] = VT.INTEGER;
        putI64(start + 1, value.value);
      } else {
        buf[start] = VT.DOUBLE;
        view.setFloat64(start + 1, value.value, true);
      }
      pos = start + 9;
      return crcRange(crc, start, pos);
    }
    case 'BOOLEAN':
      reserve(7);
      buf[pos] = TAG.CELL_VALUE;
      putU32(pos + 1, 2);
      buf[pos + 5] = VT.BOOLEAN;
      buf[pos + 6] = value.value ? 1 : 0;
      pos += 7;
      return CRC8_TABLE[CRC8_TABLE[crc ^ VT.BOOLEAN]! ^ (value.value ? 1 : 0)]!;
    case 'STRING': {
      reserve(10 + value.value.length * 3);
      const start = pos + 5;
      const n = putUtf8(start + 5, value.value);
      return finishVarValue(VT.STRING, start, n, crc);
    }
    case 'BINARY': {
      const raw = value.value;
      reserve(10 + raw.length);
      const start = pos + 5;
      buf.set(raw, start + 5);
      return finishVarValue(VT.BLOB, start, raw.length, crc);
    }
  }
}

/** Fills in the prefix of a STRING/BLOB value whose `n` payload bytes sit at start + 5. */
function finishVarValue(vt: number, start: number, n: number, crc: number): number {
  buf[pos] = TAG.CELL_VALUE;
  putU32(pos + 1, 5 + n);
  buf[start] = vt;
  putU32(start + 1, n);
  pos = start + 5 + n;
  return crcRange(crc, start, pos);
}

/** TAG_CELL, TAG_CELL_NAME, u32 len, name; returns the CRC of the name bytes. */
function writeName(name: string): number {
  reserve(6 + name.length * 3);
  buf[pos] = TAG.CELL;
  buf[pos + 1] = TAG.CELL_NAME;
  const start = pos + 6;
  const n = putUtf8(start, name);
  putU32(pos + 2, n);
  pos = start + n;
  return crcRange(0, start, pos);
}

/** Writes one cell and returns its CRC (to be folded into the row CRC). `op` < 0: none; `timestampMs` undefined: none. */
function writeCell(name: string, value: ColumnValue | undefined, op: number, timestampMs: number | undefined): number {
  let crc = writeName(name);
  if (value !== undefined) crc = writeValue(value, crc);
  reserve(13);
  if (op >= 0) {
    buf[pos++] = TAG.CELL_TYPE;
    buf[pos++] = op;
  }
  if (timestampMs !== undefined) {
    buf[pos] = TAG.CELL_TIMESTAMP;
    putTimestamp(pos + 1, timestampMs);
    crc = crcRange(crc, pos + 1, pos + 9);
    pos += 9;
  }
  if (op >= 0) crc = CRC8_TABLE[crc ^ op]!;
  buf[pos++] = TAG.CELL_CHECKSUM;
  buf[pos++] = crc;
  return crc;
}

function writePrimaryKey(pk: PkCell[]): number {
  reserve(1);
  buf[pos++] = TAG.ROW_PK;
  let crc = 0;
  for (let i = 0; i < pk.length; i++) {
    const cell = pk[i]!;
    crc = CRC8_TABLE[crc ^ writeCell(cell.name, cell.value, -1, undefined)]!;
  }
  return crc;
}

function writeSequence(seq: SequenceInfo): void {
  // Lengths as the Java writer computes them: seqLen = 5+9+5, extLen = 1+4+seqLen.
  reserve(29);
  buf[pos] = TAG.EXTENSION;
  putU32(pos + 1, 24);
  buf[pos + 5] = TAG.SEQ_INFO;
  putU32(pos + 6, 19);
  buf[pos + 10] = TAG.SEQ_INFO_EPOCH;
  putU32(pos + 11, seq.epoch);
  buf[pos + 15] = TAG.SEQ_INFO_TS;
  putI64(pos + 16, seq.timestamp);
  buf[pos + 24] = TAG.SEQ_INFO_ROW_INDEX;
  putU32(pos + 25, seq.rowIndex);
  pos += 29;
}

function writeCellChange(change: CellChange): number {
  switch (change.op) {
    case 'put':
      return writeCell(change.name, change.value, -1, change.timestamp);
    case 'delete-one':
      return writeCell(change.name, undefined, CELL_OP.DELETE_ONE_VERSION, change.timestamp);
    case 'delete-all':
      return writeCell(change.name, undefined, CELL_OP.DELETE_ALL_VERSION, undefined);
  }
}

function writeCells(cells: Cell[], rowCrc: number): number {
  if (cells.length === 0) return rowCrc;
  let crc = rowCrc;
  reserve(1);
  buf[pos++] = TAG.ROW_DATA;
  for (let i = 0; i < cells.length; i++) {
    const cell = cells[i]!;
    crc = CRC8_TABLE[crc ^ writeCell(cell.name, cell.value, -1, cell.timestamp)]!;
  }
  return crc;
}

function writeRowChecksum(crc: number, deleteMarker: boolean): void {
  reserve(2);
  buf[pos++] = TAG.ROW_CHECKSUM;
  buf[pos++] = CRC8_TABLE[crc ^ (deleteMarker ? 1 : 0)]!;
}

function writeStoredRow(row: StoredRow): void {
  const crc = writeCells(row.cells, writePrimaryKey(row.primaryKey));
  writeRowChecksum(crc, false);
}

function begin(): void {
  pos = 0;
  reserve(4);
  putU32(0, HEADER);
  pos = 4;
}

/** The scratch bytes as a fresh array of their own (callers may keep or alter it). */
function finish(): Uint8Array {
  const out = buf.slice(0, pos);
  if (buf.length > 16 * SCRATCH_BYTES) {
    buf = new Uint8Array(SCRATCH_BYTES);
    view = new DataView(buf.buffer);
  }
  return out;
}

/** One row with its header, as GetRow / PutRow(return_content) answer it. */
export function encodeRow(row: StoredRow): Uint8Array {
  begin();
  writeStoredRow(row);
  return finish();
}

/** Rows after a single header, as GetRange answers them; no rows → zero bytes. */
export function encodeRows(rows: StoredRow[]): Uint8Array {
  if (rows.length === 0) return new Uint8Array(0);
  begin();
  for (const row of rows) writeStoredRow(row);
  return finish();
}

/** A primary key alone (GetRange next_start_primary_key, Tunnel base tokens). */
export function encodePrimaryKey(pk: PkCell[]): Uint8Array {
  begin();
  writeRowChecksum(writePrimaryKey(pk), false);
  return finish();
}

export interface StreamRecordOptions {
  /** Add the sequence-info extension: stream records yes, base-data rows no. */
  withSequence: boolean;
}

function isChangeRecord(value: ChangeRecord | StoredRow): value is ChangeRecord {
  return (value as ChangeRecord).action !== undefined;
}

function writeStreamRecord(record: ChangeRecord | StoredRow, withSequence: boolean): void {
  begin();
  let crc = writePrimaryKey(record.primaryKey);
  if (!isChangeRecord(record)) {
    writeRowChecksum(writeCells(record.cells, crc), false);
    return;
  }
  const deleteMarker = record.action === 'DELETE_ROW';
  if (!deleteMarker && record.changes.length > 0) {
    reserve(1);
    buf[pos++] = TAG.ROW_DATA;
    const changes = record.changes;
    for (let i = 0; i < changes.length; i++) crc = CRC8_TABLE[crc ^ writeCellChange(changes[i]!)]!;
  }
  if (deleteMarker) {
    reserve(1);
    buf[pos++] = TAG.DELETE_ROW_MARKER;
  }
  if (withSequence) writeSequence(record.seq);
  writeRowChecksum(crc, deleteMarker);
}

/**
 * Copies of the scratch bytes carved out of shared slabs: a view costs an object, while an
 * ArrayBuffer per record (a few hundred bytes) costs an allocation the GC must track, which was
 * the largest single cost of a base-data page. Records beyond an eighth of a slab get their own.
 */
export class RecordSlabs {
  private slab: Uint8Array | null = null;
  private used = 0;
  /** Bytes of the slabs (and own buffers) handed out since creation or the last reset. */
  allocatedBytes = 0;

  constructor(private readonly slabBytes: number) {}

  /** Bytes copyScratch() would newly allocate for the scratch bytes now encoded (0: they fit the current slab). */
  copyCost(): number {
    if (pos > this.slabBytes / 8) return pos;
    return this.slab !== null && this.used + pos <= this.slabBytes ? 0 : this.slabBytes;
  }

  copyScratch(): Uint8Array {
    if (pos > this.slabBytes / 8) {
      this.allocatedBytes += pos;
      return finish();
    }
    if (this.slab === null || this.used + pos > this.slabBytes) {
      this.slab = new Uint8Array(this.slabBytes);
      this.used = 0;
      this.allocatedBytes += this.slabBytes;
    }
    const out = this.slab.subarray(this.used, this.used + pos);
    out.set(buf.subarray(0, pos));
    // 8-byte alignment keeps every view's offset friendly to readers that build DataViews on it.
    this.used = (this.used + pos + 7) & ~7;
    return out;
  }

  /** Starts afresh: the bytes handed out so far stay valid, and are freed with their last view. */
  reset(): void {
    this.slab = null;
    this.used = 0;
    this.allocatedBytes = 0;
  }
}

/** Short-lived records (a ReadRecords answer); their slabs die with the answers. */
const transientSlabs = new RecordSlabs(64 * 1024);
/** Kept change-log records: separate slabs, so answers never pin long-lived memory or vice versa. */
const keptSlabs = new RecordSlabs(256 * 1024);

/**
 * Exact Tunnel `Record.record` bytes for a change-log record or a base-data row: header, PK,
 * cells with timestamps on every PUT cell, the delete-row marker on DELETE_ROW, the sequence
 * extension when asked (never covered by the row CRC), and the row CRC. Bytes of their own, but
 * possibly a view into a larger buffer (byteOffset ≠ 0): read them through the view.
 */
export function encodeStreamRecord(record: ChangeRecord | StoredRow, options: StreamRecordOptions): Uint8Array {
  writeStreamRecord(record, options.withSequence);
  return transientSlabs.copyScratch();
}

/**
 * `encodeStreamRecord(record, { withSequence: true })` in long-lived slabs, for a caller that keeps
 * the bytes per change-log record (the table store); they are shared, so nobody may alter them.
 */
export function keepStreamRecord(record: ChangeRecord): Uint8Array {
  writeStreamRecord(record, true);
  return keptSlabs.copyScratch();
}

const streamBytes = new WeakMap<ChangeRecord, Uint8Array>();

/**
 * keepStreamRecord, once per record object (a WeakMap): for views of the store that keep no bytes
 * of their own. The bytes are shared, so callers must not alter them (copy first, as the record
 * tamper does).
 */
export function recordBytesOf(record: ChangeRecord): Uint8Array {
  let bytes = streamBytes.get(record);
  if (bytes === undefined) {
    bytes = keepStreamRecord(record);
    streamBytes.set(record, bytes);
  }
  return bytes;
}

/** The newest version of a column as a base image shows it. */
export interface LatestVersion {
  value: ColumnValue;
  timestamp: number;
}

/** Column names of the image being written, sorted in place (a few, usually already in order). */
const nameScratch: string[] = [];

function sortNames(columns: ReadonlyMap<string, unknown>): number {
  let n = 0;
  for (const name of columns.keys()) {
    // Insertion sort by UTF-16 code units, the order Array.prototype.sort gives strings.
    let i = n++;
    while (i > 0 && nameScratch[i - 1]! > name) {
      nameScratch[i] = nameScratch[i - 1]!;
      i--;
    }
    nameScratch[i] = name;
  }
  return n;
}

/**
 * The base-data record of a stored row, as encodeStreamRecord(row image, { withSequence: false })
 * writes it, straight from its columns (versions newest first): PK, the newest version of every
 * column by name, row CRC. Into the scratch; copy out with copyBaseImage or a RecordSlabs.
 */
export function writeBaseImage(primaryKey: PkCell[], columns: ReadonlyMap<string, readonly LatestVersion[]>): void {
  begin();
  let crc = writePrimaryKey(primaryKey);
  const n = sortNames(columns);
  if (n > 0) {
    reserve(1);
    buf[pos++] = TAG.ROW_DATA;
    for (let i = 0; i < n; i++) {
      const name = nameScratch[i]!;
      const newest = columns.get(name)![0]!;
      crc = CRC8_TABLE[crc ^ writeCell(name, newest.value, -1, newest.timestamp)]!;
    }
  }
  writeRowChecksum(crc, false);
}

/** The scratch bytes (writeBaseImage's) as short-lived bytes of their own, for one answer. */
export function copyTransient(): Uint8Array {
  return transientSlabs.copyScratch();
}
