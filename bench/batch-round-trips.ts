/**
 * Sequential round trips of one batch on an OSS lake: the daemon (in-process, real worker threads,
 * one thread) lands a stream batch of 4 channels × ~2,000 rows into the OSS emulator, once without
 * and once with latency injected into every OSS request. The batch's extra duration divided by the
 * injected latency is the number of OSS round trips the batch waits for one after the other.
 *
 * Reference in the same run: the same batch with workers.tasksPerThread 1 (one channel task at a time
 * on the thread, as before this setting existed).
 *
 *   npx tsx bench/batch-round-trips.ts [--latency-ms 30] [--rounds 3] [--rows 8000] [--tasks-per-thread 2,1]
 *   RTT_TRACE=1 … prints each OSS request as the emulator answers it (ms clock, operation, key tail)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { BatchReport } from '../pipeline/batch-cycle.js';
import { buildDaemon } from '../daemon/main.js';
import { startOssEmulator } from '../emulator/oss/server.js';
import { startTablestoreEmulator } from '../emulator/tablestore/index.js';
import { testConfig } from '../test/helpers/test-config.js';
import { benchSdkClient, createOrdersTable, putOrders } from './orders-load.js';

const { values } = parseArgs({
  options: {
    'latency-ms': { type: 'string', default: '30' },
    rounds: { type: 'string', default: '3' },
    rows: { type: 'string', default: '8000' },
    'tasks-per-thread': { type: 'string', default: '2,1' },
  },
});
const LATENCY_MS = Number(values['latency-ms']);
const ROUNDS = Number(values.rounds);
const ROWS = Number(values.rows);
const CREDS = { instance: 'bench', accessKeyId: 'bench-ak', accessKeySecret: 'bench-secret' };

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Durations (ms) of `ROUNDS` batches of ROWS rows each, with `latencyMs` on every OSS request. */
async function batchDurations(tasksPerThread: number, latencyMs: number): Promise<number[]> {
  const dir = await mkdtemp(join(tmpdir(), 'otslake-bench-rtt-'));
  const emu = await startTablestoreEmulator({
    port: 0,
    ...CREDS,
    dataDir: join(dir, 'ts'),
    partitionsPerTable: 4,
    tunnel: { initDelayMs: 0, sweepIntervalMs: 0 },
  });
  const oss = await startOssEmulator({ bucket: 'bench', dataDir: join(dir, 'oss') });
  try {
    const sdk = benchSdkClient(emu.endpoint, CREDS);
    await createOrdersTable(sdk, 'orders');
    const config = testConfig({
      source: { endpoint: emu.endpoint, ...CREDS },
      lake: { uri: 'oss://bench/lake', oss: { endpoint: oss.endpoint, accessKeyId: 'bench', accessKeySecret: 'bench' } },
      tables: [{ table: 'orders', tunnel: { name: 'otslake-orders', type: 'Stream' }, path: 'orders' }],
      // Rows are written right after a batch started, and the next one starts 3 s after it: by then they are all there.
      batch: { intervalMs: '3s', maxDurationMs: '20s' },
      workers: { threads: 1, tasksPerThread },
      maintenance: { compact: { enabled: false }, vacuum: { enabled: false } },
    });
    const { daemon, close } = buildDaemon(config, { http: false });
    const done = daemon.run();
    await new Promise<void>((resolve) => daemon.once('idle', () => resolve()));
    oss.faults.setRandom({ latencyMs });
    if (process.env.RTT_TRACE)
      oss.events.on('request', (q: { op: string; key: string }) => process.stderr.write(`${Date.now() % 100000} ${q.op} ${q.key.slice(-30)}\n`));
    const durations: number[] = [];
    let next = 0;
    const nextBatch = (accept: (r: BatchReport) => boolean) =>
      new Promise<BatchReport>((resolve) => {
        const onBatch = (_t: string, r: BatchReport) => {
          if (!accept(r)) return;
          daemon.off('batch', onBatch);
          resolve(r);
        };
        daemon.on('batch', onBatch);
      });
    while (durations.length < ROUNDS) {
      await nextBatch(() => true);
      for (let start = 0; start < ROWS; start += 200) {
        await putOrders(
          sdk,
          'orders',
          Array.from({ length: Math.min(200, ROWS - start) }, (_, k) => next + start + k),
        );
      }
      next += ROWS;
      const report = await nextBatch((r) => r.records > 0);
      // A batch that caught only part of the rows (the writes ran late) is not the batch we measure.
      if (report.records === ROWS) durations.push(report.durationMs);
    }
    daemon.shutdown('bench');
    await done;
    close();
    return durations;
  } finally {
    oss.faults.clear();
    await oss.close();
    await emu.close();
    await rm(dir, { recursive: true, force: true });
  }
}

for (const tasksPerThread of values['tasks-per-thread'].split(',').map(Number)) {
  const base = await batchDurations(tasksPerThread, 0);
  const slow = await batchDurations(tasksPerThread, LATENCY_MS);
  const extra = median(slow) - median(base);
  process.stdout.write(
    JSON.stringify({
      bench: 'batch-round-trips',
      tasksPerThread,
      reference: tasksPerThread === 1 ? 'one task at a time per thread' : undefined,
      channels: 4,
      rowsPerBatch: ROWS,
      ossLatencyMs: LATENCY_MS,
      batchMsMedian: { noLatency: median(base), withLatency: median(slow) },
      batchMs: { noLatency: base, withLatency: slow },
      sequentialOssRoundTrips: Number((extra / LATENCY_MS).toFixed(1)),
    }) + '\n',
  );
}
