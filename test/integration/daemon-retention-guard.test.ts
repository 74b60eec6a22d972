/**
 * The retention guard and the expired tunnel (docs/operations.md §Table lifecycle, docs/errors.md
 * §OTSL_TUNNEL_LOST), on tablestore-local's clock: the daemon's table health reads the emulator's clock, and
 * the test moves it forward by hours (`POST /_admin/clock`), so a day of stream retention passes in seconds.
 *
 * `orders` cannot write its data files (the OSS emulator answers 403 under its folder): its changes wait in
 * the Tunnel and its lag grows with the clock. Past 50 % of the table's stream retention (24 h, from
 * DescribeTable) /status, /metrics and one warning line say so; past 80 % an error line. Past the retention
 * its changes are trimmed, the Tunnel answers OTSTunnelExpired and `orders` stops with OTSL_TUNNEL_LOST —
 * in /status, /readyz's reason, the metrics and the log — while `customers`, caught up with full headroom
 * throughout, keeps landing. `otslake status` then shows the window and which tunnel expired.
 *
 * The status page, in headless Chromium where the machine has it, marks the lagging table's retention figure
 * at each level (warning, then critical) and leaves the caught-up table's unmarked.
 *
 * A full snapshot of rows written long ago counts against the retention from the tunnel's creation (the
 * stream waits since then), never by the rows' old cell times: no warning.
 *
 * A daemon stopped for longer than the retention finds its table's tunnel expired at the next start: the
 * table stops with OTSL_TUNNEL_LOST (cause expired) and no replacement tunnel is created.
 */
import type { Browser } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { command as statusCommand } from '../../cli/commands/status.js';
import { captureOutput, type CapturedRun } from '../helpers/capture-output.js';
import { createLogger } from '../../common/log.js';
import type { OtslakeError } from '../../common/errors.js';
import type { Daemon } from '../../daemon/daemon.js';
import type { OssEmulator } from '../../emulator/oss/server.js';
import { loadSnapshot, parseStats } from '../../lake/snapshot.js';
import type { RetentionStatus } from '../../pipeline/retention-guard.js';
import type { TableStatus } from '../../pipeline/table-status.js';
import { createHarness, lakeRowCount, TABLE, waitForEvent, waitForEventWhere, waitForLakeRows, type Harness } from '../helpers/daemon-harness.js';
import { createStreamTable, tablestoreSdk as TS } from '../helpers/emulator.js';
import { chromiumTool, launchChromium } from '../helpers/external-tools.js';
import { openTestOssStore, startTestOss, TEST_CREDENTIALS as OSS_CREDENTIALS } from '../helpers/oss.js';

let h: Harness | undefined;
let oss: OssEmulator | undefined;
const chromium = chromiumTool();
let browser: Browser | undefined;
beforeAll(async () => {
  if (chromium.path === null) console.warn(`daemon-retention-guard: the status page's retention marking is not checked here: ${chromium.skipReason}`);
  else browser = await launchChromium(chromium.path);
});
afterAll(async () => {
  await browser?.close();
});
afterEach(async () => {
  await h?.close();
  await oss?.close();
  h = oss = undefined;
});

const HOUR = 3_600_000;
const IGNORE = () => new TS.Condition(TS.RowExistenceExpectation.IGNORE, null);
const FAST_BACKOFF = { intervalMs: 100, maxDurationMs: 2_000, retryInitialMs: 200, retryMaxMs: 1_000 };
const SESSION = { heartbeatIntervalMs: 300, heartbeatTimeoutMs: 3_000 };

interface TableView {
  table: string;
  state: string;
  lagMs: number;
  retention: RetentionStatus;
  lastError: { code: string } | null;
}

const tableOf = (daemon: Daemon, table: string): TableView => (daemon.status() as { tables: TableView[] }).tables.find((t) => t.table === table)!;

/** Polls a daemon-side condition on its batch events, never on a timer alone. */
async function until(daemon: Daemon, what: string, check: () => boolean | Promise<boolean>, timeoutMs = 45_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not ${what} within ${timeoutMs} ms; status ${JSON.stringify((daemon.status() as { tables: unknown }).tables)}`);
    await waitForEvent(daemon, 'batch', 1_000).catch(() => undefined);
  }
}

/** The retention figure of each table as the status page renders it on its first load (null: no browser here). */
async function pageRetention(url: string): Promise<Record<string, { level: string | null; marked: string | null; text: string }> | null> {
  if (browser === undefined) return null;
  const page = await browser.newPage();
  try {
    await page.goto(`${url}/`);
    await page.locator('section[data-table] [data-field="retention"]').first().waitFor();
    const out: Record<string, { level: string | null; marked: string | null; text: string }> = {};
    for (const section of await page.locator('section[data-table]').all()) {
      const dd = section.locator('[data-field="retention"]');
      out[(await section.getAttribute('data-table')) ?? ''] = {
        level: await dd.getAttribute('data-level'),
        marked: await dd.locator('xpath=..').getAttribute('class'),
        text: (await dd.textContent()) ?? '',
      };
    }
    return out;
  } finally {
    await page.close();
  }
}

function runStatus(args: string[]): Promise<CapturedRun> {
  return captureOutput(() => statusCommand.run(args));
}

/** One gauge sample of a scrape. */
function sample(metrics: string, name: string, table: string): number {
  const m = new RegExp(`^${name}\\{table="${table}"\\} (\\S+)$`, 'm').exec(metrics);
  if (m === null) throw new Error(`${name}{table="${table}"} not in the scrape`);
  return Number(m[1]);
}

describe('daemon: retention guard and an expired tunnel', () => {
  it('warns as a lagging table nears the stream retention, stops it by name once its tunnel expires, and the caught-up table keeps landing with full headroom', async () => {
    h = await createHarness({ tunnelType: 'Stream' });
    await createStreamTable(h.sdk, 'customers', [{ name: 'cid', type: 'STRING' }]); // stream expiration_time: 24 h
    oss = await startTestOss('otslake-retention');
    const base = h.config().tables[0]!;
    const config = h.config({
      lake: { uri: 'oss://otslake-retention/lake', oss: { endpoint: oss.endpoint, ...OSS_CREDENTIALS } },
      tables: [
        { table: base.table, tunnel: base.tunnel, mode: base.mode, path: base.path, columns: base.columns },
        { table: 'customers', tunnel: { name: 'otslake-customers', type: 'Stream' } },
      ],
      batch: FAST_BACKOFF,
      http: { host: '127.0.0.1', port: 0 },
    });
    const lines: Record<string, unknown>[] = [];
    const log = createLogger({ level: 'info', write: (line) => lines.push(JSON.parse(line) as Record<string, unknown>) });
    const emulatorClock = h.emu.emulator.clock;
    const { daemon } = h.start({ config, http: true, session: SESSION, log, clock: () => emulatorClock.nowMs() });
    await waitForEvent(daemon, 'idle', 30_000);
    const url = daemon.httpAddress!.url;
    const scrape = async () => (await fetch(`${url}/metrics`)).text();
    const customerStore = openTestOssStore(oss, 'virtual-host', { prefix: 'lake/customers' });
    const customerRows = async () => {
      let rows = 0;
      for (const add of (await loadSnapshot(customerStore)).files.values()) rows += parseStats(add)?.numRecords ?? 0;
      return rows;
    };
    const putCustomer = (cid: string) =>
      h!.sdk.putRow({ tableName: 'customers', condition: IGNORE(), primaryKey: [{ cid }], attributeColumns: [{ city: 'Hangzhou' }] });
    const warnings = () => lines.filter((l) => l.msg === 'table lag nears the tunnel retention');

    try {
      // Caught up: full headroom of the window the table reports (24 h), in /status and /metrics.
      const full = { windowSeconds: 86_400, windowSource: 'table', lagSeconds: 0, headroomSeconds: 86_400, fraction: 0, level: 'ok' };
      expect(tableOf(daemon, TABLE).retention).toEqual(full);
      expect(tableOf(daemon, 'customers').retention).toEqual(full);
      const healthy = await scrape();
      expect(sample(healthy, 'otslake_table_retention_window_seconds', TABLE)).toBe(86_400);
      expect(sample(healthy, 'otslake_table_retention_headroom_seconds', 'customers')).toBe(86_400);
      expect(sample(healthy, 'otslake_table_retention_used_ratio', TABLE)).toBe(0);

      // orders cannot write its data files: its changes stay in the Tunnel.
      for (const kind of ['PutObject', 'InitiateMultipartUpload']) {
        oss.faults.inject({ kind: 'error', status: 403, code: 'AccessDenied', op: kind, keyPrefix: 'lake/orders/part-', times: 1_000_000 });
      }
      for (let id = 1; id <= 5; id++) await h.putRow(id, `order-${id}`, id);
      await until(daemon, 'orders failing', () => tableOf(daemon, TABLE).state === 'failing');
      expect(warnings()).toEqual([]);

      // 13 h later: past half of the retention.
      await h.emu.advanceClock(13 * HOUR);
      await until(daemon, 'orders past the warning', () => tableOf(daemon, TABLE).retention.level === 'warning');
      const warned = tableOf(daemon, TABLE).retention;
      expect(warned.lagSeconds).toBeGreaterThanOrEqual(13 * 3600);
      expect(warned.headroomSeconds).toBe(86_400 - warned.lagSeconds);
      expect(warned.fraction).toBeGreaterThanOrEqual(0.5);
      expect(warnings()).toEqual([
        expect.objectContaining({ level: 'warn', table: TABLE, from: 'ok', to: 'warning', thresholdRatio: 0.5, windowSeconds: 86_400, windowSource: 'table' }),
      ]);
      const lagging = await scrape();
      expect(sample(lagging, 'otslake_table_retention_used_ratio', TABLE)).toBeGreaterThanOrEqual(0.5);
      expect(sample(lagging, 'otslake_table_retention_headroom_seconds', TABLE)).toBeLessThanOrEqual(11 * 3600);

      const warnedPage = await pageRetention(url);
      if (warnedPage !== null) {
        expect(warnedPage[TABLE]).toEqual({ level: 'warning', marked: 'retention warning', text: expect.stringMatching(/^[5-7]\d % of 24\.0 h$/) as string });
      }

      // customers goes on: it lands, and once caught up it has the whole window again.
      await putCustomer('c1');
      await until(daemon, 'customers landed', async () => (await customerRows()) >= 1);
      await until(daemon, 'customers caught up', () => tableOf(daemon, 'customers').state === 'caught-up');
      expect(tableOf(daemon, 'customers').retention).toMatchObject({ lagSeconds: 0, headroomSeconds: 86_400, fraction: 0, level: 'ok' });

      // 20 h: past 80 %, an error line.
      await h.emu.advanceClock(7 * HOUR);
      await until(daemon, 'orders critical', () => tableOf(daemon, TABLE).retention.level === 'critical');
      expect(warnings().map((l) => [l.level, l.from, l.to, l.thresholdRatio])).toEqual([
        ['warn', 'ok', 'warning', 0.5],
        ['error', 'warning', 'critical', 0.8],
      ]);
      expect(sample(await scrape(), 'otslake_table_retention_used_ratio', TABLE)).toBeGreaterThanOrEqual(0.8);
      const criticalPage = await pageRetention(url);
      if (criticalPage !== null) {
        expect(criticalPage[TABLE]).toMatchObject({ level: 'critical', marked: 'retention critical' });
        expect(criticalPage.customers).toMatchObject({ level: 'ok', text: '0 % of 24.0 h' });
        expect(criticalPage.customers!.marked ?? '').not.toMatch(/retention/);
      }
      // The level never fell back on the way (a reconnect after each clock jump must not hide the lag).
      expect(lines.filter((l) => l.msg === 'table lag back within the tunnel retention')).toEqual([]);

      // 25 h: the changes orders never landed are trimmed; its tunnel expires and the table stops by name.
      const stopped = waitForEventWhere<[string, OtslakeError]>(daemon, 'table-stopped', (table) => table === TABLE, 60_000);
      await h.emu.advanceClock(5 * HOUR);
      const [, error] = await stopped;
      expect(error).toMatchObject({ code: 'OTSL_TUNNEL_LOST', context: { table: TABLE, cause: 'expired' } });
      expect(error.message).toMatch(/otslake resync/);
      const readyz = await fetch(`${url}/readyz`);
      expect(readyz.status).toBe(503);
      expect(await readyz.text()).toMatch(/table orders .*stopped since .*OTSL_TUNNEL_LOST/);
      expect(tableOf(daemon, TABLE)).toMatchObject({ state: 'stopped', lastError: { code: 'OTSL_TUNNEL_LOST' } });
      const after = await scrape();
      expect(after).toMatch(/otslake_table_state\{table="orders",state="stopped"\} 1/);
      expect(after).toMatch(/otslake_errors_total\{kind="OTSL_TUNNEL_LOST"\} 1/);
      expect(lines).toContainEqual(expect.objectContaining({ level: 'error', msg: 'table state changed', table: TABLE, to: 'stopped' }));
      expect(daemon.state).toBe('running');

      await putCustomer('c2');
      await until(daemon, 'customers landed after the expiry', async () => (await customerRows()) >= 2);
      expect(tableOf(daemon, 'customers').state).not.toBe('stopped');

      // `otslake status`, from the outside: the window the table reports, and which tunnel expired.
      const configPath = await h.writeConfigFile({
        lake: { uri: config.lake.uri, oss: { endpoint: oss.endpoint, ...OSS_CREDENTIALS } },
        tables: [
          { table: TABLE, tunnel: { name: 'otslake-orders', type: 'Stream' }, path: 'orders' },
          { table: 'customers', tunnel: { name: 'otslake-customers', type: 'Stream' } },
        ],
        log: { level: 'silent' },
      });
      const json = await runStatus(['--config', configPath, '--json']);
      expect(json.err).toBe('');
      const byTable = new Map((JSON.parse(json.out) as { tables: TableStatus[] }).tables.map((t) => [t.table, t.retention]));
      const window = { windowSeconds: 86_400, windowSource: 'table', fullPhaseSeconds: null, fullPhaseHeadroomSeconds: null };
      expect(byTable.get(TABLE)).toEqual({ ...window, expired: true });
      expect(byTable.get('customers')).toEqual({ ...window, expired: false });
      const text = await runStatus(['--config', configPath]);
      expect(text.out).toMatch(/retention: window 1\.0 days \(table\); TUNNEL EXPIRED: the table stops with OTSL_TUNNEL_LOST; rebuild it with otslake resync/);
    } finally {
      await customerStore.close();
    }
  }, 120_000);

  it("a full snapshot of old rows counts from the tunnel creation, not from the rows' cell times: no warning", async () => {
    h = await createHarness({ pageRecords: 2 }); // BaseAndStream; small pages: the snapshot takes several batches
    const old = Date.now() - 40 * 24 * HOUR;
    for (let id = 1; id <= 12; id++) {
      await h.sdk.putRow({
        tableName: TABLE,
        condition: IGNORE(),
        primaryKey: [{ id: TS.Long.fromNumber(id) }],
        attributeColumns: [{ name: `r${id}`, timestamp: old + id }],
      });
    }
    const lines: Record<string, unknown>[] = [];
    const log = createLogger({ level: 'info', write: (line) => lines.push(JSON.parse(line) as Record<string, unknown>) });
    const levels = new Set<string>();
    const { daemon } = h.start({ log, clock: () => h!.emu.emulator.clock.nowMs() });
    daemon.on('batch', () => levels.add(tableOf(daemon, TABLE).retention.level));
    await waitForEvent(daemon, 'idle', 60_000);
    expect(await lakeRowCount(h.tablePath)).toBe(12);
    // Snapshot batches ended on their budget with 40-day-old rows pending: the table's lag says so, the
    // retention does not (those rows are never trimmed; the stream has waited only since the tunnel's creation).
    expect(lines.filter((l) => String(l.msg).includes('tunnel retention'))).toEqual([]);
    expect([...levels]).toEqual(['ok']);
    expect(tableOf(daemon, TABLE).retention).toMatchObject({ windowSeconds: 86_400, lagSeconds: 0, level: 'ok' });
  }, 90_000);

  it('a daemon stopped for longer than the retention: at its restart the table stops with OTSL_TUNNEL_LOST (expired), no new tunnel', async () => {
    h = await createHarness({ tunnelType: 'Stream' });
    const first = h.start();
    await waitForEvent(first.daemon, 'idle', 30_000);
    await h.putRow(1, 'one', 1);
    await waitForLakeRows([first.daemon], h.tablePath, 1, 30_000);
    await first.stop();

    // Written while the daemon is down, then a day and an hour pass: the Tunnel trims them unread.
    await h.putRow(2, 'two', 2);
    await h.emu.advanceClock(25 * HOUR);
    const lines: Record<string, unknown>[] = [];
    const log = createLogger({ level: 'info', write: (line) => lines.push(JSON.parse(line) as Record<string, unknown>) });
    const second = h.start({ untilIdle: true, log });
    await expect(second.done).rejects.toMatchObject({ code: 'OTSL_TUNNEL_LOST', context: { table: TABLE, cause: 'expired' } });
    expect(lines).toContainEqual(
      expect.objectContaining({ level: 'error', msg: 'table state changed', to: 'stopped', error: expect.objectContaining({ code: 'OTSL_TUNNEL_LOST' }) }),
    );
    const client = h.emu.tunnelClient();
    try {
      const tunnels = (await client.listTunnel({ table_name: TABLE })).tunnels.filter((t) => t.table_name === TABLE);
      expect(tunnels.map((t) => [t.tunnel_name, t.expired])).toEqual([['otslake-orders', true]]);
    } finally {
      client.close();
    }
    expect(await lakeRowCount(h.tablePath)).toBe(1);
  }, 90_000);
});
