/** Which files retention may remove: whole `_date` days before the cutoff, else files whose every row is older. */
import { describe, expect, it } from 'vitest';
import type { Add } from '../../../lake/actions.js';
import { isExpired } from '../../../lake/retention.js';

const add = (partitionValues: Record<string, string | null>, stats?: unknown): Add => ({
  path: 'f.parquet',
  partitionValues,
  size: 1,
  modificationTime: 0,
  dataChange: true,
  ...(stats === undefined ? {} : { stats: JSON.stringify(stats) }),
});
const cutoff = Date.parse('2026-01-10T12:00:00Z');
const expired = (a: Add) => isExpired(a, cutoff, '_ts', '_date');

describe('retention: isExpired', () => {
  it('removes a _date day only once the whole day is before the cutoff', () => {
    expect(expired(add({ _date: '2026-01-09' }))).toBe(true);
    expect(expired(add({ _date: '2026-01-10' }))).toBe(false); // the cutoff is inside that day
    expect(expired(add({ _date: '2026-01-11' }))).toBe(false);
    expect(expired(add({ _date: null }))).toBe(false); // rows without _ts are kept
  });

  it('without a _date partition, removes a file only when its stats show every _ts older than the cutoff', () => {
    const stats = (max: string, nulls: number) => ({ numRecords: 3, maxValues: { _ts: max }, nullCount: { _ts: nulls } });
    expect(expired(add({}, stats('2026-01-10T11:59:59.000Z', 0)))).toBe(true);
    expect(expired(add({}, stats('2026-01-10T12:00:00.000Z', 0)))).toBe(false);
    expect(expired(add({}, stats('2026-01-01T00:00:00.000Z', 1)))).toBe(false); // a row without _ts
    expect(expired(add({}))).toBe(false); // no stats: never on a guess
    expect(expired(add({ name: 'x' }, stats('2026-01-01T00:00:00.000Z', 0)))).toBe(true);
  });
});
