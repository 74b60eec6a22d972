/**
 * Cost of one mirror batch (a fixed number of changed keys) as the table grows 10×, beside the cost
 * of rewriting the whole table (what copy-on-write without the bucket/range layout would pay).
 * For each table size: the table is built through the merge engine, then one batch of `--keys`
 * random UPDATEs is staged and merged (in-process, one task) and committed. Prints one JSON line per
 * size: ms per batch, files touched, bytes and rows rewritten, and the full-rewrite reference.
 *
 * The batch rewrites at most keys × target file size, whatever the table size; it is flat once the
 * table has many more files than changed keys (docs/mirror.md §Cost), hence the small default file size.
 *
 *   npx tsx bench/mirror-batch.ts [--keys 100] [--sizes 100000,1000000] [--target-bytes 4096] [--buckets 16]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { LocalStore } from '../lake/local-store.js';
import { writeParquetFiles, type WrittenFile } from '../lake/parquet-file.js';
import { loadSnapshot } from '../lake/snapshot.js';
import { commit } from '../lake/transaction.js';
import { filesByBucket } from '../lake/mirror/layout.js';
import { readMirrorFile } from '../lake/mirror/merge-bucket.js';
import { mirrorFileActions, mirrorShapeOf } from '../lake/mirror/mirror-table.js';
import { planMergeTasks } from '../lake/mirror/plan.js';
import { stagingDirectory } from '../lake/mirror/staging.js';
import { runMergeMirrorTask } from '../workers/mirror-task.js';
import { buildMirrorTable, orderRow } from './mirror-tables.js';
import { PROTOCOL_VERSION } from '../workers/protocol.js';

const { values: args } = parseArgs({
  options: {
    keys: { type: 'string', default: '100' },
    sizes: { type: 'string', default: '100000,1000000' },
    'target-bytes': { type: 'string', default: '4096' },
    buckets: { type: 'string', default: '16' },
  },
});
const KEYS = Number(args.keys);
const SIZES = args.sizes!.split(',').map(Number);
const TARGET = Number(args['target-bytes']);
const BUCKETS = Number(args.buckets);

function* rowsOf(count: number): Generator<Record<string, unknown>> {
  for (let i = 0; i < count; i++) yield orderRow(i);
}

async function measure(rows: number): Promise<Record<string, unknown>> {
  const dir = await mkdtemp(path.join(tmpdir(), 'otslake-bench-mirror-'));
  try {
    const store = new LocalStore(dir);
    const t0 = performance.now();
    await buildMirrorTable(store, rowsOf(rows), { buckets: BUCKETS, targetFileBytes: TARGET });
    const buildMs = performance.now() - t0;

    // Stage one batch of KEYS random UPDATEs, as a channel task would.
    let seed = rows;
    const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    const staged = Array.from({ length: KEYS }, (_, n) => ({
      ...orderRow(Math.floor(rand() * rows)),
      qty: BigInt(1000 + n),
      customer: null,
      amount: null,
      _op: 'UPDATE',
      _ts: 1_700_000_000_000_000n + BigInt(n),
      _seq: `00000000:${(n + 1).toString(16).padStart(16, '0')}:00000000`,
      _channel: 'c',
      _deleted_columns: [],
    }));
    const columns = [
      { name: 'id', type: 'long', nullable: false },
      { name: 'customer', type: 'string', nullable: true },
      { name: 'amount', type: 'double', nullable: true },
      { name: 'qty', type: 'long', nullable: true },
      { name: '_op', type: 'string', nullable: true },
      { name: '_ts', type: 'timestamp', nullable: true },
      { name: '_seq', type: 'string', nullable: true },
      { name: '_channel', type: 'string', nullable: true },
      { name: '_deleted_columns', type: 'array<string>', nullable: true },
    ] as const;
    const stagedFiles = (await writeParquetFiles(staged, { store, columns: columns as never, directory: stagingDirectory('b1') })).map((f) => f.path);

    const t1 = performance.now();
    const snapshot = await loadSnapshot(store);
    const t2 = performance.now();
    const shape = mirrorShapeOf(snapshot.metadata, snapshot.schema);
    const [task] = planMergeTasks(snapshot.files.values(), BUCKETS, { maxTasks: 1 });
    const result = await runMergeMirrorTask(
      {
        kind: 'merge-mirror',
        protocol: PROTOCOL_VERSION,
        batchId: 'b1',
        table: 'bench',
        tablePath: '',
        stagedFiles,
        bucketCount: BUCKETS,
        buckets: task!.buckets,
        files: task!.files,
        keyColumns: shape.keyColumns,
        columns: shape.columns,
        changeDataFeed: false,
        targetFileBytes: TARGET,
      },
      store,
    );
    const committed = await commit(store, mirrorFileActions([result]), { readVersion: snapshot.version, readMetadata: snapshot.metadata, operation: 'MERGE' });
    const batchMs = performance.now() - t2;
    if (committed.kind !== 'committed') throw new Error('bench commit lost');

    // Reference: rewrite every file of the table (copy-on-write without a layout to find the touched files).
    const t3 = performance.now();
    const all = [...filesByBucket(snapshot.files.values(), BUCKETS).values()].flat();
    let refRows = 0;
    let refBytes = 0;
    const rewritten: WrittenFile[] = [];
    for (let i = 0; i < all.length; i += 200) {
      const chunk: Record<string, unknown>[] = [];
      for (const f of all.slice(i, i + 200)) chunk.push(...(await readMirrorFile(store, f)));
      refRows += chunk.length;
      rewritten.push(...(await writeParquetFiles(chunk, { store, columns: shape.columns, directory: 'ref/' })));
    }
    for (const f of rewritten) refBytes += f.size;
    const fullRewriteMs = performance.now() - t3;

    return {
      bench: 'mirror-batch',
      tableRows: rows,
      tableFiles: snapshot.files.size,
      changedKeys: KEYS,
      targetFileBytes: TARGET,
      buckets: BUCKETS,
      batchMs: Math.round(batchMs),
      snapshotLoadMs: Math.round(t2 - t1),
      mergeMs: Math.round(result.stats.durationMs),
      filesTouched: result.stats.filesRead,
      rowsRewritten: result.stats.rowsWritten,
      bytesRead: result.stats.bytesRead,
      bytesWritten: result.stats.bytesWritten,
      reference: { fullRewriteMs: Math.round(fullRewriteMs), rowsRewritten: refRows, bytesWritten: refBytes },
      buildMs: Math.round(buildMs),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// Warm-up on a small table, discarded: the first merge pays for JIT and wasm start-up, which would make
// the smallest size look slower than the larger ones.
await measure(Math.max(1_000, Math.round(Math.min(...SIZES) / 10)));
const results = [];
for (const rows of SIZES) {
  const r = await measure(rows);
  results.push(r);
  console.log(JSON.stringify(r));
}
if (results.length >= 2) {
  const first = results[0]!;
  const last = results[results.length - 1]!;
  console.log(
    JSON.stringify({
      bench: 'mirror-batch-summary',
      tableGrowth: (last.tableRows as number) / (first.tableRows as number),
      batchMsGrowth: Number(((last.batchMs as number) / (first.batchMs as number)).toFixed(2)),
      bytesWrittenGrowth: Number(((last.bytesWritten as number) / (first.bytesWritten as number)).toFixed(2)),
      referenceMsGrowth: Number(
        ((last.reference as { fullRewriteMs: number }).fullRewriteMs / (first.reference as { fullRewriteMs: number }).fullRewriteMs).toFixed(2),
      ),
    }),
  );
}
