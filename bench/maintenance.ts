/**
 * File count and snapshot load time after many one-second batches, with the daemon's maintenance
 * (pipeline/maintenance.ts: checkpoints every N commits, compaction on its schedule, vacuum, log
 * cleanup) against a reference table that received the same batches with no maintenance at all.
 *
 * Each batch appends one small Parquet file with a txn, as a quiet changelog table does; time is
 * simulated (one second per batch), so the maintenance schedules fire as they would over that span.
 *
 *   npx tsx bench/maintenance.ts [--batches 1200] [--compact-interval 5m] [--checkpoint-interval 10]
 *
 * A day of one-second batches is --batches 86400 (takes a long while); the default is twenty minutes.
 * Prints one JSON line per figure.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { silentLogger } from '../common/log.js';
import { parseDuration } from '../common/units.js';
import { testConfig } from '../test/helpers/test-config.js';
import { TableMaintenance } from '../pipeline/maintenance.js';
import { Metrics } from '../daemon/metrics.js';
import { LocalStore } from '../lake/local-store.js';
import type { Metadata } from '../lake/actions.js';
import type { ObjectStore } from '../lake/object-store.js';
import { writeParquetFiles } from '../lake/parquet-file.js';
import { loadSnapshot } from '../lake/snapshot.js';
import { createTable } from '../lake/table-create.js';
import { addActionFor, commit, latestCommitVersion, txnAction } from '../lake/transaction.js';

const { values } = parseArgs({
  options: {
    batches: { type: 'string', default: '1200' },
    'compact-interval': { type: 'string', default: '5m' },
    'checkpoint-interval': { type: 'string', default: '10' },
  },
});
const batches = Number(values.batches);
const checkpointInterval = Number(values['checkpoint-interval']);
const compactIntervalMs = parseDuration(values['compact-interval']);

const COLUMNS = [
  { name: 'id', type: 'long', nullable: false },
  { name: 'name', type: 'string', nullable: true },
  { name: '_op', type: 'string', nullable: true },
] as const;

function emit(record: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(record) + '\n');
}

async function newTable(store: ObjectStore): Promise<Metadata> {
  const created = await createTable(store, {
    schema: { type: 'struct', fields: COLUMNS.map((c) => ({ name: c.name, type: c.type, nullable: c.nullable, metadata: {} })) },
    partitionColumns: [],
    configuration: { 'delta.appendOnly': 'true', 'delta.checkpointInterval': String(checkpointInterval) },
  });
  return created.metadata;
}

/** One batch: a file of a few rows and a txn, committed on top of whatever is there. */
async function appendBatch(store: ObjectStore, n: number, readVersion: number): Promise<number> {
  const rows = Array.from({ length: 5 }, (_, i) => ({ id: BigInt(n * 5 + i), name: `row-${n}-${i}`, _op: 'PUT' }));
  const files = await writeParquetFiles(rows, { store, columns: COLUMNS as never, directory: '' });
  const result = await commit(store, [txnAction('otslake/bench/ch', n + 1), ...files.map((f) => addActionFor(f))], {
    readVersion,
    operation: 'STREAMING UPDATE',
  });
  if (result.kind !== 'committed') throw new Error(`batch ${n} not committed: ${result.reason}`);
  return result.version;
}

async function measureLoad(store: ObjectStore): Promise<{ ms: number; files: number; tombstones: number; version: number; checkpointVersion: number | null }> {
  let ms = Infinity;
  let snapshot;
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    snapshot = await loadSnapshot(store);
    ms = Math.min(ms, performance.now() - t0);
  }
  return {
    ms: Math.round(ms * 10) / 10,
    files: snapshot!.files.size,
    tombstones: snapshot!.tombstones.size,
    version: snapshot!.version,
    checkpointVersion: snapshot!.checkpointVersion,
  };
}

async function main(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'otslake-bench-maint-'));
  try {
    const maintained = new LocalStore(join(root, 'maintained'));
    const reference = new LocalStore(join(root, 'reference'));
    let clock = Date.now();
    const config = testConfig({
      lake: { uri: pathToFileURL(root).href, targetFileSizeBytes: '8MiB', checkpointInterval },
      maintenance: {
        compact: { enabled: true, intervalMs: compactIntervalMs, minFiles: 10 },
        vacuum: { enabled: true, intervalMs: '1h', retentionMs: '1h' },
        logCleanupIntervalMs: '1h',
      },
    });
    const maintenance = new TableMaintenance({
      config,
      table: config.tables[0]!,
      store: maintained,
      metrics: new Metrics(),
      log: silentLogger,
      nowMs: () => clock,
    });
    const abort = new AbortController();

    const metadata = await newTable(maintained);
    await newTable(reference);
    let vM = 0;
    let vR = 0;
    let compactionsSeen = 0;
    const t0 = performance.now();
    for (let n = 0; n < batches; n++) {
      vM = await appendBatch(maintained, n, vM);
      // As the runner does after each committed batch; settled below so every run is counted in the batch.
      maintenance.afterCommit(vM, metadata, abort.signal);
      await maintenance.runDue(abort.signal);
      await maintenance.settle();
      // A compaction commit moved the table: the next batch commits on top of it, as the daemon's refresh does.
      if (maintenance.compactions !== compactionsSeen) {
        compactionsSeen = maintenance.compactions;
        vM = await latestCommitVersion(maintained);
      }
      clock += 1_000;
      if ((n + 1) % 3600 === 0) process.stderr.write(`${(n + 1) / 3600} simulated hour(s), ${Math.round(performance.now() - t0)} ms\n`);
    }
    const maintainedMs = performance.now() - t0;
    const t1 = performance.now();
    for (let n = 0; n < batches; n++) vR = await appendBatch(reference, n, vR);
    const referenceMs = performance.now() - t1;

    const m = await measureLoad(maintained);
    const r = await measureLoad(reference);
    const common = { batches, simulatedHours: Math.round((batches / 3600) * 100) / 100, checkpointInterval, compactIntervalMs };
    emit({ figure: 'live files after batches', ...common, withMaintenance: m.files, referenceNoMaintenance: r.files });
    emit({ figure: 'tombstones in the snapshot', ...common, withMaintenance: m.tombstones, referenceNoMaintenance: r.tombstones });
    emit({
      figure: 'snapshot load ms (best of 3)',
      ...common,
      withMaintenance: m.ms,
      referenceNoMaintenance: r.ms,
      checkpointVersion: m.checkpointVersion,
      version: m.version,
    });
    emit({
      figure: 'ms per batch incl. maintenance',
      ...common,
      withMaintenance: Math.round((maintainedMs / batches) * 100) / 100,
      referenceNoMaintenance: Math.round((referenceMs / batches) * 100) / 100,
    });
    emit({ figure: 'maintenance runs', status: maintenance.status() });
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

await main();
