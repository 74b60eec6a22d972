/**
 * Cost of the worker boundary per channel task: createWorkerPool().run() (typed input, slot
 * accounting, result revival) against raw piscina.run() on the same worker file, in the same run.
 * A channel task reads and writes for seconds, so anything well under a millisecond is noise.
 *
 *   npx tsx bench/worker-pool.ts [tasks=2000] [threads=1]
 * Prints one JSON line per measurement.
 */
import { performance } from 'node:perf_hooks';
import { Piscina } from 'piscina';
import { createWorkerPool, resolveWorkerFile } from '../workers/pool.js';
import { PROTOCOL_VERSION, type ChannelTaskInput } from '../workers/protocol.js';

const tasks = Number(process.argv[2] ?? 2000);
const threads = Number(process.argv[3] ?? 1);
const filename = resolveWorkerFile(import.meta.url, 'worker-pool-echo');

function input(i: number): ChannelTaskInput {
  return {
    kind: 'read-channel',
    protocol: PROTOCOL_VERSION,
    batchId: 'bench',
    table: 'orders',
    tunnelId: 'tunnel',
    channelId: `ch-${i % 16}`,
    startToken: 'token-'.padEnd(120, 'x'),
    clientId: 'client-1',
    tablePath: 'orders',
    committedSeq: i,
    mode: 'changelog',
    primaryKey: [{ name: 'id', type: 'INTEGER' }],
    columns: [{ name: 'id', type: 'long' }],
    discoverColumns: true,
    maxRowBytes: 1 << 20,
    targetFileBytes: 1 << 20,
    budget: { maxRecords: 100_000, maxBytes: 64 << 20, maxDurationMs: 20_000 },
  };
}

async function measure(name: string, run: (i: number) => Promise<unknown>): Promise<void> {
  // Warm-up: thread start and module load are a one-off cost, not per task.
  await Promise.all(Array.from({ length: threads * 4 }, (_v, i) => run(i)));
  const start = performance.now();
  let next = 0;
  // `threads` tasks in flight at a time, as the daemon's scheduler keeps it.
  await Promise.all(
    Array.from({ length: threads }, async () => {
      while (next < tasks) await run(next++);
    }),
  );
  const ms = performance.now() - start;
  process.stdout.write(
    JSON.stringify({ bench: 'worker-pool', variant: name, tasks, threads, totalMs: Math.round(ms), perTaskUs: Math.round((ms / tasks) * 1000) }) + '\n',
  );
}

const execArgv = filename.endsWith('.ts') ? ['--import', 'tsx'] : [];
const variants: [string, () => { run: (i: number) => Promise<unknown>; close: () => Promise<void> }][] = [
  [
    'raw piscina.run, atomics disabled (reference)',
    () => {
      const p = new Piscina({ filename, execArgv, minThreads: threads, maxThreads: threads, atomics: 'disabled', idleTimeout: 60_000 });
      return { run: (i) => p.run(input(i)), close: () => p.close() };
    },
  ],
  [
    "raw piscina.run, atomics 'sync' (piscina's default)",
    () => {
      const p = new Piscina({ filename, execArgv, minThreads: threads, maxThreads: threads, idleTimeout: 60_000 });
      return { run: (i) => p.run(input(i)), close: () => p.close() };
    },
  ],
  [
    'createWorkerPool().run',
    () => {
      const p = createWorkerPool({ filename, threads });
      return { run: (i) => p.run(input(i)), close: () => p.close() };
    },
  ],
];

// Two rounds, alternating, so JIT warm-up and CPU contention do not favour whoever runs last.
for (const round of [1, 2]) {
  for (const [name, make] of variants) {
    const v = make();
    await measure(`${name} #${round}`, v.run);
    await v.close();
  }
}
