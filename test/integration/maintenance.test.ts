/**
 * Maintenance run by the daemon (issue 5): many small batches with short schedules leave a table of a
 * bounded number of files with checkpoints, a snapshot that loads fast, vacuumed orphans, and every
 * change exactly once; and compaction racing the daemon's appends never conflicts with them.
 */
import { once } from 'node:events';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { compactTable, type CompactionResult } from '../../lake/compaction.js';
import { LAST_CHECKPOINT, LOG_DIR } from '../../lake/log-path.js';
import { loadSnapshot } from '../../lake/snapshot.js';
import { openStore } from '../../lake/store.js';
import type { BatchReport } from '../../pipeline/batch-cycle.js';
import type { MaintenanceRun } from '../../pipeline/maintenance.js';
import {
  asChanges,
  createHarness,
  readChangelog,
  sortChanges,
  waitForEvent,
  waitForEventWhere,
  waitForLakeRows,
  type Change,
  type Harness,
} from '../helpers/daemon-harness.js';

let h: Harness | undefined;

afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** Sum of a metric's samples whose labels include `labels`. */
function metricSum(text: string, name: string, labels: Record<string, string>): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

describe('daemon: maintenance', () => {
  it('keeps a table of many one-row batches small: checkpoints, compaction, vacuum', async () => {
    h = await createHarness({ partitions: 2 });
    const config = h.config({
      batch: { intervalMs: 50, maxDurationMs: 2_000 },
      lake: { uri: pathToFileURL(h.lake.path).href, checkpointInterval: 5, targetFileSizeBytes: '1MiB' },
      maintenance: {
        compact: { enabled: true, intervalMs: '300ms', minFiles: 4 },
        vacuum: { enabled: true, intervalMs: '500ms', retentionMs: 0 },
        logCleanupIntervalMs: '1s',
      },
    });
    const running = h.start({ config });
    const reports: BatchReport[] = [];
    running.daemon.on('batch', (_t, r) => reports.push(r));
    let lastCommitAt = 0;
    running.daemon.on('batch-committed', () => (lastCommitAt = Date.now()));
    await waitForEvent(running.daemon, 'idle');
    const changes: Change[] = [];
    for (let i = 1; i <= 30; i++) {
      const committed = waitForEvent(running.daemon, 'batch-committed');
      changes.push(await h.putRow(i, `order-${i}`, i));
      if (i % 3 === 0) changes.push(await h.updateRow(i - 1, { qty: i * 10 }));
      await committed;
    }
    await waitForLakeRows([running.daemon], h.tablePath, changes.length);
    // A compaction that started after the last commit has seen every file: what it leaves is the bound.
    const after = lastCommitAt;
    await waitForEventWhere<[string, MaintenanceRun]>(running.daemon, 'maintenance', (_t, run) => run.task === 'compact' && run.atMs >= after);
    const metrics = running.daemon.metrics.render();
    await running.stop();

    expect(asChanges(await readChangelog(h.tablePath))).toEqual(sortChanges(changes));
    expect(reports.filter((r) => r.outcome === 'dropped' || r.outcome === 'fenced')).toEqual([]);

    const store = openStore(pathToFileURL(h.tablePath).href);
    const logFiles = (await store.list(`${LOG_DIR}/`)).map((o) => o.key);
    expect(logFiles.filter((k) => k.endsWith('.checkpoint.parquet')).length).toBeGreaterThanOrEqual(2);
    expect(logFiles).toContain(LAST_CHECKPOINT);

    const started = performance.now();
    const snapshot = await loadSnapshot(store);
    const loadMs = performance.now() - started;
    expect(snapshot.version).toBeGreaterThanOrEqual(30);
    expect(snapshot.checkpointVersion).not.toBeNull();
    expect(loadMs).toBeLessThan(1_000);
    // 30+ commits of 1–2 files each, compacted after the last one: at most one output per partition
    // plus fewer than minFiles (4) small files that were not worth a rewrite.
    expect(snapshot.files.size).toBeLessThanOrEqual(8);

    expect(metricSum(metrics, 'otslake_maintenance_runs_total', { task: 'compact', outcome: 'done' })).toBeGreaterThanOrEqual(1);
    expect(metricSum(metrics, 'otslake_maintenance_runs_total', { task: 'checkpoint', outcome: 'done' })).toBeGreaterThanOrEqual(2);
    expect(metricSum(metrics, 'otslake_maintenance_files_total', { task: 'vacuum' })).toBeGreaterThan(0);
    expect(metricSum(metrics, 'otslake_maintenance_runs_total', { outcome: 'failed' })).toBe(0);
    // Vacuum (retention 0) deleted compacted-away files (counted above), never a live one.
    const onDisk = new Set((await store.list('')).filter((o) => o.key.endsWith('.parquet') && !o.key.startsWith('_')).map((o) => o.key));
    for (const path of snapshot.files.keys()) expect(onDisk.has(decodeURIComponent(path))).toBe(true);
    await store.close?.();
  }, 60_000);

  it('compaction racing the daemon appends neither conflicts nor fences', async () => {
    h = await createHarness({ partitions: 2 });
    const config = h.config({
      batch: { intervalMs: 20, maxDurationMs: 2_000 },
      lake: { uri: pathToFileURL(h.lake.path).href, targetFileSizeBytes: '1MiB' },
      maintenance: { compact: { enabled: false }, vacuum: { enabled: false } },
    });
    const running = h.start({ config });
    const reports: BatchReport[] = [];
    running.daemon.on('batch', (_t, r) => reports.push(r));
    await waitForEvent(running.daemon, 'idle');
    const store = openStore(pathToFileURL(h.tablePath).href);

    const changes: Change[] = [];
    let writing = true;
    const writer = (async () => {
      // One commit per three rows, so that many appends interleave with the compactions.
      for (let i = 1; i <= 45; i++) {
        const committed = i % 3 === 0 ? waitForEvent(running.daemon, 'batch-committed') : null;
        changes.push(await h!.putRow(i, `order-${i}`, i));
        await committed;
      }
      writing = false;
    })();
    const compactions: CompactionResult[] = [];
    while (writing) {
      // Right after a commit, while the next batch is reading and committing around it.
      await Promise.race([once(running.daemon, 'batch-committed'), writer]);
      compactions.push(await compactTable(store, { targetFileBytes: 1024 * 1024 }));
    }
    await writer;
    await waitForLakeRows([running.daemon], h.tablePath, changes.length);
    compactions.push(await compactTable(store, { targetFileBytes: 1024 * 1024 }));
    await running.stop();

    expect(compactions.filter((c) => c.kind === 'conflict')).toEqual([]);
    expect(compactions.filter((c) => c.kind === 'compacted').length).toBeGreaterThanOrEqual(2);
    expect(reports.filter((r) => r.outcome === 'dropped' || r.outcome === 'fenced')).toEqual([]);
    expect(reports.filter((r) => r.outcome === 'committed').length).toBeGreaterThanOrEqual(10);
    expect(asChanges(await readChangelog(h.tablePath))).toEqual(sortChanges(changes));
    await store.close?.();
  }, 60_000);
});
