/**
 * What every column builder shares (lake/column-builders.ts, lake/varwidth-builders.ts): growable typed
 * buffers, lazily allocated validity bits, the per-file statistics, and the two ways values arrive —
 * as JS values (`append`, the row-object path) or as encoded bytes (`appendEncoded`, the columnar path
 * of workers/columnar-rows.ts, where no JS value is ever made).
 */
import type * as arrow from './arrow.js';
import { OtslakeError } from '../common/errors.js';
import type { ColumnSpec, ColumnStats } from './parquet-columns.js';

export function grow<T extends BigInt64Array | Float64Array | Uint8Array | Int32Array>(buf: T, needed: number): T {
  if (needed <= buf.length) return buf;
  const next = new (buf.constructor as new (n: number) => T)(Math.max(needed, buf.length * 2, 64));
  next.set(buf as never);
  return next;
}

/** Validity bits, allocated lazily: a column without nulls ships no bitmap. */
export class Validity {
  bits: Uint8Array | null = null;
  nullCount = 0;

  set(row: number, valid: boolean): void {
    if (valid) {
      if (this.bits) {
        if (this.bits.length <= row >> 3) this.bits = grow(this.bits, (row >> 3) + 1);
        this.bits[row >> 3]! |= 1 << (row & 7);
      }
      return;
    }
    if (!this.bits) {
      this.bits = new Uint8Array(Math.max(64, (row >> 3) + 1));
      // Every earlier row was valid.
      for (let i = 0; i < row; i++) this.bits[i >> 3]! |= 1 << (i & 7);
    }
    if (this.bits.length <= row >> 3) this.bits = grow(this.bits, (row >> 3) + 1);
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
      this.appendNullValue();
      return;
    }
    this.validity.set(this.length, true);
    this.appendValue(value);
    this.length += 1;
  }

  appendNullValue(): void {
    if (!this.spec.nullable) throw this.badValue(null, 'a non-null value');
    this.validity.set(this.length, false);
    this.stats.nullCount += 1;
    this.appendNull();
    this.length += 1;
  }

  /**
   * Appends a non-null value given as its encoded bytes `src[at, at + len)`: 8 little-endian bytes for
   * long, timestamp and double, one byte (0/1) for boolean, UTF-8 for string (invalid UTF-8 is replaced
   * by U+FFFD, as decoding it to a JS string would), raw bytes for binary. Statistics as `append`.
   */
  appendEncoded(src: Uint8Array, at: number, len: number): void {
    if (this.validity.bits !== null) this.validity.set(this.length, true);
    this.appendEncodedValue(src, at, len);
    this.length += 1;
  }

  /** Bytes held by the current row group's buffers (uncompressed). */
  abstract get byteSize(): number;
  protected abstract appendNull(): void;
  protected abstract appendValue(value: unknown): void;
  protected abstract appendEncodedValue(src: Uint8Array, at: number, len: number): void;
  protected abstract buildData(nullBitmap: Uint8Array | undefined): arrow.Data;
  protected abstract resetBuffers(): void;

  /**
   * Hands the current row group over as Arrow data and starts an empty one. The data are views of the
   * builder's buffers, valid until the next append: the writer serialises them at once (Arrow IPC), so a
   * row group is not copied one more time just to be copied again.
   */
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

  /**
   * Distinct values ÷ values among up to `sampleSize` values spread over the current row group (near 1 for
   * ids, near 0 for enums), or -1 where the builder does not estimate it. Picks a column's dictionary.
   */
  distinctRatio(_sampleSize = 1024): number {
    return -1;
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
