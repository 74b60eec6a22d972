/**
 * PlainBuffer record decoder for Tunnel records (docs/plainbuffer.md §Record layout), a port of the Java reader's
 * rules (which verifies every checksum), not of the npm SDK's decoder (which cannot read Tunnel records).
 *
 *   record    := u32(0x75) row                                   all integers little-endian
 *   row       := 0x01 pkcell* [0x02 cell+] [0x08] [0x0B ext] 0x09 rowCrc
 *   cell      := 0x03 0x04 u32 name [0x05 u32 len vt payload] [0x06 op] [0x07 i64 tsMs] 0x0A cellCrc
 *   cellCrc   = crc(name, vt+payload, ts, op)      rowCrc = crc(each cellCrc, deleteMarker ? 1 : 0)
 *
 * This is the product's hot path, so the decoder pushes into a sink instead of building objects. A
 * RawRecordSink gets each payload as a byte range (no allocation per cell at all: the ingest path); a
 * RecordSink gets JS values (a bigint, a string, a Buffer view per cell). Column names come from a
 * per-decoder NameCache. A cell reaches the sink only after its own checksum passed; a record that is
 * truncated or corrupt throws OTSL_DECODE_CORRUPT_RECORD and the row it was in never gets `endRow` — the
 * sink must drop a row that began but did not end. Nothing is skipped silently.
 *
 * The emulator (emulator/tablestore/plainbuffer-*.ts) has its own copy of these constants and of CRC-8 on
 * purpose: it encodes what this decodes, and sharing code would let one misreading pass on both sides
 * (test/unit/architecture.test.ts forbids the import).
 */
import { OtslakeError } from '../common/errors.js';
import { CRC8_TABLE, crc8Byte, crc8Range } from './crc8.js';
import { FNV_OFFSET, FNV_PRIME, NameCache, sameBytes } from './name-cache.js';
import type { ActionType, RecordMsg } from './proto.js';
import { RECORD_PAGE_SLOTS, asBuffer, type RecordPage } from './read-records-wire.js';

export const PB_HEADER = 0x75;
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

/** Wire value types; VT.NONE marks a delete cell (no value). */
export const VT = { NONE: -1, INTEGER: 0x00, DOUBLE: 0x01, BOOLEAN: 0x02, STRING: 0x03, BINARY: 0x07 } as const;
export type ValueType = (typeof VT)[keyof typeof VT];

/** Cell operations; PUT has no wire byte (absent op), the others are the wire values. */
export const CELL_OP = { PUT: 0x00, DELETE_ALL_VERSION: 0x01, DELETE_ONE_VERSION: 0x03 } as const;
export type CellOp = (typeof CELL_OP)[keyof typeof CELL_OP];

/** INTEGER → bigint, DOUBLE → number, BOOLEAN → boolean, STRING → string, BINARY → Buffer view (copy it to keep it). */
export type CellValue = bigint | number | boolean | string | Uint8Array;

export interface RecordSink {
  /** `origin` = this row is the record's origin_record (previous values; PK may be absent). */
  beginRow(recordIndex: number, actionType: ActionType, origin: boolean): void;
  primaryKey(name: string, type: ValueType, value: CellValue): void;
  /** `value` is undefined and `type` VT.NONE for delete cells; `timestampMs` is -1 when absent (DELETE_ALL_VERSION). */
  cell(name: string, op: CellOp, type: ValueType, value: CellValue | undefined, timestampMs: number): void;
  /** Sequence fields are meaningful only when `hasSequence` (stream records; base rows have none). */
  endRow(deleteMarker: boolean, hasSequence: boolean, epoch: number, timestampUs: number, rowIndex: number): void;
}

/**
 * The same callbacks without the values made into JS values: a cell's payload is handed over as a byte
 * range of the record's buffer, valid until the decode call returns — 8 little-endian bytes for INTEGER
 * and DOUBLE, one byte (0 or 1) for BOOLEAN, the UTF-8 or raw bytes for STRING and BINARY, nothing
 * (`len` 0) for delete cells. The columnar sink (workers/columnar-rows.ts) copies them straight into
 * column buffers: no bigint, string or view per cell.
 *
 * Timestamps come as where their 8 little-endian bytes lie in `bytes` (-1: none), read with `int53At`
 * (checked below 2^53 by the decoder): a timestamp as a number argument would be a heap number per cell.
 */
export interface RawRecordSink {
  beginRow(recordIndex: number, actionType: ActionType, origin: boolean): void;
  primaryKey(name: string, type: ValueType, bytes: Buffer, at: number, len: number): void;
  /** `timestampAt`: the cell's timestamp (ms), -1 when absent (DELETE_ALL_VERSION). */
  cell(name: string, op: CellOp, type: ValueType, bytes: Buffer, at: number, len: number, timestampAt: number): void;
  /** `sequenceAt`: the sequence timestamp (µs) of stream records, -1 for none (base rows; epoch and rowIndex are then 0). */
  endRow(deleteMarker: boolean, bytes: Buffer, sequenceAt: number, epoch: number, rowIndex: number): void;
}

const TWO_32 = 4294967296;

/** The little-endian int64 at bytes[at, at + 8) as a number: exact for the timestamps the decoder hands over (|v| < 2^53). */
export function int53At(bytes: Uint8Array, at: number): number {
  const lo = (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0;
  const hi = bytes[at + 4]! | (bytes[at + 5]! << 8) | (bytes[at + 6]! << 16) | (bytes[at + 7]! << 24);
  return hi * TWO_32 + lo;
}

/** A raw payload as the JS value a RecordSink gets (BINARY stays a view into `bytes`). */
export function cellValueOf(type: ValueType, bytes: Buffer, at: number, len: number): CellValue {
  switch (type) {
    case VT.INTEGER:
      return bytes.readBigInt64LE(at);
    case VT.DOUBLE:
      return bytes.readDoubleLE(at);
    case VT.BOOLEAN:
      return bytes[at] === 1;
    case VT.STRING:
      return bytes.toString('utf8', at, at + len);
    default:
      return bytes.subarray(at, at + len);
  }
}

/** Turns raw callbacks into valued ones, for RecordSinks. */
class ValueSink implements RawRecordSink {
  target: RecordSink | null = null;

  beginRow(recordIndex: number, actionType: ActionType, origin: boolean): void {
    this.target!.beginRow(recordIndex, actionType, origin);
  }
  primaryKey(name: string, type: ValueType, bytes: Buffer, at: number, len: number): void {
    this.target!.primaryKey(name, type, cellValueOf(type, bytes, at, len));
  }
  cell(name: string, op: CellOp, type: ValueType, bytes: Buffer, at: number, len: number, timestampAt: number): void {
    const timestampMs = timestampAt < 0 ? -1 : int53At(bytes, timestampAt);
    this.target!.cell(name, op, type, type === VT.NONE ? undefined : cellValueOf(type, bytes, at, len), timestampMs);
  }
  endRow(deleteMarker: boolean, bytes: Buffer, sequenceAt: number, epoch: number, rowIndex: number): void {
    this.target!.endRow(deleteMarker, sequenceAt >= 0, epoch, sequenceAt < 0 ? 0 : int53At(bytes, sequenceAt), rowIndex);
  }
}

export interface DecodeOptions {
  /** Only for error context. */
  channelId?: string;
  /** Index of records[0] in the channel's page, for error context. */
  firstRecordIndex?: number;
}

/** Cell positions of a row that remember the name they last held (wider rows resolve the rest by hash). */
const POSITION_HINTS = 64;
const MAX_HI_SAFE = 0x1fffff; // hi word bound that keeps hi * 2^32 + lo within Number.MAX_SAFE_INTEGER

export class PlainBufferDecoder {
  private readonly names = new NameCache();
  private buf: Buffer = Buffer.alloc(0);
  /** Where the current row starts in `buf` (error offsets count from here). */
  private start = 0;
  private pos = 0;
  private end = 0;
  private recordIndex = 0;
  private channelId: string | undefined;
  private origin = false;
  private readonly values = new ValueSink();
  /**
   * Per cell position in a row: the name's bytes, string and CRC-8 of the last row's cell there. Records of a
   * batch repeat their layout, so the name at a position is usually the same bytes; a match costs one compare
   * instead of hashing, checksumming and looking the name up (the CRC after the name is a function of it alone).
   */
  private readonly hintBytes: (Uint8Array | null)[] = new Array<Uint8Array | null>(POSITION_HINTS).fill(null);
  private readonly hintNames: string[] = new Array<string>(POSITION_HINTS).fill('');
  private readonly hintCrcs = new Uint8Array(POSITION_HINTS);
  private cellIndex = 0;

  /** Decodes every record (and its origin_record) into the sink; returns the number of records. */
  decodeRecords(records: readonly RecordMsg[], sink: RecordSink, options: DecodeOptions = {}): number {
    this.values.target = sink;
    try {
      this.channelId = options.channelId;
      const first = options.firstRecordIndex ?? 0;
      for (let i = 0; i < records.length; i++) {
        this.recordIndex = first + i;
        this.decodeOne(records[i]!, this.values);
      }
    } finally {
      this.values.target = null;
    }
    return records.length;
  }

  /** Decodes a single record (and its origin_record); `options.firstRecordIndex` is its index for errors. */
  decodeRecord(record: RecordMsg, sink: RecordSink, options: DecodeOptions = {}): void {
    this.decodeRecords([record], sink, options);
  }

  /** Decodes a single record (and its origin_record) into a raw sink: payloads as byte ranges, no values. */
  decodeRecordRaw(record: RecordMsg, sink: RawRecordSink, options: DecodeOptions = {}): void {
    this.channelId = options.channelId;
    this.recordIndex = options.firstRecordIndex ?? 0;
    this.decodeOne(record, sink);
  }

  /**
   * Decodes record `i` of a page (and its origin_record) into a raw sink, straight from the page's body: payload
   * ranges are of `page.body`. `options.firstRecordIndex` is its index for errors.
   */
  decodePageRecordRaw(page: RecordPage, i: number, sink: RawRecordSink, options: DecodeOptions = {}): void {
    this.channelId = options.channelId;
    this.recordIndex = options.firstRecordIndex ?? 0;
    const layout = page.layout;
    const o = i * RECORD_PAGE_SLOTS; // action, record at, record length, origin at, origin length
    const action = layout[o]! as ActionType;
    this.decodeRow(page.body, layout[o + 1]!, layout[o + 2]!, action, sink, false);
    if (layout[o + 4]! > 0) this.decodeRow(page.body, layout[o + 3]!, layout[o + 4]!, action, sink, true);
  }

  private decodeOne(r: RecordMsg, sink: RawRecordSink): void {
    this.decodeRow(asBuffer(r.record), 0, r.record.byteLength, r.action_type, sink, false);
    if (r.origin_record !== undefined && r.origin_record.length > 0)
      this.decodeRow(asBuffer(r.origin_record), 0, r.origin_record.byteLength, r.action_type, sink, true);
  }

  /** The row in buf[at, at + len): positions (and the payload ranges the sink gets) are of `buf`, errors count from `at`. */
  private decodeRow(buf: Buffer, at: number, len: number, actionType: ActionType, sink: RawRecordSink, origin: boolean): void {
    this.buf = buf;
    this.start = at;
    this.pos = at;
    this.end = at + len;
    this.origin = origin;
    this.seqEpoch = 0;
    this.seqAt = -1;
    this.seqRowIndex = 0;
    if (actionType !== 1 && actionType !== 2 && actionType !== 3) this.corrupt(`unknown action type ${String(actionType)}`);
    if (len < 4 || this.readU32() !== PB_HEADER) {
      this.pos = at;
      this.corrupt('missing PlainBuffer header 0x75');
    }
    sink.beginRow(this.recordIndex, actionType, origin);
    this.cellIndex = 0;
    let rowCrc = 0;
    let tag = this.nextTag();
    if (tag === TAG.ROW_PK) {
      tag = this.nextTag();
      while (tag === TAG.CELL) {
        rowCrc = CRC8_TABLE[rowCrc ^ this.readCell(sink, true)]!;
        tag = this.nextTag();
      }
    } else if (!origin) {
      this.corrupt(`expected TAG_ROW_PK, found 0x${tag.toString(16)}`, -1);
    }
    if (tag === TAG.ROW_DATA) {
      tag = this.nextTag();
      while (tag === TAG.CELL) {
        rowCrc = CRC8_TABLE[rowCrc ^ this.readCell(sink, false)]!;
        tag = this.nextTag();
      }
    }
    let deleteMarker = false;
    if (tag === TAG.DELETE_ROW_MARKER) {
      deleteMarker = true;
      tag = this.nextTag();
    }
    if (tag === TAG.EXTENSION) {
      this.readExtension();
      tag = this.nextTag();
    }
    if (tag !== TAG.ROW_CHECKSUM) this.corrupt(`expected TAG_ROW_CHECKSUM, found 0x${tag.toString(16)}`, -1);
    const expected = this.readU8();
    rowCrc = crc8Byte(rowCrc, deleteMarker ? 1 : 0);
    if (expected !== rowCrc) this.corrupt(`row checksum mismatch (stored 0x${expected.toString(16)}, computed 0x${rowCrc.toString(16)})`, -1);
    if (this.pos !== this.end) this.corrupt('trailing bytes after the row (a record holds exactly one row)');
    sink.endRow(deleteMarker, this.buf, this.seqAt, this.seqEpoch, this.seqRowIndex);
  }

  private seqEpoch = 0;
  /** Where the sequence timestamp lies in `buf`, -1 for none. */
  private seqAt = -1;
  private seqRowIndex = 0;

  /** Where the current cell's value lies, set by checkValue (fields, not a result object: this runs per cell). */
  private valueAt = 0;
  private valueLen = 0;

  /** Checks a value of type `vt` whose bytes (type byte included) start at `start`, `len` long; sets valueAt/valueLen. */
  private checkValue(vt: number, start: number, len: number): void {
    this.valueAt = start + 1;
    switch (vt) {
      case VT.INTEGER:
      case VT.DOUBLE:
        if (len !== 9) this.corrupt(`${vt === VT.INTEGER ? 'INTEGER' : 'DOUBLE'} value length ${len}, expected 9`);
        this.valueLen = 8;
        return;
      case VT.BOOLEAN: {
        if (len !== 2) this.corrupt(`BOOLEAN value length ${len}, expected 2`);
        const v = this.buf[start + 1]!;
        if (v > 1) this.corrupt(`BOOLEAN byte ${v}, expected 0 or 1`);
        this.valueLen = 1;
        return;
      }
      case VT.STRING:
      case VT.BINARY: {
        if (len < 5) this.corrupt(`value length ${len} too short for a length prefix`);
        const n = this.u32At(start + 1);
        if (n + 5 !== len) this.corrupt(`payload length ${n} disagrees with value length ${len}`);
        this.valueAt = start + 5;
        this.valueLen = n;
        return;
      }
      default:
        this.corrupt(`unknown value type 0x${vt.toString(16)}`);
    }
  }

  /** After TAG_CELL. Returns the verified cell checksum. */
  private readCell(sink: RawRecordSink, isPk: boolean): number {
    const b = this.buf;
    if (this.nextTag() !== TAG.CELL_NAME) this.corrupt('expected TAG_CELL_NAME', -1);
    const nameLen = this.readU32();
    const nameStart = this.pos;
    const nameEnd = this.need(nameLen);
    const position = this.cellIndex++;
    const hint = position < POSITION_HINTS ? this.hintBytes[position]! : null;
    let crc = 0;
    let name: string;
    if (hint !== null && sameBytes(hint, b, nameStart, nameEnd)) {
      name = this.hintNames[position]!;
      crc = this.hintCrcs[position]!;
    } else {
      let hash = FNV_OFFSET;
      for (let i = nameStart; i < nameEnd; i++) {
        const byte = b[i]!;
        crc = CRC8_TABLE[crc ^ byte]!;
        hash = Math.imul(hash ^ byte, FNV_PRIME);
      }
      name = this.names.resolve(b, nameStart, nameEnd, hash);
      if (position < POSITION_HINTS) {
        this.hintBytes[position] = this.names.lastBytes;
        this.hintNames[position] = name;
        this.hintCrcs[position] = crc;
      }
    }
    this.pos = nameEnd;

    let tag = this.nextTag();
    let type: ValueType = VT.NONE;
    let valueAt = 0;
    let valueLen = 0;
    const hasValue = tag === TAG.CELL_VALUE;
    if (hasValue) {
      const len = this.readU32();
      const start = this.pos;
      const valueEnd = this.need(len);
      if (len < 1) this.corrupt('empty cell value');
      const vt = b[start]!;
      this.checkValue(vt, start, len);
      valueAt = this.valueAt;
      valueLen = this.valueLen;
      type = vt as ValueType;
      // The checksum covers vt + payload (not the u32 length prefix): one contiguous range for every type.
      crc = crc8Range(crc, b, start, valueEnd);
      this.pos = valueEnd;
      tag = this.nextTag();
    }
    let op = -1;
    if (tag === TAG.CELL_TYPE) {
      op = this.readU8();
      tag = this.nextTag();
    }
    let timestampAt = -1;
    if (tag === TAG.CELL_TIMESTAMP) {
      const start = this.pos;
      this.need(8);
      const hi = b[start + 4]! | (b[start + 5]! << 8) | (b[start + 6]! << 16) | (b[start + 7]! << 24);
      if (hi < 0) this.corrupt('negative cell timestamp');
      if (hi > MAX_HI_SAFE) this.corrupt('cell timestamp beyond 2^53 ms');
      timestampAt = start;
      crc = crc8Range(crc, b, start, start + 8);
      this.pos = start + 8;
      tag = this.nextTag();
    }
    if (op >= 0) crc = CRC8_TABLE[crc ^ op]!; // after the timestamp: the Java writer's order, not the wire order
    if (tag !== TAG.CELL_CHECKSUM) this.corrupt(`expected TAG_CELL_CHECKSUM, found 0x${tag.toString(16)}`, -1);
    const stored = this.readU8();
    if (stored !== crc) this.corrupt(`cell "${name}" checksum mismatch (stored 0x${stored.toString(16)}, computed 0x${crc.toString(16)})`, -1);

    if (isPk) {
      if (!hasValue || op >= 0 || timestampAt >= 0) this.corrupt(`primary-key cell "${name}" must have a value and no type or timestamp`);
      sink.primaryKey(name, type, b, valueAt, valueLen);
      return crc;
    }
    // Cell forms of a Tunnel record (J:PlainBufferConversion.toRecordColumn).
    if (op < 0) {
      if (!hasValue || timestampAt < 0) this.corrupt(`PUT cell "${name}" should have both value and timestamp`);
      sink.cell(name, CELL_OP.PUT, type, b, valueAt, valueLen, timestampAt);
    } else if (op === CELL_OP.DELETE_ONE_VERSION) {
      if (hasValue || timestampAt < 0) this.corrupt(`DELETE_ONE_VERSION cell "${name}" should not have value but should have timestamp`);
      sink.cell(name, CELL_OP.DELETE_ONE_VERSION, VT.NONE, b, 0, 0, timestampAt);
    } else if (op === CELL_OP.DELETE_ALL_VERSION) {
      if (hasValue || timestampAt >= 0) this.corrupt(`DELETE_ALL_VERSION cell "${name}" should not have value and timestamp`);
      sink.cell(name, CELL_OP.DELETE_ALL_VERSION, VT.NONE, b, 0, 0, -1);
    } else {
      this.corrupt(`unknown cell type 0x${op.toString(16)} on "${name}"`);
    }
    return crc;
  }

  /** After TAG_EXTENSION (sets seqAt and its fields). Unknown extension entries are skipped by their length (the Java reader's rule). */
  private readExtension(): void {
    const extLen = this.readU32();
    const extEnd = this.need(extLen);
    const outerEnd = this.end;
    this.end = extEnd; // bounds checks now stop at the extension's end
    while (this.pos < extEnd) {
      const tag = this.readU8();
      const len = this.readU32();
      const fieldEnd = this.need(len);
      if (tag === TAG.SEQ_INFO) {
        const savedEnd = this.end;
        this.end = fieldEnd;
        if (this.readU8() !== TAG.SEQ_INFO_EPOCH) this.corrupt('expected TAG_SEQ_INFO_EPOCH', -1);
        this.need(4);
        this.seqEpoch = this.i32At(this.pos);
        this.pos += 4;
        if (this.readU8() !== TAG.SEQ_INFO_TS) this.corrupt('expected TAG_SEQ_INFO_TS', -1);
        this.need(8);
        const hi = this.i32At(this.pos + 4);
        if (hi > MAX_HI_SAFE || hi < -MAX_HI_SAFE) this.corrupt('sequence timestamp beyond 2^53 µs');
        const seqAt = this.pos;
        this.pos += 8;
        if (this.readU8() !== TAG.SEQ_INFO_ROW_INDEX) this.corrupt('expected TAG_SEQ_INFO_ROW_INDEX', -1);
        this.need(4);
        this.seqRowIndex = this.i32At(this.pos);
        this.pos += 4;
        if (this.pos !== fieldEnd) this.corrupt('sequence info longer than its fields');
        this.end = savedEnd;
        this.seqAt = seqAt;
      }
      this.pos = fieldEnd;
    }
    this.end = outerEnd;
  }

  private nextTag(): number {
    if (this.pos >= this.end) this.corrupt('truncated: expected a tag');
    return this.buf[this.pos++]!;
  }

  private readU8(): number {
    if (this.pos >= this.end) this.corrupt('truncated: expected a byte');
    return this.buf[this.pos++]!;
  }

  private readU32(): number {
    if (this.pos + 4 > this.end) this.corrupt('truncated: expected a u32');
    const v = this.u32At(this.pos);
    this.pos += 4;
    return v;
  }

  private u32At(p: number): number {
    const b = this.buf;
    return (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16)) + b[p + 3]! * 0x1000000;
  }

  /** A little-endian int32 (bounds checked by the caller): Buffer#readInt32LE checks its argument again, per record. */
  private i32At(p: number): number {
    const b = this.buf;
    return b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24);
  }

  /** Checks that `len` bytes follow; returns the end offset. */
  private need(len: number): number {
    const end = this.pos + len;
    if (end > this.end) this.corrupt(`truncated: ${len} bytes announced, ${this.end - this.pos} left`);
    return end;
  }

  /** `delta` points the reported offset at the byte just consumed (-1) when that byte is the culprit. */
  private corrupt(reason: string, delta = 0): never {
    const byteOffset = Math.max(0, this.pos + delta - this.start);
    const where = this.channelId === undefined ? '' : ` of channel ${this.channelId}`;
    throw new OtslakeError(
      'OTSL_DECODE_CORRUPT_RECORD',
      `corrupt PlainBuffer record ${this.recordIndex}${where}${this.origin ? ' (origin_record)' : ''} at byte ${byteOffset}: ${reason}`,
      {
        context: {
          ...(this.channelId === undefined ? {} : { channelId: this.channelId }),
          recordIndex: this.recordIndex,
          byteOffset,
          origin: this.origin,
          reason,
        },
      },
    );
  }
}

/** A decoder per worker thread is enough: decoding is synchronous and the name cache is worth sharing. */
const sharedDecoder = new PlainBufferDecoder();

export function decodeRecords(records: readonly RecordMsg[], sink: RecordSink, options?: DecodeOptions): number {
  return sharedDecoder.decodeRecords(records, sink, options);
}
