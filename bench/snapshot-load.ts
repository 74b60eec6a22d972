/**
 * Snapshot load time and memory on the delta-kernel-rs `300k-add-files-100-col-partitioned` log
 * (300,000 adds in three 15 MB JSON commits), beside a reference measured in the same run: reading
 * the same commits and JSON.parse-ing every line, which is the floor for any JSON log replay in JS.
 * Also a checkpointed table (V2 sidecars) against a raw hyparquet read of the same files.
 *
 *   npx tsx bench/snapshot-load.ts [--runs N]        (default 3 runs, best time reported)
 *
 * Prints one JSON line per figure.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { LocalStore } from '../lake/local-store.js';
import { readParquetRows } from '../lake/parquet-read.js';
import { loadSnapshot } from '../lake/snapshot.js';
// Where the optional conformance data lives is the test helper's to say (../shared or OTSLAKE_DELTA_TESTDATA).
import { KERNEL_DATA, optionalData } from '../test/helpers/conformance-data.js';

function emit(record: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(record) + '\n');
}

async function best<T>(runs: number, fn: () => Promise<T>): Promise<{ ms: number; result: T; rssMb: number }> {
  let ms = Infinity;
  let result!: T;
  let rssMb = 0;
  for (let i = 0; i < runs; i++) {
    globalThis.gc?.();
    const t0 = performance.now();
    result = await fn();
    ms = Math.min(ms, performance.now() - t0);
    rssMb = Math.max(rssMb, process.memoryUsage().rss / 2 ** 20);
  }
  return { ms: Math.round(ms), result, rssMb: Math.round(rssMb) };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' } } });
  const runs = Math.max(1, Number(values.runs));
  const archive = path.join(KERNEL_DATA, '300k-add-files-100-col-partitioned.tar.zst');
  // Skips loudly (SKIPPED on stderr, and in the figures), or throws under OTSLAKE_REQUIRE_CONFORMANCE=1.
  const missing = optionalData('bench/snapshot-load.ts', [archive]);
  if (missing) {
    emit({ bench: 'snapshot-load', skipped: missing });
    return;
  }
  const tmp = mkdtempSync(path.join(tmpdir(), 'otsl-bench-snapshot-'));
  try {
    execFileSync('tar', ['--zstd', '-xf', archive, '-C', tmp]);
    const table = path.join(tmp, '300k-add-files-100-col-partitioned');
    const logDir = path.join(table, '_delta_log');

    // Reference first, so the reader does not profit from a warmer page cache than the reference.
    const reference = await best(runs, async () => {
      let n = 0;
      for (const name of readdirSync(logDir)
        .filter((f) => f.endsWith('.json'))
        .sort()) {
        for (const line of readFileSync(path.join(logDir, name), 'utf8').split('\n'))
          if (line) {
            JSON.parse(line);
            n++;
          }
      }
      return n;
    });
    const rssBeforeMb = Math.round(process.memoryUsage().rss / 2 ** 20);
    const load = await best(runs, () => loadSnapshot(new LocalStore(table)));
    emit({
      bench: 'snapshot-load',
      table: '300k-add-files-100-col-partitioned',
      files: load.result.files.size,
      version: load.result.version,
      loadMs: load.ms,
      rssMb: load.rssMb,
      rssBeforeMb,
      reference: 'read + JSON.parse every commit line',
      referenceMs: reference.ms,
      referenceActions: reference.result,
      ratio: Number((load.ms / Math.max(1, reference.ms)).toFixed(2)),
      runs,
    });

    const sidecarArchive = path.join(KERNEL_DATA, 'v2-checkpoints-parquet-with-sidecars.tar.zst');
    execFileSync('tar', ['--zstd', '-xf', sidecarArchive, '-C', tmp]);
    const v2 = path.join(tmp, 'v2-checkpoints-parquet-with-sidecars');
    // The newest checkpoint and the sidecars it names: exactly what the snapshot has to decode.
    const logDir2 = path.join(v2, '_delta_log');
    const checkpointFile = readdirSync(logDir2)
      .filter((f) => f.includes('.checkpoint.') && f.endsWith('.parquet'))
      .sort()
      .at(-1)!;
    const sidecarNames = (await readParquetRows(readFileSync(path.join(logDir2, checkpointFile)), { columns: ['sidecar'] }))
      .map((r) => (r.sidecar as { path?: string } | undefined)?.path)
      .filter((p): p is string => typeof p === 'string');
    const parquetFiles = [path.join(logDir2, checkpointFile), ...sidecarNames.map((n) => path.join(logDir2, '_sidecars', decodeURIComponent(n)))];
    const rawRead = await best(runs, async () => {
      let rows = 0;
      for (const f of parquetFiles) rows += (await readParquetRows(readFileSync(f))).length;
      return rows;
    });
    const v2Load = await best(runs, () => loadSnapshot(new LocalStore(v2)));
    emit({
      bench: 'snapshot-load',
      table: 'v2-checkpoints-parquet-with-sidecars',
      files: v2Load.result.files.size,
      loadMs: v2Load.ms,
      reference: 'hyparquet read of the checkpoint and sidecar files (all columns)',
      referenceMs: rawRead.ms,
      referenceRows: rawRead.result,
      parquetFiles: parquetFiles.length,
      runs,
    });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
