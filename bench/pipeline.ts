/**
 * End to end, emulator → lake, with the daemon as an operator runs it (`otslake run`, its own process):
 *
 *   throughput  N rows pre-loaded through BatchWriteRow, then `run --until-idle` with 1 and 2 worker
 *               threads on a fresh tunnel and lake each: rows/s and Parquet MB/s from the daemon's
 *               "table ready" to "every table caught up", wall time from spawn to exit, peak RSS of
 *               the daemon process (VmHWM). Reference in the same run: DuckDB writing the same rows
 *               to one zstd Parquet file (its best case: no Tunnel, no decoding, no commit).
 *   freshness   a daemon running (batch.intervalMs 1s), the SDK writing R rows/s for S seconds; per
 *               row, write-to-visible latency = timestamp of the Delta commit whose files hold the row
 *               − the time the SDK acknowledged the write (files mapped to rows by DuckDB). p50/p99.
 *
 *   npx tsx bench/pipeline.ts [--rows 50000] [--threads 1,2] [--rate 500] [--seconds 10]
 *   npm run build && npx tsx bench/pipeline.ts --daemon dist …   (the daemon runs from dist/, as bin/otslake does:
 *                                                               no TypeScript compiled at start-up in its CPU time)
 *
 * The Tablestore emulator runs in this process; the machine's cores are shared with it.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { openSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { onLogLines } from '../common/log-lines.js';
import { startTablestoreEmulator } from '../emulator/tablestore/index.js';
import { benchSdkClient, createOrdersTable, preloadOrders, putOrders } from './orders-load.js';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '50000' },
    threads: { type: 'string', default: '1,2' },
    rate: { type: 'string', default: '500' },
    seconds: { type: 'string', default: '10' },
    daemon: { type: 'string', default: 'auto' },
  },
});
const ROWS = Number(values.rows);
const THREADS = values.threads!.split(',').map(Number);
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);
const CREDS = { instance: 'bench', accessKeyId: 'bench-ak', accessKeySecret: 'bench-secret' };
/** `--daemon dist` runs the daemon from dist/ (bin/otslake, as in production: build first) even under tsx. */
const FROM_SOURCES = values.daemon === 'dist' ? false : import.meta.url.endsWith('.ts');

/**
 * `otslake <args>` from dist/ (bin/otslake) or, under tsx, from the sources. BENCH_DAEMON_NODE_ARGS
 * adds node options to the daemon only, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile it;
 * BENCH_DAEMON_STDOUT=<file> keeps the daemon's stdout there (e.g. for "--trace-gc"), else it is dropped.
 */
function spawnCli(args: string[]) {
  const nodeArgs = (process.env.BENCH_DAEMON_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
  const argv = [
    ...nodeArgs,
    ...(FROM_SOURCES
      ? [
          '--import',
          'tsx',
          '-e',
          `import(${JSON.stringify(new URL('../cli/main.ts', import.meta.url).href)}).then((m) => m.main(process.argv.slice(1)))`,
          '--',
          ...args,
        ]
      : [fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? '../bin/otslake' : '../../bin/otslake', import.meta.url)), ...args]),
  ];
  return spawn(process.execPath, argv, {
    stdio: ['ignore', process.env.BENCH_DAEMON_STDOUT ? openSync(process.env.BENCH_DAEMON_STDOUT, 'w') : 'ignore', 'pipe'],
  });
}

/** Peak resident set of a live process (Linux VmHWM), polled until it exits. */
async function watchPeakRss(pid: number, exited: Promise<unknown>): Promise<number | null> {
  let peakKiB: number | null = null;
  let done = false;
  void exited.then(() => (done = true));
  while (!done) {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
      if (m) peakKiB = Number(m[1]);
    } catch {
      break;
    }
    await Promise.race([delay(100), exited]);
  }
  return peakKiB === null ? null : Math.round(peakKiB / 1024);
}

interface DaemonRun {
  logs: Record<string, unknown>[];
  code: number | null;
  wallMs: number;
  peakRssMiB: number | null;
  /** CPU (user + system) of the whole daemon process, start-up included: this process's reaped-children time. */
  cpuMs: number;
  /** CPU of the daemon between its "table ready" and "every table caught up" log lines (/proc/<pid>/stat). */
  ingestCpuMs: number | null;
  /** CPU of this process (the emulator serving the reads) between the same two lines. */
  emulatorCpuMs: number | null;
}

const TICK_MS = 10; // USER_HZ = 100 on Linux

/** utime + stime of a live process, or (fields 16, 17) of this process's waited-for children, in ms. */
function cpuTicksMs(pid: number | 'self', children: boolean): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields[0] is field 3 (state)
    const at = children ? 13 : 11; // utime = field 14, cutime = field 16
    return (Number(fields[at]) + Number(fields[at + 1])) * TICK_MS;
  } catch {
    return null;
  }
}

async function runDaemon(configPath: string, extra: string[], until?: (logs: Record<string, unknown>[]) => Promise<void>): Promise<DaemonRun> {
  const started = performance.now();
  const childCpuBefore = cpuTicksMs('self', true) ?? 0;
  const child = spawnCli(['run', '--config', configPath, ...extra]);
  const logs: Record<string, unknown>[] = [];
  let readyCpu: number | null = null;
  let caughtUpCpu: number | null = null;
  let ownAtReady: NodeJS.CpuUsage | null = null;
  let emulatorCpuMs: number | null = null;
  onLogLines(child.stderr!, (rec) => {
    logs.push(rec);
    if (rec.msg === 'table ready' && readyCpu === null) {
      readyCpu = cpuTicksMs(child.pid!, false);
      ownAtReady = process.cpuUsage();
    }
    if (rec.msg === 'every table caught up' && caughtUpCpu === null) {
      caughtUpCpu = cpuTicksMs(child.pid!, false);
      if (ownAtReady !== null) {
        const own = process.cpuUsage(ownAtReady);
        emulatorCpuMs = (own.user + own.system) / 1000;
      }
    }
  });
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  const peak = watchPeakRss(child.pid!, exited);
  if (until) {
    await until(logs);
    child.kill('SIGTERM');
  }
  const code = await exited;
  const cpuMs = (cpuTicksMs('self', true) ?? 0) - childCpuBefore;
  const ingestCpuMs = readyCpu !== null && caughtUpCpu !== null ? caughtUpCpu - readyCpu : null;
  return { logs, code, wallMs: performance.now() - started, peakRssMiB: await peak, cpuMs, ingestCpuMs, emulatorCpuMs };
}

function logTimeMs(logs: Record<string, unknown>[], msg: string): number | null {
  const rec = logs.find((l) => l.msg === msg);
  return rec ? Date.parse(String(rec.time)) : null;
}

async function parquetBytes(tablePath: string): Promise<number> {
  let bytes = 0;
  for (const name of await readdir(tablePath)) if (name.endsWith('.parquet')) bytes += (await stat(join(tablePath, name))).size;
  return bytes;
}

function configFor(emulatorEndpoint: string, lakeDir: string, table: string, tunnel: string, threads: number, batch: Record<string, unknown>) {
  return {
    source: { endpoint: emulatorEndpoint, ...CREDS, requestTimeoutMs: '30s' },
    lake: { uri: pathToFileURL(lakeDir).href },
    tables: [{ table, tunnel: { name: tunnel, type: 'BaseAndStream' }, path: table }],
    batch,
    workers: { threads },
    http: { port: 0 },
    log: { level: 'info' },
    shutdown: { graceMs: '30s' },
  };
}

async function duckdbReference(rows: number, dir: string): Promise<{ ms: number; bytes: number }> {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const db = await DuckDBInstance.create(':memory:', { threads: '1' });
  const con = await db.connect();
  const file = join(dir, 'duckdb.parquet');
  const started = performance.now();
  await con.run(
    `COPY (SELECT i AS id, ['created','paid','shipped'][i % 3 + 1] AS status, (i % 1000) / 10 + 0.5 AS amount, i % 17 AS qty, 'note ' || i AS note FROM range(${rows}) t(i)) ` +
      `TO '${file}' (FORMAT parquet, COMPRESSION zstd)`,
  );
  const ms = performance.now() - started;
  con.closeSync();
  db.closeSync();
  return { ms, bytes: (await stat(file)).size };
}

/** Per row id, the timestamp (ms) of the commit that made it visible: the log maps files to commits, DuckDB files to ids. */
async function visibleAtById(tablePath: string): Promise<Map<number, number>> {
  const fileTs = new Map<string, number>();
  const logDir = join(tablePath, '_delta_log');
  for (const name of (await readdir(logDir)).filter((n) => /^\d{20}\.json$/.test(n))) {
    const actions = (await readFile(join(logDir, name), 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, { path?: string; timestamp?: number }>);
    const ts = actions.find((a) => a.commitInfo)?.commitInfo?.timestamp ?? (await stat(join(logDir, name))).mtimeMs;
    for (const a of actions) if (a.add?.path) fileTs.set(join(tablePath, decodeURIComponent(a.add.path)), ts);
  }
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const db = await DuckDBInstance.create(':memory:', { threads: '1' });
  const con = await db.connect();
  const files = [...fileTs.keys()].map((f) => `'${f}'`).join(',');
  const reader = await con.runAndReadAll(`SELECT id, filename FROM read_parquet([${files}], filename = true) WHERE _op = 'PUT'`);
  const out = new Map<number, number>();
  for (const [id, filename] of reader.getRows()) {
    // A row can land twice (a base-data image and its stream change): it was visible at the first.
    const ts = fileTs.get(String(filename))!;
    const seen = out.get(Number(id));
    if (seen === undefined || ts < seen) out.set(Number(id), ts);
  }
  con.closeSync();
  db.closeSync();
  return out;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Write-to-visible latency at a steady write rate (see the header). */
async function freshness(sdk: ReturnType<typeof benchSdkClient>, endpoint: string, dir: string): Promise<void> {
  await createOrdersTable(sdk, 'fresh');
  const lakeDir = join(dir, 'lake-fresh');
  const configPath = join(dir, 'fresh.json');
  await writeFile(configPath, JSON.stringify(configFor(endpoint, lakeDir, 'fresh', 'bench-fresh', 1, { intervalMs: '1s', maxDurationMs: '1s' })));
  const ackedAt = new Map<number, number>();
  const waitReady = async (logs: Record<string, unknown>[]) => {
    while (!logs.some((l) => l.msg === 'table ready')) await delay(20);
  };
  const fresh = await runDaemon(configPath, [], async (logs) => {
    await waitReady(logs);
    // Writes in ticks of 20 ms (one BatchWriteRow each) at RATE rows/s; acknowledged time per row.
    const started = performance.now();
    let next = 1;
    while (performance.now() - started < SECONDS * 1000) {
      const due = Math.floor(((performance.now() - started) / 1000) * RATE) + 1;
      if (due > next) {
        const ids = Array.from({ length: Math.min(200, due - next) }, (_, k) => next + k);
        next += ids.length;
        await putOrders(sdk, 'fresh', ids);
        const now = Date.now();
        for (const id of ids) ackedAt.set(id, now);
      }
      await delay(20);
    }
    // Let the last writes land: until every id is in the lake or 15 s passed. Counted by id, not by the
    // rows the commits logged: rows written while the full snapshot is read land twice (snapshot and stream).
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      const commits = logs.filter((l) => l.msg === 'batch committed').length;
      if (commits > 0 && (await visibleAtById(join(lakeDir, 'fresh'))).size >= ackedAt.size) break;
      await delay(250);
    }
  });
  const visible = await visibleAtById(join(lakeDir, 'fresh'));
  const latencies = [...ackedAt]
    .filter(([id]) => visible.has(id))
    .map(([id, at]) => Math.max(0, visible.get(id)! - at))
    .sort((a, b) => a - b);
  console.log(
    JSON.stringify({
      bench: 'pipeline.freshness',
      rate: RATE,
      seconds: SECONDS,
      batchIntervalMs: 1000,
      written: ackedAt.size,
      visible: latencies.length,
      p50Ms: latencies.length ? percentile(latencies, 50) : null,
      p99Ms: latencies.length ? percentile(latencies, 99) : null,
      maxMs: latencies.at(-1) ?? null,
      commits: fresh.logs.filter((l) => l.msg === 'batch committed').length,
      peakRssMiB: fresh.peakRssMiB,
      reference: 'batch.intervalMs: a row waits on average half an interval for the next batch, plus the batch itself',
    }),
  );
}

const dir = await mkdtemp(join(tmpdir(), 'otslake-bench-pipeline-'));
const emu = await startTablestoreEmulator({ port: 0, ...CREDS, dataDir: join(dir, 'ts'), partitionsPerTable: 2, tunnel: { initDelayMs: 0 } });
try {
  const sdk = benchSdkClient(emu.endpoint, CREDS);
  console.log(
    JSON.stringify({
      bench: 'pipeline.setup',
      rows: ROWS,
      threads: THREADS,
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model,
      node: process.version,
      daemonFrom: FROM_SOURCES ? 'sources (tsx)' : 'dist',
    }),
  );

  // ---- throughput ----
  await createOrdersTable(sdk, 'orders');
  const loadStarted = performance.now();
  await preloadOrders(sdk, 'orders', ROWS);
  console.log(
    JSON.stringify({
      bench: 'pipeline.preload',
      rows: ROWS,
      ms: Math.round(performance.now() - loadStarted),
      rowsPerSec: Math.round(ROWS / ((performance.now() - loadStarted) / 1000)),
      // The emulator's memory holding the table (this process): JS heap and RSS.
      emulatorHeapMiB: Math.round(process.memoryUsage().heapUsed / 2 ** 20),
      emulatorRssMiB: Math.round(process.memoryUsage().rss / 2 ** 20),
    }),
  );

  const ref = await duckdbReference(ROWS, dir);
  for (const threads of THREADS) {
    const lakeDir = join(dir, `lake-${threads}`);
    const configPath = join(dir, `throughput-${threads}.json`);
    // Big budgets: each channel task reads until its channel's base data is done or 100k records.
    await writeFile(
      configPath,
      JSON.stringify(
        configFor(emu.endpoint, lakeDir, 'orders', `bench-${threads}`, threads, { intervalMs: '100ms', maxRecordsPerChannel: 100_000, maxDurationMs: '30s' }),
      ),
    );
    const run = await runDaemon(configPath, ['--until-idle']);
    if (run.code !== 0) throw new Error(`daemon exited ${run.code}: ${JSON.stringify(run.logs.slice(-5))}`);
    const ready = logTimeMs(run.logs, 'table ready');
    const caughtUp = logTimeMs(run.logs, 'every table caught up');
    const ingestMs = ready !== null && caughtUp !== null ? caughtUp - ready : run.wallMs;
    const rows = run.logs.filter((l) => l.msg === 'batch committed').reduce((n, l) => n + Number(l.rows ?? 0), 0);
    const bytes = await parquetBytes(join(lakeDir, 'orders'));
    console.log(
      JSON.stringify({
        bench: 'pipeline.throughput',
        threads,
        rows,
        ingestMs,
        rowsPerSec: Math.round(rows / (ingestMs / 1000)),
        parquetMBps: +(bytes / 1e6 / (ingestMs / 1000)).toFixed(2),
        parquetMB: +(bytes / 1e6).toFixed(2),
        commits: run.logs.filter((l) => l.msg === 'batch committed').length,
        wallMs: Math.round(run.wallMs),
        peakRssMiB: run.peakRssMiB,
        daemonCpuMs: run.cpuMs,
        cpuUsPerRow: +((run.cpuMs * 1000) / rows).toFixed(2),
        ingestCpuUsPerRow: run.ingestCpuMs === null ? null : +((run.ingestCpuMs * 1000) / rows).toFixed(2),
        emulatorCpuUsPerRow: run.emulatorCpuMs === null ? null : +((run.emulatorCpuMs * 1000) / rows).toFixed(2),
        referenceRatio: +(rows / (ingestMs / 1000) / (ROWS / (ref.ms / 1000))).toFixed(3),
        reference: 'DuckDB COPY of the same rows to one zstd Parquet file, 1 thread',
        referenceRowsPerSec: Math.round(ROWS / (ref.ms / 1000)),
        referenceMBps: +(ref.bytes / 1e6 / (ref.ms / 1000)).toFixed(2),
        referenceMB: +(ref.bytes / 1e6).toFixed(2),
      }),
    );
  }

  // ---- freshness (--seconds 0 skips it) ----
  if (SECONDS > 0) await freshness(sdk, emu.endpoint, dir);
} finally {
  await emu.close();
  await rm(dir, { recursive: true, force: true });
}
