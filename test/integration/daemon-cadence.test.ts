/**
 * Commit cadence: with steady writes below the batch budgets, batches start batch.intervalMs apart
 * (one commit per interval, not one per burst of writes); once a batch ends on its record budget the
 * daemon is behind and the next batch starts at once.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { loadSnapshot } from '../../lake/snapshot.js';
import { openStore } from '../../lake/store.js';
import { pathToFileURL } from 'node:url';
import type { BatchReport } from '../../pipeline/batch-cycle.js';
import { createHarness, waitForLakeRows, type Harness } from '../helpers/daemon-harness.js';

let h: Harness | undefined;

afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('daemon: commit cadence', () => {
  it('commits once per interval under steady writes, and at once while behind', async () => {
    h = await createHarness({ partitions: 2, pageRecords: 5 });
    const config = h.config({ batch: { intervalMs: '1s', maxDurationMs: '500ms', maxRecordsPerChannel: 1_000 } });
    const d = h.start({ config });
    const reports: (BatchReport & { at: number })[] = [];
    d.daemon.on('batch', (_t, r) => reports.push({ ...r, at: Date.now() }));
    // Past the full snapshot and with its stream channels held (a change of channels starts a batch early).
    await new Promise<void>((resolve) => d.daemon.once('table-idle', () => resolve()));

    // Steady writes: one every 50 ms for 5 s (about 100), far below the record budget.
    const started = Date.now();
    let id = 0;
    while (Date.now() - started < 5_000) {
      await h.putRow(++id, `order-${id}`, id);
      await new Promise((r) => setTimeout(r, 50));
    }
    await waitForLakeRows([d.daemon], h.tablePath, id, 20_000);
    const windowEnd = Date.now();
    const committed = reports.filter((r) => r.outcome === 'committed' && r.at >= started && r.at <= windowEnd);
    const seconds = (windowEnd - started) / 1000;
    // One commit per 1 s interval (+1 for the batch in flight at each end); one per burst would be ~50.
    expect(committed.length).toBeLessThanOrEqual(Math.ceil(seconds) + 2);
    expect(committed.length).toBeGreaterThanOrEqual(3);
    // Start to start (a batch's duration varies with the machine's load, its start does not).
    const starts = committed.map((r) => r.at - r.durationMs);
    for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBeGreaterThanOrEqual(950);
    expect(committed.every((r) => !r.behind)).toBe(true);
    await d.stop();

    // Behind: a 5-record budget per channel (one 5-record page) and 60 more rows: batches follow each other at once.
    const behindConfig = h.config({ batch: { intervalMs: '10s', maxDurationMs: '500ms', maxRecordsPerChannel: 5 } });
    for (let i = 0; i < 60; i++) await h.putRow(++id, `order-${id}`, id);
    const e = h.start({ config: behindConfig });
    const behindReports: BatchReport[] = [];
    e.daemon.on('batch', (_t, r) => behindReports.push(r));
    await waitForLakeRows([e.daemon], h.tablePath, id, 30_000);
    await e.stop();
    // With a 10 s interval only "behind" can explain finishing 60 rows in 5-record batches this fast.
    expect(behindReports.filter((r) => r.behind).length).toBeGreaterThanOrEqual(5);
    const version = (await loadSnapshot(openStore(pathToFileURL(h.tablePath).href))).version;
    expect(version).toBeGreaterThan(committed.length + 5);
  }, 90_000);
});
