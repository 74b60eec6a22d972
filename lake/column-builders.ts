/**
 * Typed column buffers filled row by row, turned into Arrow data one row group at a time.
 *
 * Values go straight into growable typed arrays (BigInt64Array, Float64Array, UTF-8 bytes + offsets)
 * because building Arrow vectors from JS arrays (`vectorFromArray`) costs more than the whole
 * Parquet encode (docs/parquet.md). Each builder also keeps the file-level statistics Delta wants
 * (`lake/file-stats.ts`), so stats never need a second pass over the data or the footer. Values come
 * as JS values (`append`) or as their encoded bytes (`appendEncoded`, lake/column-builder-base.ts).
 * Fixed-width builders are here, variable-width ones in varwidth-builders.ts.
 */
import * as arrow from './arrow.js';
import { ColumnBuilder, builderBuffers, grow } from './column-builder-base.js';
import { arrowTypeOf, type ColumnSpec } from './parquet-columns.js';
import { StringListBuilder, VarBinaryBuilder } from './varwidth-builders.js';

export { ColumnBuilder } from './column-builder-base.js';
export { VarBinaryBuilder } from './varwidth-builders.js';

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const TWO_32 = 4294967296;
/** The number fast path writes the two 32-bit halves of an int64 in memory order. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

class Int64Builder extends ColumnBuilder {
  private values = this.pooled('values', BigInt64Array, 1024);
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

  protected appendEncodedValue(src: Uint8Array, at: number): void {
    this.ensure(this.length + 1);
    const lo = (src[at]! | (src[at + 1]! << 8) | (src[at + 2]! << 16) | (src[at + 3]! << 24)) >>> 0;
    const hi = src[at + 4]! | (src[at + 5]! << 8) | (src[at + 6]! << 16) | (src[at + 7]! << 24);
    if (LITTLE_ENDIAN) {
      const w = this.length * 2;
      this.words[w] = lo;
      this.words[w + 1] = hi;
    } else {
      this.values[this.length] = (BigInt(hi) << 32n) | BigInt(lo);
    }
    if (hi >= -0x200000 && hi < 0x200000) {
      // Within ±2^53: bounds as numbers, no bigint per row (settleStats converts them once).
      const v = hi * TWO_32 + lo;
      if (v < this.numberMin) this.numberMin = v;
      if (v > this.numberMax) this.numberMax = v;
      return;
    }
    const v = this.values[this.length]!;
    const s = this.stats;
    if (s.min === undefined || v < (s.min as bigint)) s.min = v;
    if (s.max === undefined || v > (s.max as bigint)) s.max = v;
  }

  override distinctRatio(sampleSize = 1024): number {
    const step = Math.max(1, Math.floor(this.length / sampleSize));
    const seen = new Set<number>();
    let sampled = 0;
    // High word × 2³² + low word (little-endian pairs): exact below 2⁵³, where the reverse order lost the high word.
    for (let i = 0; i < this.length; i += step, sampled++) seen.add(this.words[2 * i + 1]! * TWO_32 + this.words[2 * i]!);
    return sampled === 0 ? -1 : seen.size / sampled;
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
      data: this.values.subarray(0, this.length),
    });
  }

  protected resetBuffers(): void {
    /* the buffer is reused; takeRowGroup copied out the used part */
  }

  protected releaseOwnBuffers(): void {
    builderBuffers.give(this.poolKey('values'), this.values);
    // Never the pooled buffer again: it may be another builder's by now.
    this.values = new BigInt64Array(0);
    this.words = new Uint32Array(this.values.buffer);
  }
}

class DoubleBuilder extends ColumnBuilder {
  private values = this.pooled('values', Float64Array, 1024);
  private bytes = new Uint8Array(this.values.buffer);

  get byteSize(): number {
    return this.length * 8;
  }
  private ensure(rows: number): void {
    if (rows <= this.values.length) return;
    this.values = grow(this.values, rows);
    this.bytes = new Uint8Array(this.values.buffer);
  }

  protected appendNull(): void {
    this.ensure(this.length + 1);
    this.values[this.length] = 0;
  }

  protected appendValue(value: unknown): void {
    if (typeof value !== 'number') throw this.badValue(value, 'a number');
    this.ensure(this.length + 1);
    this.values[this.length] = value;
    this.bound(value);
  }

  protected appendEncodedValue(src: Uint8Array, at: number): void {
    this.ensure(this.length + 1);
    const bytes = this.bytes;
    const o = this.length * 8;
    for (let i = 0; i < 8; i++) bytes[o + i] = src[at + i]!;
    this.bound(LITTLE_ENDIAN ? this.values[this.length]! : Buffer.from(src.buffer, src.byteOffset + at, 8).readDoubleLE(0));
  }

  override distinctRatio(sampleSize = 1024): number {
    const step = Math.max(1, Math.floor(this.length / sampleSize));
    const seen = new Set<number>();
    let sampled = 0;
    for (let i = 0; i < this.length; i += step, sampled++) seen.add(this.values[i]!);
    return sampled === 0 ? -1 : seen.size / sampled;
  }

  private bound(value: number): void {
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
      data: this.values.subarray(0, this.length),
    });
  }

  protected resetBuffers(): void {}

  protected releaseOwnBuffers(): void {
    builderBuffers.give(this.poolKey('values'), this.values);
    this.values = new Float64Array(0);
    this.bytes = new Uint8Array(this.values.buffer);
  }
}

class BoolBuilder extends ColumnBuilder {
  private bits = this.pooled('bits', Uint8Array, 128).fill(0); // a true sets its bit, a false leaves it: zeroed

  get byteSize(): number {
    return (this.length + 7) >> 3;
  }
  protected appendNull(): void {
    if (this.bits.length <= this.length >> 3) this.bits = grow(this.bits, (this.length >> 3) + 1);
  }

  protected appendValue(value: unknown): void {
    if (typeof value !== 'boolean') throw this.badValue(value, 'a boolean');
    if (this.bits.length <= this.length >> 3) this.bits = grow(this.bits, (this.length >> 3) + 1);
    if (value) this.bits[this.length >> 3]! |= 1 << (this.length & 7);
  }

  protected appendEncodedValue(src: Uint8Array, at: number): void {
    if (this.bits.length <= this.length >> 3) this.bits = grow(this.bits, (this.length >> 3) + 1);
    if (src[at] === 1) this.bits[this.length >> 3]! |= 1 << (this.length & 7);
  }

  protected buildData(nullBitmap: Uint8Array | undefined): arrow.Data {
    return arrow.makeData({
      type: new arrow.Bool(),
      length: this.length,
      nullCount: this.nullCountForData(),
      nullBitmap,
      data: this.bits.subarray(0, (this.length + 7) >> 3),
    });
  }

  protected resetBuffers(): void {
    this.bits = new Uint8Array(this.bits.length); // not fill(0): the row group just taken is a view of the old bits
  }

  protected releaseOwnBuffers(): void {
    builderBuffers.give(this.poolKey('bits'), this.bits.fill(0));
    this.bits = new Uint8Array(0);
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
