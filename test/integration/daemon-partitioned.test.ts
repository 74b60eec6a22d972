/**
 * A partitioned changelog table (`partitionBy: ['name']`) is valid Delta: each row lands in a file of its
 * partition (Hive-style directory, `partitionValues` in the add), the partition column is not inside the
 * data files, and two independent readers — chdb (delta-kernel) and the project's own snapshot reader —
 * give every row back with its own value, null partition included.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { pathToFileURL } from 'node:url';
import { readParquetMetadata, topLevelColumns } from '../../lake/parquet-read.js';
import { decodeFilePath, loadSnapshot } from '../../lake/snapshot.js';
import { openStore } from '../../lake/store.js';
import { canonicalRows, readTableRows } from '../conformance/table-content.js';
import { asChanges, createHarness, readChangelog, sortChanges, waitForEvent, waitForLakeRows, type Change, type Harness } from '../helpers/daemon-harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** Names that need Hive escaping in a directory, and one Delta readers must take from the log only. */
const NAMES = ['plain', 'a/b:c', 'x=y%z', '中文'];

describe('daemon: partitioned changelog table', () => {
  it('routes each row to its partition, outside the data files, read back right by chdb and the own reader', async () => {
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
    const seen = new Set<string | null>();
    for (const add of snapshot.files.values()) {
      expect(Object.keys(add.partitionValues)).toEqual(['name']);
      const value = add.partitionValues.name ?? null;
      seen.add(value);
      const key = decodeFilePath(add.path);
      // The directory names the partition (escaped); the file holds no `name` column.
      expect(key.startsWith(value === null ? 'name=__HIVE_DEFAULT_PARTITION__/' : `name=`)).toBe(true);
      expect(topLevelColumns(readParquetMetadata(await store.get(key), key))).not.toContain('name');
    }
    expect([...seen].sort()).toEqual([...NAMES, null].sort());

    // chdb: every change back with its own name.
    expect(asChanges(await readChangelog(h.tablePath))).toEqual(sortChanges(changes));
    // The project's reader (values from partitionValues) agrees row for row.
    const own = (await readTableRows(store, snapshot)).map((r) => ({ id: Number(r.id), op: r._op, name: r.name ?? null }));
    const expected = changes.map((c) => ({ id: c.id, op: c.op, name: c.name }));
    expect(canonicalRows(own)).toEqual(canonicalRows(expected));
  }, 90_000);
});
