/**
 * `otslake demo` (npm start) as a user runs it, in its own process on a temp data dir: it exits 0
 * after --duration, prints how to query the lake, and the lake holds what the writer wrote, read back
 * by chdb with the very query the demo prints. A second run on the same data dir continues the same
 * table and stops cleanly on SIGINT (Ctrl-C).
 *
 * The process runs the TypeScript sources through tsx (bin/otslake loads dist/), as the other CLI
 * tests do, so the test does not depend on a fresh build.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoQuery } from '../../cli/demo/hints.js';
import { DemoView, type DemoSample } from '../../cli/demo/view.js';
import { runChdb } from '../helpers/chdb.js';
import { lakeRowCount } from '../helpers/daemon-harness.js';
import { createTmpDir, type TmpDir } from '../helpers/tmp-dir.js';
import { loadSnapshot } from '../../lake/snapshot.js';
import { openStore } from '../../lake/store.js';
import { pathToFileURL } from 'node:url';
import { startTablestoreEmulator } from '../../emulator/tablestore/index.js';
import { tablestoreSdk as TS } from '../helpers/emulator.js';

/** The demo's fixed emulator credentials (cli/demo/command.ts). */
const DEMO_CREDENTIALS = { instance: 'otslake-demo', accessKeyId: 'demo-access-key-id', accessKeySecret: 'demo-access-key-secret' } as const;

const CLI = new URL('../../cli/main.ts', import.meta.url).href;
let dir: TmpDir;

beforeAll(async () => {
  dir = await createTmpDir('otslake-demo-');
});

afterAll(async () => {
  await dir.cleanup();
});

interface DemoRun {
  stdout: string;
  stderr: string;
  code: number | null;
}

/** Runs the demo; `onStdout` may act on the output as it arrives (e.g. send SIGINT). */
async function runDemo(args: string[], onStdout?: (text: string, kill: (signal: NodeJS.Signals) => void) => void, timeoutMs = 40_000): Promise<DemoRun> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '-e', `import(${JSON.stringify(CLI)}).then((m) => m.main(process.argv.slice(1)))`, '--', 'demo', ...args],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    onStdout?.(stdout, (signal) => child.kill(signal));
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  return { stdout, stderr, code };
}

/**
 * The lake against the source, independently of the demo's own check: the table scanned through the
 * SDK (tablestore-local reopened on the demo's data dir) and the changelog read by chdb, replayed here.
 */
async function lakeVersusSource(dataDir: string): Promise<{ source: number; missing: number; extra: number; stale: number }> {
  const emulator = await startTablestoreEmulator({ port: 0, ...DEMO_CREDENTIALS, dataDir: join(dataDir, 'emulator') });
  const source = new Map<string, string>();
  try {
    const sdk = new TS.Client({
      endpoint: emulator.endpoint,
      instancename: DEMO_CREDENTIALS.instance,
      accessKeyId: DEMO_CREDENTIALS.accessKeyId,
      secretAccessKey: DEMO_CREDENTIALS.accessKeySecret,
      maxRetries: 0,
    }) as unknown as { getRange(p: Record<string, unknown>): Promise<{ rows: Record<string, unknown>[]; nextStartPrimaryKey: unknown }> };
    const SDK = TS as unknown as { INF_MIN: unknown; INF_MAX: unknown; Direction: { FORWARD: unknown } };
    let start: unknown = [{ order_id: SDK.INF_MIN }];
    while (start) {
      const page = await sdk.getRange({
        tableName: 'orders',
        direction: SDK.Direction.FORWARD,
        inclusiveStartPrimaryKey: start,
        exclusiveEndPrimaryKey: [{ order_id: SDK.INF_MAX }],
        limit: 5000,
      });
      for (const r of page.rows as { primaryKey: { value: unknown }[]; attributes: { columnName: string; columnValue: unknown }[] }[]) {
        const cols = Object.fromEntries(r.attributes.map((a) => [a.columnName, String(a.columnValue)]));
        source.set(String(r.primaryKey[0]!.value), JSON.stringify([cols.status ?? null, cols.coupon ?? null]));
      }
      const next = page.nextStartPrimaryKey as { name: string; value: unknown }[] | null | undefined;
      start = next ? next.map((c) => ({ [c.name]: c.value })) : null;
    }
  } finally {
    await emulator.close();
  }
  const [read] = await runChdb([
    `SELECT toString(order_id) AS k, _op, _seq, status, coupon, _deleted_columns AS del FROM deltaLakeLocal('${join(dataDir, 'lake', 'orders')}') ORDER BY ifNull(_seq, '') `,
  ]);
  if (!read!.ok) throw new Error(read!.error);
  const lake = new Map<string, { status: string | null; coupon: string | null }>();
  for (const r of read!.rows) {
    const k = String(r.k);
    if (r._op === 'DELETE') {
      lake.delete(k);
      continue;
    }
    const row = r._op === 'UPDATE' ? { ...(lake.get(k) ?? { status: null, coupon: null }) } : { status: null, coupon: null };
    if (r.status !== null) row.status = String(r.status);
    if (r.coupon !== null) row.coupon = String(r.coupon);
    for (const c of (r.del as string[] | null) ?? []) if (c === 'status' || c === 'coupon') row[c] = null;
    lake.set(k, row);
  }
  let missing = 0;
  let stale = 0;
  for (const [k, v] of source) {
    const l = lake.get(k);
    if (!l) missing++;
    else if (JSON.stringify([l.status, l.coupon]) !== v) stale++;
  }
  const extra = [...lake.keys()].filter((k) => !source.has(k)).length;
  return { source: source.size, missing, extra, stale };
}

describe('otslake demo', () => {
  it('runs for --duration, prints the query hint, and lands the orders in the lake', async () => {
    const run = await runDemo(['--duration', '8s', '--rate', '100', '--data-dir', dir.path]);
    const tablePath = join(dir.path, 'lake', 'orders');
    expect(run.code, run.stderr + run.stdout).toBe(0);
    expect(run.stdout).toContain(`deltaLakeLocal('${tablePath}')`);
    expect(run.stdout).toContain(`bin/otslake inspect ${tablePath}`);
    expect(run.stdout).toMatch(/^ {2}page {6}http:\/\/127\.0\.0\.1:\d+\/ /m);
    expect(run.stdout).toContain(`bin/otslake status --config ${join(dir.path, 'otslake.json')}`);
    // Not a TTY: one plain line per refresh.
    expect(run.stdout).toMatch(/^demo t=\d+s state=running written=\d+ .*landed=\d+/m);
    const summary = /demo stopped: (\d+) changes written, (\d+) rows landed in (\d+) commits \(Delta version (\d+)\)/.exec(run.stdout);
    expect(summary).not.toBeNull();
    const [written, landed, commits] = [Number(summary![1]), Number(summary![2]), Number(summary![3])];
    expect(written).toBeGreaterThan(300);
    // The daemon caught up before stopping: every change landed (base-stage images may add a few rows).
    expect(landed).toBeGreaterThanOrEqual(written);
    expect(commits).toBeGreaterThan(1);
    expect(await lakeRowCount(tablePath)).toBe(landed);

    const [byMinute, ops] = await runChdb([
      demoQuery(tablePath),
      `SELECT _op, count() AS n, countIf(_seq IS NULL) AS base FROM deltaLakeLocal('${tablePath}') GROUP BY _op ORDER BY _op`,
    ]);
    expect(byMinute!.ok, JSON.stringify(byMinute)).toBe(true);
    if (!byMinute!.ok || !ops!.ok) throw new Error(JSON.stringify([byMinute, ops]));
    expect(byMinute!.rows.reduce((n, r) => n + Number(r.changes), 0)).toBeGreaterThan(0);
    const count = new Map(ops!.rows.map((r) => [String(r._op), Number(r.n)]));
    // The writer inserts, updates and deletes: the changelog shows all three.
    expect(count.get('PUT')).toBeGreaterThan(0);
    expect(count.get('UPDATE')).toBeGreaterThan(0);
    expect(count.get('DELETE')).toBeGreaterThan(0);
    expect([...count.values()].reduce((a, b) => a + b, 0)).toBe(landed);
    expect(run.stdout).toMatch(/lake equals source: \d+ orders, key by key/);
    const check = await lakeVersusSource(dir.path);
    expect(check).toMatchObject({ missing: 0, extra: 0, stale: 0 });
    expect(check.source).toBeGreaterThan(0);
  }, 60_000);

  it('continues the same table on a second run and stops cleanly on SIGINT', async () => {
    const tablePath = join(dir.path, 'lake', 'orders');
    const before = await loadSnapshot(openStore(pathToFileURL(tablePath).href));
    let signalled = false;
    const run = await runDemo(['--rate', '100', '--data-dir', dir.path], (text, kill) => {
      // Ctrl-C once the daemon has landed something in this run.
      if (!signalled && /landed=[1-9]/.test(text)) {
        signalled = true;
        kill('SIGINT');
      }
    });
    expect(signalled).toBe(true);
    expect(run.code, run.stderr + run.stdout).toBe(0);
    expect(run.stdout).toContain('existing table "orders"');
    expect(run.stdout).toContain('stopping (SIGINT)');
    const after = await loadSnapshot(openStore(pathToFileURL(tablePath).href));
    expect(after.version).toBeGreaterThan(before.version);
    // Same tunnel as the first run: its channels continued (same txn appIds, higher versions).
    for (const [appId, txn] of before.txns) expect(after.txns.get(appId)?.version ?? 0).toBeGreaterThanOrEqual(txn.version);
    expect([...after.txns.keys()].filter((k) => before.txns.has(k)).length).toBeGreaterThan(0);
  }, 60_000);

  it('a --duration run that continues the table (changes left by the Ctrl-C run) ends only when the lake equals the source', async () => {
    const run = await runDemo(['--duration', '4s', '--rate', '150', '--data-dir', dir.path]);
    expect(run.code, run.stderr + run.stdout).toBe(0);
    expect(run.stdout).toMatch(/lake equals source: \d+ orders, key by key/);
    expect(await lakeVersusSource(dir.path)).toMatchObject({ missing: 0, extra: 0, stale: 0 });
  }, 60_000);

  it('refuses bad flags with a usage message and exit code 2', async () => {
    const run = await runDemo(['--rate', 'fast', '--data-dir', dir.path]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--rate must be a number');
    expect(run.stderr).toContain('usage: otslake demo');
  });

  it('redraws its block in place on a terminal, and below anything written in between', () => {
    const writes: string[] = [];
    const view = new DemoView({ isTTY: true, write: (t: string) => writes.push(t) });
    const sample = (elapsedMs: number, written: number, landed: number): DemoSample => ({
      elapsedMs,
      written,
      puts: written,
      updates: 0,
      deletes: 0,
      writeErrors: 0,
      landed,
      commits: 1,
      version: 3,
      lagMs: 400,
      state: 'running',
    });
    view.render(sample(1_000, 100, 90));
    view.render(sample(2_000, 300, 250));
    expect(writes[0]!.startsWith('\x1b[3A')).toBe(false);
    expect(writes[1]!.startsWith('\x1b[3A')).toBe(true);
    // Rates are per second since the previous refresh: 200 written, 160 landed.
    expect(writes[1]).toMatch(/written +300 +200 rows\/s/);
    expect(writes[1]).toMatch(/landed +250 +160 rows\/s {3}lag 0\.4s/);
    view.release();
    view.render(sample(3_000, 300, 300));
    expect(writes[2]!.startsWith('\x1b[3A')).toBe(false);
  });
});
