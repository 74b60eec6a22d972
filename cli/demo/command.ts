/**
 * `otslake demo` (npm start): everything in one process, nothing to configure.
 *
 *   tablestore-local (ephemeral port, state under <data-dir>/emulator)
 *        ▲ official `tablestore` SDK: the demo writer (orders: put / partial update / delete)
 *        │ Tunnel (BaseAndStream)
 *   daemon ──▶ <data-dir>/lake/orders (changelog Delta table), HTTP endpoints on a loopback port
 *        └──▶ live view on stdout; JSON logs in <data-dir>/otslake.log
 *
 * State is kept between runs (the emulator's tables and tunnel, the lake), so a second `npm start`
 * continues the same table; `--fresh` starts over. Ctrl-C stops the writer, lets the daemon commit its
 * in-flight batch and closes the emulator; a second Ctrl-C abandons the batch (nothing is lost: it is
 * redone next run). With --duration the writer stops when the time is up and the demo ends once the lake
 * equals the source (compare.ts: the table scanned through the SDK against the changelog replayed),
 * so the lake ends with every change; exit 1 if it does not within CATCH_UP_MS.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseCommandArgs } from '../../common/args.js';
import { isOtslakeError } from '../../common/errors.js';
import { createLogger, type Logger } from '../../common/log.js';
import { parseDuration } from '../../common/units.js';
import { resolveConfig } from '../../config/load.js';
import type { Command } from '../command.js';
import { openStore } from '../../lake/store.js';
import { compareLakeWithSource, type Comparison } from './compare.js';
import { endpointHints, queryHints } from './hints.js';
import { DemoView } from './view.js';
import { createSdkClient, DEMO_TABLE, DemoWriter, ensureOrdersTable, type SdkConnection } from './writer.js';
import type { Daemon } from '../../daemon/daemon.js';
import { buildDaemon } from '../../daemon/main.js';

const USAGE = 'usage: otslake demo [--duration 30s] [--rate 200] [--data-dir ./data] [--fresh]';
const CREDENTIALS = { instance: 'otslake-demo', accessKeyId: 'demo-access-key-id', accessKeySecret: 'demo-access-key-secret' } as const;
/** After --duration, how long the daemon may take to make the lake equal the source before the demo gives up (exit 1). */
const CATCH_UP_MS = 30_000;

interface DemoArgs {
  durationMs: number | null;
  rate: number;
  dataDir: string;
  fresh: boolean;
}

function parseDemoArgs(argv: string[]): DemoArgs | string {
  let values;
  try {
    values = parseCommandArgs(argv, {
      duration: { type: 'string' },
      rate: { type: 'string', default: '200' },
      'data-dir': { type: 'string', default: 'data' },
      fresh: { type: 'boolean' },
    }).values;
  } catch (err) {
    return (err as Error).message;
  }
  let durationMs: number | null = null;
  if (values.duration !== undefined) {
    try {
      durationMs = parseDuration(values.duration);
    } catch {
      return `--duration must be a duration such as 30s or 2m, got "${values.duration}"`;
    }
    if (!(durationMs > 0)) return `--duration must be positive, got "${values.duration}"`;
  }
  const rate = Number(values.rate);
  if (!(Number.isFinite(rate) && rate > 0 && rate <= 100_000)) return `--rate must be a number of changes per second in (0, 100000], got "${values.rate}"`;
  return { durationMs, rate, dataDir: resolve(values['data-dir']!), fresh: values.fresh === true };
}

function fileLogger(stream: WriteStream): Logger {
  return createLogger({ level: 'info', write: (line) => stream.write(line + '\n'), bindings: { service: 'otslake' } });
}

export const command: Command = {
  summary: 'the embedded demo: emulator + order writer + daemon into ./data/lake',
  async run(argv: string[]): Promise<number> {
    const args = parseDemoArgs(argv);
    if (typeof args === 'string') {
      process.stderr.write(`otslake demo: ${args}\n${USAGE}\n`);
      return 2;
    }
    const { dataDir } = args;
    const emulatorDir = join(dataDir, 'emulator');
    const lakeDir = join(dataDir, 'lake');
    if (args.fresh) await Promise.all([rm(emulatorDir, { recursive: true, force: true }), rm(lakeDir, { recursive: true, force: true })]);
    await mkdir(emulatorDir, { recursive: true });
    await mkdir(lakeDir, { recursive: true });
    const logPath = join(dataDir, 'otslake.log');
    const logStream = createWriteStream(logPath, { flags: 'a' });
    const log = fileLogger(logStream);

    const { startTablestoreEmulator } = await import('../../emulator/tablestore/index.js');
    const emulator = await startTablestoreEmulator({
      port: 0,
      ...CREDENTIALS,
      dataDir: emulatorDir,
      partitionsPerTable: 2,
      logger: log.child({ component: 'tablestore-local' }),
    });
    // Only this process ever used this emulator's data: a client left from a killed run is dead, and
    // waiting out its heartbeat timeout (minutes) would only stall the demo.
    await emulator.tunnel.sweepExpiredClients(Date.now() + 24 * 3_600_000);
    const connection: SdkConnection = { endpoint: emulator.endpoint, ...CREDENTIALS };
    const sdk = createSdkClient(connection);
    try {
      return await runDemo(args, connection, sdk, log, logPath, lakeDir);
    } catch (err) {
      process.stderr.write(`otslake demo: ${isOtslakeError(err) ? `${err.code}: ${err.message}` : String(err)}\n(logs: ${logPath})\n`);
      return 1;
    } finally {
      await emulator.close();
      logStream.end();
      await once(logStream, 'close').catch(() => undefined);
    }
  },
};

/** The daemon's config for the demo table (written to otslake.json too, so `otslake status` works). */
function demoConfig(connection: SdkConnection, lakeDir: string) {
  return {
    source: { ...connection, requestTimeoutMs: '10s' },
    lake: { uri: pathToFileURL(lakeDir).href },
    tables: [
      {
        table: DEMO_TABLE,
        tunnel: { name: 'otslake-demo-orders', type: 'BaseAndStream' },
        mode: 'changelog',
        path: DEMO_TABLE,
        columns: [
          { name: 'user_id', type: 'INTEGER' },
          { name: 'amount', type: 'DOUBLE' },
          { name: 'status', type: 'STRING' },
          { name: 'paid', type: 'BOOLEAN' },
          { name: 'created_at', type: 'INTEGER' },
          { name: 'coupon', type: 'STRING' },
        ],
      },
    ],
    // One commit a second keeps the view lively; a production config uses 30s (fewer, larger files).
    batch: { intervalMs: '1s', maxDurationMs: '1s' },
    workers: { threads: 1 },
    http: { host: '127.0.0.1', port: 0 },
    log: { level: 'warn' },
    shutdown: { graceMs: '10s' },
  };
}

/** What the demo prints once it runs: where everything is and how to look at it. */
function banner(o: { args: DemoArgs; endpoint: string; created: boolean; tablePath: string; httpUrl: string; logPath: string; configPath: string }): string {
  const { args } = o;
  return (
    [
      `otslake demo — tablestore-local at ${o.endpoint} (${o.created ? 'created' : 'existing'} table "${DEMO_TABLE}"), writing ~${args.rate} changes/s through the tablestore SDK`,
      `  lake      ${o.tablePath}   (changelog mode, BaseAndStream tunnel)`,
      ...endpointHints(o.httpUrl),
      `  logs      ${o.logPath}`,
      '',
      ...queryHints(o.tablePath, o.configPath),
      '',
      '"landed" counts every row the daemon commits, which includes the full snapshot of rows already in the table',
      'and changes an earlier run wrote but had not landed: it may exceed "written".',
      args.durationMs === null
        ? 'Ctrl-C stops the demo cleanly.'
        : `Running for ${Math.round(args.durationMs / 1000)}s (Ctrl-C stops earlier), then until the lake equals the table.`,
      '',
    ].join('\n') + '\n'
  );
}

async function runDemo(
  args: DemoArgs,
  connection: SdkConnection,
  sdk: ReturnType<typeof createSdkClient>,
  log: Logger,
  logPath: string,
  lakeDir: string,
): Promise<number> {
  const created = await ensureOrdersTable(sdk);
  const rawConfig = demoConfig(connection, lakeDir);
  const config = resolveConfig(rawConfig, {}, 'otslake demo');
  const configPath = join(args.dataDir, 'otslake.json');
  // Lets `otslake status --config` look at the running demo (demo credentials only).
  await writeFile(configPath, JSON.stringify(rawConfig, null, 2) + '\n');

  const { daemon, close } = buildDaemon(config, { log });
  const writer = new DemoWriter({ client: sdk, rate: args.rate, onError: (err) => log.warn('demo write failed', { error: err }) });
  const tablePath = join(lakeDir, DEMO_TABLE);
  const out = process.stdout;
  let landed = 0;
  let commits = 0;
  let version: number | null = null;
  let httpUrl = '(starting)';
  daemon.on('http-listening', (a) => (httpUrl = a.url));
  daemon.on('batch-committed', (_table, report) => {
    landed += report.rows;
    commits++;
    version = report.version;
  });
  daemon.on('table-ready', () => writer.start());

  const startedAt = Date.now();
  const view = new DemoView(out);
  const sample = () => {
    const lagFrom = landed >= writer.written ? null : writer.writtenAt(landed + 1);
    return {
      elapsedMs: Date.now() - startedAt,
      written: writer.written,
      ...writer.counts,
      writeErrors: writer.counts.errors,
      landed,
      commits,
      version,
      lagMs: landed >= writer.written && writer.written > 0 ? 0 : lagFrom === null ? null : Date.now() - lagFrom,
      state: daemon.state,
    };
  };

  const verification: { result: Comparison | null } = { result: null };
  const store = openStore(pathToFileURL(tablePath).href);
  const verify = async (): Promise<boolean> => {
    verification.result = await compareLakeWithSource(sdk, DEMO_TABLE, store).catch((err: unknown) => {
      log.warn('demo: comparing the lake with the source failed', { error: err });
      return null;
    });
    return verification.result?.equal === true;
  };
  const stops = installStops({ durationMs: args.durationMs, daemon, writer, view, out, verify });
  const running = daemon.run();
  await once(daemon, 'http-listening').catch(() => undefined);
  out.write(banner({ args, endpoint: connection.endpoint, created, tablePath, httpUrl, logPath, configPath }));
  const refresh = setInterval(() => view.render(sample()), 1_000);
  let code = 0;
  try {
    await running;
  } catch (err) {
    code = 1;
    view.release();
    out.write(`\ndaemon failed: ${isOtslakeError(err) ? `${err.code}: ${err.message}` : String(err)} (logs: ${logPath})\n`);
  } finally {
    clearInterval(refresh);
    stops.dispose();
    await writer.stop();
    close();
  }
  view.render(sample());
  out.write(
    `\ndemo stopped: ${writer.written} changes written, ${landed} rows landed in ${commits} commits (Delta version ${version ?? '-'}).\n` +
      `The lake stays in ${tablePath}; run the query above, or \`npm start\` again to continue.\n`,
  );
  if (args.durationMs !== null && code === 0) {
    const v = verification.result;
    if (v?.equal) out.write(`lake equals source: ${v.sourceRows} orders, key by key.\n`);
    else {
      out.write(
        v
          ? `lake does NOT equal source after ${CATCH_UP_MS / 1000}s: ${v.missing} missing, ${v.extra} extra, ${v.stale} stale of ${v.sourceRows} orders.\n`
          : `the lake could not be compared with the source (logs: ${logPath}).\n`,
      );
      code = 1;
    }
  }
  return code;
}

/**
 * How the demo stops: the first Ctrl-C/SIGTERM stops the writer, then the daemon commits its
 * in-flight batch; a second one abandons it. With --duration the writer stops when the time is up
 * and the daemon catches up first.
 */
function installStops(o: {
  durationMs: number | null;
  daemon: Daemon;
  writer: DemoWriter;
  view: DemoView;
  out: NodeJS.WriteStream;
  verify: () => Promise<boolean>;
}): {
  dispose(): void;
} {
  const { daemon, writer, view, out } = o;
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      daemon.destroy();
      return;
    }
    stopping = true;
    view.release();
    out.write(`\nstopping (${signal}): writer first, then the daemon commits its in-flight batch…\n`);
    void writer.stop().then(() => daemon.shutdown(signal));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const durationTimer =
    o.durationMs === null
      ? null
      : setTimeout(() => {
          if (stopping) return;
          stopping = true;
          void (async () => {
            await writer.stop();
            view.release();
            out.write(`\n--duration reached: writer stopped at ${writer.written} changes; running until the lake equals the table…\n`);
            await catchUp(daemon, o.verify);
            daemon.shutdown('demo duration reached');
          })();
        }, o.durationMs);
  return {
    dispose() {
      if (durationTimer) clearTimeout(durationTimer);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/**
 * Resolves once the lake equals the source, or after CATCH_UP_MS. Compared after each quiet batch
 * (nothing left to read as of its start): that is when the two can be equal.
 */
async function catchUp(daemon: Daemon, equal: () => Promise<boolean>): Promise<void> {
  const deadline = AbortSignal.timeout(CATCH_UP_MS);
  while (!deadline.aborted && daemon.state === 'running') {
    const [, report] = (await once(daemon, 'batch', { signal: deadline }).catch(() => [null, null])) as [string | null, { quiet?: boolean } | null];
    if (report?.quiet && (await equal())) return;
  }
  await equal();
}
