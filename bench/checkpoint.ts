/**
 * Cost of one Delta checkpoint of a continuously written table: 300 live files plus the tombstones a
 * day of one-second batches leaves (86,400 by default), written by otslake (encodeCheckpoint: Arrow
 * data from typed arrays, parquet-rs) and loaded back (loadSnapshot: parquet-rs into Arrow, read
 * column by column), beside references measured in the same run on the same file:
 *   - hyparquet's row decoder (what otslake used before; still its fallback),
 *   - DuckDB decoding the file into a table, and writing that table back to Parquet (native code).
 *
 *   npx tsx bench/checkpoint.ts [--tombstones 86400] [--runs 3]
 *
 * Prints one JSON line per figure (best of --runs).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { encodeCheckpoint, writeCheckpoint } from '../lake/checkpoint-writer.js';
import { checkpointKey } from '../lake/log-path.js';
import { LocalStore } from '../lake/local-store.js';
import { readParquetRows } from '../lake/parquet-read.js';
import { loadSnapshot } from '../lake/snapshot.js';
import { createTable } from '../lake/table-create.js';
import { commit, txnAction } from '../lake/transaction.js';

const { values } = parseArgs({ options: { tombstones: { type: 'string', default: '86400' }, runs: { type: 'string', default: '3' } } });
const tombstones = Number(values.tombstones);
const runs = Number(values.runs);

function emit(record: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(record) + '\n');
}

async function best<T>(fn: () => Promise<T> | T): Promise<{ ms: number; result: T }> {
  let ms = Infinity;
  let result!: T;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    result = await fn();
    ms = Math.min(ms, performance.now() - t0);
  }
  return { ms: Math.round(ms * 10) / 10, result };
}

async function main(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'otslake-bench-cp-'));
  try {
    const store = new LocalStore(join(root, 'table'));
    await createTable(store, {
      schema: { type: 'struct', fields: [{ name: 'id', type: 'long', nullable: false, metadata: {} }] },
      partitionColumns: [],
      configuration: {},
    });
    await commit(store, [txnAction('otslake/bench/ch', 1)], { readVersion: 0, operation: 'STREAMING UPDATE' });
    const snapshot = await loadSnapshot(store);
    const now = Date.now();
    for (let i = 0; i < 300; i++) {
      const path = `part-${i}-${crypto.randomUUID()}.zstd.parquet`;
      snapshot.files.set(path, {
        path,
        partitionValues: {},
        size: 4_000_000,
        modificationTime: now,
        dataChange: false,
        stats: '{"numRecords":5000,"minValues":{"id":1},"maxValues":{"id":5000},"nullCount":{"id":0}}',
      });
    }
    for (let i = 0; i < tombstones; i++) {
      const path = `part-${crypto.randomUUID()}.zstd.parquet`;
      snapshot.tombstones.set(path, {
        path,
        deletionTimestamp: now - i * 1000,
        dataChange: false,
        extendedFileMetadata: true,
        partitionValues: {},
        size: 2_000,
      });
    }
    const common = { liveFiles: snapshot.files.size, tombstones };

    const encode = await best(() => encodeCheckpoint(snapshot));
    await writeCheckpoint(store, snapshot);
    const file = join(store.rootDir, checkpointKey(snapshot.version));
    const load = await best(() => loadSnapshot(store));
    if (load.result.tombstones.size !== tombstones || load.result.files.size !== 300) throw new Error('checkpoint did not round-trip');
    // Before the references run: their decoders would dominate the process's RSS.
    const rssMb = Math.round(process.memoryUsage().rss / 2 ** 20);
    const bytes = encode.result.bytes;
    const hyparquet = await best(() => readParquetRows(bytes, { columns: ['txn', 'add', 'remove', 'metaData', 'protocol'] }));

    const { DuckDBInstance } = await import('@duckdb/node-api');
    const db = await DuckDBInstance.create(':memory:', { threads: '1' });
    const con = await db.connect();
    const duckRead = await best(async () => {
      await con.run(`CREATE OR REPLACE TABLE cp AS SELECT * FROM read_parquet('${file}')`);
    });
    const refFile = join(root, 'duckdb.parquet');
    const duckWrite = await best(async () => {
      await con.run(`COPY cp TO '${refFile}' (FORMAT parquet, COMPRESSION snappy)`);
    });
    con.closeSync();
    db.closeSync();

    emit({
      figure: 'checkpoint write ms',
      ...common,
      otslake: encode.ms,
      referenceDuckdbWrite: duckWrite.ms,
      fileMb: Math.round((bytes.length / 2 ** 20) * 100) / 100,
    });
    emit({ figure: 'checkpoint load ms', ...common, otslakeLoadSnapshot: load.ms, referenceHyparquetDecode: hyparquet.ms, referenceDuckdbRead: duckRead.ms });
    emit({ figure: 'rss MB after otslake write and load', rssMb });
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

await main();
