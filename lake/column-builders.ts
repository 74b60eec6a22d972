/**
 * Typed column buffers filled row by row, turned into Arrow data one row group at a time.
 *
 * Values go straight into growable typed arrays (BigInt64Array, Float64Array, UTF-8 bytes + offsets)
 * because building Arrow vectors from JS arrays (`vectorFromArray`) costs more than the whole
 * Parquet encode (docs/parquet.md). Each builder also keeps the file-level statistics Delta wants
 * (`lake/file-stats.ts`), so stats never need a second pass over the data or the footer.
 */
import * as arrow from 'apache-arrow';
import { OtslakeError } from '../common/errors.js';
import { arrowTypeOf, compareStrings, type ColumnSpec, type ColumnStats } from './parquet-columns.js';

const encoder = new TextEncoder();

function grow<T extends BigInt64Array | Float64Array | Uint8Array | Int32Array>(buf: T, needed: number): T {
  if (needed <= buf.length) return buf;
  const next = new (buf.constructor as new (n: number) => T)(Math.max(needed, buf.length * 2, 64));
  next.set(buf as never);
  return next;
}

/**
 * UTF-8 of `value` into `bytes` at `at` (room checked by the caller); returns the byte count. Short
 * ASCII, most values, is copied by a loop: cheaper than a subarray plus a native encodeInto call.
 */
function writeUtf8(bytes: Uint8Array, at: number, value: string): number {
  const n = value.length;
  if (n < 64) {
    let i = 0;
    for (; i < n; i++) {
      const c = value.charCodeAt(i);
      if (c >= 0x80) break;
      bytes[at + i] = c;
    }
    if (i === n) return n;
  }
  return encoder.encodeInto(value, bytes.subarray(at)).written;
}

/** Validity bits, allocated lazily: a column without nulls ships no bitmap. */
class Validity {
  bits: Uint8Array | null = null;
  nullCount = 0;

  set(row: number, valid: boolean): void {
    if (valid) {
      if (this.bits) {
        this.bits = grow(this.bits, (row >> 3) + 1);
        this.bits[row >> 3]! |= 1 << (row & 7);
      }
      return;
    }
    if (!this.bits) {
      this.bits = new Uint8Array(Math.max(64, (row >> 3) + 1));
      // Every earlier row was valid.
      for (let i = 0; i < row; i++) this.bits[i >> 3]! |= 1 << (i & 7);
    }
    this.bits = grow(this.bits, (row >> 3) + 1);
    this.nullCount += 1;
  }

  reset(): void {
    this.bits = null;
    this.nullCount = 0;
  }
}

export abstract class ColumnBuilder {
  length = 0;
  protected readonly validity = new Validity();
  readonly stats: ColumnStats = { nullCount: 0, min: undefined, max: undefined, unbounded: false };

  constructor(readonly spec: ColumnSpec) {}

  /** `null`/`undefined` is a null; anything of the wrong kind is OTSL_LAKE_SCHEMA. */
  append(value: unknown): void {
    if (value === null || value === undefined) {
      if (!this.spec.nullable) throw this.badValue(value, 'a non-null value');
      this.validity.set(this.length, false);
      this.stats.nullCount += 1;
      this.appendNull();
    } else {
      this.validity.set(this.length, true);
      this.appendValue(value);
    }
    this.length += 1;
  }

  /** Bytes held by the current row group's buffers (uncompressed). */
  abstract get byteSize(): number;
  protected abstract appendNull(): void;
  protected abstract appendValue(value: unknown): void;
  protected abstract buildData(nullBitmap: Uint8Array | undefined): arrow.Data;
  protected abstract resetBuffers(): void;

  /** Hands the current row group over as Arrow data and starts an empty one. */
  takeRowGroup(): arrow.Data {
    const bits = this.validity.bits ? this.validity.bits.subarray(0, (this.length + 7) >> 3) : undefined;
    const data = this.buildData(bits);
    this.length = 0;
    this.validity.reset();
    this.resetBuffers();
    return data;
  }

  /** The statistics of the rows so far; read them here, not from `stats`, which may lag behind. */
  currentStats(): ColumnStats {
    this.settleStats();
    return this.stats;
  }

  /** Brings `stats` up to date, for builders that keep part of it in a cheaper form while appending. */
  protected settleStats(): void {}

  /** Starts a new file: statistics restart from zero. */
  resetStats(): void {
    this.stats.nullCount = 0;
    this.stats.min = undefined;
    this.stats.max = undefined;
    this.stats.unbounded = false;
  }

  protected badValue(value: unknown, expected: string): OtslakeError {
    const shown = typeof value === 'bigint' ? `${value}n` : typeof value === 'string' ? JSON.stringify(value.slice(0, 40)) : String(value);
    return new OtslakeError('OTSL_LAKE_SCHEMA', `column "${this.spec.name}" (${this.spec.type}) expects ${expected}, got ${typeof value} ${shown}`, {
      context: { column: this.spec.name, columnType: this.spec.type, row: this.length },
    });
  }

  protected nullCountForData(): number {
    return this.validity.nullCount;
  }
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const TWO_32 = 4294967296;
/** The number fast path writes the two 32-bit halves of an int64 in memory order. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

class Int64Builder extends ColumnBuilder {
  private values = new BigInt64Array(1024);
  private words = new Uint32Array(this.values.buffer);
  /** Bounds of the number values since the last settleStats (`_ts` comes as numbers): no bigint per row. */
  private numberMin = Infinity;
  private numberMax = -Infinity;

  get byteSize(): number {
    return this.length * 8;
  }
  protected appendNull(): void {
    this.ensure(this.length + 1);
    this.values[this.length] = 0n;
  }

  private ensure(rows: number): void {
    if (rows <= this.values.length) return;
    this.values = grow(this.values, rows);
    this.words = new Uint32Array(this.values.buffer);
  }

  protected appendValue(value: unknown): void {
    if (typeof value === 'number' && LITTLE_ENDIAN && Number.isSafeInteger(value)) {
      this.ensure(this.length + 1);
      const high = Math.floor(value / TWO_32);
      const w = this.length * 2;
      this.words[w] = value - high * TWO_32;
      this.words[w + 1] = high; // a negative high word wraps to its two's complement, as int64 wants
      if (value < this.numberMin) this.numberMin = value;
      if (value > this.numberMax) this.numberMax = value;
      return;
    }
    let v: bigint;
    if (typeof value === 'bigint') v = value;
    else if (this.spec.type === 'timestamp' && value instanceof Date) v = BigInt(value.getTime()) * 1000n;
    else if (typeof value === 'number' && Number.isSafeInteger(value)) v = BigInt(value);
    else throw this.badValue(value, this.spec.type === 'timestamp' ? 'µs since epoch as bigint/integer, or a Date' : 'a bigint or safe integer');
    if (v < INT64_MIN || v > INT64_MAX) throw this.badValue(value, 'a value inside int64');
    this.ensure(this.length + 1);
    this.values[this.length] = v;
    const s = this.stats;
    if (s.min === undefined || v < (s.min as bigint)) s.min = v;
    if (s.max === undefined || v > (s.max as bigint)) s.max = v;
  }

  protected override settleStats(): void {
    if (this.numberMin > this.numberMax) return;
    const s = this.stats;
    const min = BigInt(this.numberMin);
    const max = BigInt(this.numberMax);
    if (s.min === undefined || min < (s.min as bigint)) s.min = min;
    if (s.max === undefined || max > (s.max as bigint)) s.max = max;
    this.numberMin = Infinity;
    this.numberMax = -Infinity;
  }

  override resetStats(): void {
    super.resetStats();
    this.numberMin = Infinity;
    this.numberMax = -Infinity;
  }

  protected buildData(nullBitmap: Uint8Array | undefined): arrow.Data {
    return arrow.makeData({
      type: arrowTypeOf(this.spec.type) as arrow.Int64,
      length: this.length,
      nullCount: this.nullCountForData(),
      nullBitmap,
      data: this.values.slice(0, this.length),
    });
  }

  protected resetBuffers(): void {
    /* the buffer is reused; takeRowGroup copied out the used part */
  }
}

class DoubleBuilder extends ColumnBuilder {
  private values = new Float64Array(1024);

  get byteSize(): number {
    return this.length * 8;
  }
  protected appendNull(): void {
    this.values = grow(this.values, this.length + 1);
    this.values[this.length] = 0;
  }

  protected appendValue(value: unknown): void {
    if (typeof value !== 'number') throw this.badValue(value, 'a number');
    this.values = grow(this.values, this.length + 1);
    this.values[this.length] = value;
    const s = this.stats;
    if (!Number.isFinite(value)) {
      s.unbounded = true;
      return;
    }
    if (s.min === undefined || value < (s.min as number)) s.min = value;
    if (s.max === undefined || value > (s.max as number)) s.max = value;
  }

  protected buildData(nullBitmap: Uint8Array | undefined): arrow.Data {
    return arrow.makeData({
      type: new arrow.Float64(),
      length: this.length,
      nullCount: this.nullCountForData(),
      nullBitmap,
      data: this.values.slice(0, this.length),
    });
  }

  protected resetBuffers(): void {}
}

class BoolBuilder extends ColumnBuilder {
  private bits = new Uint8Array(128);

  get byteSize(): number {
    return (this.length + 7) >> 3;
  }
  protected appendNull(): void {
    this.bits = grow(this.bits, (this.length >> 3) + 1);
  }

  protected appendValue(value: unknown): void {
    if (typeof value !== 'boolean') throw this.badValue(value, 'a boolean');
    this.bits = grow(this.bits, (this.length >> 3) + 1);
    if (value) this.bits[this.length >> 3]! |= 1 << (this.length & 7);
  }

  protected buildData(nullBitmap: Uint8Array | undefined): arrow.Data {
    return arrow.makeData({
      type: new arrow.Bool(),
      length: this.length,
      nullCount: this.nullCountForData(),
      nullBitmap,
      data: this.bits.slice(0, (this.length + 7) >> 3),
    });
  }

  protected resetBuffers(): void {
    this.bits.fill(0);
  }
}

/** UTF-8 or raw bytes in one buffer plus offsets: Arrow's own variable-width layout. */
class VarBinaryBuilder extends ColumnBuilder {
  private bytes = new Uint8Array(16 * 1024);
  private offsets = new Int32Array(1025);
  private used = 0;

  get byteSize(): number {
    return this.used + this.length * 4;
  }
  protected appendNull(): void {
    this.pushOffset();
  }

  protected appendValue(value: unknown): void {
    if (this.spec.type === 'string') {
      if (typeof value !== 'string') throw this.badValue(value, 'a string');
      this.appendString(value);
      const s = this.stats;
      // Repeated values (`_op`, `_channel`, enums) are often the very same string: skip the compare.
      if (s.min === undefined || (value !== s.min && compareStrings(value, s.min as string) < 0)) s.min = value;
      if (s.max === undefined || (value !== s.max && compareStrings(value, s.max as string) > 0)) s.max = value;
    } else {
      if (!(value instanceof Uint8Array)) throw this.badValue(value, 'a Uint8Array');
      this.bytes = grow(this.bytes, this.used + value.length);
      this.bytes.set(value, this.used);
      this.used += value.length;
      this.pushOffset();
    }
  }

  /** Also used by the list builder for its elements. */
  appendString(value: string): void {
    // A UTF-8 string is at most 3 bytes per UTF-16 unit.
    this.bytes = grow(this.bytes, this.used + value.length * 3);
    this.used += writeUtf8(this.bytes, this.used, value);
    this.pushOffset();
  }

  private pushOffset(): void {
    this.offsets = grow(this.offsets, this.length + 2);
    this.offsets[this.length + 1] = this.used;
    if (this.used > 0x7fffffff) throw this.badValue('…', 'less than 2 GiB of bytes per row group');
  }

  /** Element count when used as a list child (validity is not tracked there). */
  elementCount = 0;
  appendElement(value: string): void {
    this.offsets = grow(this.offsets, this.elementCount + 2);
    this.bytes = grow(this.bytes, this.used + value.length * 3);
    this.used += writeUtf8(this.bytes, this.used, value);
    this.offsets[this.elementCount + 1] = this.used;
    this.elementCount += 1;
  }

  takeElements(): arrow.Data {
    const data = arrow.makeData({
      type: new arrow.Utf8(),
      length: this.elementCount,
      nullCount: 0,
      valueOffsets: this.offsets.slice(0, this.elementCount + 1),
      data: this.bytes.slice(0, this.used),
    });
    this.elementCount = 0;
    this.used = 0;
    return data;
  }

  protected buildData(nullBitmap: Uint8Array | undefined): arrow.Data {
    const type = this.spec.type === 'string' ? new arrow.Utf8() : new arrow.Binary();
    return arrow.makeData({
      type,
      length: this.length,
      nullCount: this.nullCountForData(),
      nullBitmap,
      valueOffsets: this.offsets.slice(0, this.length + 1),
      data: this.bytes.slice(0, this.used),
    } as never);
  }

  protected resetBuffers(): void {
    this.used = 0;
  }
}

/** list<string> with non-null elements (column names in `_deleted_columns`). */
class StringListBuilder extends ColumnBuilder {
  private offsets = new Int32Array(1025);
  private readonly child = new VarBinaryBuilder({ name: 'element', type: 'string', nullable: true });
  private elements = 0;
  private elementBytes = 0;

  get byteSize(): number {
    return this.length * 4 + this.elementBytes;
  }
  protected appendNull(): void {
    this.pushOffset();
  }

  protected appendValue(value: unknown): void {
    if (!Array.isArray(value)) throw this.badValue(value, 'an array of strings');
    for (const item of value) {
      if (typeof item !== 'string') throw this.badValue(item, 'strings as list elements');
      this.child.appendElement(item);
      this.elementBytes += item.length + 4;
      this.elements += 1;
    }
    this.pushOffset();
  }

  private pushOffset(): void {
    this.offsets = grow(this.offsets, this.length + 2);
    this.offsets[this.length + 1] = this.elements;
  }

  protected buildData(nullBitmap: Uint8Array | undefined): arrow.Data {
    const child = this.child.takeElements();
    const type = arrowTypeOf('array<string>') as arrow.List<arrow.Utf8>;
    return arrow.makeData({
      type,
      length: this.length,
      nullCount: this.nullCountForData(),
      nullBitmap,
      valueOffsets: this.offsets.slice(0, this.length + 1),
      child: child as arrow.Data<arrow.Utf8>,
    });
  }

  protected resetBuffers(): void {
    this.elements = 0;
    this.elementBytes = 0;
  }
}

export function createColumnBuilder(spec: ColumnSpec): ColumnBuilder {
  switch (spec.type) {
    case 'long':
    case 'timestamp':
      return new Int64Builder(spec);
    case 'double':
      return new DoubleBuilder(spec);
    case 'boolean':
      return new BoolBuilder(spec);
    case 'string':
    case 'binary':
      return new VarBinaryBuilder(spec);
    case 'array<string>':
      return new StringListBuilder(spec);
  }
}
