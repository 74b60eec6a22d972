/**
 * Turns the table API's PlainBuffer rows into table-store writes and stored versions into response
 * rows (columns_to_get, max_versions, time_range), with OTSParameterInvalid for anything malformed.
 */
import { isOtslakeError } from '../../common/errors.js';
import type { Cell, ColumnValue, PkCell, StoredRow } from './model.js';
import { decodeRow, type DecodedKeyCell, type DecodedRow } from './plainbuffer-codec.js';
import { RpcError } from './rpc.js';
import type { RowCondition, RowVersions, RowWrite } from './table-store.js';
import { toNumber } from './table-proto.js';

export function invalid(message: string): RpcError {
  return new RpcError(400, 'OTSParameterInvalid', message);
}

export function decodeRowBytes(bytes: Uint8Array | undefined, what: string): DecodedRow {
  if (!bytes || bytes.length === 0) throw invalid(`${what} is missing.`);
  try {
    return decodeRow(bytes);
  } catch (err) {
    if (isOtslakeError(err)) throw invalid(`${what} is not valid PlainBuffer: ${err.message}`);
    throw err;
  }
}

/** A concrete primary key: no INF_MIN / INF_MAX / AUTO_INCREMENT placeholders. */
export function concreteKey(cells: DecodedKeyCell[]): PkCell[] {
  if (cells.length === 0) throw invalid('The primary key is empty.');
  return cells.map((cell) => {
    const t = cell.value.type;
    if (t === 'INF_MIN' || t === 'INF_MAX') throw invalid(`Primary key column '${cell.name}' cannot be ${t} here.`);
    if (t === 'AUTO_INCREMENT') throw invalid(`Auto-increment primary key column '${cell.name}' is not supported by tablestore-local.`);
    return cell as PkCell;
  });
}

const CONDITIONS: Record<number, RowCondition> = { 0: 'IGNORE', 1: 'EXPECT_EXIST', 2: 'EXPECT_NOT_EXIST' };

export interface ConditionMsg {
  row_existence?: number;
  column_condition?: Uint8Array;
}

export function rowCondition(condition: ConditionMsg | undefined): RowCondition {
  if (!condition) return 'IGNORE';
  if (condition.column_condition && condition.column_condition.length > 0) {
    throw invalid('Column conditions are not supported by tablestore-local.');
  }
  const c = CONDITIONS[condition.row_existence ?? 0];
  if (!c) throw invalid(`Unknown row existence expectation ${condition.row_existence}.`);
  return c;
}

export function putWrite(row: DecodedRow, condition: RowCondition): RowWrite {
  const cells = row.cells.map((cell) => {
    if (cell.op !== undefined || cell.value === undefined) throw invalid(`Column '${cell.name}' of a PutRow must have a value and no cell type.`);
    return { name: cell.name, value: cell.value, ...(cell.timestamp !== undefined ? { timestamp: cell.timestamp } : {}) };
  });
  return { kind: 'put', primaryKey: concreteKey(row.primaryKey), cells, condition };
}

export function updateWrite(row: DecodedRow, condition: RowCondition): RowWrite {
  if (row.cells.length === 0) throw invalid('No attribute column in the row change of an UpdateRow.');
  const changes = row.cells.map((cell) => {
    if (cell.op === undefined) {
      if (cell.value === undefined) throw invalid(`Column '${cell.name}' has neither a value nor a cell type.`);
      return { op: 'put' as const, name: cell.name, value: cell.value, ...(cell.timestamp !== undefined ? { timestamp: cell.timestamp } : {}) };
    }
    if (cell.op === 'increment') throw invalid(`Increment of column '${cell.name}' is not supported by tablestore-local.`);
    if (cell.value !== undefined) throw invalid(`A delete of column '${cell.name}' must not carry a value.`);
    if (cell.op === 'delete-one') {
      if (cell.timestamp === undefined) throw invalid(`Deleting one version of column '${cell.name}' needs its timestamp.`);
      return { op: 'delete-one' as const, name: cell.name, timestamp: cell.timestamp };
    }
    return { op: 'delete-all' as const, name: cell.name };
  });
  return { kind: 'update', primaryKey: concreteKey(row.primaryKey), changes, condition };
}

export function deleteWrite(row: DecodedRow, condition: RowCondition): RowWrite {
  if (row.cells.length > 0) throw invalid('A DeleteRow primary key must not carry attribute columns.');
  return { kind: 'delete', primaryKey: concreteKey(row.primaryKey), condition };
}

export interface TimeRangeMsg {
  start_time?: unknown;
  end_time?: unknown;
  specific_time?: unknown;
}

export interface ReadOptions {
  columnsToGet: string[];
  maxVersions: number;
  /** [startMs, endMs) */
  startMs: number;
  endMs: number;
}

export function readOptions(columnsToGet: string[] | undefined, maxVersions: number | undefined, timeRange: TimeRangeMsg | undefined): ReadOptions {
  if (maxVersions === undefined && timeRange === undefined) throw invalid('Neither max_versions nor time_range is set.');
  if (maxVersions !== undefined && maxVersions < 1) throw invalid(`max_versions must be >= 1, got ${maxVersions}.`);
  let startMs = 0;
  let endMs = Number.MAX_SAFE_INTEGER;
  const specific = toNumber(timeRange?.specific_time);
  if (specific !== undefined) {
    startMs = specific;
    endMs = specific + 1;
  } else if (timeRange) {
    startMs = toNumber(timeRange.start_time) ?? 0;
    endMs = toNumber(timeRange.end_time) ?? Number.MAX_SAFE_INTEGER;
    if (startMs >= endMs) throw invalid('time_range start_time must be less than end_time.');
  }
  return { columnsToGet: columnsToGet ?? [], maxVersions: maxVersions ?? Number.MAX_SAFE_INTEGER, startMs, endMs };
}

/** The row a read returns, or null when nothing requested is there. */
export function projectRow(row: RowVersions, options: ReadOptions, pkNames: string[]): StoredRow | null {
  const wanted = options.columnsToGet.length > 0 ? new Set(options.columnsToGet) : null;
  const cells: Cell[] = [];
  for (const column of row.columns) {
    if (wanted && !wanted.has(column.name)) continue;
    let taken = 0;
    for (const v of column.versions) {
      if (taken >= options.maxVersions) break;
      if (v.timestamp < options.startMs || v.timestamp >= options.endMs) continue;
      cells.push({ name: column.name, value: v.value as ColumnValue, timestamp: v.timestamp });
      taken++;
    }
  }
  if (wanted && cells.length === 0 && !pkNames.some((n) => wanted.has(n))) return null;
  return { primaryKey: row.primaryKey, cells };
}
