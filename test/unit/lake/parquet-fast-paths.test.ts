/**
 * The column builders' fast paths (numbers into int64 columns without a bigint per row, short ASCII
 * strings copied by a loop) must give the very files and stats the general paths give.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ColumnSpec } from '../../../lake/parquet-columns.js';
import { writeParquetFiles, type WrittenFile } from '../../../lake/parquet-file.js';
import { readParquetRows } from '../../../lake/parquet-read.js';
import { FsStore } from '../../helpers/fs-store.js';

let dir: string;
let store: FsStore;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'otslake-parquet-fast-'));
  store = new FsStore(dir);
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function writeOne(rows: Record<string, unknown>[], columns: ColumnSpec[], rowGroupRows = 64): Promise<{ file: WrittenFile; bytes: Buffer }> {
  const files = await writeParquetFiles(rows, { store, columns, rowGroupRows });
  expect(files).toHaveLength(1);
  return { file: files[0]!, bytes: await readFile(path.join(dir, files[0]!.path)) };
}

const INT_COLUMNS: ColumnSpec[] = [
  { name: 'n', type: 'long', nullable: true },
  { name: '_ts', type: 'timestamp', nullable: true },
];

/** Safe integers across the 32-bit word boundary, negative ones, -0 and the extremes. */
const EDGE_NUMBERS = [0, -0, 1, -1, 2 ** 31, -(2 ** 31), 2 ** 32 - 1, 2 ** 32, -(2 ** 32), -(2 ** 32) - 1, 2 ** 53 - 1, -(2 ** 53 - 1), 1_700_000_000_123_456];

describe('int64 columns fed numbers', () => {
  it('write the same bytes and stats as the same values given as bigint', async () => {
    // 3000 rows in row groups of 2500: the buffers grow past their first 1024 rows.
    const values = [...EDGE_NUMBERS, ...Array.from({ length: 3000 }, (_, i) => (i % 9 === 0 ? null : ((i * 7_919_000_003) % 2 ** 53) - 2 ** 52))];
    const asNumbers = values.map((v) => ({ n: v, _ts: v }));
    const asBigints = values.map((v) => ({ n: v === null ? null : BigInt(v), _ts: v === null ? null : BigInt(v) }));
    const fast = await writeOne(asNumbers, INT_COLUMNS, 2500);
    const slow = await writeOne(asBigints, INT_COLUMNS, 2500);
    expect(fast.bytes.equals(slow.bytes)).toBe(true);
    expect(fast.file.stats).toEqual(slow.file.stats);
    const nonNull = values.filter((v): v is number => v !== null);
    expect(fast.file.stats.minValues?.n).toBe(Math.min(...nonNull));
    expect(fast.file.stats.maxValues?.n).toBe(Math.max(...nonNull));
    const back = await readParquetRows(fast.bytes);
    expect(back.map((r) => r.n)).toEqual(values.map((v) => (v === null ? null : BigInt(v))));
  });

  it('keeps stats exact when numbers and bigints mix in one file', async () => {
    const rows = [{ n: 5 }, { n: -(2n ** 62n) }, { n: 2 ** 40 }, { n: 3n }];
    const { file } = await writeOne(rows, [INT_COLUMNS[0]!]);
    // Bounds outside ±2^53 go out as exact JSON integers, i.e. bigint here.
    expect(file.stats.minValues?.n).toBe(-(2n ** 62n));
    expect(file.stats.maxValues?.n).toBe(2 ** 40);
  });
});

describe('string columns', () => {
  it('land ASCII, long, non-ASCII and astral strings exactly, with code-point ordered bounds', async () => {
    const values = ['b', 'a'.repeat(63), 'a'.repeat(64), 'x'.repeat(300), 'é', 'zé', '😀', '\uffff', 'PUT', 'PUT', '', null, 'mid 中文'];
    const { file, bytes } = await writeOne(
      values.map((s) => ({ s })),
      [{ name: 's', type: 'string', nullable: true }],
    );
    expect((await readParquetRows(bytes)).map((r) => r.s)).toEqual(values);
    expect(file.stats.minValues?.s).toBe('');
    // U+1F600 sorts after U+FFFF in UTF-8 byte order, unlike UTF-16 order.
    expect(file.stats.maxValues?.s).toBe('😀');
    expect(file.stats.nullCount?.s).toBe(1);
  });

  it('land list elements through the same encoder', async () => {
    const values = [['a', 'é'], [], null, ['x'.repeat(100), '😀']];
    const { bytes } = await writeOne(
      values.map((l) => ({ l })),
      [{ name: 'l', type: 'array<string>', nullable: true }],
    );
    // The reader gives a null list as undefined.
    expect((await readParquetRows(bytes)).map((r) => r.l ?? null)).toEqual(values);
  });
});
