/**
 * Iceberg metadata kept in step with Delta tables written by otslake's own lake code, read back by
 * ClickHouse's Iceberg reader (chdb icebergLocal) and compared with delta-kernel-rs (chdb
 * deltaLakeLocal) at every version: changelog-like appends, a schema addition, compaction, a
 * copy-on-write overwrite, a partitioned table (and one partitioned by longs beyond 2^53), vacuum
 * with aligned snapshot expiry, racing syncs, a sync that crashed between the Delta and the Iceberg
 * commit.
 */
import { cp, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OtslakeError } from '../../common/errors.js';
import { parseSchema, type Action, type StructType } from '../../lake/actions.js';
import { compactTable } from '../../lake/compaction.js';
import { readManifest, readManifestList } from '../../lake/iceberg/manifests.js';
import { IcebergSync, syncIceberg } from '../../lake/iceberg/sync.js';
import { LocalStore } from '../../lake/local-store.js';
import type { PutOptions } from '../../lake/object-store.js';
import { dataColumnsOf } from '../../lake/parquet-columns.js';
import { readParquetRows } from '../../lake/parquet-read.js';
import { materializedPartitionsOf } from '../../lake/partition-columns.js';
import { writeParquetFiles } from '../../lake/parquet-file.js';
import { loadSnapshot } from '../../lake/snapshot.js';
import { addColumns, createTable } from '../../lake/table-create.js';
import { addActionFor, commit, removeActionFor, txnAction } from '../../lake/transaction.js';
import { vacuum } from '../../lake/vacuum.js';
import { icebergSql, runChdb } from '../helpers/chdb.js';
import { expectSameAtEveryVersion, icebergMetadata, parquetFieldIds } from '../helpers/iceberg.js';
import { createTmpDir, type TmpDir } from '../helpers/tmp-dir.js';

const CHANGELOG: StructType = {
  type: 'struct',
  fields: [
    { name: 'id', type: 'long', nullable: false, metadata: {} },
    { name: 'name', type: 'string', nullable: true, metadata: {} },
    { name: 'amount', type: 'double', nullable: true, metadata: {} },
    { name: 'paid', type: 'boolean', nullable: true, metadata: {} },
    { name: 'payload', type: 'binary', nullable: true, metadata: {} },
    { name: '_ts', type: 'timestamp', nullable: true, metadata: {} },
    { name: '_deleted_columns', type: { type: 'array', elementType: 'string', containsNull: true }, nullable: true, metadata: {} },
  ],
};

const BASE = 2n ** 40n;
function row(i: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: BASE + BigInt(i),
    name: i % 4 === 0 ? null : `name ${i} ${'é'.repeat(i % 3)}`,
    amount: i % 5 === 0 ? null : i * 0.25 - 3,
    paid: i % 3 === 0 ? null : i % 2 === 0,
    payload: i % 6 === 0 ? null : new Uint8Array([i & 255, 1, 2]),
    _ts: i % 7 === 0 ? null : 1_700_000_000_000_001n + BigInt(i) * 1_000_003n,
    _deleted_columns: i % 2 === 0 ? ['name', `c${i}`] : null,
    ...extra,
  };
}

let tmp: TmpDir;
let store: LocalStore;
beforeEach(async () => {
  tmp = await createTmpDir('otslake-iceberg-');
  store = new LocalStore(tmp.path, { fsync: false });
});
afterEach(async () => {
  await tmp.cleanup();
});

async function append(
  schema: StructType,
  rows: Record<string, unknown>[],
  readVersion: number,
  options: { extra?: Action[]; partitionColumns?: string[] } = {},
) {
  const partitionColumns = options.partitionColumns ?? [];
  const groups = new Map<string, Record<string, unknown>[]>();
  for (const r of rows) {
    const key = JSON.stringify(partitionColumns.map((c) => (r[c] === null || r[c] === undefined ? null : String(r[c]))));
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const adds: Action[] = [];
  // The table's protocol says whether its files hold the partition columns (lake/partition-columns.ts).
  const table = await loadSnapshot(store);
  const materialized = materializedPartitionsOf(table.protocol, table.metadata, schema);
  for (const [key, group] of groups) {
    const values = JSON.parse(key) as (string | number | null)[];
    const partitionValues = Object.fromEntries(partitionColumns.map((c, i) => [c, values[i] === null ? null : String(values[i])]));
    // Two files per group: several manifests entries per commit.
    for (const half of [group.slice(0, Math.ceil(group.length / 2)), group.slice(Math.ceil(group.length / 2))]) {
      if (half.length === 0) continue;
      const files = await writeParquetFiles(half, { store, columns: dataColumnsOf(schema, partitionColumns), partitionColumns: materialized, partitionValues });
      adds.push(...files.map((f) => addActionFor(f)));
    }
  }
  const result = await commit(store, [...(options.extra ?? []), ...adds], { readVersion, operation: 'WRITE' });
  if (result.kind !== 'committed') throw new Error(`commit failed: ${result.reason}`);
  return result.version;
}

describe('Iceberg metadata of a changelog-like table', () => {
  it('mirrors appends, a new column, compaction and a copy-on-write overwrite; every version reads equal', async () => {
    const created = await createTable(store, { schema: CHANGELOG });
    const sync = new IcebergSync(store);
    expect(await sync.sync()).toMatchObject({ kind: 'synced', deltaVersion: 0, snapshots: 0, metadataVersion: 1 });
    expect(await sync.sync()).toMatchObject({ kind: 'up-to-date', deltaVersion: 0 });

    let v = await append(
      CHANGELOG,
      Array.from({ length: 30 }, (_, i) => row(i)),
      0,
      { extra: [txnAction('otslake/t/c1', 1)] },
    );
    expect(await sync.sync()).toMatchObject({ kind: 'synced', deltaVersion: 1, snapshots: 1 });
    v = await append(
      CHANGELOG,
      Array.from({ length: 30 }, (_, i) => row(100 + i)),
      v,
    );
    // The caller's own commit, handed over: no listing or reading of the log.
    const committed = (await readFile(path.join(tmp.path, '_delta_log', `${String(v).padStart(20, '0')}.json`), 'utf8')).split('\n').filter(Boolean);
    expect(await sync.sync({ version: v, actions: committed.map((l) => JSON.parse(l) as Action) })).toMatchObject({ deltaVersion: 2, snapshots: 1 });

    // Schema evolution: `note` arrives with its first file.
    const meta3 = addColumns(created.metadata, [{ name: 'note', type: 'string' }]);
    const schema3 = parseSchema(meta3.schemaString);
    v = await append(
      schema3,
      Array.from({ length: 20 }, (_, i) => row(200 + i, { note: i % 2 ? `n${i}` : null })),
      v,
      { extra: [{ metaData: meta3 }] },
    );
    await sync.sync();

    // Compaction: dataChange=false rewrite → an Iceberg replace.
    const compacted = await compactTable(store);
    expect(compacted).toMatchObject({ kind: 'compacted' });
    await sync.sync();

    // Copy-on-write: one file replaced by a rewrite without its even ids → an overwrite.
    const snap = await loadSnapshot(store);
    const victim = [...snap.files.values()][0]!;
    const rewritten = await writeParquetFiles([row(200_001, { note: 'rewritten' })], { store, columns: dataColumnsOf(schema3) });
    const cow = await commit(store, [removeActionFor(victim, { dataChange: true }), ...rewritten.map((f) => addActionFor(f))], {
      readVersion: snap.version,
      readMetadata: meta3,
      operation: 'MERGE',
    });
    expect(cow).toMatchObject({ kind: 'committed' });
    // A commit without file actions (positions only) moves the mirrored version, not the snapshots.
    const txnOnly = await commit(store, [txnAction('otslake/t/c1', 2)], { readVersion: snap.version + 1, operation: 'STREAMING UPDATE' });
    expect(txnOnly).toMatchObject({ kind: 'committed', version: 6 });
    expect(await sync.sync()).toMatchObject({ kind: 'synced', deltaVersion: 6, snapshots: 1 });

    const metadata = await icebergMetadata(tmp.path);
    expect(metadata.snapshots.map((s) => [s.summary.operation, s.summary['otslake.delta.version']])).toEqual([
      ['append', '1'],
      ['append', '2'],
      ['append', '3'],
      ['replace', '4'],
      ['overwrite', '5'],
    ]);
    expect(metadata.properties['otslake.delta.version']).toBe('6');
    // Field ids: assigned once, the new column after the list element, never renumbered.
    expect(metadata.schemas.map((s) => s.fields.map((f) => [f.name, f.id]))).toEqual([
      [
        ['id', 1],
        ['name', 2],
        ['amount', 3],
        ['paid', 4],
        ['payload', 5],
        ['_ts', 6],
        ['_deleted_columns', 7],
      ],
      [
        ['id', 1],
        ['name', 2],
        ['amount', 3],
        ['paid', 4],
        ['payload', 5],
        ['_ts', 6],
        ['_deleted_columns', 7],
        ['note', 9],
      ],
    ]);
    expect(metadata['last-column-id']).toBe(9);
    expect(metadata.snapshots.map((s) => s['schema-id'])).toEqual([0, 0, 1, 1, 1]);

    await expectSameAtEveryVersion(tmp.path, [0, 1, 2, 3, 4, 5, 6]);
    // Predicates that prune on the manifest bounds (ids, strings cut by Delta, ms-truncated timestamps).
    const last = 200_001;
    await expectSameAtEveryVersion(tmp.path, [6], { where: `id = ${BASE + BigInt(last)}` });
    await expectSameAtEveryVersion(tmp.path, [6], { where: `_ts >= toDateTime64('2023-11-14 22:13:20.100004', 6, 'UTC')` });
    await expectSameAtEveryVersion(tmp.path, [6], { where: `name >= 'name 21' AND amount > 0` });
  });

  it('expires snapshots whose files vacuum deleted, and only those; the rest stay readable', async () => {
    await createTable(store, { schema: CHANGELOG, configuration: { 'delta.deletedFileRetentionDuration': 'interval 1 hour' } });
    let now = Date.now();
    const sync = new IcebergSync(store, { nowMs: () => now });
    let v = 0;
    for (let b = 0; b < 3; b++)
      v = await append(
        CHANGELOG,
        Array.from({ length: 10 }, (_, i) => row(b * 100 + i)),
        v,
      );
    await sync.sync();
    await compactTable(store);
    await sync.sync();
    v = await append(CHANGELOG, [row(900)], v + 1);
    await sync.sync();
    expect((await icebergMetadata(tmp.path)).snapshots).toHaveLength(3);

    // Two hours later, vacuum deletes the compacted-away files: the snapshots before the compaction go.
    now += 2 * 3_600_000;
    const vacuumed = await vacuum(store, { dryRun: false, nowMs: now });
    expect(vacuumed.files.length).toBeGreaterThan(0);
    expect(await sync.expire()).toMatchObject({ expired: 1 });
    const metadata = await icebergMetadata(tmp.path);
    expect(metadata.snapshots.map((s) => s.summary.operation)).toEqual(['replace', 'append']);
    // Every kept snapshot's files exist; the expired snapshot's manifest list is gone.
    const listed = await readdir(path.join(tmp.path, 'metadata'));
    for (const s of metadata.snapshots) expect(listed).toContain(path.basename(s['manifest-list']));
    expect(listed.filter((f) => f.startsWith('snap-'))).toHaveLength(2);
    await expectSameAtEveryVersion(tmp.path, [4, 5]);
  });
});

describe('Iceberg metadata of a partitioned table', () => {
  const schema: StructType = {
    type: 'struct',
    fields: [
      { name: 'id', type: 'long', nullable: false, metadata: {} },
      { name: 'v', type: 'string', nullable: true, metadata: {} },
      { name: 'day', type: 'string', nullable: true, metadata: {} },
      { name: 'shard', type: 'long', nullable: true, metadata: {} },
      { name: 'dt', type: 'date', nullable: true, metadata: {} },
    ],
  };
  const partitionColumns = ['day', 'shard', 'dt'];
  // Partition values as Delta serializes them: dt is a date, '' and null are the null partition.
  const mk = (i: number) => ({
    id: BigInt(i),
    v: `v${i}`,
    day: i % 5 === 0 ? null : i % 7 === 0 ? '' : `2024-01-0${(i % 3) + 1}`,
    shard: BigInt(i % 2),
    dt: i % 11 === 0 ? null : `2023-12-${String(20 + (i % 4)).padStart(2, '0')}`,
  });

  /** Every data file's Iceberg partition data equals its Delta partitionValues, typed. */
  async function expectPartitionDataOfDelta(): Promise<void> {
    const metadata = await icebergMetadata(tmp.path);
    const snapshot = await loadSnapshot(store);
    const manifestList = await readManifestList(store, metadata.snapshots.at(-1)!['manifest-list'].slice(metadata.location.length + 1));
    const entries = (await Promise.all(manifestList.map((m) => readManifest(store, m.manifest_path.slice(metadata.location.length + 1))))).flat();
    const partitions = new Map(
      entries.filter((e) => e.status !== 2).map((e) => [e.data_file.file_path.slice(metadata.location.length + 1), e.data_file.partition]),
    );
    expect(partitions.size).toBe(snapshot.files.size);
    for (const add of snapshot.files.values()) {
      const pv = add.partitionValues;
      expect(partitions.get(decodeURIComponent(add.path)), add.path).toEqual({
        day: pv.day || null,
        shard: pv.shard === null || pv.shard === undefined ? null : Number(pv.shard),
        dt: pv.dt ? Math.floor(Date.parse(`${pv.dt}T00:00:00Z`) / 86_400_000) : null,
      });
    }
  }

  it('materializes the partition columns (writer feature); every column of every version reads equal, after compaction and removals too', async () => {
    await createTable(store, { schema, partitionColumns, configuration: { 'delta.appendOnly': 'false' } });
    expect((await loadSnapshot(store)).protocol).toEqual({
      minReaderVersion: 1,
      minWriterVersion: 7,
      writerFeatures: ['appendOnly', 'invariants', 'materializePartitionColumns'],
    });
    const sync = new IcebergSync(store);
    let v = 0;
    for (let b = 0; b < 3; b++) {
      v = await append(
        schema,
        Array.from({ length: 40 }, (_, i) => mk(b * 100 + i)),
        v,
        { partitionColumns },
      );
      await sync.sync();
    }
    const metadata = await icebergMetadata(tmp.path);
    expect(metadata['partition-specs']).toEqual([
      {
        'spec-id': 0,
        fields: [
          { 'source-id': 3, 'field-id': 1000, name: 'day', transform: 'identity' },
          { 'source-id': 4, 'field-id': 1001, name: 'shard', transform: 'identity' },
          { 'source-id': 5, 'field-id': 1002, name: 'dt', transform: 'identity' },
        ],
      },
    ]);
    // The files hold the partition columns, after the data columns, with their field ids and the partition's value.
    const file = [...(await loadSnapshot(store)).files.values()].find((a) => a.partitionValues.day === '2024-01-02' && a.partitionValues.dt !== null)!;
    const bytes = await store.get(decodeURIComponent(file.path));
    expect(parquetFieldIds(bytes)).toEqual([
      ['id', 1],
      ['v', 2],
      ['day', 3],
      ['shard', 4],
      ['dt', 5],
    ]);
    const rows = await readParquetRows(bytes);
    expect(new Set(rows.map((r) => `${String(r.day)}|${String(r.shard)}|${String(r.dt instanceof Date ? r.dt.toISOString().slice(0, 10) : r.dt)}`))).toEqual(
      new Set([`2024-01-02|${file.partitionValues.shard}|${file.partitionValues.dt}`]),
    );

    // Compaction keeps them (from the bins' partition values); a removal (retention-like) drops files.
    expect(await compactTable(store)).toMatchObject({ kind: 'compacted' });
    await sync.sync();
    const snap = await loadSnapshot(store);
    const old = [...snap.files.values()].filter((a) => a.partitionValues.dt === '2023-12-20');
    expect(old.length).toBeGreaterThan(0);
    const removed = await commit(
      store,
      old.map((a) => removeActionFor(a, { dataChange: true })),
      { readVersion: snap.version, readMetadata: snap.metadata, operation: 'DELETE' },
    );
    expect(removed).toMatchObject({ kind: 'committed' });
    await sync.sync();
    await expectPartitionDataOfDelta();
    const versions = Array.from({ length: (removed as { version: number }).version + 1 }, (_, i) => i);
    await expectSameAtEveryVersion(tmp.path, versions);
    await expectSameAtEveryVersion(tmp.path, [versions.at(-1)!], { where: `day = '2024-01-02' AND shard = 1` });
    await expectSameAtEveryVersion(tmp.path, [versions.at(-1)!], { where: `day IS NULL` });
    await expectSameAtEveryVersion(tmp.path, [versions.at(-1)!], { where: `dt = '2023-12-21'` });
  });

  it('of a table created before the feature (partition columns only in partitionValues) stays as it was', async () => {
    await createTable(store, { schema, partitionColumns, materializePartitionColumns: false });
    expect((await loadSnapshot(store)).protocol).toEqual({ minReaderVersion: 1, minWriterVersion: 2 });
    const sync = new IcebergSync(store);
    const v = await append(
      schema,
      Array.from({ length: 40 }, (_, i) => mk(i)),
      0,
      { partitionColumns },
    );
    await sync.sync();
    expect(await compactTable(store)).toMatchObject({ kind: 'compacted' });
    await sync.sync();
    for (const add of (await loadSnapshot(store)).files.values()) {
      expect(parquetFieldIds(await store.get(decodeURIComponent(add.path))).map(([n]) => n)).toEqual(['id', 'v']);
    }
    // The partition data is in the manifests; the stored columns read equal. ClickHouse before 26.8
    // reads the partition columns of such files as NULL (ClickHouse#116129), so only from 26.8 on all of them.
    await expectPartitionDataOfDelta();
    await expectSameAtEveryVersion(tmp.path, [0, v, v + 1], { select: (await chdbFillsIdentity()) ? '*' : 'id, v' });
  });
});

describe('Iceberg metadata of a table partitioned by a long column', () => {
  it('holds values beyond 2^53 exactly: in the manifests, their summaries, and as chdb reads and filters them', async () => {
    const schema: StructType = {
      type: 'struct',
      fields: [
        { name: 'id', type: 'long', nullable: false, metadata: {} },
        { name: 'v', type: 'string', nullable: true, metadata: {} },
        { name: 'shard', type: 'long', nullable: true, metadata: {} },
      ],
    };
    // Each beside the neighbour a double would round it to: a value read through a double lands in the wrong partition.
    const shards = [9007199254740993n, -9007199254740993n, 9007199254740992n, -9007199254740992n, 1n];
    await createTable(store, { schema, partitionColumns: ['shard'] });
    const v = await append(
      schema,
      Array.from({ length: 10 }, (_, i) => ({ id: BigInt(i), v: `v${i}`, shard: shards[i % shards.length]! })),
      0,
      { partitionColumns: ['shard'] },
    );
    await new IcebergSync(store).sync();

    const metadata = await icebergMetadata(tmp.path);
    const relative = (p: string) => p.slice(metadata.location.length + 1);
    const manifestList = await readManifestList(store, relative(metadata.snapshots.at(-1)!['manifest-list']));
    const entries = (await Promise.all(manifestList.map((m) => readManifest(store, relative(m.manifest_path))))).flat();
    expect(new Set(entries.map((e) => e.data_file.partition.shard))).toEqual(
      new Set([9007199254740993n, -9007199254740993n, 9007199254740992n, -9007199254740992n, 1]),
    );
    const summaries = manifestList.flatMap((m) => m.partitions!);
    const lowest = summaries.map((s) => Buffer.from(s.lower_bound!).readBigInt64LE()).reduce((a, b) => (a < b ? a : b));
    const highest = summaries.map((s) => Buffer.from(s.upper_bound!).readBigInt64LE()).reduce((a, b) => (a > b ? a : b));
    expect([lowest, highest]).toEqual([-9007199254740993n, 9007199254740993n]);

    await expectSameAtEveryVersion(tmp.path, [v]);
    const values = ['9007199254740993', '-9007199254740993', '9007199254740992'];
    const out = await runChdb(values.map((s) => icebergSql(tmp.path, { select: 'id, shard', where: `shard = ${s}`, orderBy: 'id' })));
    for (const [i, s] of values.entries()) {
      const ids = Array.from({ length: 10 }, (_, n) => n).filter((n) => shards[n % shards.length] === BigInt(s));
      expect(out[i], `shard = ${s}`).toEqual({ ok: true, rows: ids.map((n) => ({ id: String(n), shard: s })) });
    }
  });
});

/** ClickHouse 26.8+ takes identity-partition columns missing from a file from the manifests. */
async function chdbFillsIdentity(): Promise<boolean> {
  const [version] = await runChdb(['SELECT version() AS v']);
  const [major, minor] = String((version as unknown as { rows: { v: string }[] }).rows[0]!.v)
    .split('.')
    .map(Number);
  return major! > 26 || (major === 26 && minor! >= 8);
}

/** A store whose metadata commits can be made to fail, as a crash between the two commits would. */
class CrashingStore extends LocalStore {
  failMetadataCommit = false;
  override async put(key: string, body: Uint8Array | AsyncIterable<Uint8Array>, options?: PutOptions) {
    if (this.failMetadataCommit && /^metadata\/v\d+\.metadata\.json$/.test(key)) throw new OtslakeError('OTSL_LAKE_IO', 'simulated crash');
    return super.put(key, body, options);
  }
}

describe('Iceberg metadata commits', () => {
  it('of racing writers make one linear history, each Delta version mirrored once', async () => {
    await createTable(store, { schema: CHANGELOG });
    const writers = [new IcebergSync(store), new IcebergSync(new LocalStore(tmp.path, { fsync: false }))];
    let v = 0;
    for (let b = 0; b < 4; b++) {
      v = await append(CHANGELOG, [row(b), row(b + 50)], v);
      const results = await Promise.all(writers.map((w) => w.sync()));
      expect(results.every((r) => r.deltaVersion === v)).toBe(true);
    }
    const metadata = await icebergMetadata(tmp.path);
    const deltaVersions = metadata.snapshots.map((s) => s.summary['otslake.delta.version']);
    expect(deltaVersions).toEqual(['1', '2', '3', '4']);
    for (let i = 1; i < metadata.snapshots.length; i++) {
      expect(metadata.snapshots[i]!['parent-snapshot-id']).toBe(metadata.snapshots[i - 1]!['snapshot-id']);
      expect(metadata.snapshots[i]!['sequence-number']).toBe(metadata.snapshots[i - 1]!['sequence-number'] + 1);
    }
    // The losers deleted what they wrote: every Avro file is reachable from the metadata.
    const avro = (await readdir(path.join(tmp.path, 'metadata'))).filter((f) => f.endsWith('.avro'));
    expect(avro.filter((f) => f.startsWith('snap-'))).toHaveLength(4);
    await expectSameAtEveryVersion(tmp.path, [1, 2, 3, 4]);
  });

  it('catch up after a crash between the Delta and the Iceberg commit, one snapshot per missed version', async () => {
    const crashing = new CrashingStore(tmp.path, { fsync: false });
    store = crashing;
    await createTable(store, { schema: CHANGELOG });
    await syncIceberg(store);
    let v = await append(CHANGELOG, [row(1)], 0);
    crashing.failMetadataCommit = true;
    await expect(syncIceberg(store)).rejects.toMatchObject({ code: 'OTSL_LAKE_IO' });
    v = await append(CHANGELOG, [row(2)], v);
    crashing.failMetadataCommit = false;
    // A fresh process: state from the metadata on disk, then the two Delta versions it lacks.
    expect(await syncIceberg(store)).toMatchObject({ kind: 'synced', deltaVersion: 2, snapshots: 2 });
    const metadata = await icebergMetadata(tmp.path);
    expect(metadata.snapshots.map((s) => s.summary['otslake.delta.version'])).toEqual(['1', '2']);
    // The crashed attempt's manifest and list stay behind (its put may have landed unseen), until
    // orphan removal finds nothing reaches them.
    const avro = async () => (await readdir(path.join(tmp.path, 'metadata'))).filter((f) => f.endsWith('.avro'));
    expect(await avro()).toHaveLength(6);
    expect(await new IcebergSync(store).removeOrphans(-60_000)).toHaveLength(2);
    expect(await avro()).toHaveLength(4);
    await expectSameAtEveryVersion(tmp.path, [1, 2]);
  });

  it('keep the metadata bounded over many commits (snapshot cap, manifest merging, old metadata files)', async () => {
    await createTable(store, { schema: CHANGELOG, configuration: { 'delta.deletedFileRetentionDuration': 'interval 1 hour' } });
    const sync = new IcebergSync(store, { maxSnapshots: 10, expireBatch: 5, maxManifests: 4, previousVersionsMax: 3 });
    let v = 0;
    for (let b = 0; b < 40; b++) {
      v = await append(CHANGELOG, [row(b)], v);
      await sync.sync();
    }
    const metadata = await icebergMetadata(tmp.path);
    expect(metadata.snapshots.length).toBeLessThanOrEqual(15);
    expect(metadata['metadata-log']).toHaveLength(3);
    const files = await readdir(path.join(tmp.path, 'metadata'));
    expect(files.filter((f) => f.endsWith('.metadata.json'))).toHaveLength(4);
    expect(files.filter((f) => f.startsWith('snap-')).length).toBe(metadata.snapshots.length);
    expect(files.filter((f) => /-m0\.avro$/.test(f)).length).toBeLessThanOrEqual(metadata.snapshots.length * 4);
    await expectSameAtEveryVersion(tmp.path, [v]);
  });

  it('refuse metadata that belongs to another Delta table', async () => {
    await createTable(store, { schema: CHANGELOG });
    await syncIceberg(store);
    const other = await createTmpDir('otslake-iceberg-other-');
    try {
      const otherStore = new LocalStore(other.path, { fsync: false });
      await createTable(otherStore, { schema: CHANGELOG });
      await cp(path.join(tmp.path, 'metadata'), path.join(other.path, 'metadata'), { recursive: true });
      await expect(syncIceberg(otherStore)).rejects.toMatchObject({ code: 'OTSL_ICEBERG_CORRUPT' });
    } finally {
      await other.cleanup();
    }
  });
});
