/**
 * Checkpoints written by the daemon's maintenance in the background (pipeline/maintenance.ts): only at
 * multiples of delta.checkpointInterval, one at a time, and a failure is a counted run, not an error.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../common/log.js';
import { testConfig } from '../helpers/test-config.js';
import { TableMaintenance, type MaintenanceRun } from '../../pipeline/maintenance.js';
import { Metrics } from '../../daemon/metrics.js';
import type { Metadata } from '../../lake/actions.js';
import { LocalStore } from '../../lake/local-store.js';
import { checkpointKey } from '../../lake/log-path.js';
import type { ObjectStore } from '../../lake/object-store.js';
import { loadSnapshot } from '../../lake/snapshot.js';
import { createTable } from '../../lake/table-create.js';
import { commit, txnAction } from '../../lake/transaction.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'otsl-maint-cp-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function tableWithCommits(store: ObjectStore, commits: number): Promise<Metadata> {
  const created = await createTable(store, {
    schema: { type: 'struct', fields: [{ name: 'id', type: 'long', nullable: false, metadata: {} }] },
    partitionColumns: [],
    configuration: { 'delta.checkpointInterval': '2' },
  });
  for (let v = 1; v <= commits; v++) {
    const result = await commit(store, [txnAction('otslake/t/ch', v)], { readVersion: v - 1, operation: 'STREAMING UPDATE' });
    expect(result.kind).toBe('committed');
  }
  return created.metadata;
}

function maintenanceOf(store: ObjectStore, runs: MaintenanceRun[]): TableMaintenance {
  const config = testConfig({ lake: { uri: pathToFileURL(root).href } });
  return new TableMaintenance({ config, table: config.tables[0]!, store, metrics: new Metrics(), log: silentLogger, onRun: (r) => runs.push(r) });
}

describe('maintenance: background checkpoints', () => {
  it('writes one at a multiple of the interval, one at a time, and skips other versions', async () => {
    const store = new LocalStore(join(root, 't'));
    const metadata = await tableWithCommits(store, 4);
    const runs: MaintenanceRun[] = [];
    const m = maintenanceOf(store, runs);
    const signal = new AbortController().signal;

    m.afterCommit(1, metadata, signal);
    expect(m.status().checkpointing).toBe(false);
    m.afterCommit(2, metadata, signal);
    expect(m.status().checkpointing).toBe(true);
    // Reached while version 2 is being written: left to the next multiple.
    m.afterCommit(4, metadata, signal);
    await m.settle();
    expect(await store.head(checkpointKey(2))).not.toBeNull();
    expect(await store.head(checkpointKey(4))).toBeNull();

    // Without the metadata at hand the writer reads it, and still only checkpoints multiples.
    m.afterCommit(3, undefined, signal);
    await m.settle();
    expect(await store.head(checkpointKey(3))).toBeNull();
    m.afterCommit(4, undefined, signal);
    await m.settle();
    expect(await store.head(checkpointKey(4))).not.toBeNull();
    // Checkpoint 4 was written from checkpoint 2's state advanced over commits 3 and 4.
    const fromCheckpoint = await loadSnapshot(store);
    expect(fromCheckpoint.checkpointVersion).toBe(4);
    expect(fromCheckpoint.txns.get('otslake/t/ch')?.version).toBe(4);
    expect(runs.map((r) => [r.task, r.outcome, r.version])).toEqual([
      ['checkpoint', 'done', 2],
      ['checkpoint', 'nothing-to-do', 3],
      ['checkpoint', 'done', 4],
    ]);
  });

  it('a failed checkpoint is a failed run with the reason, and the next multiple tries again', async () => {
    const store = new LocalStore(join(root, 't'));
    const metadata = await tableWithCommits(store, 2);
    const runs: MaintenanceRun[] = [];
    const m = maintenanceOf(store, runs);
    // Version 6 does not exist yet: loading it fails, as a store outage would.
    m.afterCommit(6, metadata, new AbortController().signal);
    await m.settle();
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ task: 'checkpoint', outcome: 'failed', error: expect.stringContaining('OTSL_LAKE_NOT_FOUND') });
    m.afterCommit(2, metadata, new AbortController().signal);
    await m.settle();
    expect(runs[1]).toMatchObject({ task: 'checkpoint', outcome: 'done', version: 2 });
  });
});
