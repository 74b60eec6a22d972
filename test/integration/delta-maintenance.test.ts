/**
 * Compaction, vacuum and log cleanup on tables written by otslake, checked against chdb's reading
 * of the same tables before and after.
 */
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StructType } from '../../lake/actions.js';
import { checkpointIfDue } from '../../lake/checkpoint-writer.js';
import { compactTable } from '../../lake/compaction.js';
import { LocalStore } from '../../lake/local-store.js';
import { cleanupExpiredLogs } from '../../lake/log-cleanup.js';
import { dataColumnsOf } from '../../lake/parquet-columns.js';
import { writeParquetFiles } from '../../lake/parquet-file.js';
import { loadSnapshot } from '../../lake/snapshot.js';
import { createTable } from '../../lake/table-create.js';
import { addActionFor, commit, removeActionFor, txnAction } from '../../lake/transaction.js';
import { vacuum } from '../../lake/vacuum.js';
import type { PutOptions } from '../../lake/object-store.js';
import { deltaSql, runChdb } from '../helpers/chdb.js';

const SCHEMA: StructType = {
  type: 'struct',
  fields: [
    { name: 'id', type: 'long', nullable: false, metadata: {} },
    { name: '_ts', type: 'timestamp', nullable: true, metadata: {} },
    { name: 'tags', type: { type: 'array', elementType: 'string', containsNull: true }, nullable: true, metadata: {} },
    { name: 'part', type: 'string', nullable: true, metadata: {} },
  ],
};
const COLUMNS = dataColumnsOf(SCHEMA, ['part']);
const DAY = 86_400_000;

let dir: string;
let store: LocalStore;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'otslake-maint-'));
  store = new LocalStore(dir, { fsync: false });
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** One small file per commit, alternating partitions; returns the last version. */
async function appendSmallFiles(s: LocalStore, commits: number, firstVersion = 1): Promise<number> {
  let version = firstVersion - 1;
  for (let i = 0; i < commits; i++) {
    const id = BigInt(version * 100);
    const rows = [0n, 1n, 2n].map((k) => ({ id: id + k, _ts: 1_700_000_000_000_007n + id + k, tags: k === 1n ? null : [`t${k}`] }));
    const files = await writeParquetFiles(rows, { store: s, columns: COLUMNS, partitionValues: { part: i % 2 ? 'b' : 'a' } });
    const r = await commit(s, [txnAction('app', version + 1), ...files.map((f) => addActionFor(f))], { readVersion: version, operation: 'STREAMING UPDATE' });
    if (r.kind !== 'committed') throw new Error(`append failed: ${r.reason}`);
    version = r.version;
  }
  return version;
}

describe('compaction', () => {
  it('bin-packs small files per partition in one dataChange=false commit, content unchanged', async () => {
    await createTable(store, { schema: SCHEMA, partitionColumns: ['part'] });
    const last = await appendSmallFiles(store, 6);
    const before = await runChdb([deltaSql(dir, { orderBy: 'id' })]);

    const plan = await compactTable(store, { dryRun: true });
    expect(plan).toMatchObject({ kind: 'planned', snapshotVersion: last });
    expect(plan.kind === 'planned' && plan.bins.map((b) => [b.partitionValues.part, b.files.length]).sort()).toEqual([
      ['a', 3],
      ['b', 3],
    ]);
    expect((await loadSnapshot(store)).version).toBe(last); // a dry run commits nothing

    const result = await compactTable(store);
    expect(result).toMatchObject({ kind: 'compacted', version: last + 1, removed: 6 });
    const snap = await loadSnapshot(store);
    expect(snap.files.size).toBe(2);
    for (const add of snap.files.values()) {
      expect(add.dataChange).toBe(false);
      expect(JSON.parse(add.stats!)).toMatchObject({ numRecords: 9, nullCount: { id: 0, _ts: 0 } });
    }
    expect([...snap.tombstones.values()].every((r) => r.dataChange === false)).toBe(true);

    const after = await runChdb([deltaSql(dir, { orderBy: 'id' }), deltaSql(dir, { orderBy: 'id', version: last })]);
    expect(before[0]!.ok).toBe(true);
    expect(after[0]).toEqual(before[0]);
    expect(after[1]).toEqual(before[0]);
    expect(await compactTable(store)).toMatchObject({ kind: 'nothing-to-do' });
  });

  it('does not conflict with a blind append that wins the race', async () => {
    await createTable(store, { schema: SCHEMA, partitionColumns: ['part'] });
    const last = await appendSmallFiles(store, 4);
    const racing = storeWithRaceBefore(dir, `_delta_log/${String(last + 1).padStart(20, '0')}.json`, () => appendSmallFiles(store, 1, last + 1));
    const result = await compactTable(racing.store);
    expect(racing.fired()).toBe(true);
    expect(result).toMatchObject({ kind: 'compacted', version: last + 2 });
    const snap = await loadSnapshot(store);
    expect(snap.files.size).toBe(3); // two compacted files + the racing append
    const rows = await runChdb([deltaSql(dir, { select: 'id', orderBy: 'id' })]);
    expect(rows[0]!.ok && rows[0]!.rows.length).toBe(15);
  });

  it('aborts cleanly when a winner removed a file it rewrote', async () => {
    await createTable(store, { schema: SCHEMA, partitionColumns: ['part'] });
    const last = await appendSmallFiles(store, 4);
    const victim = [...(await loadSnapshot(store)).files.values()][0]!;
    const racing = storeWithRaceBefore(dir, `_delta_log/${String(last + 1).padStart(20, '0')}.json`, async () => {
      expect(await commit(store, [removeActionFor(victim, { dataChange: true })], { readVersion: last, operation: 'DELETE' })).toMatchObject({
        kind: 'committed',
      });
    });
    const before = (await store.list('')).filter((o) => o.key.endsWith('.parquet')).length;
    const result = await compactTable(racing.store);
    expect(result).toMatchObject({ kind: 'conflict', result: { fenced: false, winningVersion: last + 1 } });
    expect((await loadSnapshot(store)).version).toBe(last + 1);
    // The files it wrote were never committed and are gone again.
    expect((await store.list('')).filter((o) => o.key.endsWith('.parquet')).length).toBe(before);
  });
});

/** A store that runs `race` (once) just before the first put-if-absent of `key`: a deterministic lost race. */
function storeWithRaceBefore(root: string, key: string, race: () => Promise<unknown>) {
  let fired = false;
  const s = new (class extends LocalStore {
    override async put(k: string, body: Uint8Array | AsyncIterable<Uint8Array>, options: PutOptions = {}) {
      if (!fired && k === key && options.ifAbsent) {
        fired = true;
        await race();
      }
      return super.put(k, body, options);
    }
  })(root, { fsync: false });
  return { store: s, fired: () => fired };
}

describe('vacuum', () => {
  it('removes only unreferenced, expired files outside _-folders; dry run by default', async () => {
    await createTable(store, { schema: SCHEMA, partitionColumns: ['part'] });
    await appendSmallFiles(store, 4);
    await compactTable(store); // every original file is now a tombstone
    // An orphan from a batch that never committed, and daemon state that must survive.
    await writeParquetFiles([{ id: 1n }], { store, columns: COLUMNS, partitionValues: { part: 'a' } });
    await mkdir(path.join(dir, '_otslake/offsets/t/c'), { recursive: true });
    await writeFile(path.join(dir, '_otslake/offsets/t/c/1.json'), '{}');
    const live = new Set([...(await loadSnapshot(store)).files.keys()]);

    // Now: nothing is old enough.
    expect((await vacuum(store, { dryRun: false })).files).toEqual([]);
    // A retention shorter than the table's is refused unless asked for.
    await expect(vacuum(store, { retentionMs: 0 })).rejects.toMatchObject({ code: 'OTSL_CONFIG_INVALID' });

    const later = Date.now() + 8 * DAY;
    const dry = await vacuum(store, { nowMs: later });
    expect(dry.dryRun).toBe(true);
    expect(dry.files).toHaveLength(5); // 4 compacted-away files + 1 orphan
    expect(dry.files.every((f) => !live.has(f.key) && !f.key.startsWith('_'))).toBe(true);
    const countParquet = async () => (await store.list('')).filter((o) => o.key.endsWith('.parquet') && !o.key.startsWith('_')).length;
    expect(await countParquet()).toBe(7);

    const done = await vacuum(store, { nowMs: later, dryRun: false });
    expect(done.files).toHaveLength(5);
    expect(await countParquet()).toBe(2);
    expect(await readdir(path.join(dir, '_otslake/offsets/t/c'))).toEqual(['1.json']);
    const rows = await runChdb([deltaSql(dir, { select: 'id', orderBy: 'id' })]);
    expect(rows[0]!.ok && rows[0]!.rows.length).toBe(12);
  });
});

describe('vacuum of data under _ folders', () => {
  it('removes expired change-data files and crashed mirror staging, never other daemon state nor an unfinished resync', async () => {
    await createTable(store, { schema: SCHEMA, partitionColumns: ['part'] });
    await appendSmallFiles(store, 1);
    const state = [
      '_otslake/offsets/t/c/00000000000000000001.json',
      '_otslake/dead-letters/c/b1.jsonl',
      '_delta_log/_sidecars/x.parquet',
      // A resync still staging its snapshot (its own log names the file): it may be resumed after the retention.
      '_otslake/staging/resync-t2/_delta_log/00000000000000000000.json',
      '_otslake/staging/resync-t2/b0/part-00000-z.c000.zstd.parquet',
    ];
    const garbage = [
      '_change_data/cdc-00000-x.c000.zstd.parquet',
      '_otslake/staging/batch-1/part-00000-y.c000.zstd.parquet',
      // A finished resync's staged file the live table no longer names (its staged log was dropped at the switch).
      '_otslake/staging/resync-t1/b0/part-00000-w.c000.zstd.parquet',
    ];
    for (const key of [...state, ...garbage]) {
      await mkdir(path.dirname(path.join(dir, key)), { recursive: true });
      await writeFile(path.join(dir, key), 'x');
    }
    expect((await vacuum(store, { dryRun: true })).files).toEqual([]);
    const done = await vacuum(store, { nowMs: Date.now() + 8 * DAY, dryRun: false });
    expect(done.files.map((f) => f.key).sort()).toEqual([...garbage].sort());
    for (const key of state) expect((await store.head(key)) !== null, key).toBe(true);
    for (const key of garbage) expect(await store.head(key)).toBeNull();
  });
});

describe('log cleanup', () => {
  it('deletes expired commits only behind a checkpoint, never the newest checkpoint or later', async () => {
    await createTable(store, { schema: SCHEMA, partitionColumns: ['part'], configuration: { 'delta.checkpointInterval': '3' } });
    let version = 0;
    for (let i = 0; i < 7; i++) {
      version = await appendSmallFiles(store, 1, version + 1);
      await checkpointIfDue(store, version);
    }
    const logBefore = (await readdir(path.join(dir, '_delta_log'))).sort();
    expect(logBefore.filter((f) => f.includes('checkpoint.parquet'))).toHaveLength(2); // 3 and 6

    // Inside the retention: nothing goes.
    expect(await cleanupExpiredLogs(store)).toMatchObject({ deleted: [] });

    const later = Date.now() + 31 * DAY;
    const dry = await cleanupExpiredLogs(store, { nowMs: later, dryRun: true });
    expect(dry.anchorVersion).toBe(6);
    expect(dry.deleted.map((k) => path.basename(k)).sort()).toEqual([
      '00000000000000000000.json',
      '00000000000000000001.json',
      '00000000000000000002.json',
      '00000000000000000003.checkpoint.parquet',
      '00000000000000000003.json',
      '00000000000000000004.json',
      '00000000000000000005.json',
    ]);
    const wantRows = await runChdb([deltaSql(dir, { orderBy: 'id' })]);
    await cleanupExpiredLogs(store, { nowMs: later });
    const logAfter = (await readdir(path.join(dir, '_delta_log'))).sort();
    expect(logAfter).toEqual(['00000000000000000006.checkpoint.parquet', '00000000000000000006.json', '00000000000000000007.json', '_last_checkpoint']);
    const snap = await loadSnapshot(store);
    expect(snap.version).toBe(7);
    expect(snap.txns.get('app')?.version).toBe(7);
    expect(await runChdb([deltaSql(dir, { orderBy: 'id' })])).toEqual(wantRows);
  });

  it('deletes nothing without a checkpoint old enough', async () => {
    await createTable(store, { schema: SCHEMA, partitionColumns: ['part'] });
    await appendSmallFiles(store, 3);
    expect(await cleanupExpiredLogs(store, { nowMs: Date.now() + 365 * DAY })).toMatchObject({ anchorVersion: null, deleted: [] });
  });
});
