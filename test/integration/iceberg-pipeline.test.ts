/**
 * The table runner's Iceberg follower (pipeline/table-iceberg.ts) on a real local table: commits
 * that land while a sync runs are mirrored by the one after it (no commit left behind, no sync in
 * parallel), a vacuum is followed by the expiry of the snapshots whose files it deleted, and a
 * failure is reported in the status and repaired by the next commit's sync.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OtslakeError } from '../../common/errors.js';
import { silentLogger } from '../../common/log.js';
import type { StructType } from '../../lake/actions.js';
import { compactTable } from '../../lake/compaction.js';
import { describeIceberg } from '../../lake/iceberg/table-metadata.js';
import { LocalStore } from '../../lake/local-store.js';
import type { PutOptions } from '../../lake/object-store.js';
import { dataColumnsOf } from '../../lake/parquet-columns.js';
import { writeParquetFiles } from '../../lake/parquet-file.js';
import { createTable } from '../../lake/table-create.js';
import { addActionFor, commit } from '../../lake/transaction.js';
import { vacuum } from '../../lake/vacuum.js';
import { Metrics } from '../../daemon/metrics.js';
import { TableIceberg } from '../../pipeline/table-iceberg.js';
import { icebergMetadata } from '../helpers/iceberg.js';
import { createTmpDir, type TmpDir } from '../helpers/tmp-dir.js';

const SCHEMA: StructType = {
  type: 'struct',
  fields: [
    { name: 'id', type: 'long', nullable: false, metadata: {} },
    { name: 'name', type: 'string', nullable: true, metadata: {} },
  ],
};

/** Fails every Iceberg metadata commit while `failing` is set (an OSS outage, say). */
class FlakyStore extends LocalStore {
  failing = false;
  override async put(key: string, body: Uint8Array | AsyncIterable<Uint8Array>, options?: PutOptions) {
    if (this.failing && key.startsWith('metadata/')) throw new OtslakeError('OTSL_LAKE_IO', 'simulated outage');
    return super.put(key, body, options);
  }
}

let tmp: TmpDir;
let store: FlakyStore;
let version = 0;
beforeEach(async () => {
  tmp = await createTmpDir('otslake-iceberg-pipeline-');
  store = new FlakyStore(tmp.path, { fsync: false });
  await createTable(store, { schema: SCHEMA, configuration: { 'delta.deletedFileRetentionDuration': 'interval 1 hour' } });
  version = 0;
});
afterEach(async () => {
  await tmp.cleanup();
});

async function appendBatch(i: number): Promise<void> {
  const files = await writeParquetFiles([{ id: BigInt(i), name: `n${i}` }], { store, columns: dataColumnsOf(SCHEMA) });
  const result = await commit(
    store,
    files.map((f) => addActionFor(f)),
    { readVersion: version, operation: 'WRITE' },
  );
  if (result.kind !== 'committed') throw new Error(result.reason);
  version = result.version;
}

describe('TableIceberg', () => {
  it('mirrors commits that land while a sync runs with the next sync, one at a time', async () => {
    const iceberg = new TableIceberg({ store, table: 't', log: silentLogger, metrics: new Metrics() });
    await iceberg.catchUp();
    for (let i = 1; i <= 6; i++) {
      await appendBatch(i);
      iceberg.afterCommit(); // while the previous one may still run
    }
    await iceberg.settle();
    expect(await describeIceberg(store)).toMatchObject({ deltaVersion: version });
    expect(iceberg.status()).toMatchObject({ deltaVersion: version, syncing: false, lastError: null });
    // Every Delta version has its snapshot, in order, however the syncs grouped them.
    expect((await icebergMetadata(tmp.path)).snapshots.map((s) => Number(s.summary['otslake.delta.version']))).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('expires after a vacuum with the vacuum retention, and repairs a failed sync at the next commit', async () => {
    let now = Date.now();
    const iceberg = new TableIceberg({ store, table: 't', log: silentLogger, metrics: new Metrics(), vacuumRetentionMs: 60_000, nowMs: () => now });
    for (let i = 1; i <= 3; i++) await appendBatch(i);
    await iceberg.catchUp();
    expect(await compactTable(store)).toMatchObject({ kind: 'compacted' });
    version += 1;
    iceberg.afterCommit();
    await iceberg.settle();
    expect((await icebergMetadata(tmp.path)).snapshots).toHaveLength(2);

    // Two minutes on, a vacuum with the daemon's one-minute retention (below the table's hour) deletes the
    // compacted-away files: the snapshot before the compaction goes.
    now += 120_000;
    const vacuumed = await vacuum(store, { retentionMs: 60_000, allowShortRetention: true, dryRun: false, nowMs: now });
    expect(vacuumed.files.length).toBe(3);
    iceberg.afterVacuum();
    await iceberg.settle();
    expect((await icebergMetadata(tmp.path)).snapshots.map((s) => s.summary.operation)).toEqual(['replace']);

    store.failing = true;
    await appendBatch(10);
    iceberg.afterCommit();
    await iceberg.settle();
    expect(iceberg.status()).toMatchObject({ lastError: { code: 'OTSL_LAKE_IO' } });
    store.failing = false;
    await appendBatch(11);
    iceberg.afterCommit();
    await iceberg.settle();
    expect(iceberg.status()).toMatchObject({ lastError: null, deltaVersion: version });
    expect((await icebergMetadata(tmp.path)).snapshots.map((s) => Number(s.summary['otslake.delta.version']))).toEqual([4, 5, 6]);
  });
});
