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
import { captureOutput } from '../helpers/capture-output.js';
import { command as statusCommand } from '../../cli/commands/status.js';

const BUDGET = 3;

interface Fleet {
  clients: { clientId: string }[];
  writers: number;
  pacedForWriters: number;
  commitsPerSecond: number;
  commitBudgetPerSecond: number;
  pacedIntervalMs: number;
}
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
    const cPort = Number((await c.logged('http endpoints listening', 30_000)).port);
    await c.logged('batch committed', 30_000);
    const fleetStarted = Date.now();

    // What the third daemon reports while the three share the table: three writers in /status and /metrics,
    // paced for at least that many at the table's budget, and it waited for its turn (a pacing delay).
    const cUrl = `http://127.0.0.1:${cPort}`;
    const cFleet = async () => ((await (await fetch(`${cUrl}/status`)).json()) as { tables: { fleet: Fleet }[] }).tables[0]!.fleet;
    const cMetric = async (name: string) => {
      const m = new RegExp(`^${name}\\{table="${TABLE}"\\} (\\S+)$`, 'm').exec(await (await fetch(`${cUrl}/metrics`)).text());
      return m ? Number(m[1]) : null;
    };
    await until(
      async () => {
        const f = await cFleet();
        return f.writers === 3 && f.clients.length === 3 && (await cMetric('otslake_table_writers')) === 3;
      },
      20_000,
      'the third daemon to count 3 writers',
    );
    const seen = await cFleet();
    expect(seen.pacedForWriters).toBeGreaterThanOrEqual(3);
    expect(seen.commitBudgetPerSecond).toBe(BUDGET);
    expect(seen.pacedIntervalMs).toBeGreaterThanOrEqual(Math.ceil((3 * 1000) / BUDGET));

    a.child.kill('SIGTERM');
    expect(await a.exited).toBe(0);
    await new Promise((r) => setTimeout(r, 3_000));
    // The rate it measures is the table's, every daemon's commits, and it is near the budget, as is the metric.
    const late = await cFleet();
    expect(late.commitsPerSecond).toBeGreaterThan(0);
    expect(late.commitsPerSecond).toBeLessThanOrEqual(BUDGET * 1.5);
    const rateMetric = await cMetric('otslake_table_commit_rate');
    expect(rateMetric).toBeGreaterThan(0);
    expect(rateMetric).toBeLessThanOrEqual(BUDGET * 1.5);
    expect(await cMetric('otslake_commit_pacing_delay_seconds_sum')).toBeGreaterThan(0);
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

    // `otslake status` from the outside reads the same commits: how many, and from how many daemons, in its last minute.
    const out = await captureOutput(() => statusCommand.run(['--config', configPath, '--json']));
    expect(out.code).toBe(0);
    const fleet = (JSON.parse(out.out) as { tables: { fleet: { commits: { commits: number; writers: number; perSecond: number } } }[] }).tables[0]!.fleet;
    // Its window: the last minute of the 100 newest commits (the daemons made no commit since `version`).
    const recent = await readCommitInfos(store, Math.max(0, version - 99), { toVersion: version });
    const newest = Math.max(...recent.map((x) => x.timestamp));
    const lastMinute = recent.filter((x) => x.timestamp > newest - 60_000);
    expect(fleet.commits.commits).toBe(lastMinute.length);
    expect(fleet.commits.writers).toBe(new Set(lastMinute.map(writerOf).filter((w) => w !== null)).size);
    expect(fleet.commits.writers).toBeGreaterThanOrEqual(2);
    await store.close?.();
  }, 180_000);
});
