/**
 * The switch of a mirror resync (pipeline/resync-switch.ts): the diff live → staged snapshot runs as
 * 'resync-diff' tasks on the worker pool. Per run: a live mirror table of N rows and a staged snapshot of the same
 * key range in which a share of the rows changed, a share were deleted and as many are new (CDF on, so the change
 * data is written), then `switchToStaged` on a real pool of 1 and 2 worker threads. Reference in the same run: the
 * same switch with the diff run on the calling thread (an in-process pool, as the switch ran before). Prints per
 * case: wall ms, and the main thread's event-loop delay over the switch (max and p99 of `monitorEventLoopDelay`,
 * what a daemon's other tables, heartbeats and HTTP wait at worst), with the change counts (equal in every case).
 *
 *   npm run build && npx tsx bench/resync-switch.ts [--rows 200000] [--buckets 16] [--changed 0.05] [--runs 2]
 */
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { createLogger } from '../common/log.js';
import { LocalStore } from '../lake/local-store.js';
import { switchToStaged } from '../pipeline/resync-switch.js';
import { runResyncDiffTask } from '../workers/mirror-task.js';
import { createWorkerPool, entryWorkerFile, type TaskOutcome, type WorkerPool } from '../workers/pool.js';
import { PROTOCOL_VERSION, type TaskInput } from '../workers/protocol.js';
import { buildMirrorTable, orderRow } from './mirror-tables.js';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '200000' },
    buckets: { type: 'string', default: '16' },
    changed: { type: 'string', default: '0.05' },
    runs: { type: 'string', default: '2' },
  },
});
const ROWS = Number(args.rows);
const BUCKETS = Number(args.buckets);
const CHANGED = Number(args.changed);
const RUNS = Number(args.runs);
const STAGING = '_otslake/staging/resync-bench/';
const SPEC = { buckets: BUCKETS, targetFileBytes: 1 << 20, changeDataFeed: true };

/** Rows 0..N-1 live; the snapshot drops the first CHANGED share, updates the next, and adds as many new rows. */
function* liveRows(): Generator<Record<string, unknown>> {
  for (let i = 0; i < ROWS; i++) yield orderRow(i);
}
function* stagedRows(): Generator<Record<string, unknown>> {
  const k = Math.round(ROWS * CHANGED);
  for (let i = k; i < ROWS + k; i++) yield orderRow(i, i < 2 * k ? 1 : 0);
}

/** The diff on the calling thread: what the switch did before it had a pool. */
function inThreadPool(root: string): WorkerPool {
  const store = new LocalStore(root, { fsync: false });
  return {
    threads: 1,
    capacity: 1,
    running: 0,
    waiting: 0,
    async run<T extends TaskInput>(input: T): Promise<TaskOutcome<T>> {
      if (input.kind !== 'resync-diff') throw new Error(`unexpected ${input.kind} task`);
      return (await runResyncDiffTask(input, store.child(input.tablePath))) as TaskOutcome<T>;
    },
    close: () => Promise.resolve(),
    destroy: () => Promise.resolve(),
  };
}

function threadPool(root: string, threads: number): WorkerPool {
  const tablestore = {
    endpoint: 'http://127.0.0.1:1',
    instanceName: 'bench',
    accessKeyId: 'ak',
    accessKeySecret: 'sk',
    securityToken: null,
    requestTimeoutMs: 5_000,
  };
  return createWorkerPool({
    filename: entryWorkerFile(),
    threads,
    workerData: {
      protocol: PROTOCOL_VERSION,
      tablestore,
      lake: { uri: pathToFileURL(root).href, oss: null },
      parquet: { compression: 'zstd', rowGroupRows: 50_000 },
      logLevel: 'silent',
    },
  });
}

const template = await mkdtemp(path.join(tmpdir(), 'otslake-bench-resync-'));
const t0 = performance.now();
const templateStore = new LocalStore(template, { fsync: false });
await buildMirrorTable(templateStore.child('t'), liveRows(), SPEC);
await buildMirrorTable(templateStore.child(`t/${STAGING}`), stagedRows(), SPEC);
console.log(JSON.stringify({ bench: 'resync-switch.setup', rows: ROWS, buckets: BUCKETS, changedShare: CHANGED, buildMs: Math.round(performance.now() - t0) }));

const cases: [string, (root: string) => WorkerPool][] = [
  ['diff on the calling thread (reference)', inThreadPool],
  ['pool, 1 thread', (root) => threadPool(root, 1)],
  ['pool, 2 threads', (root) => threadPool(root, 2)],
];
const log = createLogger({ level: 'silent' });
try {
  for (let run = 0; run < RUNS; run++) {
    for (const [name, poolOf] of cases) {
      const root = await mkdtemp(path.join(tmpdir(), 'otslake-bench-resync-run-'));
      const pool = poolOf(root);
      try {
        await cp(template, root, { recursive: true });
        const delay = monitorEventLoopDelay({ resolution: 5 });
        const started = performance.now();
        delay.enable();
        const result = await switchToStaged({
          table: 'bench',
          live: new LocalStore(root, { fsync: false }).child('t'),
          tablePath: 't',
          pool,
          stagingPrefix: STAGING,
          tunnelId: 'bench',
          previousTunnelId: null,
          metadataPrefix: '_',
          log,
        });
        delay.disable();
        console.log(
          JSON.stringify({
            bench: 'resync-switch',
            case: name,
            run,
            rows: ROWS,
            wallMs: Math.round(performance.now() - started),
            eventLoopDelayMaxMs: Math.round(delay.max / 1e6),
            eventLoopDelayP99Ms: Math.round(delay.percentile(99) / 1e6),
            inserted: result.inserted,
            updated: result.updated,
            deleted: result.deleted,
          }),
        );
      } finally {
        await pool.close();
        await rm(root, { recursive: true, force: true });
      }
    }
  }
} finally {
  await rm(template, { recursive: true, force: true });
}
