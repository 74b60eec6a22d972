/**
 * RawRecordSink → changelog columns (docs/changelog.md §Columns), the ingest path: the same rows as
 * ChangelogRowSink (workers/changelog-rows.ts, which stays as the reference the differential test
 * holds this to), without a JS object per row or a JS value per cell.
 *
 * While a record decodes, each data column's cell is only noted — where its payload lies in the record's
 * bytes — so a record that ends up in the dead letters (a corrupt checksum at the row's end, a value
 * that cannot land, a bad origin_record) has written nothing. `acceptRow` then lets the row's unknown
 * columns join the schema, and `fillRow` (called by the Parquet writer) copies the payloads straight
 * into the column builders: int64/double as their 8 bytes, strings as their UTF-8 bytes, `_seq` formatted
 * into bytes. Only the rare paths make JS values: type conflicts under a policy, and mirror bucket keys.
 */
import { ActionType } from '../tunnel/proto.js';
import { CELL_OP, VT, cellValueOf, int53At, type CellOp, type CellValue, type RawRecordSink, type ValueType } from '../tunnel/plainbuffer.js';
import type { ColumnBuilder } from '../lake/column-builders.js';
import type { RowFiller } from '../lake/parquet-file.js';
import type { TypeConflictPolicy } from '../lake/mirror/type-conflict.js';
import { formatSequence, typeMismatch, type RowProblem, type RowVerdict, type TypeConflictCount } from './changelog-rows.js';
import { TAKEN } from './column-selection.js';
import { LEFT_OUT, valueTypeName, type BatchSchema, type ColumnSlot } from './schema-map.js';

/** `_op` per action type as UTF-8: appended as bytes, like every other string of the row. */
const OP_BYTES: Record<ActionType, Uint8Array> = {
  [ActionType.PUT_ROW]: new TextEncoder().encode('PUT'),
  [ActionType.UPDATE_ROW]: new TextEncoder().encode('UPDATE'),
  [ActionType.DELETE_ROW]: new TextEncoder().encode('DELETE'),
};

/** A staged cell holds a payload range of the record's bytes, or (rare paths) a JS value. */
const RAW = 1;
const VALUE = 2;

const HEX = Uint8Array.from('0123456789abcdef', (c) => c.charCodeAt(0));
const TWO_32 = 4294967296;

/** `%08x` of an unsigned 32-bit integer into out[at, at + 8). */
function hex32Into(out: Uint8Array, at: number, value: number): void {
  for (let i = 7; i >= 0; i--) {
    out[at + i] = HEX[value & 0xf]!;
    value >>>= 4;
  }
}

/** A column discovered in the current row: it joins the schema only if the row is accepted. */
interface StagedColumn {
  name: string;
  valueType: ValueType;
  kind: number;
  at: number;
  len: number;
  value: unknown;
}

export class ColumnarRowSink implements RawRecordSink, RowFiller {
  verdict: RowVerdict = 'ok';
  problem: RowProblem | null = null;
  /** The last record's sequence, valid when `hasSequence` (stream records). */
  hasSequence = false;
  seqEpoch = 0;
  seqTimestampUs = 0;
  seqRowIndex = 0;
  /** `_ts` of the last record in µs, or -1 for none. */
  timestampUs = -1;

  private inOrigin = false;
  private actionType: ActionType = ActionType.PUT_ROW;
  /** Where the row's newest cell timestamp lies in its bytes, -1 for none: an offset, not a number stored per cell. */
  private newestCellAt = -1;
  private rowBytes: Uint8Array = new Uint8Array(0);
  /** Per data column (slot index): the row stamp that staged it, its kind, payload range or value. */
  private stamp = 0;
  private stamps = new Int32Array(16);
  private kinds = new Uint8Array(16);
  private ats = new Int32Array(16);
  private lens = new Int32Array(16);
  private values: unknown[] = [];
  private readonly deleted: string[] = [];
  private readonly staged: StagedColumn[] = [];
  private readonly conflicts: string[] = [];
  private readonly conflictCounts = new Map<string, number>();
  /** `_seq` as text, and which epoch and high timestamp word its digits show (-1: none yet). */
  private readonly seqBytes = Uint8Array.from('00000000:0000000000000000:00000000', (c) => c.charCodeAt(0));
  private seqEpochShown = -1;
  private seqHighShown = -1;
  private readonly tsBytes = new Uint8Array(8);
  /** The day (since the epoch, UTC) `lastDayText` formats; NaN for none yet. */
  private lastDay = NaN;
  private lastDayText = '';
  /** `_channel` as UTF-8, the same for every row. */
  private readonly channelBytes: Uint8Array;

  constructor(
    private readonly schema: BatchSchema,
    channelId: string,
    private readonly policy: TypeConflictPolicy = 'dead-letter',
  ) {
    this.channelBytes = new TextEncoder().encode(channelId);
  }

  /** Values landed under the policy so far, per original column. */
  typeConflicts(): TypeConflictCount[] {
    if (this.policy === 'dead-letter') return [];
    const policy = this.policy;
    return [...this.conflictCounts].map(([column, count]) => ({ column, policy, count }));
  }

  /** `_seq` of the last record, or null (base rows). */
  sequenceText(): string | null {
    return this.hasSequence ? formatSequence(this.seqEpoch, this.seqTimestampUs, this.seqRowIndex) : null;
  }

  beginRow(_recordIndex: number, actionType: ActionType, origin: boolean): void {
    // origin_record holds the previous values; a changelog row carries only the change itself.
    this.inOrigin = origin;
    if (origin) return;
    this.actionType = actionType;
    this.verdict = 'ok';
    this.problem = null;
    this.hasSequence = false;
    this.timestampUs = -1;
    this.newestCellAt = -1;
    // Setting an array's length is a runtime call even when it is 0 already: only when needed.
    if (this.deleted.length !== 0) this.deleted.length = 0;
    if (this.staged.length !== 0) this.staged.length = 0;
    if (this.conflicts.length !== 0) this.conflicts.length = 0;
    this.stamp = (this.stamp + 1) | 0 || 1;
  }

  primaryKey(name: string, type: ValueType, bytes: Buffer, at: number, len: number): void {
    // A key of the wrong type has no companion: the row cannot be addressed, so it is a dead letter.
    if (!this.inOrigin) this.put(name, type, bytes, at, len, false);
  }

  cell(name: string, op: CellOp, type: ValueType, bytes: Buffer, at: number, len: number, timestampAt: number): void {
    if (this.inOrigin) return;
    if (timestampAt >= 0 && (this.newestCellAt < 0 || int53At(bytes, timestampAt) > int53At(bytes, this.newestCellAt))) this.newestCellAt = timestampAt;
    if (op === CELL_OP.PUT) this.put(name, type, bytes, at, len, true);
    else if (!this.schema.selective) this.deleted.push(name);
    else this.deleteSelected(name);
  }

  /** A deleted column under a selection: named by its lake name, or not at all when left out. */
  private deleteSelected(name: string): void {
    const route = this.schema.deletedRouteOf(name);
    if (route === TAKEN) this.reject('column-name-conflict', { column: name, actualType: 'NONE' });
    else if (route !== null) this.deleted.push(route);
  }

  endRow(_deleteMarker: boolean, bytes: Buffer, sequenceAt: number, epoch: number, rowIndex: number): void {
    if (this.inOrigin) return;
    this.hasSequence = sequenceAt >= 0;
    if (sequenceAt >= 0) {
      this.seqEpoch = epoch;
      this.seqTimestampUs = int53At(bytes, sequenceAt);
      this.seqRowIndex = rowIndex;
      this.timestampUs = this.seqTimestampUs;
    } else {
      this.timestampUs = this.newestCellAt >= 0 ? int53At(bytes, this.newestCellAt) * 1000 : -1;
    }
  }

  /**
   * Called once the whole record (origin_record included) decoded and the verdict is 'ok': the row's
   * unknown columns join the schema now, so a record dead-lettered after all never adds a column.
   */
  acceptRow(): void {
    // Per row, most rows with nothing staged: no iterator for an empty array.
    if (this.staged.length !== 0) {
      for (const s of this.staged) {
        const slot = this.schema.discoverColumn(s.name, s.valueType);
        this.stage(slot.index, s.kind, s.at, s.len, s.value);
      }
      this.staged.length = 0;
    }
    if (this.conflicts.length === 0) return;
    for (const c of this.conflicts) this.conflictCounts.set(c, (this.conflictCounts.get(c) ?? 0) + 1);
    this.conflicts.length = 0;
  }

  /** The accepted row into the file's builders: the data columns, then the metadata columns. */
  fillRow(builders: readonly ColumnBuilder[]): void {
    const n = builders.length - 5;
    const { stamp, stamps, kinds, ats, lens, rowBytes } = this;
    // Slot i of the schema is builder j of the file: they differ only by the partition columns left out.
    const slots = this.schema.fileSlots;
    for (let j = 0; j < n; j++) {
      const b = builders[j]!;
      const i = slots[j]!;
      if (i >= stamps.length || stamps[i] !== stamp) b.appendNullValue();
      else if (kinds[i] === RAW) b.appendEncoded(rowBytes, ats[i]!, lens[i]!);
      else b.append(this.values[i]);
    }
    const op = OP_BYTES[this.actionType];
    builders[n]!.appendEncoded(op, 0, op.length);
    this.fillTimestamp(builders[n + 1]!);
    this.fillSequence(builders[n + 2]!);
    builders[n + 3]!.appendEncoded(this.channelBytes, 0, this.channelBytes.length);
    // Deleted columns name what an UPDATE removed; the list builder copies the names.
    if (this.actionType === ActionType.UPDATE_ROW) builders[n + 4]!.append(this.deleted);
    else builders[n + 4]!.appendNullValue();
  }

  /**
   * The accepted row's partition values as Delta serializes them (docs/delta-rules.md §Partition values
   * and paths): integers in decimal, booleans as true/false, strings as they are; null for a missing value
   * and for the empty string (Spark's rule: both are the null partition). Partitioned tables only.
   */
  partitionValues(): Record<string, string | null> {
    const out: Record<string, string | null> = {};
    const partitions = this.schema.partitions;
    for (let k = 0; k < partitions.length; k++) out[partitions[k]!.name] = this.partitionText(k);
    return out;
  }

  /** The value of partition column `k` (of `schema.partitions`) as `partitionValues` gives it; no object per row. */
  partitionText(k: number): string | null {
    const slot = this.schema.partitions[k]!.slot;
    if (slot === null) return this.dateText();
    const i = slot.index;
    if (i >= this.stamps.length || this.stamps[i] !== this.stamp) return null;
    const value = this.kinds[i] === RAW ? cellValueOf(slot.valueType, this.rowBytes as Buffer, this.ats[i]!, this.lens[i]!) : this.values[i];
    const text =
      typeof value === 'string' ? value : typeof value === 'bigint' || typeof value === 'number' || typeof value === 'boolean' ? String(value) : null;
    return text === '' ? null : text;
  }

  /** `_date`: the UTC day of `_ts` (Delta serializes a date as YYYY-MM-DD). Rows of a batch mostly share a day: its text is kept. */
  private dateText(): string | null {
    if (this.timestampUs < 0) return null;
    const day = Math.floor(this.timestampUs / 86_400_000_000);
    if (day !== this.lastDay) {
      this.lastDay = day;
      this.lastDayText = new Date(day * 86_400_000).toISOString().slice(0, 10);
    }
    return this.lastDayText;
  }

  /** The row's primary-key values as JS values (mirror bucket keys only). */
  primaryKeyRow(keys: readonly { name: string }[]): Record<string, unknown> {
    const row: Record<string, unknown> = {};
    for (const k of keys) {
      const slot = this.schema.lookup(k.name);
      if (slot === undefined || this.stamps[slot.index] !== this.stamp) continue;
      const i = slot.index;
      row[k.name] = this.kinds[i] === RAW ? cellValueOf(slot.valueType, this.rowBytes as Buffer, this.ats[i]!, this.lens[i]!) : this.values[i];
    }
    return row;
  }

  /** `_ts` as its 8 bytes, like every other int64 of the row: a number argument would be a heap number per row. */
  private fillTimestamp(b: ColumnBuilder): void {
    const ts = this.timestampUs;
    if (ts < 0) {
      b.appendNullValue();
      return;
    }
    if (ts > Number.MAX_SAFE_INTEGER) {
      b.append(ts); // the builder's own error, as before
      return;
    }
    const high = Math.floor(ts / TWO_32);
    const low = ts - high * TWO_32;
    const out = this.tsBytes;
    out[0] = low;
    out[1] = low >>> 8;
    out[2] = low >>> 16;
    out[3] = low >>> 24;
    out[4] = high;
    out[5] = high >>> 8;
    out[6] = high >>> 16;
    out[7] = high >>> 24;
    b.appendEncoded(out, 0, 8);
  }

  private fillSequence(b: ColumnBuilder): void {
    if (!this.hasSequence) {
      b.appendNullValue();
      return;
    }
    const ts = this.seqTimestampUs;
    if (!(ts >= 0 && ts <= Number.MAX_SAFE_INTEGER)) {
      b.append(this.sequenceText());
      return;
    }
    // `%08x:%016x:%08x`, sortable as text within a channel (docs/plainbuffer.md §Sequence info). The epoch and
    // the timestamp's high word rarely change from row to row: their digits stay in seqBytes from the last row.
    const out = this.seqBytes;
    const high = Math.floor(ts / TWO_32);
    const epoch = this.seqEpoch >>> 0;
    if (epoch !== this.seqEpochShown) {
      hex32Into(out, 0, epoch);
      this.seqEpochShown = epoch;
    }
    if (high !== this.seqHighShown) {
      hex32Into(out, 9, high);
      this.seqHighShown = high;
    }
    hex32Into(out, 17, ts - high * TWO_32);
    hex32Into(out, 26, this.seqRowIndex >>> 0);
    b.appendEncoded(out, 0, 34);
  }

  /** A value of source column `name` (the decoder's name; the selection maps it to its lake column). */
  private put(name: string, type: ValueType, bytes: Buffer, at: number, len: number, resolvable: boolean): void {
    this.rowBytes = bytes;
    const slot = this.schema.sourceSlot(name);
    if (slot !== undefined) {
      if (slot.valueType === type) this.stage(slot.index, RAW, at, len, undefined);
      else if (slot === LEFT_OUT) return;
      else if (resolvable && this.policy !== 'dead-letter' && type !== VT.NONE) this.putConflicting(name, slot, type, cellValueOf(type, bytes, at, len));
      else this.reject('type-mismatch', typeMismatch(name, slot, type));
      return;
    }
    const route = this.schema.routeOf(name);
    if (route === TAKEN) this.reject('column-name-conflict', { column: name, actualType: valueTypeName(type) });
    else if (route !== null) this.putUnknown(route, type, RAW, at, len, undefined);
  }

  private stage(index: number, kind: number, at: number, len: number, value: unknown): void {
    if (index >= this.stamps.length) this.widen(index + 1);
    this.stamps[index] = this.stamp;
    this.kinds[index] = kind;
    this.ats[index] = at;
    this.lens[index] = len;
    if (kind === VALUE) this.values[index] = value;
  }

  private widen(columns: number): void {
    const size = Math.max(columns, this.stamps.length * 2);
    const stamps = new Int32Array(size);
    stamps.set(this.stamps);
    const kinds = new Uint8Array(size);
    kinds.set(this.kinds);
    const ats = new Int32Array(size);
    ats.set(this.ats);
    const lens = new Int32Array(size);
    lens.set(this.lens);
    this.stamps = stamps;
    this.kinds = kinds;
    this.ats = ats;
    this.lens = lens;
  }

  /** A value of the wrong type for `slot`, landed in its companion column under the policy. */
  private putConflicting(source: string, slot: ColumnSlot, type: ValueType, value: CellValue): void {
    const landing = this.schema.conflictLandingOf(slot, type, value, this.policy);
    if (landing === null) {
      this.reject('type-mismatch', typeMismatch(source, slot, type));
      return;
    }
    this.conflicts.push(slot.name);
    if (landing.target !== undefined) this.stage(landing.target.index, VALUE, 0, 0, landing.value);
    else this.putUnknown(landing.column, landing.type, VALUE, 0, 0, landing.value);
  }

  /** A lake column the schema does not have: discovered (staged) or rejected. */
  private putUnknown(name: string, type: ValueType, kind: number, at: number, len: number, value: unknown): void {
    const discovery = this.schema.discoveryOf(name, type, this.staged);
    if (discovery === 'staged') return;
    if (discovery !== 'stage') {
      const { verdict, ...problem } = discovery;
      this.reject(verdict, problem);
      return;
    }
    this.staged.push({ name, valueType: type, kind, at, len, value });
  }

  /** The first problem of a row is the one reported. */
  private reject(verdict: RowVerdict, problem: RowProblem): void {
    if (this.verdict !== 'ok') return;
    this.verdict = verdict;
    this.problem = problem;
  }
}
