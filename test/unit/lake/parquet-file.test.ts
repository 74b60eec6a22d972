import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as arrow from 'apache-arrow';
import * as pw from 'parquet-wasm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readParquetMetadata, readParquetRows } from '../../../lake/parquet-read.js';
import { ParquetFileWriter, writeParquetFiles } from '../../../lake/parquet-file.js';
import type { ColumnSpec } from '../../../lake/parquet-columns.js';
import { FsStore } from '../../helpers/fs-store.js';

const COLUMNS: ColumnSpec[] = [
  { name: 'id', type: 'long', nullable: false },
  { name: 'name', type: 'string', nullable: true },
  { name: 'amount', type: 'double', nullable: true },
  { name: 'paid', type: 'boolean', nullable: true },
  { name: 'blob', type: 'binary', nullable: true },
  { name: '_ts', type: 'timestamp', nullable: true },
  { name: '_deleted_columns', type: 'array<string>', nullable: true },
];

const BIG = 2n ** 60n + 7n;

function rowAt(i: number): Record<string, unknown> {
  return {
    id: BIG + BigInt(i),
    name: i % 5 === 0 ? null : `name-${i} é😀`,
    amount: i % 7 === 0 ? null : i / 4,
    paid: i % 3 === 0 ? null : i % 2 === 0,
    blob: i % 4 === 0 ? null : new Uint8Array([i & 255, 1, 2]),
    _ts: i % 11 === 0 ? null : 1_700_000_000_000_123n + BigInt(i),
    _deleted_columns: i % 6 === 0 ? null : i % 2 === 0 ? [] : ['a', `c${i}`],
  };
}

let dir: string;
let store: FsStore;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'otslake-parquet-'));
  store = new FsStore(dir);
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('ParquetFileWriter', () => {
  it('writes every type exactly, with Delta logical types, zstd and Data Page V1', async () => {
    const rows = Array.from({ length: 1000 }, (_, i) => rowAt(i));
    const files = await writeParquetFiles(rows, { store, columns: COLUMNS, rowGroupRows: 300 });
    expect(files).toHaveLength(1);
    const f = files[0]!;
    expect(f.path).toMatch(/^part-00000-[0-9a-f-]{36}\.c000\.zstd\.parquet$/);
    expect(f.numRecords).toBe(1000);
    const bytes = await readFile(path.join(dir, f.path));
    expect(f.size).toBe(bytes.length);

    const meta = readParquetMetadata(bytes);
    expect(meta.row_groups.map((g) => Number(g.num_rows))).toEqual([300, 300, 300, 100]);
    const chunk = meta.row_groups[0]!.columns;
    expect(chunk.every((c) => c.meta_data?.codec === 'ZSTD')).toBe(true);
    // Every data page is V1 (encoding_stats lists the page kinds of the chunk).
    const pageTypes = new Set(chunk.flatMap((c) => (c.meta_data?.encoding_stats ?? []).map((s) => s.page_type)));
    expect(pageTypes.has('DATA_PAGE_V2')).toBe(false);
    expect(pageTypes.has('DATA_PAGE')).toBe(true);
    const byName = new Map(meta.schema.map((s) => [s.name, s]));
    expect(byName.get('id')).toMatchObject({ type: 'INT64', repetition_type: 'REQUIRED' });
    expect(byName.get('name')).toMatchObject({ type: 'BYTE_ARRAY', repetition_type: 'OPTIONAL', logical_type: { type: 'STRING' } });
    expect(byName.get('_ts')).toMatchObject({ type: 'INT64', logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MICROS' } });
    expect(chunk.find((c) => c.meta_data?.path_in_schema[0] === 'id')!.meta_data!.statistics).toBeDefined();

    // An independent reader (hyparquet) sees every value.
    const back = await readParquetRows(bytes);
    expect(back).toHaveLength(1000);
    for (const i of [0, 1, 2, 5, 6, 7, 11, 999]) {
      const want = rowAt(i);
      const got = back[i]!;
      expect(got.id).toBe(want.id);
      expect(got.name).toBe(want.name);
      expect(got.amount).toBe(want.amount);
      expect(got.paid).toBe(want.paid);
      // hyparquet reads a null list as undefined; the null/empty distinction is checked with arrow below.
      expect(got._deleted_columns ?? null).toEqual(want._deleted_columns);
    }
    // Microseconds survive (hyparquet turns timestamps into Dates, so check with arrow).
    const table = arrow.tableFromIPC(pw.readParquet(bytes).intoIPCStream());
    const ts = table.getChild('_ts')!;
    expect(ts.type.toString()).toBe('Timestamp<MICROSECOND, UTC>');
    expect(BigInt((ts.data[0]!.values as BigInt64Array)[1]!)).toBe(1_700_000_000_000_124n);
    const blob = table.getChild('blob')!;
    expect(blob.type.toString()).toBe('Binary');
    expect([0, 1, 5].map((i) => (blob.get(i) ? Array.from(blob.get(i) as Uint8Array) : null))).toEqual([null, [1, 1, 2], [5, 1, 2]]);
    const deleted = table.getChild('_deleted_columns')!;
    expect([0, 1, 2].map((i) => deleted.get(i)?.toArray() ?? null)).toEqual([null, ['a', 'c1'], []]);
  });

  it('gives a column a dictionary only when few of its values are distinct, in one-call and streamed files alike', async () => {
    const columns: ColumnSpec[] = [
      { name: 'id', type: 'long', nullable: false },
      { name: 'qty', type: 'long', nullable: true },
      { name: 'status', type: 'string', nullable: true },
      { name: 'user', type: 'string', nullable: true },
      { name: 'amount', type: 'double', nullable: true },
    ];
    const rows = Array.from({ length: 3000 }, (_, i) => ({
      id: BigInt(i),
      qty: BigInt(i % 5),
      status: ['a', 'b', 'c'][i % 3],
      user: `user-${i * 7919}`,
      amount: i / 3,
    }));
    // 5000-row groups: one group, one writeParquet call; 1000-row groups: three, streamed.
    for (const rowGroupRows of [5000, 1000]) {
      const [file] = await writeParquetFiles(rows, { store, columns, rowGroupRows });
      const bytes = await readFile(path.join(dir, file!.path));
      const meta = readParquetMetadata(bytes);
      expect(meta.row_groups).toHaveLength(rowGroupRows === 5000 ? 1 : 3);
      const dictionary = Object.fromEntries(
        meta.row_groups[0]!.columns.map((c) => [
          c.meta_data!.path_in_schema[0],
          (c.meta_data!.encoding_stats ?? []).some((e) => e.page_type === 'DICTIONARY_PAGE'),
        ]),
      );
      expect(dictionary).toEqual({ id: false, qty: true, status: true, user: false, amount: false });
      expect(await readParquetRows(bytes)).toEqual(rows);
    }
  });

  it("a writer that starts from an earlier writer's buffers writes only its own rows (no stale bytes, bits or nulls)", async () => {
    // The first writer fills every buffer (long strings, all true, many nulls, lists); the second writes fewer,
    // shorter values into the same columns on this thread, from the buffers the first one handed back at close.
    const wide = Array.from({ length: 3000 }, (_, i) => ({
      ...rowAt(i),
      name: i % 2 === 0 ? null : `a long name that fills the byte buffer ${i}`,
      paid: true,
      _deleted_columns: ['x', 'y', 'z'],
    }));
    await writeParquetFiles(wide, { store, columns: COLUMNS, rowGroupRows: 1000 });
    const narrow = Array.from({ length: 700 }, (_, i) => ({ ...rowAt(i), name: `n${i}`, paid: false, amount: i, _deleted_columns: null }));
    const [f] = await writeParquetFiles(narrow, { store, columns: COLUMNS, rowGroupRows: 500 });
    const table = arrow.tableFromIPC(pw.readParquet(await readFile(path.join(dir, f!.path))).intoIPCStream());
    const column = (name: string) => Array.from({ length: table.numRows }, (_, i) => table.getChild(name)!.get(i) as unknown);
    const hex = (b: unknown) => (b instanceof Uint8Array ? Buffer.from(b).toString('hex') : null);
    expect(column('name')).toEqual(narrow.map((r) => r.name));
    expect(column('paid')).toEqual(narrow.map(() => false));
    expect(column('amount')).toEqual(narrow.map((r) => r.amount));
    expect(column('blob').map(hex)).toEqual(narrow.map((r) => hex((r as Record<string, unknown>).blob)));
    expect(column('_deleted_columns')).toEqual(narrow.map(() => null));
    expect(f!.stats.nullCount).toMatchObject({ name: 0, amount: 0, paid: 0 });
  });

  it('computes Delta stats from the rows it wrote', async () => {
    const rows = Array.from({ length: 50 }, (_, i) => rowAt(i));
    const [f] = await writeParquetFiles(rows, { store, columns: COLUMNS });
    const s = f!.stats;
    expect(s.numRecords).toBe(50);
    expect(s.nullCount).toEqual({ id: 0, name: 10, amount: 8, paid: 17, blob: 13, _ts: 5 });
    expect(s.minValues).toEqual({ id: BIG, name: 'name-1 é😀', amount: 0.25, _ts: '2023-11-14T22:13:20.000Z' });
    expect(s.maxValues!.id).toBe(BIG + 49n);
    expect(s.maxValues!.name).toBe('name-9 é😀');
    expect(s.maxValues!.amount).toBe(48 / 4); // row 49 has a null amount
    // No bounds for boolean, binary, list.
    expect(Object.keys(s.maxValues!).sort()).toEqual(['_ts', 'amount', 'id', 'name']);
  });

  it('rolls to a new file at the target size and keeps per-file stats', async () => {
    const rows = Array.from({ length: 6000 }, (_, i) => ({ id: BigInt(i), name: `row ${i} ${'x'.repeat(i % 50)}` }));
    const files = await writeParquetFiles(rows, {
      store,
      columns: COLUMNS.slice(0, 2),
      rowGroupRows: 500,
      targetFileBytes: 12 * 1024,
    });
    expect(files.length).toBeGreaterThan(1);
    expect(files.reduce((n, f) => n + f.numRecords, 0)).toBe(6000);
    let next = 0;
    for (const f of files) {
      expect(f.stats.minValues!.id).toBe(next);
      expect(f.stats.maxValues!.id).toBe(next + f.numRecords - 1);
      const back = await readParquetRows(await readFile(path.join(dir, f.path)));
      expect(back[0]!.id).toBe(BigInt(next));
      next += f.numRecords;
    }
    expect(new Set(files.map((f) => f.path)).size).toBe(files.length);
  });

  it('puts partitioned files under a Hive-style directory', async () => {
    const files = await writeParquetFiles([{ id: 1n }], { store, columns: COLUMNS.slice(0, 1), partitionValues: { day: '2024-01-02', region: 'us east:1' } });
    expect(files[0]!.path).toMatch(/^day=2024-01-02\/region=us east%3A1\/part-/);
    expect(files[0]!.partitionValues).toEqual({ day: '2024-01-02', region: 'us east:1' });
  });

  it('rejects a value of the wrong type with OTSL_LAKE_SCHEMA naming the column', async () => {
    const writer = new ParquetFileWriter({ store, columns: COLUMNS });
    writer.appendRow(rowAt(1));
    expect(() => writer.appendRow({ ...rowAt(2), amount: 'twelve' })).toThrow(
      expect.objectContaining({ code: 'OTSL_LAKE_SCHEMA', context: expect.objectContaining({ column: 'amount' }) }),
    );
    expect(() => writer.appendRow({ ...rowAt(3), id: null })).toThrow(expect.objectContaining({ code: 'OTSL_LAKE_SCHEMA' }));
    await writer.abort();
    expect(await store.list('')).toEqual([]);
  });

  it('drain() returns whether or not a row group is waiting (no hang on an idle encoder)', async () => {
    const writer = new ParquetFileWriter({ store, columns: COLUMNS.slice(0, 1), rowGroupRows: 100 });
    await writer.drain(); // nothing written yet
    for (let i = 0; i < 1050; i++) {
      writer.appendRow({ id: BigInt(i) });
      if (i % 7 === 0) await writer.drain();
    }
    const files = await writer.close();
    expect(files.map((f) => f.numRecords)).toEqual([1050]);
    expect(readParquetMetadata(await readFile(path.join(dir, files[0]!.path))).row_groups).toHaveLength(11);
  });

  it('writes no file for no rows', async () => {
    expect(await writeParquetFiles([], { store, columns: COLUMNS })).toEqual([]);
    expect(await store.list('')).toEqual([]);
  });
});
