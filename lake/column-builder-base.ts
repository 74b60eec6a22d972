/**
 * What every column builder shares (lake/column-builders.ts, lake/varwidth-builders.ts): growable typed
 * buffers, lazily allocated validity bits, the per-file statistics, and the two ways values arrive —
 * as JS values (`append`, the row-object path) or as encoded bytes (`appendEncoded`, the columnar path
 * of workers/columnar-rows.ts, where no JS value is ever made).
 */
import type * as arrow from './arrow.js';
import { OtslakeError } from '../common/errors.js';
import type { ColumnSpec, ColumnStats } from './parquet-columns.js';

/** The typed arrays the builders hold (grown by `grow`, pooled by `builderBuffers`). */
type Buffer_ = BigInt64Array | Float64Array | Uint8Array | Int32Array;

/**
 * The buffers of finished writers' builders, kept per thread for the next writer's builders of the same column:
 * a worker's channel tasks write the same columns task after task, and a builder that starts with last task's
 * buffers never grows (doubling from 1 KiB to a row group's size copies and faults in about twice its memory,
 * every task). Keyed by column name and role; bounded, oldest dropped first.
 */
class BufferPool {
  private readonly free = new Map<string, Buffer_>();
  private bytes = 0;
  static readonly MAX_BYTES = 64 * 1024 * 1024;
  static readonly MAX_ENTRIES = 512;

  /** The pooled buffer for `key` if it is of `ctor`'s type (taken out of the pool), else a new one of `length`. */
  take<T extends Buffer_>(key: string, ctor: new (n: number) => T, length: number): T {
    const buf = this.free.get(key);
    if (buf !== undefined && buf.constructor === ctor && buf.length >= length) {
      this.free.delete(key);
      this.bytes -= buf.byteLength;
      return buf as T;
    }
    return new ctor(length);
  }

  give(key: string, buf: Buffer_): void {
    const held = this.free.get(key);
    if (held !== undefined) {
      if (held.byteLength >= buf.byteLength) return;
      this.free.delete(key);
      this.bytes -= held.byteLength;
    }
    if (buf.byteLength > BufferPool.MAX_BYTES) return;
    this.free.set(key, buf);
    this.bytes += buf.byteLength;
    for (const [k, b] of this.free) {
      if (this.bytes <= BufferPool.MAX_BYTES && this.free.size <= BufferPool.MAX_ENTRIES) break;
      this.free.delete(k);
      this.bytes -= b.byteLength;
    }
  }
}

/** One pool per thread (module state is per thread): builders of concurrent writers never share a buffer. */
export const builderBuffers = new BufferPool();

export function grow<T extends Buffer_>(buf: T, needed: number): T {
  if (needed <= buf.length) return buf;
  const next = new (buf.constructor as new (n: number) => T)(Math.max(needed, buf.length * 2, 64));
  next.set(buf as never);
  return next;
}

/** Validity bits, allocated lazily: a column without nulls ships no bitmap. */
export class Validity {
  bits: Uint8Array | null = null;
  nullCount = 0;
  /** The buffer of an earlier row group, for the next one that has a null. */
  private spare: Uint8Array | null = null;

  /** `poolKey`: where in `builderBuffers` the bits of an earlier writer's column may wait. */
  constructor(private readonly poolKey: string) {}

  set(row: number, valid: boolean): void {
    if (valid) {
      if (this.bits) {
        if (this.bits.length <= row >> 3) this.bits = grow(this.bits, (row >> 3) + 1);
        this.bits[row >> 3]! |= 1 << (row & 7);
      }
      return;
    }
    if (!this.bits) {
      const needed = Math.max(64, (row >> 3) + 1);
      if (this.spare !== null && this.spare.length >= needed) this.bits = this.spare.fill(0);
      else this.bits = builderBuffers.take(this.poolKey, Uint8Array, needed).fill(0);
      this.spare = null;
      // Every earlier row was valid.
      for (let i = 0; i < row; i++) this.bits[i >> 3]! |= 1 << (i & 7);
    }
    if (this.bits.length <= row >> 3) this.bits = grow(this.bits, (row >> 3) + 1);
    this.nullCount += 1;
  }

  /** Call once the row group's data is serialized (its bitmap was a view of `bits`). */
  reset(): void {
    if (this.bits !== null) this.spare = this.bits;
    this.bits = null;
    this.nullCount = 0;
  }

  /** The buffer to pool, if any (the validity is unusable after). */
  release(): Uint8Array | null {
    const buf = this.bits ?? this.spare;
    this.bits = this.spare = null;
    return buf;
  }
}

export abstract class ColumnBuilder {
  length = 0;
  protected readonly validity: Validity;
  readonly stats: ColumnStats = { nullCount: 0, min: undefined, max: undefined, unbounded: false };

  constructor(readonly spec: ColumnSpec) {
    this.validity = new Validity(this.poolKey('validity'));
  }

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
  /** Hands the builder's buffers to `builderBuffers` (`pooled`); the builder is unusable after. */
  releaseBuffers(): void {
    const bits = this.validity.release();
    if (bits !== null) builderBuffers.give(this.poolKey('validity'), bits);
    this.releaseOwnBuffers();
  }
  protected abstract releaseOwnBuffers(): void;

  /** A buffer for `role` of this column: last writer's if pooled, else new. */
  protected pooled<T extends Buffer_>(role: string, ctor: new (n: number) => T, length: number): T {
    return builderBuffers.take(this.poolKey(role), ctor, length);
  }

  protected poolKey(role: string): string {
    return `${this.spec.name}\0${this.spec.type}\0${role}`;
  }
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
