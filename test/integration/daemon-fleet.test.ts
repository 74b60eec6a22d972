/**
 * A fleet of daemon processes on one table (more partitions than daemons): two start, a third joins
 * while writes go on, the first leaves (SIGTERM), writes go on. Every change lands exactly once, in
 * order per key, every daemon commits, and the table stays within its commit budget although each
 * daemon alone would commit ten times a second (batch.intervalMs 100 ms under steady writes).
 */
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../../lake/store.js';
import { loadSnapshot, readCommitInfos } from '../../lake/snapshot.js';
import { writerOf } from '../../pipeline/commit-pacer.js';
import { killSpawned, spawnCli, type CliProcess } from '../helpers/cli-process.js';
import { asChanges, createHarness, lakeRowCount, readChangelog, sortChanges, TABLE, type Harness } from '../helpers/daemon-harness.js';
import { startChangeWriter } from '../helpers/change-writer.js';

const BUDGET = 3;
let h: Harness | undefined;

afterEach(async () => {
  killSpawned();
  await h?.close();
  h = undefined;
});

async function until(condition: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('daemon: a fleet of processes on one table', () => {
  it('lands every change once while daemons join and leave, within the table’s commit budget', async () => {
    h = await createHarness({ partitions: 6, pageRecords: 50 });
    const harness = h;
    const configPath = await h.writeConfigFile({
      source: { requestTimeoutMs: '5s', heartbeatIntervalMs: '300ms', heartbeatTimeoutMs: '5s' },
      lake: { uri: pathToFileURL(h.lake.path).href },
      tables: [{ table: TABLE, tunnel: { name: 'otslake-orders', type: 'BaseAndStream' }, path: 'orders', columns: [{ name: 'name', type: 'STRING' }] }],
      batch: { intervalMs: '100ms', maxDurationMs: '1s', maxTableCommitsPerSecond: BUDGET },
      workers: { threads: 1 },
      http: { port: 0 },
      log: { level: 'info' },
      shutdown: { graceMs: '10s' },
    });
    for (let id = 1; id <= 30; id++) await h.putRow(id, `order-${id}`, id);
    const preloaded = 30;

    const daemon = (): CliProcess => spawnCli(['run', '--config', configPath]);
    const a = daemon();
    const b = daemon();
    await Promise.all([a.logged('table ready', 30_000), b.logged('table ready', 30_000)]);
    const writer = startChangeWriter(harness, { firstId: 1_000, everyMs: 25 });
    await Promise.all([a.logged('batch committed', 30_000), b.logged('batch committed', 30_000)]);

    const c = daemon();
    await c.logged('batch committed', 30_000);
    const fleetStarted = Date.now();

    a.child.kill('SIGTERM');
    expect(await a.exited).toBe(0);
    await new Promise((r) => setTimeout(r, 3_000));
    await writer.stop();
    const fleetEnded = Date.now();

    // Every change in the stream (snapshot copies of early writes come on top, so the plain row count does not tell).
    const expected = preloaded + writer.changes.length;
    await until(async () => (await lakeRowCount(harness.tablePath)) >= expected, 60_000, `${expected} rows in the lake`);
    await until(
      async () => (await readChangelog(harness.tablePath)).filter((r) => r.seq !== null).length >= writer.changes.length,
      60_000,
      `${writer.changes.length} stream rows`,
    );
    b.child.kill('SIGTERM');
    c.child.kill('SIGTERM');
    expect(await b.exited).toBe(0);
    expect(await c.exited).toBe(0);

    // Exactly once, in order per key (the preloaded rows came through the full snapshot).
    const rows = await readChangelog(h.tablePath);
    // Rows written while the full snapshot was read come through both phases: the snapshot's copy has no _seq.
    const streamed = rows.filter((r) => r.seq !== null);
    expect(asChanges(streamed)).toEqual(sortChanges(writer.changes));
    expect(
      rows
        .filter((r) => r.id <= preloaded)
        .map((r) => r.id)
        .sort((x, y) => x - y),
    ).toEqual(Array.from({ length: preloaded }, (_, i) => i + 1));

    // Every daemon committed; while the three shared the table, commits stayed near the budget.
    const store = openStore(pathToFileURL(h.tablePath).href);
    const version = (await loadSnapshot(store)).version;
    const commits = await readCommitInfos(store, 1, { toVersion: version });
    const writers = new Set(commits.map(writerOf).filter((w) => w !== null));
    expect(writers.size).toBe(3);
    const during = commits.filter((x) => x.timestamp >= fleetStarted && x.timestamp <= fleetEnded && writerOf(x) !== null);
    const rate = during.length / ((fleetEnded - fleetStarted) / 1000);
    // One daemon alone under these writes commits ~10/s (a 100 ms interval); three without a budget ~30/s.
    expect(rate).toBeLessThanOrEqual(BUDGET * 1.5);
    await store.close?.();
  }, 180_000);
});
