/**
 * `_date` partitions and retention of a changelog table: `_date` is the UTC day of `_ts` on every row as
 * chdb reads it, and the daemon's retention removes the days older than `retention` in one commit
 * (removes with dataChange true, the table no longer appendOnly) and keeps the rest. The data files hold
 * `_date` too (materializePartitionColumns), so chdb's Iceberg reader gives every column of every version,
 * before and after the retention commit, as delta-kernel does.
 *
 * Old rows are written with old cell timestamps before the tunnel exists: a snapshot row's `_ts` is its
 * newest cell timestamp (docs/changelog.md §Columns), so they land with the day they were written for.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { MaintenanceRun } from '../../pipeline/maintenance.js';
import { loadSnapshot } from '../../lake/snapshot.js';
import { openStore } from '../../lake/store.js';
import { readDeltaTable } from '../helpers/chdb.js';
import { CHANGELOG_ORDER, createHarness, waitForEvent, waitForEventWhere, waitForLakeRows, TABLE, type Harness } from '../helpers/daemon-harness.js';
import { expectSameAtEveryVersion, icebergMetadata } from '../helpers/iceberg.js';
import { tablestoreSdk as TS } from '../helpers/emulator.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const DAY = 86_400_000;
const IGNORE = () => new TS.Condition(TS.RowExistenceExpectation.IGNORE, null);

describe('daemon: _date partitions and retention', () => {
  it('partitions by the day of _ts and removes the days older than the retention in one commit', async () => {
    h = await createHarness();
    const now = Date.now();
    const putAt = (id: number, atMs: number) =>
      h!.sdk.putRow({
        tableName: TABLE,
        condition: IGNORE(),
        primaryKey: [{ id: TS.Long.fromNumber(id) }],
        attributeColumns: [{ name: `r${id}`, timestamp: atMs }],
      });
    for (let id = 1; id <= 4; id++) await putAt(id, now - 40 * DAY - id * 3_600_000); // two days: old
    for (let id = 5; id <= 7; id++) await putAt(id, now - 2 * DAY); // inside the retention
    await h.putRow(8, 'now', 8);

    const base = h.config().tables[0]!;
    const config = h.config({
      tables: [{ table: base.table, tunnel: base.tunnel, mode: base.mode, path: base.path, columns: base.columns, partitionBy: ['_date'], retention: '30d' }],
      maintenance: { logCleanupIntervalMs: '300ms', compact: { enabled: false }, vacuum: { enabled: false } },
    });
    const { daemon, stop } = h.start({ config });
    const expired = waitForEventWhere<[string, MaintenanceRun]>(
      daemon,
      'maintenance',
      (_table, run) => run.task === 'retention' && run.outcome === 'done',
      30_000,
    );
    await waitForEvent(daemon, 'idle', 30_000);
    // Stream changes: `_ts` is the change's sequence time.
    await h.putRow(9, 'stream', 9);
    await h.updateRow(5, { qty: 55 });
    const [, run] = await expired;
    await waitForLakeRows([daemon], h.tablePath, 6, 30_000); // 5, 6, 7, 8 + the two stream changes
    await stop();

    // The version before the retention commit has every row, each with `_date` = the day of its `_ts`.
    // The stream changes may land before or after the retention commit (the log cleanup's clock runs on its
    // own), so only the rows written before the daemon started are counted here.
    const before = await readDeltaTable(h.tablePath, {
      version: run.version! - 1,
      select: 'id, _op, toString(_date) AS d, toString(toDate(_ts)) AS t',
      orderBy: 'id',
    });
    expect(before.filter((r) => r._op === 'PUT' && Number(r.id) <= 8).map((r) => Number(r.id))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    for (const r of before) expect(r.d).toBe(r.t);

    // Now: the old days are gone, the rest stays, and still `_date = toDate(_ts)` on every row.
    const after = await readDeltaTable(h.tablePath, { select: 'id, _op, toString(_date) AS d, toString(toDate(_ts)) AS t', orderBy: 'id, _op' });
    expect(after.map((r) => `${String(r.id)}:${String(r._op)}`)).toEqual(['5:PUT', '5:UPDATE', '6:PUT', '7:PUT', '8:PUT', '9:PUT']);
    for (const r of after) expect(r.d).toBe(r.t);
    const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
    expect(after.some((r) => r.d === day(now - 2 * DAY))).toBe(true);

    // The retention commit: removes with dataChange true of exactly the old days, and appendOnly off.
    const store = openStore(pathToFileURL(h.tablePath).href);
    const snapshot = await loadSnapshot(store);
    expect(snapshot.metadata.partitionColumns).toEqual(['_date']);
    expect(snapshot.metadata.configuration['delta.appendOnly']).toBe('false');
    const lines = (await readFile(join(h.tablePath, '_delta_log', `${String(run.version).padStart(20, '0')}.json`), 'utf8')).trim().split('\n');
    const removes = lines
      .map((l) => JSON.parse(l) as { remove?: { dataChange: boolean; partitionValues: Record<string, string> } })
      .flatMap((a) => (a.remove ? [a.remove] : []));
    expect(removes.length).toBe(run.files);
    expect(removes.every((r) => r.dataChange)).toBe(true);
    expect(new Set(removes.map((r) => r.partitionValues._date))).toEqual(new Set([day(now - 40 * DAY - 3_600_000), day(now - 40 * DAY - 4 * 3_600_000)]));
    for (const add of snapshot.files.values()) expect(add.partitionValues._date! >= day(now - 30 * DAY)).toBe(true);

    // Iceberg: the same rows, every column (`_date` from the files), at every version; the retention is a delete/overwrite.
    const metadata = await icebergMetadata(h.tablePath);
    expect(metadata.properties['otslake.delta.version']).toBe(String(snapshot.version));
    expect(metadata.snapshots.find((x) => x.summary['otslake.delta.version'] === String(run.version))?.summary.operation).toMatch(/^(delete|overwrite)$/);
    const versions = Array.from({ length: snapshot.version + 1 }, (_, i) => i);
    await expectSameAtEveryVersion(h.tablePath, versions, { orderBy: `id, ${CHANGELOG_ORDER}` });
    await expectSameAtEveryVersion(h.tablePath, [snapshot.version], { where: `_date >= '${day(now - 3 * DAY)}'`, orderBy: `id, ${CHANGELOG_ORDER}` });
  }, 90_000);
});
