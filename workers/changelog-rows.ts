/**
 * RecordSink → changelog rows (docs/changelog.md §Columns): one row per Tunnel record with the primary key, the
 * attribute values, and `_op`, `_ts`, `_seq`, `_channel`, `_deleted_columns`.
 *
 * Hot path: one row object is reused for every record (the Parquet writer copies values out on
 * append), so decoding allocates per row only what the row itself needs (the `_seq` string, the
 * values the decoder made). Type checks compare the wire type byte against the column's, no lookup
 * beyond the name → slot map. A row that breaks the schema is not fixed up: it gets a verdict, and
 * the caller sends its record to the dead letters.
 */
import { ActionType } from '../tunnel/proto.js';
import { CELL_OP, VT, type CellOp, type CellValue, type RecordSink, type ValueType } from '../tunnel/plainbuffer.js';
import type { TypeConflictPolicy } from '../lake/mirror/type-conflict.js';
import { TAKEN } from './column-selection.js';
import { LEFT_OUT, valueTypeName, type BatchSchema, type ColumnSlot } from './schema-map.js';

/** Values of one column that landed elsewhere under a type-conflict policy (metrics and status). */
export interface TypeConflictCount {
  readonly column: string;
  readonly policy: 'companion' | 'string';
  readonly count: number;
}

export type RowVerdict = 'ok' | 'type-mismatch' | 'unknown-column' | 'column-name-conflict';

/** What was wrong with a rejected row, for its dead letter. */
export interface RowProblem {
  /** The lake column (a conflicting name: the source's). */
  column: string;
  /** The source column, when the selection renames it to `column`. */
  sourceColumn?: string;
  /** The column's Delta type, when it has one. */
  expectedType?: string;
  /** Tablestore type of the offending value. */
  actualType: string;
}

/** A value of source column `source` whose type contradicts its lake column `slot`. */
export function typeMismatch(source: string, slot: Pick<ColumnSlot, 'name' | 'type'>, type: ValueType): RowProblem {
  const actualType = valueTypeName(type);
  return slot.name === source
    ? { column: source, expectedType: slot.type, actualType }
    : { column: slot.name, sourceColumn: source, expectedType: slot.type, actualType };
}

const OP_NAMES: Record<ActionType, string> = {
  [ActionType.PUT_ROW]: 'PUT',
  [ActionType.UPDATE_ROW]: 'UPDATE',
  [ActionType.DELETE_ROW]: 'DELETE',
};

const HEX_ZEROS = '0000000000000000';
const HEX_BYTES = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const TWO_32 = 4294967296;

function hex(value: number, width: number): string {
  const digits = value >= 0 ? value.toString(16) : BigInt.asUintN(width * 4, BigInt(value)).toString(16);
  return digits.length >= width ? digits : HEX_ZEROS.slice(0, width - digits.length) + digits;
}

/** `%08x` of an unsigned 32-bit integer by byte table: Number#toString(16) of a double is ~5x slower. */
function hex32(value: number): string {
  return HEX_BYTES[value >>> 24]! + HEX_BYTES[(value >>> 16) & 0xff]! + HEX_BYTES[(value >>> 8) & 0xff]! + HEX_BYTES[value & 0xff]!;
}

/** Consecutive records share the epoch and the timestamp's high word: their text is formatted once. */
let lastEpoch = -1;
let lastEpochText = '';
let lastHigh = -1;
let lastHighText = '';

/** `%08x:%016x:%08x` of a sequence: sortable as text within a channel. */
export function formatSequence(epoch: number, timestampUs: number, rowIndex: number): string {
  if (!(timestampUs >= 0 && timestampUs <= Number.MAX_SAFE_INTEGER && Number.isInteger(timestampUs))) {
    return `${hex(epoch >>> 0, 8)}:${hex(timestampUs, 16)}:${hex(rowIndex >>> 0, 8)}`;
  }
  const high = Math.floor(timestampUs / TWO_32);
  if (high !== lastHigh) {
    lastHigh = high;
    lastHighText = hex32(high);
  }
  const e = epoch >>> 0;
  if (e !== lastEpoch) {
    lastEpoch = e;
    lastEpochText = hex32(e) + ':';
  }
  return lastEpochText + lastHighText + hex32(timestampUs - high * TWO_32) + ':' + hex32(rowIndex >>> 0);
}

export class ChangelogRowSink implements RecordSink {
  /** The row of the last record, valid until the next beginRow: hand it to the writer right away. */
  readonly row: Record<string, unknown> = {};
  verdict: RowVerdict = 'ok';
  problem: RowProblem | null = null;
  /** The last record decoded to its end (a corrupt one never does). */
  complete = false;
  /** `_seq` of the last record; null for base rows. */
  sequence: string | null = null;
  /** `_ts` of the last record in µs, or null. */
  timestampUs: number | null = null;

  private inOrigin = false;
  private newestCellMs = -1;
  private readonly deleted: string[] = [];
  /** Unknown columns met in the current row; they join the schema only if the row is accepted. */
  private readonly staged: Array<{ name: string; valueType: ValueType }> = [];
  /** Type conflicts of the current row, counted only if the row is accepted. */
  private readonly conflicts: string[] = [];
  private readonly conflictCounts = new Map<string, number>();

  /**
   * `policy` decides what a value of the wrong type in a known attribute column becomes
   * (lake/mirror/type-conflict.ts); 'dead-letter' rejects the row, as before policies existed.
   */
  constructor(
    private readonly schema: BatchSchema,
    private readonly channelId: string,
    private readonly policy: TypeConflictPolicy = 'dead-letter',
  ) {}

  /** Values landed under the policy so far, per original column. */
  typeConflicts(): TypeConflictCount[] {
    if (this.policy === 'dead-letter') return [];
    const policy = this.policy;
    return [...this.conflictCounts].map(([column, count]) => ({ column, policy, count }));
  }

  beginRow(_recordIndex: number, actionType: ActionType, origin: boolean): void {
    // origin_record holds the previous values; a changelog row carries only the change itself.
    this.inOrigin = origin;
    if (origin) return;
    const row = this.row;
    const columns = this.schema.columns;
    for (let i = 0; i < columns.length; i++) row[columns[i]!.name] = null;
    row._op = OP_NAMES[actionType];
    row._channel = this.channelId;
    row._deleted_columns = null;
    this.verdict = 'ok';
    this.problem = null;
    this.complete = false;
    this.sequence = null;
    this.timestampUs = null;
    this.newestCellMs = -1;
    this.deleted.length = 0;
    this.staged.length = 0;
    this.conflicts.length = 0;
  }

  primaryKey(name: string, type: ValueType, value: CellValue): void {
    // A key of the wrong type has no companion: the row cannot be addressed, so it is a dead letter.
    if (!this.inOrigin) this.put(name, type, value, false);
  }

  cell(name: string, op: CellOp, type: ValueType, value: CellValue | undefined, timestampMs: number): void {
    if (this.inOrigin) return;
    if (timestampMs > this.newestCellMs) this.newestCellMs = timestampMs;
    if (op === CELL_OP.PUT) this.put(name, type, value!);
    else this.deleteColumn(name);
  }

  /** A deleted source column: named by its lake name, or not at all when the selection leaves it out. */
  private deleteColumn(name: string): void {
    const route = this.schema.deletedRouteOf(name);
    if (route === TAKEN) this.reject('column-name-conflict', { column: name, actualType: 'NONE' });
    else if (route !== null) this.deleted.push(route);
  }

  endRow(_deleteMarker: boolean, hasSequence: boolean, epoch: number, timestampUs: number, rowIndex: number): void {
    if (this.inOrigin) return;
    const row = this.row;
    if (hasSequence) {
      this.sequence = formatSequence(epoch, timestampUs, rowIndex);
      this.timestampUs = timestampUs;
    } else {
      this.timestampUs = this.newestCellMs >= 0 ? this.newestCellMs * 1000 : null;
    }
    row._seq = this.sequence;
    row._ts = this.timestampUs;
    // Deleted columns name what an UPDATE removed; the list is copied by the writer, so it is reused.
    if (row._op === 'UPDATE') row._deleted_columns = this.deleted;
    this.complete = true;
  }

  /**
   * Called once the whole record (origin_record included) decoded and the verdict is 'ok': the
   * row's unknown columns join the schema now, not earlier, so a record that is dead-lettered
   * after all never adds a column. Returns true when the schema grew.
   */
  acceptRow(): boolean {
    for (const s of this.staged) this.schema.discoverColumn(s.name, s.valueType);
    const grew = this.staged.length > 0;
    this.staged.length = 0;
    for (const c of this.conflicts) this.conflictCounts.set(c, (this.conflictCounts.get(c) ?? 0) + 1);
    this.conflicts.length = 0;
    return grew;
  }

  /** A value of source column `name` (the decoder's name; the selection maps it to its lake column). */
  private put(name: string, type: ValueType, value: CellValue, resolvable = true): void {
    const slot = this.schema.sourceSlot(name);
    if (slot !== undefined) {
      if (slot.valueType === type) this.row[slot.name] = value;
      else if (slot === LEFT_OUT) return;
      else if (resolvable && this.policy !== 'dead-letter' && type !== VT.NONE) this.putConflicting(name, slot, type, value);
      else this.reject('type-mismatch', typeMismatch(name, slot, type));
      return;
    }
    const route = this.schema.routeOf(name);
    if (route === TAKEN) this.reject('column-name-conflict', { column: name, actualType: valueTypeName(type) });
    else if (route !== null) this.putUnknown(route, type, value);
  }

  /** A value of the wrong type for lake column `slot`, landed in its companion column under the policy. */
  private putConflicting(source: string, slot: ColumnSlot, type: ValueType, value: CellValue): void {
    const landing = this.schema.conflictLandingOf(slot, type, value, this.policy);
    if (landing === null) {
      this.reject('type-mismatch', typeMismatch(source, slot, type));
      return;
    }
    this.conflicts.push(slot.name);
    if (landing.target !== undefined) this.row[landing.column] = landing.value;
    else this.putUnknown(landing.column, landing.type, landing.value as CellValue);
  }

  /** A lake column the schema does not have: discovered (staged) or rejected. */
  private putUnknown(name: string, type: ValueType, value: CellValue): void {
    const discovery = this.schema.discoveryOf(name, type, this.staged);
    if (discovery === 'staged') return;
    if (discovery !== 'stage') {
      const { verdict, ...problem } = discovery;
      this.reject(verdict, problem);
      return;
    }
    this.staged.push({ name, valueType: type });
    this.row[name] = value;
  }

  /** The first problem of a row is the one reported. */
  private reject(verdict: RowVerdict, problem: RowProblem): void {
    if (this.verdict !== 'ok') return;
    this.verdict = verdict;
    this.problem = problem;
  }
}
