/**
 * Never silently wrong, never silently stuck: what the daemon says (/readyz, /status, metrics,
 * `otslake status`) while the lake rejects writes, while Tablestore is unreachable at start-up or at
 * run time, and once the fault clears; and that it backs off instead of spinning.
 *
 * Outages are real: Tablestore sits behind a TCP forwarder the test takes down (connections refused,
 * open ones cut) and brings back on the same port; the lake is the OSS emulator answering 403.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { command as statusCommand } from '../../cli/commands/status.js';
import { captureOutput, type CapturedRun } from '../helpers/capture-output.js';
import type { OssEmulator } from '../../emulator/oss/server.js';
import type { Daemon } from '../../daemon/daemon.js';
import type { TableStatus } from '../../pipeline/table-status.js';
import { loadSnapshot, parseStats } from '../../lake/snapshot.js';
import { createHarness, lakeRowCount, TABLE, waitForEvent, waitForLakeRows, type Harness } from '../helpers/daemon-harness.js';
import { openTestOssStore, startTestOss, TEST_CREDENTIALS as OSS_CREDENTIALS } from '../helpers/oss.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { readDeltaTable } from '../helpers/chdb.js';

let h: Harness | undefined;
let oss: OssEmulator | undefined;
let proxy: TcpProxy | undefined;

afterEach(async () => {
  vi.restoreAllMocks();
  await h?.close();
  await oss?.close();
  await proxy?.close();
  h = oss = proxy = undefined;
});

interface TableHealthView {
  table: string;
  state: string;
  since: string;
  lastSuccessfulBatchAt: string | null;
  lagMs: number;
  lastError: { code: string; message: string; at: string } | null;
  failures: number;
  waitingFor: unknown[];
}

async function getJson<T>(url: string): Promise<{ status: number; body: T }> {
  const res = await fetch(url);
  const text = await res.text();
  return { status: res.status, body: (res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text) as T };
}

/** Polls a daemon-side condition on its batch events and state changes, never on a timer alone. */
async function until(daemon: Daemon, what: string, check: () => boolean | Promise<boolean>, timeoutMs = 45_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not ${what} within ${timeoutMs} ms; status ${JSON.stringify(tableOf(daemon))}`);
    // Health also changes without a batch (a failed start-up attempt): the next batch, or at most a second.
    await waitForEvent(daemon, 'batch', 1_000).catch(() => undefined);
  }
}

function tableOf(daemon: Daemon): TableHealthView {
  return (daemon.status() as { tables: TableHealthView[] }).tables[0]!;
}

/** Source config that reaches tablestore-local through `endpoint` (the proxy). */
function sourceVia(harness: Harness, endpoint: string) {
  return {
    endpoint,
    instance: harness.emu.instance,
    accessKeyId: harness.emu.accessKeyId,
    accessKeySecret: harness.emu.accessKeySecret,
    requestTimeoutMs: '3s',
  };
}

const FAST_BACKOFF = { intervalMs: 100, maxDurationMs: 2_000, retryInitialMs: 200, retryMaxMs: 1_000 };
const SESSION = { heartbeatIntervalMs: 300, heartbeatTimeoutMs: 3_000 };

function runStatus(args: string[]): Promise<CapturedRun> {
  return captureOutput(() => statusCommand.run(args));
}

describe('daemon health', () => {
  it('a lake that answers 403: bounded attempts with backoff, /readyz 503 with the reason, exact recovery when it clears', async () => {
    h = await createHarness({ tunnelType: 'Stream' });
    oss = await startTestOss('otslake-health');
    const config = h.config({
      lake: { uri: 'oss://otslake-health/lake', oss: { endpoint: oss.endpoint, ...OSS_CREDENTIALS } },
      batch: FAST_BACKOFF,
      http: { host: '127.0.0.1', port: 0 },
    });
    const { daemon } = h.start({ config, http: true, session: SESSION });
    await waitForEvent(daemon, 'idle', 30_000);
    const url = daemon.httpAddress!.url;
    expect((await fetch(`${url}/readyz`)).status).toBe(200);

    // Data files are refused; the Delta log stays writable (a bucket policy on the data prefix).
    oss.faults.inject({ kind: 'error', status: 403, code: 'AccessDenied', op: 'PutObject', keyPrefix: 'lake/orders/part-', times: 1_000_000 });
    oss.faults.inject({ kind: 'error', status: 403, code: 'AccessDenied', op: 'InitiateMultipartUpload', keyPrefix: 'lake/orders/part-', times: 1_000_000 });
    const written = [];
    for (let id = 1; id <= 20; id++) written.push(await h.putRow(id, `order-${id}`, id));

    await until(daemon, 'failing', () => tableOf(daemon).state === 'failing');
    // A fixed window: count the batches (each one an attempt that re-reads the Tunnel) and failed tasks.
    let attempts = 0;
    let failedTasks = 0;
    const onBatch = (_t: string, report: { failedTasks: number }) => {
      attempts++;
      failedTasks += report.failedTasks;
    };
    daemon.on('batch', onBatch);
    const windowMs = 5_000;
    await new Promise((resolve) => setTimeout(resolve, windowMs)); // the window itself is what is measured
    daemon.off('batch', onBatch);
    // Backoff 200 ms doubling to 1 s: at most ~8 attempts in 5 s (the old loop made hundreds).
    expect(attempts).toBeGreaterThan(0);
    expect(attempts).toBeLessThanOrEqual(10);
    expect(failedTasks).toBeLessThanOrEqual(10 * 2);
    console.log(`lake 403: ${attempts} attempts, ${failedTasks} failed channel tasks in ${windowMs} ms`);

    const ready = await getJson<string>(`${url}/readyz`);
    expect(ready.status).toBe(503);
    expect(JSON.stringify(ready.body)).toMatch(/orders.*failing since .*OTSL_LAKE_IO|orders.*failing since .*AccessDenied/);
    const failing = tableOf(daemon);
    expect(failing.lastError).toMatchObject({ code: expect.stringMatching(/^OTSL_LAKE_IO|OTSL_RETRIES_EXHAUSTED$/) });
    expect(Date.parse(failing.lastError!.at)).toBeGreaterThan(Date.parse(failing.since) - 1);
    expect(failing.lagMs).toBeGreaterThan(0);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toContain('otslake_table_state{table="orders",state="failing"} 1');

    oss.faults.clear();
    await until(daemon, 'caught up again', () => tableOf(daemon).state === 'caught-up');
    const store = openTestOssStore(oss, 'virtual-host', { prefix: 'lake/orders' });
    const snapshot = await loadSnapshot(store);
    let rows = 0;
    for (const add of snapshot.files.values()) rows += parseStats(add)?.numRecords ?? 0;
    await store.close();
    expect(rows).toBe(written.length);
    const recovered = tableOf(daemon);
    expect(recovered.lastError).toBeNull();
    expect(recovered.lagMs).toBe(0);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
  }, 90_000);

  it('Tablestore unreachable at start-up: retried with backoff, /readyz 503 with the reason, runs once it is reachable', async () => {
    h = await createHarness();
    for (let id = 1; id <= 5; id++) await h.putRow(id, `order-${id}`, id);
    proxy = await startTcpProxy(h.emu.endpoint, { startUp: false });
    const config = h.config({ source: sourceVia(h, proxy.endpoint), batch: FAST_BACKOFF, http: { host: '127.0.0.1', port: 0 } });
    const { daemon, done, states } = h.start({ config, http: true, session: SESSION });
    let ended = false;
    void done.then(
      () => (ended = true),
      () => (ended = true),
    );
    await until(daemon, 'failing at start', () => tableOf(daemon).state === 'failing' && tableOf(daemon).failures >= 1);
    const ready = await getJson<string>(`${daemon.httpAddress!.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(JSON.stringify(ready.body)).toMatch(/orders not started, failing since .*OTSL_/);

    // Longer than the old give-up point (~9 s of retries, then exit 1): still running, still trying.
    await until(daemon, 'failing for 12 s', () => Date.now() - Date.parse(tableOf(daemon).since) > 12_000 || ended, 20_000);
    expect(ended).toBe(false);
    expect(states).toEqual(['running']);

    await proxy.up();
    await waitForEvent(daemon, 'idle', 45_000);
    expect(await lakeRowCount(h.tablePath)).toBe(5);
    expect(tableOf(daemon)).toMatchObject({ state: 'caught-up', lastError: null, lagMs: 0 });
    expect((await fetch(`${daemon.httpAddress!.url}/readyz`)).status).toBe(200);
  }, 90_000);

  it('bad credentials at start-up are a configuration error: the daemon fails at once with OTSL_TUNNEL_AUTH', async () => {
    h = await createHarness({ tunnelType: 'Stream' });
    const config = h.config({ source: { ...sourceVia(h, h.emu.endpoint), accessKeySecret: 'not-the-secret' }, batch: FAST_BACKOFF });
    const started = Date.now();
    const { done } = h.start({ config, session: SESSION });
    await expect(done).rejects.toMatchObject({ code: 'OTSL_TUNNEL_AUTH' });
    expect(Date.now() - started).toBeLessThan(10_000);
  }, 30_000);

  it('a Tablestore outage at run time: /readyz and /status say failing with the error and its time, lag grows; `status` still prints the lake; all clear after', async () => {
    h = await createHarness();
    proxy = await startTcpProxy(h.emu.endpoint);
    const config = h.config({ source: sourceVia(h, proxy.endpoint), batch: FAST_BACKOFF, http: { host: '127.0.0.1', port: 0 } });
    const { daemon } = h.start({ config, http: true, session: SESSION });
    await waitForEvent(daemon, 'idle', 30_000);
    for (let id = 1; id <= 4; id++) await h.putRow(id, `order-${id}`, id);
    await waitForLakeRows([daemon], h.tablePath, 4, 30_000);
    await until(daemon, 'caught up', () => tableOf(daemon).state === 'caught-up');
    const url = daemon.httpAddress!.url;

    // Quiet and caught up: the last successful batch keeps moving although nothing is committed, lag stays 0.
    const quietFrom = tableOf(daemon).lastSuccessfulBatchAt!;
    const batchesBefore = /otslake_batches_total\{table="orders"\} (\d+)/.exec(await (await fetch(`${url}/metrics`)).text())![1];
    await waitForEvent(daemon, 'batch');
    await waitForEvent(daemon, 'batch');
    const quiet = tableOf(daemon);
    expect(Date.parse(quiet.lastSuccessfulBatchAt!)).toBeGreaterThan(Date.parse(quietFrom));
    expect(quiet.lagMs).toBe(0);
    const quietMetrics = await (await fetch(`${url}/metrics`)).text();
    expect(/otslake_batches_total\{table="orders"\} (\d+)/.exec(quietMetrics)![1]).toBe(batchesBefore);
    expect(Number(/otslake_last_successful_batch_timestamp_seconds\{table="orders"\} ([\d.e+]+)/.exec(quietMetrics)![1]) * 1000).toBeGreaterThanOrEqual(
      Date.parse(quiet.lastSuccessfulBatchAt!) - 1,
    );

    await proxy.down();
    const downAt = Date.now();
    await until(daemon, 'failing', () => tableOf(daemon).state === 'failing');
    const failing = tableOf(daemon);
    console.log(`Tablestore outage: failing after ${Date.now() - downAt} ms`);
    expect(failing.lastError!.code).toMatch(/^OTSL_(TUNNEL_HTTP|RETRIES_EXHAUSTED)$/);
    expect(Date.parse(failing.lastError!.at)).toBeGreaterThanOrEqual(downAt);
    const ready = await getJson<string>(`${url}/readyz`);
    expect(ready.status).toBe(503);
    expect(JSON.stringify(ready.body)).toContain('failing since');
    const lag1 = tableOf(daemon).lagMs;
    await until(daemon, 'lag growing', () => tableOf(daemon).lagMs > lag1 + 500);
    expect(Date.parse(tableOf(daemon).lastSuccessfulBatchAt!)).toBeLessThanOrEqual(downAt);

    // `otslake status` with the source down: the lake side is printed, the tunnel side carries the error, exit 1.
    const configPath = await h.writeConfigFile({
      source: { ...sourceVia(h, proxy.endpoint), requestTimeoutMs: '1s' },
      lake: { uri: config.lake.uri },
      tables: [{ table: TABLE, tunnel: { name: 'otslake-orders' }, path: 'orders' }],
      log: { level: 'silent' },
    });
    const json = await runStatus(['--config', configPath, '--json']);
    expect(json.err).toBe('');
    expect(json.code).toBe(1);
    const [status] = (JSON.parse(json.out) as { tables: TableStatus[] }).tables;
    expect(status!.lake).toMatchObject({ exists: true, rows: 4, error: null });
    expect(status!.tunnel.error?.code).toMatch(/^OTSL_(TUNNEL_HTTP|RETRIES_EXHAUSTED)$/);
    expect(status!.channels.length).toBeGreaterThan(0);
    const text = await runStatus(['--config', configPath]);
    expect(text.out).toMatch(/lake: +changelog table, version \d+, 4 rows/);
    expect(text.out).toMatch(/tunnel: otslake-orders unreadable: OTSL_/);

    await proxy.up();
    await h.putRow(5, 'order-5', 5);
    await waitForLakeRows([daemon], h.tablePath, 5, 45_000);
    await until(daemon, 'caught up after the outage', () => tableOf(daemon).state === 'caught-up');
    expect(tableOf(daemon)).toMatchObject({ lastError: null, lagMs: 0, failures: 0 });
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    const rows = await readDeltaTable(h.tablePath, { select: 'id', orderBy: 'id' });
    expect(rows.map((r) => Number(r.id))).toEqual([1, 2, 3, 4, 5]);
  }, 120_000);
});
