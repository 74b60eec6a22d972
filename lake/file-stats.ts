/**
 * Delta per-file statistics (`add.stats`, docs/delta-rules.md §Statistics) from the statistics the
 * column builders kept while rows were appended. Follows what Spark writes, since readers skip files
 * on these bounds and a wrong bound loses rows:
 * - strings cut to a 32-character prefix; a cut max gets a tie-breaker so it stays an upper bound;
 * - timestamps as ISO-8601 UTC truncated to milliseconds;
 * - no min/max for boolean, binary and arrays; nullCount for every leaf column that has stats;
 * - only the first `numIndexedCols` columns (delta.dataSkippingNumIndexedCols, default 32).
 */
import type { FileStats } from './actions.js';
import type { ColumnSpec, ColumnStats } from './parquet-columns.js';

const DEFAULT_STRING_PREFIX_LENGTH = 32;
const DEFAULT_NUM_INDEXED_COLS = 32;

export interface StatsOptions {
  /** delta.dataSkippingNumIndexedCols; -1 = every column. */
  numIndexedCols?: number;
  stringPrefixLength?: number;
}

/** Prefix of `n` code points; returns the input itself when it is short enough. */
function codePointPrefix(value: string, n: number): { prefix: string; next: number | undefined } {
  if (value.length <= n) return { prefix: value, next: undefined };
  let units = 0;
  for (let points = 0; points < n && units < value.length; points++) {
    units += (value.codePointAt(units) ?? 0) > 0xffff ? 2 : 1;
  }
  if (units >= value.length) return { prefix: value, next: undefined };
  return { prefix: value.slice(0, units), next: value.codePointAt(units) };
}

export function truncateMinString(value: string, prefixLength = DEFAULT_STRING_PREFIX_LENGTH): string {
  return codePointPrefix(value, prefixLength).prefix;
}

/**
 * A max cut to a prefix is below the real value, so Spark appends a character that sorts above
 * whatever followed: U+007F after an ASCII character, else U+10FFFF (StatisticsCollection.truncateMaxStringAgg).
 */
export function truncateMaxString(value: string, prefixLength = DEFAULT_STRING_PREFIX_LENGTH): string {
  const { prefix, next } = codePointPrefix(value, prefixLength);
  if (next === undefined) return value;
  return prefix + (next < 0x7f ? '\u007f' : '\u{10ffff}');
}

/** µs since epoch → `2024-01-02T03:04:05.678Z` (ms, floored); undefined outside years 0–9999. */
export function timestampStat(micros: bigint): string | undefined {
  const ms = Number(micros >= 0n ? micros / 1000n : -((-micros + 999n) / 1000n));
  if (ms < -62167219200000 || ms > 253402300799999) return undefined;
  return new Date(ms).toISOString();
}

function boundOf(spec: ColumnSpec, value: ColumnStats['min'], side: 'min' | 'max', prefixLength: number): unknown {
  if (value === undefined) return undefined;
  switch (spec.type) {
    case 'long': {
      const v = value as bigint;
      // A JS number cannot hold it exactly: stay a bigint, stringifyStats writes the exact digits.
      if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) return v;
      return Number(v);
    }
    case 'double':
      return value;
    case 'timestamp':
      return timestampStat(value as bigint);
    case 'string':
      return side === 'min' ? truncateMinString(value as string, prefixLength) : truncateMaxString(value as string, prefixLength);
    default:
      return undefined;
  }
}

export function computeFileStats(columns: readonly ColumnSpec[], stats: readonly ColumnStats[], numRecords: number, options: StatsOptions = {}): FileStats {
  const limit = options.numIndexedCols ?? DEFAULT_NUM_INDEXED_COLS;
  const prefixLength = options.stringPrefixLength ?? DEFAULT_STRING_PREFIX_LENGTH;
  const minValues: Record<string, unknown> = {};
  const maxValues: Record<string, unknown> = {};
  const nullCount: Record<string, unknown> = {};
  const indexed = limit < 0 ? columns.length : Math.min(limit, columns.length);
  for (let i = 0; i < indexed; i++) {
    const spec = columns[i]!;
    const s = stats[i]!;
    if (spec.type === 'array<string>') continue;
    nullCount[spec.name] = s.nullCount;
    if (s.unbounded) continue;
    const min = boundOf(spec, s.min, 'min', prefixLength);
    const max = boundOf(spec, s.max, 'max', prefixLength);
    if (min !== undefined && max !== undefined) {
      minValues[spec.name] = min;
      maxValues[spec.name] = max;
    }
  }
  return { numRecords, minValues, maxValues, nullCount };
}

const RAW = '\u0000int64:';

/** JSON for `add.stats`; bigint bounds (outside ±2^53) become exact JSON integers, as Spark writes them. */
export function stringifyStats(stats: FileStats): string {
  const json = JSON.stringify(stats, (_key, value: unknown) => (typeof value === 'bigint' ? `${RAW}${value}` : value));
  return json.replace(/"\\u0000int64:(-?\d+)"/g, '$1');
}
