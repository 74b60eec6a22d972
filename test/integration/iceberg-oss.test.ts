/**
 * Iceberg metadata of a Delta table on OSS (the OSS emulator through ali-oss), read by ClickHouse's
 * Iceberg reader over the S3 protocol (chdb icebergS3) and compared with delta-kernel-rs
 * (deltaLakeS3) at every version: appends, a new column, a copy-on-write overwrite, compaction; a
 * partitioned table (partition columns materialized in its files) with every column compared.
 * The metadata commit is put-if-absent on OSS too (x-oss-forbid-overwrite).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OssEmulator } from '../../emulator/oss/server.js';
import { parseSchema, type StructType } from '../../lake/actions.js';
import { compactTable } from '../../lake/compaction.js';
import { IcebergSync } from '../../lake/iceberg/sync.js';
import type { TableMetadata } from '../../lake/iceberg/table-metadata.js';
import type { OssStore } from '../../lake/oss-store.js';
import { dataColumnsOf } from '../../lake/parquet-columns.js';
import { materializedPartitionsOf } from '../../lake/partition-columns.js';
import { writeParquetFiles } from '../../lake/parquet-file.js';
import { loadSnapshot } from '../../lake/snapshot.js';
import { addColumns, createTable } from '../../lake/table-create.js';
import { addActionFor, commit, removeActionFor } from '../../lake/transaction.js';
import { icebergSql, runChdb } from '../helpers/chdb.js';
import { openTestOssStore, startTestOss } from '../helpers/oss.js';

const SCHEMA: StructType = {
  type: 'struct',
  fields: [
    { name: 'id', type: 'long', nullable: false, metadata: {} },
    { name: 'name', type: 'string', nullable: true, metadata: {} },
    { name: '_ts', type: 'timestamp', nullable: true, metadata: {} },
    { name: '_deleted_columns', type: { type: 'array', elementType: 'string', containsNull: true }, nullable: true, metadata: {} },
  ],
};

const row = (i: number, extra: Record<string, unknown> = {}) => ({
  id: 2n ** 53n + BigInt(i),
  name: i % 3 === 0 ? null : `name ${i}`,
  _ts: 1_700_000_000_000_001n + BigInt(i) * 999n,
  _deleted_columns: i % 2 ? ['x'] : null,
  ...extra,
});

let emulator: OssEmulator;
let store: OssStore;
const PREFIX = 'tables/iceberg/orders';

beforeAll(async () => {
  emulator = await startTestOss('otslake-iceberg');
  store = openTestOssStore(emulator, 'path', { prefix: PREFIX });
});

afterAll(async () => {
  await store?.close();
  await emulator?.close();
});

/** Every snapshot of `metadata` read by icebergS3 equal to deltaLakeS3 at the Delta version it mirrors, every column. */
async function expectSameOnOss(prefix: string, metadata: TableMetadata): Promise<void> {
  const url = `${emulator.endpoint}/${emulator.bucket}/${prefix}/`;
  const settings = "session_timezone='UTC', output_format_json_quote_64bit_integers=1";
  const sqls: string[] = [];
  for (const s of metadata.snapshots) {
    const dv = Number(s.summary['otslake.delta.version']);
    sqls.push(`SELECT * FROM deltaLakeS3('${url}', 'ak', 'sk') ORDER BY id SETTINGS ${settings}, delta_lake_snapshot_version=${dv}`);
    sqls.push(icebergSql('/unused', { snapshotId: s['snapshot-id'], orderBy: 'id' }, `icebergS3('${url}', 'ak', 'sk')`));
  }
  const out = await runChdb(sqls);
  for (let i = 0; i < out.length; i += 2) {
    const delta = out[i]!;
    const iceberg = out[i + 1]!;
    if (!delta.ok) throw new Error(`deltaLakeS3: ${delta.error}`);
    if (!iceberg.ok) throw new Error(`icebergS3: ${iceberg.error}`);
    expect(iceberg.rows, `snapshot ${i / 2}`).toEqual(delta.rows);
    expect(delta.rows.length).toBeGreaterThan(0);
  }
}

describe('Iceberg metadata of a Delta table on OSS', () => {
  it('is read by chdb icebergS3 equal to deltaLakeS3 at every version', async () => {
    const created = await createTable(store, { schema: SCHEMA });
    const sync = new IcebergSync(store);
    await sync.sync();
    let v = 0;
    const append = async (schema: StructType, rows: Record<string, unknown>[], extra: Parameters<typeof commit>[1] = []) => {
      const files = await writeParquetFiles(rows, { store, columns: dataColumnsOf(schema) });
      const result = await commit(store, [...extra, ...files.map((f) => addActionFor(f))], { readVersion: v, operation: 'WRITE' });
      if (result.kind !== 'committed') throw new Error(result.reason);
      v = result.version;
      await sync.sync();
    };
    await append(SCHEMA, [row(1), row(2), row(3)]);
    await append(SCHEMA, [row(4), row(5)]);
    const meta = addColumns(created.metadata, [{ name: 'note', type: 'string' }]);
    const schema2 = parseSchema(meta.schemaString);
    await append(schema2, [row(6, { note: 'n6' }), row(7)], [{ metaData: meta }]);
    const snap = await loadSnapshot(store);
    const victim = [...snap.files.values()][0]!;
    const rewritten = await writeParquetFiles([row(100, { note: 'cow' })], { store, columns: dataColumnsOf(schema2) });
    const cow = await commit(store, [removeActionFor(victim, { dataChange: true }), ...rewritten.map((f) => addActionFor(f))], {
      readVersion: v,
      readMetadata: meta,
      operation: 'MERGE',
    });
    if (cow.kind !== 'committed') throw new Error(cow.reason);
    v = cow.version;
    await sync.sync();
    expect(await compactTable(store)).toMatchObject({ kind: 'compacted' });
    v += 1;
    expect(await sync.sync()).toMatchObject({ kind: 'synced', deltaVersion: v });

    // The metadata commit went through the emulator as a put that refuses to overwrite.
    const metadataPuts = emulator.requests.filter((r) => r.op === 'PutObject' && /metadata\/v\d+\.metadata\.json$/.test(r.key));
    expect(metadataPuts.length).toBe(6);
    const metadata = JSON.parse(new TextDecoder().decode(await store.get('metadata/v6.metadata.json'))) as TableMetadata;
    expect(metadata.location).toBe(`oss://${emulator.bucket}/${PREFIX}`);
    expect(metadata.snapshots.map((s) => s.summary.operation)).toEqual(['append', 'append', 'append', 'overwrite', 'replace']);

    await expectSameOnOss(PREFIX, metadata);

    // Two writers racing for the next metadata version on OSS: one wins, the other finds its work done.
    const files = await writeParquetFiles([row(500, { note: 'race' })], { store, columns: dataColumnsOf(schema2) });
    expect(
      await commit(
        store,
        files.map((f) => addActionFor(f)),
        { readVersion: v, operation: 'WRITE' },
      ),
    ).toMatchObject({ kind: 'committed' });
    const second = openTestOssStore(emulator, 'virtual-host', { prefix: PREFIX });
    try {
      const results = await Promise.all([sync.sync(), new IcebergSync(second).sync()]);
      expect(results.map((r) => r.deltaVersion)).toEqual([v + 1, v + 1]);
      expect(results.map((r) => r.metadataVersion).sort()).toEqual([7, 7]);
      expect(await store.head('metadata/v8.metadata.json')).toBeNull();
    } finally {
      await second.close();
    }
  });

  it('of a partitioned table (materialized partition columns) is read by icebergS3 equal to deltaLakeS3, every column, after compaction and a removal', async () => {
    const prefix = 'tables/iceberg/events';
    const events = openTestOssStore(emulator, 'path', { prefix });
    try {
      const schema: StructType = {
        type: 'struct',
        fields: [
          ...SCHEMA.fields,
          { name: 'region', type: 'string', nullable: true, metadata: {} },
          { name: '_date', type: 'date', nullable: true, metadata: {} },
        ],
      };
      const partitionColumns = ['region', '_date'];
      await createTable(events, { schema, partitionColumns, configuration: { 'delta.appendOnly': 'false' } });
      const snap0 = await loadSnapshot(events);
      const materialized = materializedPartitionsOf(snap0.protocol, snap0.metadata, schema);
      expect(materialized.map((c) => [c.name, c.type])).toEqual([
        ['region', 'string'],
        ['_date', 'date'],
      ]);
      const sync = new IcebergSync(events);
      let v = 0;
      for (let b = 0; b < 2; b++) {
        const adds = [];
        for (const region of ['eu', 'ap', null])
          for (const date of ['2024-03-01', '2024-03-02']) {
            const rows = [1, 2, 3].map((i) => row(b * 1000 + i * 10 + (region === 'eu' ? 1 : region === 'ap' ? 2 : 3) * 100 + (date.endsWith('1') ? 0 : 1)));
            const files = await writeParquetFiles(rows, {
              store: events,
              columns: dataColumnsOf(schema, partitionColumns),
              partitionColumns: materialized,
              partitionValues: { region, _date: date },
            });
            adds.push(...files.map((f) => addActionFor(f)));
          }
        const result = await commit(events, adds, { readVersion: v, operation: 'WRITE' });
        if (result.kind !== 'committed') throw new Error(result.reason);
        v = result.version;
        await sync.sync();
      }
      expect(await compactTable(events)).toMatchObject({ kind: 'compacted' });
      await sync.sync();
      const snap = await loadSnapshot(events);
      const oldDay = [...snap.files.values()].filter((a) => a.partitionValues._date === '2024-03-01');
      const removed = await commit(
        events,
        oldDay.map((a) => removeActionFor(a, { dataChange: true })),
        { readVersion: snap.version, readMetadata: snap.metadata, operation: 'DELETE' },
      );
      expect(removed).toMatchObject({ kind: 'committed' });
      expect(await sync.sync()).toMatchObject({ kind: 'synced', deltaVersion: snap.version + 1 });
      const hint = new TextDecoder().decode(await events.get('metadata/version-hint.text')).trim();
      const metadata = JSON.parse(new TextDecoder().decode(await events.get(`metadata/v${hint}.metadata.json`))) as TableMetadata;
      expect(metadata.snapshots.map((s) => s.summary.operation)).toEqual(['append', 'append', 'replace', 'delete']);
      await expectSameOnOss(prefix, metadata);
    } finally {
      await events.close();
    }
  });
});
