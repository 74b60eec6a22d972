/**
 * The table runner's Iceberg follower (pipeline/table-iceberg.ts) on a real local table: commits
 * that land while a sync runs are mirrored by the one after it (no commit left behind, no sync in
 * parallel), the commits handed over are mirrored without reading the Delta log (which is read when
 * another writer's commit or a failed sync leaves a gap), a vacuum is followed by the expiry of the snapshots whose files it deleted, and a
 * failure is reported in the status and repaired by the next commit's sync.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OtslakeError } from '../../common/errors.js';
import { silentLogger } from '../../common/log.js';
import type { Action, StructType } from '../../lake/actions.js';
import { compactTable } from '../../lake/compaction.js';
import { describeIceberg } from '../../lake/iceberg/table-metadata.js';
import { LocalStore } from '../../lake/local-store.js';
import type { GetOptions, ListOptions, PutOptions } from '../../lake/object-store.js';
import { dataColumnsOf } from '../../lake/parquet-columns.js';
import { writeParquetFiles } from '../../lake/parquet-file.js';
import { createTable } from '../../lake/table-create.js';
import { addActionFor, commit } from '../../lake/transaction.js';
import { vacuum } from '../../lake/vacuum.js';
import { Metrics } from '../../daemon/metrics.js';
import { TableIceberg } from '../../pipeline/table-iceberg.js';
import { expectSameAtEveryVersion, icebergMetadata } from '../helpers/iceberg.js';
import { createTmpDir, type TmpDir } from '../helpers/tmp-dir.js';

const SCHEMA: StructType = {
  type: 'struct',
  fields: [
    { name: 'id', type: 'long', nullable: false, metadata: {} },
    { name: 'name', type: 'string', nullable: true, metadata: {} },
  ],
};

/** Fails every Iceberg metadata commit while `failing` is set (an OSS outage, say); counts the reads of the Delta log. */
class FlakyStore extends LocalStore {
  failing = false;
  logReads = 0;
  override async put(key: string, body: Uint8Array | AsyncIterable<Uint8Array>, options?: PutOptions) {
    if (this.failing && key.startsWith('metadata/')) throw new OtslakeError('OTSL_LAKE_IO', 'simulated outage');
    return super.put(key, body, options);
  }
  override async get(key: string, options?: GetOptions) {
    if (key.startsWith('_delta_log/')) this.logReads++;
    return super.get(key, options);
  }
  override async list(prefix: string, options?: ListOptions) {
    if (prefix.startsWith('_delta_log/')) this.logReads++;
    return super.list(prefix, options);
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

/** One append; returns the commit as written (what the batch cycle hands to TableIceberg). */
async function appendBatch(i: number): Promise<{ version: number; actions: readonly Action[] }> {
  const files = await writeParquetFiles([{ id: BigInt(i), name: `n${i}` }], { store, columns: dataColumnsOf(SCHEMA) });
  const result = await commit(
    store,
    files.map((f) => addActionFor(f)),
    { readVersion: version, operation: 'WRITE' },
  );
  if (result.kind !== 'committed') throw new Error(result.reason);
  version = result.version;
  return { version: result.version, actions: result.actions };
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

  it('handed the commits it mirrors, reads no Delta log in the steady state; reads it after other writers’ commits', async () => {
    const iceberg = new TableIceberg({ store, table: 't', log: silentLogger, metrics: new Metrics() });
    await iceberg.catchUp();
    store.logReads = 0;
    for (let i = 1; i <= 6; i++) iceberg.afterCommit(await appendBatch(i)); // while the previous sync may still run
    await iceberg.settle();
    expect(store.logReads).toBe(0);
    expect(iceberg.status()).toMatchObject({ deltaVersion: version, lastError: null });

    // Another writer's commit (not handed), then ours: the run has a gap, so the sync reads the log.
    await appendBatch(7);
    iceberg.afterCommit(await appendBatch(8));
    await iceberg.settle();
    expect(store.logReads).toBeGreaterThan(0);
    // And a failed sync loses nothing: its handed commits are read from the log by the next one.
    store.failing = true;
    iceberg.afterCommit(await appendBatch(9));
    await iceberg.settle();
    expect(iceberg.status()).toMatchObject({ lastError: { code: 'OTSL_LAKE_IO' } });
    store.failing = false;
    iceberg.afterCommit(await appendBatch(10));
    await iceberg.settle();
    expect(iceberg.status()).toMatchObject({ deltaVersion: version, lastError: null });
    expect((await icebergMetadata(tmp.path)).snapshots.map((s) => Number(s.summary['otslake.delta.version']))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    await expectSameAtEveryVersion(tmp.path, [3, 7, 9, 10]);
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
