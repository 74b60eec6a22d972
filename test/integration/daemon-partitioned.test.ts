/**
 * A partitioned changelog table (`partitionBy: ['name']`) is valid Delta: each row lands in a file of its
 * partition (Hive-style directory, `partitionValues` in the add), the table declares the writer feature
 * materializePartitionColumns and its data files hold the partition column too (last, with its field id,
 * the partition's value), and three independent readers — chdb's Delta reader (delta-kernel), its Iceberg
 * reader (icebergLocal, every version, after a compaction too) and the project's own snapshot reader —
 * give every row back with its own value, null partition included.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { pathToFileURL } from 'node:url';
import { compactTable } from '../../lake/compaction.js';
import { syncIceberg } from '../../lake/iceberg/sync.js';
import { readParquetRows } from '../../lake/parquet-read.js';
import { decodeFilePath, loadSnapshot } from '../../lake/snapshot.js';
import { openStore } from '../../lake/store.js';
import { canonicalRows, readTableRows } from '../conformance/table-content.js';
import {
  asChanges,
  CHANGELOG_ORDER,
  createHarness,
  readChangelog,
  sortChanges,
  waitForEvent,
  waitForLakeRows,
  type Change,
  type Harness,
} from '../helpers/daemon-harness.js';
import { expectSameAtEveryVersion, icebergMetadata, parquetFieldIds } from '../helpers/iceberg.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** Names that need Hive escaping in a directory, and one Delta readers must take from the log only. */
const NAMES = ['plain', 'a/b:c', 'x=y%z', '中文'];

describe('daemon: partitioned changelog table', () => {
  it('routes each row to its partition, materialized in the data files, read back right by chdb (Delta and Iceberg) and the own reader', async () => {
    h = await createHarness();
    const base = h.config();
    const config = h.config({
      tables: base.tables.map((t) => ({ table: t.table, tunnel: t.tunnel, mode: t.mode, path: t.path, columns: t.columns, partitionBy: ['name'] })),
    });
    const { daemon, stop } = h.start({ config });
    // The tunnel exists and the (empty) snapshot is landed: every change below is a stream record.
    await waitForEvent(daemon, 'idle', 30_000);
    const changes: Change[] = [];
    for (let id = 1; id <= 12; id++) changes.push(await h.putRow(id, NAMES[id % NAMES.length]!, id));
    // Rows without a name: the null partition.
    changes.push(await h.updateRow(3, { qty: 33 }));
    changes.push(await h.deleteRow(4));
    await waitForLakeRows([daemon], h.tablePath, changes.length, 30_000);
    // More changes, through a later batch.
    changes.push(await h.putRow(20, 'plain', 20));
    changes.push(await h.updateRow(5, { name: 'a/b:c' }));
    await waitForLakeRows([daemon], h.tablePath, changes.length, 30_000);
    await waitForEvent(daemon, 'batch', 15_000);
    await stop();

    const store = openStore(pathToFileURL(h.tablePath).href);
    const snapshot = await loadSnapshot(store);
    expect(snapshot.metadata.partitionColumns).toEqual(['name']);
    expect(snapshot.protocol.writerFeatures).toContain('materializePartitionColumns');
    const nameId = (await icebergMetadata(h.tablePath)).schemas.at(-1)!.fields.find((f) => f.name === 'name')!.id;
    const seen = new Set<string | null>();
    for (const add of snapshot.files.values()) {
      expect(Object.keys(add.partitionValues)).toEqual(['name']);
      const value = add.partitionValues.name ?? null;
      seen.add(value);
      const key = decodeFilePath(add.path);
      // The directory names the partition (escaped); the file holds `name` last, with its field id and the partition's value.
      expect(key.startsWith(value === null ? 'name=__HIVE_DEFAULT_PARTITION__/' : `name=`)).toBe(true);
      const bytes = await store.get(key);
      expect(parquetFieldIds(bytes).at(-1)).toEqual(['name', nameId]);
      expect(new Set((await readParquetRows(bytes, { columns: ['name'] })).map((r) => r.name ?? null))).toEqual(new Set([value]));
    }
    expect([...seen].sort()).toEqual([...NAMES, null].sort());

    // chdb: every change back with its own name.
    expect(asChanges(await readChangelog(h.tablePath))).toEqual(sortChanges(changes));
    // The project's reader (values from partitionValues) agrees row for row.
    const own = (await readTableRows(store, snapshot)).map((r) => ({ id: Number(r.id), op: r._op, name: r.name ?? null }));
    const expected = changes.map((c) => ({ id: c.id, op: c.op, name: c.name }));
    expect(canonicalRows(own)).toEqual(canonicalRows(expected));

    // Iceberg: every column of every version as delta-kernel reads it; then compaction keeps the column.
    const versions = Array.from({ length: snapshot.version + 1 }, (_, i) => i);
    await expectSameAtEveryVersion(h.tablePath, versions, { orderBy: `id, ${CHANGELOG_ORDER}` });
    expect(await compactTable(store)).toMatchObject({ kind: 'compacted' });
    expect(await syncIceberg(store)).toMatchObject({ kind: 'synced', deltaVersion: snapshot.version + 1 });
    for (const add of (await loadSnapshot(store)).files.values()) {
      expect(parquetFieldIds(await store.get(decodeFilePath(add.path))).at(-1)).toEqual(['name', nameId]);
    }
    await expectSameAtEveryVersion(h.tablePath, [snapshot.version, snapshot.version + 1], { orderBy: `id, ${CHANGELOG_ORDER}` });
    await expectSameAtEveryVersion(h.tablePath, [snapshot.version + 1], { where: `name = 'a/b:c'`, orderBy: `id, ${CHANGELOG_ORDER}` });
  }, 90_000);
});
