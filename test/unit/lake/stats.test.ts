import { describe, expect, it } from 'vitest';
import { computeFileStats, stringifyStats, timestampStat, truncateMaxString, truncateMinString } from '../../../lake/file-stats.js';
import { compareStrings, type ColumnSpec, type ColumnStats } from '../../../lake/parquet-columns.js';

const stat = (min: ColumnStats['min'], max: ColumnStats['max'], nullCount = 0, unbounded = false): ColumnStats => ({ min, max, nullCount, unbounded });

describe('Delta file stats', () => {
  it('cuts strings to 32 code points and keeps a cut max an upper bound', () => {
    const long = 'a'.repeat(32) + 'bcd';
    expect(truncateMinString(long)).toBe('a'.repeat(32));
    expect(truncateMaxString(long)).toBe('a'.repeat(32) + '\u007f');
    expect(compareStrings(truncateMaxString(long), long)).toBeGreaterThan(0);
    // A non-ASCII next character needs the highest code point.
    const wide = 'a'.repeat(32) + 'é';
    expect(truncateMaxString(wide)).toBe('a'.repeat(32) + '\u{10ffff}');
    expect(compareStrings(truncateMaxString(wide), wide)).toBeGreaterThan(0);
    // Emoji count as one character each and are never split.
    const emoji = '😀'.repeat(40);
    expect(Array.from(truncateMinString(emoji))).toHaveLength(32);
    expect(truncateMaxString('short')).toBe('short');
  });

  it('orders strings by code point like UTF-8 bytes, not UTF-16 units', () => {
    expect('\u{1F600}' < '\uFF00').toBe(true); // JS order
    expect(compareStrings('\u{1F600}', '\uFF00')).toBeGreaterThan(0); // byte order
    expect(compareStrings('abc', 'abd')).toBeLessThan(0);
    expect(compareStrings('ab', 'abc')).toBeLessThan(0);
  });

  it('writes timestamps as ms-truncated UTC, flooring negatives', () => {
    expect(timestampStat(1_700_000_000_123_999n)).toBe('2023-11-14T22:13:20.123Z');
    expect(timestampStat(-1n)).toBe('1969-12-31T23:59:59.999Z');
    expect(timestampStat(0n)).toBe('1970-01-01T00:00:00.000Z');
    expect(timestampStat(2n ** 62n)).toBeUndefined();
  });

  it('limits stats to the first N columns and skips bounds for NaN/Infinity and booleans', () => {
    const columns: ColumnSpec[] = [
      { name: 'a', type: 'long', nullable: true },
      { name: 'b', type: 'double', nullable: true },
      { name: 'c', type: 'boolean', nullable: true },
      { name: 'd', type: 'string', nullable: true },
    ];
    const stats = [stat(1n, 5n, 1), stat(0, 1, 0, true), stat(undefined, undefined, 2), stat('x', 'y')];
    const s = computeFileStats(columns, stats, 10, { numIndexedCols: 3 });
    expect(s).toEqual({ numRecords: 10, minValues: { a: 1 }, maxValues: { a: 5 }, nullCount: { a: 1, b: 0, c: 2 } });
  });

  it('serialises int64 bounds beyond 2^53 as exact JSON integers', () => {
    const columns: ColumnSpec[] = [{ name: 'id', type: 'long', nullable: false }];
    const s = computeFileStats(columns, [stat(-(2n ** 63n), 2n ** 63n - 1n)], 2);
    const json = stringifyStats(s);
    expect(json).toBe('{"numRecords":2,"minValues":{"id":-9223372036854775808},"maxValues":{"id":9223372036854775807},"nullCount":{"id":0}}');
  });
});
