/**
 * Variable-width column builders: UTF-8 or raw bytes in one buffer plus Int32 offsets (Arrow's own
 * layout), and list<string> on top of it. Strings arrive as JS strings (`append`) or as UTF-8 bytes
 * (`appendEncoded`, no JS string made); min/max then stay bytes until the stats are read, which is
 * exact because UTF-8 byte order is code-point order, the order Delta and Parquet compare strings in.
 */
import * as arrow from './arrow.js';
import { isUtf8 } from 'node:buffer';
import { ColumnBuilder, builderBuffers, grow } from './column-builder-base.js';
import { arrowTypeOf, compareStrings } from './parquet-columns.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

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

/** Unsigned byte order of a[aAt, aAt + aLen) against b[bAt, bAt + bLen). */
function compareBytes(a: Uint8Array, aAt: number, aLen: number, b: Uint8Array, bAt: number, bLen: number): number {
  const n = aLen < bLen ? aLen : bLen;
  for (let i = 0; i < n; i++) {
    const d = a[aAt + i]! - b[bAt + i]!;
    if (d !== 0) return d;
  }
  return aLen - bLen;
}

/** A min or max kept as bytes while appending; copied only when it changes. */
class ByteBound {
  bytes = new Uint8Array(64);
  length = -1; // -1: no value yet

  set(src: Uint8Array, at: number, len: number): void {
    if (len > this.bytes.length) this.bytes = new Uint8Array(len * 2);
    const bytes = this.bytes;
    // A loop, not set(subarray): ascending keys (`_seq`) move the max on every row.
    for (let i = 0; i < len; i++) bytes[i] = src[at + i]!;
    this.length = len;
  }

  /** Keeps src[at, at + len) if it is beyond the bound: `sign` 1 for a max, -1 for a min. */
  fold(src: Uint8Array, at: number, len: number, sign: number): void {
    if (this.length < 0 || compareBytes(src, at, len, this.bytes, 0, this.length) * sign > 0) this.set(src, at, len);
  }

  /** The bound as a string, and cleared. */
  take(): string | undefined {
    if (this.length < 0) return undefined;
    const s = decoder.decode(this.bytes.subarray(0, this.length));
    this.length = -1;
    return s;
  }
}

/** Offsets start at 0: a pooled buffer's first word is not trusted to be (whatever its last owner did). */
function startOffsets(offsets: Int32Array): Int32Array {
  offsets[0] = 0;
  return offsets;
}

export class VarBinaryBuilder extends ColumnBuilder {
  private readonly isString = this.spec.type === 'string';
  private bytes = this.pooled('bytes', Uint8Array, 16 * 1024);
  private offsets = startOffsets(this.pooled('offsets', Int32Array, 1025));
  private used = 0;
  private readonly byteMin = new ByteBound();
  private readonly byteMax = new ByteBound();
  /**
   * The current row group's bounds as ranges of `bytes` (at -1: none yet), folded into byteMin/byteMax when
   * the row group is taken or the stats are read: a new max (ascending keys, `_seq`: every row) is noted, not copied.
   */
  private minAt = -1;
  private minLen = 0;
  private maxAt = -1;
  private maxLen = 0;

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
      this.stringStats(value);
    } else {
      if (!(value instanceof Uint8Array)) throw this.badValue(value, 'a Uint8Array');
      this.bytes = grow(this.bytes, this.used + value.length);
      this.bytes.set(value, this.used);
      this.used += value.length;
      this.pushOffset();
    }
  }

  private stringStats(value: string): void {
    const s = this.stats;
    // Repeated values (`_op`, `_channel`, enums) are often the very same string: skip the compare.
    if (s.min === undefined || (value !== s.min && compareStrings(value, s.min as string) < 0)) s.min = value;
    if (s.max === undefined || (value !== s.max && compareStrings(value, s.max as string) > 0)) s.max = value;
  }

  protected appendEncodedValue(src: Uint8Array, at: number, len: number): void {
    const start = this.used;
    if (this.bytes.length < start + len) this.bytes = grow(this.bytes, start + len);
    const bytes = this.bytes;
    const isString = this.isString;
    let valid = true;
    if (len < 128) {
      let high = 0;
      for (let i = 0; i < len; i++) high |= bytes[start + i] = src[at + i]!;
      valid = !isString || (high & 0x80) === 0 || isUtf8(src.subarray(at, at + len));
    } else {
      const view = src.subarray(at, at + len);
      bytes.set(view, start);
      valid = !isString || isUtf8(view);
    }
    if (!isString) {
      this.used += len;
      this.pushOffset();
      return;
    }
    if (!valid) {
      // Not UTF-8: land what a JS decode would give (U+FFFD for each bad sequence), like the row path.
      this.appendValue(Buffer.from(src.buffer, src.byteOffset + at, len).toString('utf8'));
      return;
    }
    this.used += len;
    this.pushOffset();
    if (this.maxAt < 0) {
      this.minAt = this.maxAt = start;
      this.minLen = this.maxLen = len;
      return;
    }
    // Above the max, or equal to it, is not below the min: ascending keys (`_seq`) and a repeated max (`_channel`) compare once.
    const vsMax = compareBytes(bytes, start, len, bytes, this.maxAt, this.maxLen);
    if (vsMax > 0) {
      this.maxAt = start;
      this.maxLen = len;
    } else if (vsMax < 0 && compareBytes(bytes, start, len, bytes, this.minAt, this.minLen) < 0) {
      this.minAt = start;
      this.minLen = len;
    }
  }

  /** The row group's byte bounds into the builder's (before its bytes are reused or the stats read). */
  private foldBounds(): void {
    if (this.maxAt < 0) return;
    this.byteMin.fold(this.bytes, this.minAt, this.minLen, -1);
    this.byteMax.fold(this.bytes, this.maxAt, this.maxLen, 1);
    this.minAt = this.maxAt = -1;
  }

  protected override settleStats(): void {
    this.foldBounds();
    const min = this.byteMin.take();
    const max = this.byteMax.take();
    if (min !== undefined) this.stringStats(min);
    if (max !== undefined) this.stringStats(max);
  }

  override resetStats(): void {
    super.resetStats();
    this.byteMin.length = -1;
    this.byteMax.length = -1;
    this.minAt = this.maxAt = -1;
  }

  /** Also used by the list builder for its elements. */
  appendString(value: string): void {
    // A UTF-8 string is at most 3 bytes per UTF-16 unit.
    if (this.bytes.length < this.used + value.length * 3) this.bytes = grow(this.bytes, this.used + value.length * 3);
    this.used += writeUtf8(this.bytes, this.used, value);
    this.pushOffset();
  }

  private pushOffset(): void {
    if (this.offsets.length < this.length + 2) this.offsets = grow(this.offsets, this.length + 2);
    this.offsets[this.length + 1] = this.used;
    if (this.used > 0x7fffffff) throw this.badValue('…', 'less than 2 GiB of bytes per row group');
  }

  /** Element count when used as a list child (validity is not tracked there). */
  elementCount = 0;
  appendElement(value: string): void {
    if (this.offsets.length < this.elementCount + 2) this.offsets = grow(this.offsets, this.elementCount + 2);
    if (this.bytes.length < this.used + value.length * 3) this.bytes = grow(this.bytes, this.used + value.length * 3);
    this.used += writeUtf8(this.bytes, this.used, value);
    this.offsets[this.elementCount + 1] = this.used;
    this.elementCount += 1;
  }

  takeElements(): arrow.Data {
    const data = arrow.makeData({
      type: new arrow.Utf8(),
      length: this.elementCount,
      nullCount: 0,
      valueOffsets: this.offsets.subarray(0, this.elementCount + 1),
      data: this.bytes.subarray(0, this.used),
    });
    this.elementCount = 0;
    this.used = 0;
    return data;
  }

  /** Cheap: one short latin1 string per sampled value. */
  override distinctRatio(sampleSize = 1024): number {
    const n = this.length;
    if (n === 0) return -1;
    const step = Math.max(1, Math.floor(n / sampleSize));
    const seen = new Set<string>();
    let sampled = 0;
    const bytes = Buffer.from(this.bytes.buffer, this.bytes.byteOffset, this.used);
    for (let i = 0; i < n; i += step) {
      seen.add(bytes.toString('latin1', this.offsets[i]!, this.offsets[i + 1]!));
      sampled++;
    }
    return seen.size / sampled;
  }

  protected buildData(nullBitmap: Uint8Array | undefined): arrow.Data {
    const type = this.spec.type === 'string' ? new arrow.Utf8() : new arrow.Binary();
    return arrow.makeData({
      type,
      length: this.length,
      nullCount: this.nullCountForData(),
      nullBitmap,
      valueOffsets: this.offsets.subarray(0, this.length + 1),
      data: this.bytes.subarray(0, this.used),
    } as never);
  }

  protected resetBuffers(): void {
    this.foldBounds();
    this.used = 0;
  }

  protected releaseOwnBuffers(): void {
    builderBuffers.give(this.poolKey('bytes'), this.bytes);
    builderBuffers.give(this.poolKey('offsets'), this.offsets);
    // Never the pooled buffers again: they may be another builder's by now.
    this.bytes = new Uint8Array(0);
    this.offsets = new Int32Array(1);
  }
}

/** list<string> with non-null elements (column names in `_deleted_columns`). */
export class StringListBuilder extends ColumnBuilder {
  private offsets = startOffsets(this.pooled('offsets', Int32Array, 1025));
  private readonly child = new VarBinaryBuilder({ name: `${this.spec.name}.element`, type: 'string', nullable: true });
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

  protected appendEncodedValue(): void {
    throw this.badValue('bytes', 'an array of strings');
  }

  private pushOffset(): void {
    if (this.offsets.length < this.length + 2) this.offsets = grow(this.offsets, this.length + 2);
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
      valueOffsets: this.offsets.subarray(0, this.length + 1),
      child: child as arrow.Data<arrow.Utf8>,
    });
  }

  protected resetBuffers(): void {
    this.elements = 0;
    this.elementBytes = 0;
  }

  protected releaseOwnBuffers(): void {
    builderBuffers.give(this.poolKey('offsets'), this.offsets);
    this.offsets = new Int32Array(1);
    this.child.releaseBuffers();
  }
}
