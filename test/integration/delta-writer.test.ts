/**
 * Tables written by otslake's Parquet + Delta log writer, read back by delta-kernel-rs (chdb) and by
 * otslake's own snapshot reader: appends, a partition, a column added later, a copy-on-write
 * rewrite, time travel over every version; plus the commit protocol under races.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OtslakeError } from '../../common/errors.js';
import { parseSchema, type Action, type StructType } from '../../lake/actions.js';
import type { ObjectStore, PutOptions } from '../../lake/object-store.js';
import { dataColumnsOf } from '../../lake/parquet-columns.js';
import { writeParquetFiles } from '../../lake/parquet-file.js';
import { loadSnapshot } from '../../lake/snapshot.js';
import { addColumns, createTable } from '../../lake/table-create.js';
import { addActionFor, commit, removeActionFor, txnAction } from '../../lake/transaction.js';
import { LocalStore } from '../../lake/local-store.js';
import { deltaSql, runChdb } from '../helpers/chdb.js';

const SCHEMA: StructType = {
  type: 'struct',
  fields: [
    { name: 'id', type: 'long', nullable: false, metadata: {} },
    { name: 'name', type: 'string', nullable: true, metadata: {} },
    { name: 'amount', type: 'double', nullable: true, metadata: {} },
    { name: 'paid', type: 'boolean', nullable: true, metadata: {} },
    { name: '_ts', type: 'timestamp', nullable: true, metadata: {} },
    { name: '_deleted_columns', type: { type: 'array', elementType: 'string', containsNull: true }, nullable: true, metadata: {} },
    { name: 'day', type: 'string', nullable: true, metadata: {} },
  ],
};

interface Row {
  id: bigint;
  name: string | null;
  amount: number | null;
  paid: boolean | null;
  _ts: bigint | null;
  _deleted_columns: string[] | null;
  day: string;
  note?: string | null;
}

const BASE = 2n ** 55n;
function makeRow(i: number, day: string): Row {
  return {
    id: BASE + BigInt(i),
    name: i % 4 === 0 ? null : `n${i}`,
    amount: i % 5 === 0 ? null : i * 1.5,
    paid: i % 3 === 0 ? null : i % 2 === 0,
    _ts: 1_700_000_000_000_001n + BigInt(i) * 1_000_001n,
    _deleted_columns: i % 2 === 0 ? ['x'] : null,
    day,
  };
}

/** What chdb's JSONEachRow prints for a row (Int64 quoted, DateTime64(6) in UTC, missing → null). */
function chdbForm(r: Row, withNote: boolean): Record<string, unknown> {
  const ts =
    r._ts === null
      ? null
      : new Date(Number(r._ts / 1000n)).toISOString().replace('T', ' ').replace('Z', '').slice(0, 23) + String(r._ts % 1000n).padStart(3, '0');
  const out: Record<string, unknown> = {
    id: String(r.id),
    name: r.name,
    amount: r.amount,
    paid: r.paid,
    _ts: ts,
    _deleted_columns: r._deleted_columns ?? [],
    day: r.day,
  };
  if (withNote) out.note = r.note ?? null;
  return out;
}

let dir: string;
let store: LocalStore;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'otslake-delta-'));
  store = new LocalStore(dir, { fsync: false });
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function appendRows(s: ObjectStore, schema: StructType, rows: Row[], readVersion: number, extra: Action[] = []) {
  const columns = dataColumnsOf(schema, ['day']);
  const byDay = new Map<string, Row[]>();
  for (const r of rows) byDay.set(r.day, [...(byDay.get(r.day) ?? []), r]);
  const adds: Action[] = [];
  for (const [day, dayRows] of byDay) {
    const files = await writeParquetFiles(dayRows as unknown as Record<string, unknown>[], { store: s, columns, partitionValues: { day }, rowGroupRows: 64 });
    adds.push(...files.map((f) => addActionFor(f)));
  }
  return { adds, result: await commit(s, [...extra, ...adds], { readVersion, operation: 'WRITE', operationParameters: { mode: 'Append' } }) };
}

describe('Delta tables written by otslake', () => {
  it('are read back equal by chdb at every version and by loadSnapshot', async () => {
    const created = await createTable(store, { schema: SCHEMA, partitionColumns: ['day'], configuration: { 'delta.appendOnly': 'false' } });
    expect(created).toMatchObject({ kind: 'committed', version: 0 });
    const versions: Row[][] = [[]];
    let live: Row[] = [];

    const rows1 = Array.from({ length: 150 }, (_, i) => makeRow(i, i % 2 ? '2024-01-01' : '2024-01-02'));
    const v1 = await appendRows(store, SCHEMA, rows1, 0, [txnAction('otslake/t/c1', 1)]);
    expect(v1.result).toMatchObject({ kind: 'committed', version: 1 });
    live = [...rows1];
    versions.push([...live]);

    // Schema evolution: a new nullable column arrives with the commit of its first file.
    const meta2 = addColumns(created.metadata, [{ name: 'note', type: 'string' }]);
    const schema2 = parseSchema(meta2.schemaString);
    const rows2 = Array.from({ length: 40 }, (_, i) => ({ ...makeRow(1000 + i, '2024-01-03'), note: i % 2 ? `note ${i}` : null }));
    const v2 = await appendRows(store, schema2, rows2, 1, [{ metaData: meta2 }, txnAction('otslake/t/c1', 2)]);
    expect(v2.result).toMatchObject({ kind: 'committed', version: 2 });
    live = [...live, ...rows2];
    versions.push([...live]);

    // Copy-on-write: rewrite one partition's file without its even ids.
    const snap2 = await loadSnapshot(store);
    const victim = [...snap2.files.values()].find((a) => a.partitionValues.day === '2024-01-02')!;
    const kept = rows1.filter((r) => r.day === '2024-01-02' && r.id % 2n === 1n);
    const rewritten = await writeParquetFiles(kept as unknown as Record<string, unknown>[], {
      store,
      columns: dataColumnsOf(schema2, ['day']),
      partitionValues: { day: '2024-01-02' },
    });
    const v3 = await commit(store, [removeActionFor(victim, { dataChange: true }), ...rewritten.map((f) => addActionFor(f))], {
      readVersion: 2,
      operation: 'DELETE',
      readMetadata: meta2,
    });
    expect(v3).toMatchObject({ kind: 'committed', version: 3 });
    live = live.filter((r) => r.day !== '2024-01-02' || r.id % 2n === 1n);
    versions.push([...live]);

    const sqls = versions.map((_, v) => deltaSql(dir, { version: v, orderBy: 'id' }));
    sqls.push(`DESCRIBE deltaLakeLocal('${dir}')`);
    // Stats must not make kernel skipping lose rows: same answer with and without skipping.
    const pred = `id >= ${BASE + 100n} AND name >= 'n12'`;
    sqls.push(deltaSql(dir, { select: 'id', where: pred, orderBy: 'id', settings: 'delta_lake_enable_engine_predicate=1' }));
    sqls.push(deltaSql(dir, { select: 'id', where: pred, orderBy: 'id', settings: 'delta_lake_enable_engine_predicate=0' }));
    const out = await runChdb(sqls);
    for (let v = 0; v < versions.length; v++) {
      const got = out[v]!;
      if (!got.ok) throw new Error(`version ${v}: ${got.error}`);
      const want = [...versions[v]!].sort((a, b) => (a.id < b.id ? -1 : 1)).map((r) => chdbForm(r, v >= 2));
      expect(got.rows, `version ${v}`).toEqual(want);
    }
    const describe = out[versions.length]!;
    expect(describe.ok && describe.rows.map((r) => `${r.name}:${r.type}`)).toEqual([
      'id:Int64',
      'name:Nullable(String)',
      'amount:Nullable(Float64)',
      'paid:Nullable(Bool)',
      '_ts:Nullable(DateTime64(6))',
      '_deleted_columns:Array(Nullable(String))',
      'day:Nullable(String)',
      'note:Nullable(String)',
    ]);
    const withSkip = out[versions.length + 1]!;
    const without = out[versions.length + 2]!;
    expect(withSkip.ok && without.ok).toBe(true);
    expect(withSkip.ok && withSkip.rows.length).toBeGreaterThan(0);
    expect(withSkip).toEqual(without);

    // otslake's reader agrees on the file set and txn.
    const snap3 = await loadSnapshot(store);
    expect(snap3.version).toBe(3);
    expect(snap3.files.has(victim.path)).toBe(false);
    expect([...snap3.files.values()].reduce((n, a) => n + (JSON.parse(a.stats!) as { numRecords: number }).numRecords, 0)).toBe(live.length);
    expect(snap3.txns.get('otslake/t/c1')?.version).toBe(2);
    expect(snap3.tombstones.has(victim.path)).toBe(true);
  });
});

describe('commit concurrency', () => {
  it('racing appenders lose no commit and produce contiguous versions', async () => {
    const s = store;
    await createTable(s, { schema: SCHEMA, partitionColumns: ['day'] });
    const writers = 4;
    const perWriter = 5;
    const results = await Promise.all(
      Array.from({ length: writers }, async (_, w) => {
        const versions: number[] = [];
        for (let n = 1; n <= perWriter; n++) {
          // Each writer only knows its own last commit: a stale view of everyone else's on purpose.
          const readVersion = versions.at(-1) ?? 0;
          const { result } = await appendRows(s, SCHEMA, [makeRow(w * 100 + n, '2024-01-01')], readVersion, [txnAction(`otslake/t/w${w}`, n)]);
          expect(result.kind).toBe('committed');
          if (result.kind === 'committed') versions.push(result.version);
        }
        return versions;
      }),
    );
    const all = results.flat().sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: writers * perWriter }, (_, i) => i + 1));
    const logFiles = (await readdir(path.join(dir, '_delta_log'))).filter((f) => f.endsWith('.json'));
    expect(logFiles).toHaveLength(writers * perWriter + 1);
    const snap = await loadSnapshot(store);
    expect(snap.files.size).toBe(writers * perWriter);
    for (let w = 0; w < writers; w++) expect(snap.txns.get(`otslake/t/w${w}`)?.version).toBe(perWriter);
  });

  it('fences a writer whose appId another writer committed meanwhile', async () => {
    await createTable(store, { schema: SCHEMA, partitionColumns: ['day'] });
    const a = await appendRows(store, SCHEMA, [makeRow(1, '2024-01-01')], 0, [txnAction('otslake/t/c7', 1)]);
    expect(a.result).toMatchObject({ kind: 'committed', version: 1 });
    // An unrelated append lands too; the stale writer must look past it and still see the fence.
    await appendRows(store, SCHEMA, [makeRow(2, '2024-01-01')], 1, [txnAction('otslake/t/other', 1)]);
    const b = await appendRows(store, SCHEMA, [makeRow(3, '2024-01-01')], 0, [txnAction('otslake/t/c7', 1)]);
    expect(b.result).toEqual({
      kind: 'conflict',
      winningVersion: 1,
      fenced: true,
      reason: expect.stringContaining('otslake/t/c7'),
      // The winner it read, for the caller's view.
      others: [expect.objectContaining({ version: 1, txns: [expect.objectContaining({ appId: 'otslake/t/c7' })] })],
    });
    expect((await loadSnapshot(store)).version).toBe(2);
  });

  it('recognises its own commit when the put succeeded but its response was lost', async () => {
    await createTable(store, { schema: SCHEMA, partitionColumns: ['day'] });
    let dropped = 0;
    const flaky = new (class extends LocalStore {
      override async put(key: string, body: Uint8Array | AsyncIterable<Uint8Array>, options: PutOptions = {}) {
        const meta = await super.put(key, body, options);
        if (options.ifAbsent && key.endsWith('.json') && dropped === 0) {
          dropped += 1;
          throw new OtslakeError('OTSL_LAKE_IO', 'connection reset after the request was sent', { retriable: true, context: { key } });
        }
        return meta;
      }
    })(dir, { fsync: false });
    const { result } = await appendRows(flaky, SCHEMA, [makeRow(1, '2024-01-01')], 0, [txnAction('otslake/t/c1', 1)]);
    expect(dropped).toBe(1);
    expect(result).toMatchObject({ kind: 'committed', version: 1, attempts: 1, others: [] });
    // The committed actions it reports are the log's (what the Iceberg sync is handed).
    const logged = (await readFile(path.join(dir, '_delta_log', '00000000000000000001.json'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as unknown);
    expect(result.kind === 'committed' ? result.actions : null).toEqual(logged);
    const logFiles = (await readdir(path.join(dir, '_delta_log'))).filter((f) => f.endsWith('.json'));
    expect(logFiles).toEqual(['00000000000000000000.json', '00000000000000000001.json']);
  });

  it('refuses to create a table that exists', async () => {
    expect((await createTable(store, { schema: SCHEMA })).kind).toBe('committed');
    expect(await createTable(store, { schema: SCHEMA })).toMatchObject({
      kind: 'conflict',
      winningVersion: 0,
      fenced: false,
      reason: 'the table already exists',
    });
  });
});
