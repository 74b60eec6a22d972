/**
 * Values in Iceberg manifests: partition data from Delta partition values, and per-column metrics
 * (value/null counts, lower/upper bounds) from Delta `add.stats`, with bounds in the spec's binary
 * single-value serialization (Appendix D): int/date 4-byte LE, long/timestamp 8-byte LE, float/
 * double IEEE 754 LE, boolean one byte, string UTF-8, binary as is.
 *
 * Delta's bounds are not always exact, and a bound that is too tight loses rows in a reader that
 * prunes on it: a string max cut to a prefix comes with a tie-breaker character that keeps it an
 * upper bound (UTF-8 byte order = code-point order, the order Iceberg compares in); a timestamp is
 * truncated to ms, so its upper bound is widened to the last µs of that ms; a long beyond ±2^53
 * lost precision in JSON.parse and gets no bounds at all. Partition values are exact: Delta keeps
 * them as strings, so a long partition value is parsed as a bigint (a number while it is a safe
 * integer), written to the manifest as such, compared and serialized for the summaries exactly.
 */
import { OtslakeError } from '../../common/errors.js';
import type { FileStats } from '../actions.js';
import { canonicalLong } from './avro-file.js';
import type { IcebergField, IcebergPrimitive, IcebergSchema, PartitionSpec } from './schema.js';

const DAY_MS = 86_400_000;
const INTEGER = /^[+-]?\d+$/;

/** A typed, non-null partition value; a long is a number while safe, a bigint beyond (one form per value). */
export type PartitionValue = number | bigint | boolean | string;
const utf8 = new TextEncoder();

/** Binary single-value serialization of a value of `type`. */
export function serializeValue(type: IcebergPrimitive, value: number | bigint | boolean | string | Uint8Array): Buffer {
  switch (type) {
    case 'int':
    case 'date': {
      const b = Buffer.alloc(4);
      b.writeInt32LE(Number(value));
      return b;
    }
    case 'long':
    case 'timestamp':
    case 'timestamptz': {
      const b = Buffer.alloc(8);
      b.writeBigInt64LE(typeof value === 'bigint' ? value : BigInt(value as number));
      return b;
    }
    case 'float': {
      const b = Buffer.alloc(4);
      b.writeFloatLE(value as number);
      return b;
    }
    case 'double': {
      const b = Buffer.alloc(8);
      b.writeDoubleLE(value as number);
      return b;
    }
    case 'boolean':
      return Buffer.from([value ? 1 : 0]);
    case 'string':
      return Buffer.from(utf8.encode(value as string));
    case 'binary':
      return Buffer.from(value as Uint8Array);
  }
}

/**
 * A Delta partition value (always a string, null or '' for the null partition) as the Iceberg value.
 * A value that is not of the column's type (an int beyond int32, a long beyond int64, not an integer)
 * is refused by name: written as is it would be refused by the Avro encoder without the column, or
 * read back as something else.
 */
export function partitionValueOf(type: IcebergPrimitive, value: string | null | undefined, column = ''): PartitionValue | null {
  if (value === null || value === undefined || value === '') return null;
  switch (type) {
    case 'long': {
      const n = INTEGER.test(value) ? BigInt(value) : null;
      if (n === null || BigInt.asIntN(64, n) !== n) throw badPartitionValue(type, value, column);
      return canonicalLong(n);
    }
    case 'int': {
      const n = INTEGER.test(value) ? Number(value) : NaN;
      if (!(n >= -(2 ** 31) && n < 2 ** 31)) throw badPartitionValue(type, value, column);
      return n;
    }
    case 'boolean':
      return value === 'true';
    case 'date': {
      // Delta writes a date partition as YYYY-MM-DD; anything else would be NaN days, refused only by the Avro encoder.
      const days = /^\d{4}-\d{2}-\d{2}$/.test(value) ? Math.floor(Date.parse(`${value}T00:00:00Z`) / DAY_MS) : NaN;
      if (!Number.isFinite(days)) throw badPartitionValue(type, value, column);
      return days;
    }
    default:
      return value;
  }
}

function badPartitionValue(type: IcebergPrimitive, value: string, column: string): OtslakeError {
  return new OtslakeError('OTSL_LAKE_SCHEMA', `the Delta partition value ${JSON.stringify(value)} of column ${column} is not an Iceberg ${type}`, {
    context: { column, value, type },
  });
}

/** The `partition` record of a data file: one field per spec field, named as the spec names it. */
export function partitionRecordOf(
  spec: PartitionSpec,
  schema: IcebergSchema,
  partitionValues: Readonly<Record<string, string | null>>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of spec.fields) {
    const source = schema.fields.find((s) => s.id === f['source-id']);
    out[f.name] = partitionValueOf(source!.type as IcebergPrimitive, partitionValues[source!.name], source!.name);
  }
  return out;
}

export interface FileMetrics {
  value_counts: { key: number; value: number }[] | null;
  null_value_counts: { key: number; value: number }[] | null;
  lower_bounds: { key: number; value: Buffer }[] | null;
  upper_bounds: { key: number; value: Buffer }[] | null;
}

function timestampMicros(text: unknown, side: 'min' | 'max'): bigint | undefined {
  if (typeof text !== 'string') return undefined;
  const ms = Date.parse(text);
  if (!Number.isFinite(ms)) return undefined;
  return BigInt(ms) * 1000n + (side === 'max' ? 999n : 0n);
}

function boundOf(field: IcebergField, value: unknown, side: 'min' | 'max'): Buffer | undefined {
  if (value === undefined || value === null || typeof field.type === 'object') return undefined;
  switch (field.type) {
    case 'long':
    case 'int':
      return typeof value === 'number' && Number.isSafeInteger(value) ? serializeValue(field.type, value) : undefined;
    case 'double':
    case 'float':
      return typeof value === 'number' && Number.isFinite(value) ? serializeValue(field.type, value) : undefined;
    case 'string':
      return typeof value === 'string' ? serializeValue('string', value) : undefined;
    case 'timestamptz':
    case 'timestamp': {
      const micros = timestampMicros(value, side);
      return micros === undefined ? undefined : serializeValue(field.type, micros);
    }
    case 'date': {
      const days = typeof value === 'string' ? Math.floor(Date.parse(`${value}T00:00:00Z`) / DAY_MS) : NaN;
      return Number.isFinite(days) ? serializeValue('date', days) : undefined;
    }
    default:
      // Delta keeps no bounds for boolean and binary.
      return undefined;
  }
}

/**
 * Metrics of one data file from its Delta stats, for the columns stored in the file (partition
 * columns are not: their values are the partition data). No stats → no metrics (readers then scan).
 */
export function metricsOf(stats: FileStats | null, schema: IcebergSchema, partitionColumns: readonly string[]): FileMetrics {
  const none: FileMetrics = { value_counts: null, null_value_counts: null, lower_bounds: null, upper_bounds: null };
  if (!stats || typeof stats.numRecords !== 'number') return none;
  const values: { key: number; value: number }[] = [];
  const nulls: { key: number; value: number }[] = [];
  const lower: { key: number; value: Buffer }[] = [];
  const upper: { key: number; value: Buffer }[] = [];
  for (const field of schema.fields) {
    // Counts of a list are its elements', which Delta does not keep.
    if (partitionColumns.includes(field.name) || typeof field.type === 'object') continue;
    const nullCount = stats.nullCount?.[field.name];
    if (typeof nullCount !== 'number') continue; // the file predates the column, or stats stop at 32 columns
    values.push({ key: field.id, value: stats.numRecords });
    nulls.push({ key: field.id, value: nullCount });
    const min = boundOf(field, stats.minValues?.[field.name], 'min');
    const max = boundOf(field, stats.maxValues?.[field.name], 'max');
    if (min && max) {
      lower.push({ key: field.id, value: min });
      upper.push({ key: field.id, value: max });
    }
  }
  return { value_counts: values, null_value_counts: nulls, lower_bounds: lower, upper_bounds: upper };
}

/**
 * Order of two partition values of one type (null sorts nowhere: callers skip it): strings in
 * code-point order, numbers and bigints exactly (JS compares a number with a bigint by value).
 */
export function compareValues(a: PartitionValue, b: PartitionValue): number {
  if (typeof a === 'string' && typeof b === 'string') {
    const x = Buffer.from(a, 'utf8');
    const y = Buffer.from(b, 'utf8');
    return Buffer.compare(x, y);
  }
  return a < b ? -1 : a > b ? 1 : 0;
}
