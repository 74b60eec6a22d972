/**
 * What keeping Iceberg metadata in step costs per Delta commit, beside the Delta commit itself in
 * the same run, and how big the metadata stays over a day of one-second commits.
 *
 *   commit-cost   per batch: requests, bytes written/read and ms of the Delta commit (reference) and
 *                 of the Iceberg sync that follows it, on a local disk and on OSS through the
 *                 emulator; for appends (a changelog) and for copy-on-write overwrites of one file
 *                 among `--files` (a mirror). Batches alternate between the two ways a sync learns
 *                 the commit: handed the committed actions (the daemon's batches) and reading it
 *                 back from the log (catch-up, maintenance and other writers' commits)
 *   materialize   Parquet bytes and write ms of changelog files of a `_date` + `region` partitioned
 *                 table with the partition columns materialized (materializePartitionColumns) beside
 *                 the same rows without them, for small (one-second batch) and large files
 *   day           `--day` one-second commits (time simulated; data files are not written, the adds
 *                 carry stats as the writer's do; every 300th commit is the maintenance's
 *                 compaction of the files since the last one), synced after each: metadata/ size
 *                 and file count, metadata.json size, snapshots kept, ms per sync, every simulated hour
 *   avro          encode of a 1,000-entry manifest through avsc's container encoder, beside the
 *                 same records through avsc's bare `Type.toBuffer` (no container, no deflate); and of a
 *                 manifest partitioned by a long, whose partition values go through the exact long
 *                 (any int64), beside the same file through avsc's own long
 *
 *   npx tsx bench/iceberg-commit.ts [--batches 200] [--files 200] [--day 86400]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startOssEmulator } from '../emulator/oss/server.js';
import type { Action, Metadata, StructType } from '../lake/actions.js';
import { avroType, encodeAvroFile } from '../lake/iceberg/avro-file.js';
import { EXACT_LONGS, manifestEntrySchema } from '../lake/iceberg/manifests.js';
import { fieldIdsOf, icebergSchemaOf, partitionSpecOf } from '../lake/iceberg/schema.js';
import { IcebergSync } from '../lake/iceberg/sync.js';
import { serializeValue } from '../lake/iceberg/values.js';
import { LocalStore } from '../lake/local-store.js';
import type { GetOptions, ListOptions, ObjectMeta, ObjectStore, PutOptions } from '../lake/object-store.js';
import { OssStore } from '../lake/oss-store.js';
import { dataColumnsOf, deltaTypeOf } from '../lake/parquet-columns.js';
import { MATERIALIZED_PARTITIONS_PROTOCOL, materializedPartitionsOf } from '../lake/partition-columns.js';
import { metadataColumns } from '../workers/schema-map.js';
import { writeParquetFiles } from '../lake/parquet-file.js';
import { createTable } from '../lake/table-create.js';
import { addActionFor, commit, removeActionFor, txnAction } from '../lake/transaction.js';

const { values } = parseArgs({
  options: { batches: { type: 'string', default: '200' }, files: { type: 'string', default: '200' }, day: { type: 'string', default: '86400' } },
});
const BATCHES = Number(values.batches);
const FILES = Number(values.files);
const DAY = Number(values.day);
const COMPACT_EVERY = 300;

const SCHEMA: StructType = {
  type: 'struct',
  fields: [
    { name: 'id', type: 'long', nullable: false, metadata: {} },
    { name: 'name', type: 'string', nullable: true, metadata: {} },
    { name: 'amount', type: 'double', nullable: true, metadata: {} },
    { name: '_ts', type: 'timestamp', nullable: true, metadata: {} },
    { name: '_deleted_columns', type: { type: 'array', elementType: 'string', containsNull: true }, nullable: true, metadata: {} },
  ],
};
const COLUMNS = dataColumnsOf(SCHEMA);

function emit(figure: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(figure)}\n`);
}

/** Counts the requests and bytes that go through a store. */
class CountingStore implements ObjectStore {
  requests = 0;
  bytesOut = 0;
  bytesIn = 0;
  constructor(private readonly inner: ObjectStore) {}
  get uri(): string {
    return this.inner.uri;
  }
  reset(): void {
    this.requests = this.bytesOut = this.bytesIn = 0;
  }
  async put(key: string, body: Uint8Array | AsyncIterable<Uint8Array>, options?: PutOptions): Promise<ObjectMeta> {
    this.requests++;
    const meta = await this.inner.put(key, body, options);
    this.bytesOut += meta.size;
    return meta;
  }
  async get(key: string, options?: GetOptions): Promise<Uint8Array> {
    this.requests++;
    const bytes = await this.inner.get(key, options);
    this.bytesIn += bytes.byteLength;
    return bytes;
  }
  head(key: string, options?: { signal?: AbortSignal }) {
    this.requests++;
    return this.inner.head(key, options);
  }
  list(prefix: string, options?: ListOptions) {
    this.requests++;
    return this.inner.list(prefix, options);
  }
  delete(key: string, options?: { signal?: AbortSignal }) {
    this.requests++;
    return this.inner.delete(key, options);
  }
  child(prefix: string): ObjectStore {
    return this.inner.child(prefix);
  }
}

const row = (i: number) => ({ id: BigInt(i), name: `name ${i}`, amount: i * 0.5, _ts: 1_700_000_000_000_000n + BigInt(i), _deleted_columns: null });

interface Cost {
  requests: number;
  bytesOut: number;
  bytesIn: number;
  ms: number;
}
const zero = (): Cost => ({ requests: 0, bytesOut: 0, bytesIn: 0, ms: 0 });

async function measured(store: CountingStore, total: Cost, fn: () => Promise<unknown>): Promise<void> {
  store.reset();
  const t0 = performance.now();
  await fn();
  total.ms += performance.now() - t0;
  total.requests += store.requests;
  total.bytesOut += store.bytesOut;
  total.bytesIn += store.bytesIn;
}

const perBatch = (c: Cost, n: number) => ({
  requests: +(c.requests / n).toFixed(2),
  bytesWritten: Math.round(c.bytesOut / n),
  bytesRead: Math.round(c.bytesIn / n),
  ms: +(c.ms / n).toFixed(2),
});

/** `--batches` commits of one case, each followed by the Iceberg sync of exactly that commit. */
async function commitCost(where: string, inner: ObjectStore, mode: 'append' | 'overwrite'): Promise<void> {
  const store = new CountingStore(inner);
  await createTable(store, { schema: SCHEMA });
  const sync = new IcebergSync(store);
  await sync.sync();
  let version = 0;
  let live: Action[] = [];
  if (mode === 'overwrite') {
    // The mirror's starting point: FILES live files, then each batch rewrites one of them.
    const files = [];
    for (let f = 0; f < FILES; f++) files.push(...(await writeParquetFiles([row(f)], { store: inner, columns: COLUMNS })));
    const adds = files.map((f) => addActionFor(f));
    await commit(store, adds, { readVersion: version++, operation: 'WRITE' });
    live = adds;
    await sync.sync();
  }
  const delta = zero();
  const handed = zero();
  const reread = zero();
  for (let b = 0; b < BATCHES; b++) {
    const [file] = await writeParquetFiles([row(FILES + b)], { store: inner, columns: COLUMNS });
    const add = addActionFor(file!);
    const actions: Action[] = [txnAction('otslake/bench/c1', b + 1), add];
    if (mode === 'overwrite') {
      const victim = live.splice(b % live.length, 1, add)[0] as { add: Parameters<typeof removeActionFor>[0] };
      actions.push(removeActionFor(victim.add, { dataChange: true }));
    }
    let committed: { version: number; actions: readonly Action[] } = { version: 0, actions: [] };
    await measured(store, delta, async () => {
      const result = await commit(store, actions, { readVersion: version, operation: 'WRITE' });
      if (result.kind !== 'committed') throw new Error(result.reason);
      committed = result;
    });
    version = committed.version;
    // Even batches: handed the commit as written (the daemon's batch cycle); odd: the sync reads it back from the log.
    if (b % 2 === 0) await measured(store, handed, () => sync.sync(committed));
    else await measured(store, reread, () => sync.sync());
  }
  emit({
    case: `commit-cost/${where}/${mode}`,
    batches: BATCHES,
    ...(mode === 'overwrite' ? { liveFiles: FILES } : {}),
    iceberg_handed_commit: perBatch(handed, Math.ceil(BATCHES / 2)),
    iceberg_reading_log: perBatch(reread, Math.floor(BATCHES / 2)),
    reference_delta_commit: perBatch(delta, BATCHES),
  });
}

function statsOf(i: number): string {
  return JSON.stringify({
    numRecords: 100,
    minValues: { id: i * 100, name: `a${i}`, amount: 0, _ts: '2024-01-01T00:00:00.000Z' },
    maxValues: { id: i * 100 + 99, name: `z${i}`, amount: 99.5, _ts: '2024-01-01T00:00:01.000Z' },
    nullCount: { id: 0, name: 3, amount: 0, _ts: 0, _deleted_columns: 90 },
  });
}

/** A simulated day of one-second commits: the metadata stays bounded (snapshot expiry, manifest merging). */
async function day(root: string): Promise<void> {
  const store = new LocalStore(join(root, 'day'), { fsync: false });
  const start = Date.now();
  let now = start;
  await createTable(store, { schema: SCHEMA, nowMs: now });
  const sync = new IcebergSync(store, { nowMs: () => now });
  await sync.sync();
  let syncMs = 0;
  let deltaMs = 0;
  let windowStart = 0;
  let version = 0;
  let small: Action[] = [];
  for (let b = 1; b <= DAY; b++) {
    now = start + b * 1000;
    const add: Action = {
      add: { path: `part-${b}.parquet`, partitionValues: {}, size: 4096, modificationTime: now, dataChange: true, stats: statsOf(b) },
    };
    let actions: Action[] = [txnAction('otslake/bench/c1', b, now), add];
    small.push(add);
    if (b % COMPACT_EVERY === 0) {
      // The maintenance's compaction (every 5 min): the small files since the last one become one.
      const removes = small.map((a) => removeActionFor((a as { add: Parameters<typeof removeActionFor>[0] }).add, { dataChange: false, nowMs: now }));
      const merged: Action = {
        add: { path: `compacted-${b}.parquet`, partitionValues: {}, size: 4096 * small.length, modificationTime: now, dataChange: false, stats: statsOf(b) },
      };
      actions = [...removes, merged];
      small = [];
    }
    const t0 = performance.now();
    const result = await commit(store, actions, { readVersion: version, operation: 'STREAMING UPDATE', nowMs: () => now });
    const t1 = performance.now();
    if (result.kind !== 'committed') throw new Error(result.reason);
    version = result.version;
    await sync.sync({ version: result.version, actions: [{ commitInfo: { timestamp: now } }, ...actions] });
    const t2 = performance.now();
    deltaMs += t1 - t0;
    syncMs += t2 - t1;
    if (b % 3600 === 0 || b === DAY) {
      const listed = await store.list('metadata/');
      const json = listed.filter((m) => m.key.endsWith('.metadata.json'));
      const newest = json.reduce((a, m) => (Number(/v(\d+)/.exec(m.key)![1]) > Number(/v(\d+)/.exec(a.key)![1]) ? m : a));
      const metadata = JSON.parse(new TextDecoder().decode(await store.get(newest.key))) as { snapshots: unknown[] };
      const n = b - windowStart;
      emit({
        case: 'day',
        simulatedHours: +(b / 3600).toFixed(2),
        commits: b,
        metadataFiles: listed.length,
        metadataBytes: listed.reduce((s, m) => s + m.size, 0),
        metadataJsonBytes: newest.size,
        snapshotsKept: metadata.snapshots.length,
        syncMsPerCommit: +(syncMs / n).toFixed(2),
        reference_deltaCommitMs: +(deltaMs / n).toFixed(2),
        deltaLogFiles: (await store.list('_delta_log/')).length,
      });
      syncMs = deltaMs = 0;
      windowStart = b;
    }
  }
}

/** Changelog files of a partitioned table with and without the partition columns in them. */
async function materializeCost(root: string): Promise<void> {
  const schema: StructType = {
    type: 'struct',
    fields: [
      { name: 'id', type: 'long', nullable: false, metadata: {} },
      { name: 'name', type: 'string', nullable: true, metadata: {} },
      { name: 'qty', type: 'long', nullable: true, metadata: {} },
      { name: 'region', type: 'string', nullable: true, metadata: {} },
      ...metadataColumns().map((c) => ({ name: c.name, type: deltaTypeOf(c.type), nullable: true, metadata: {} })),
      { name: '_date', type: 'date', nullable: true, metadata: {} },
    ],
  };
  const partitionColumns = ['region', '_date'];
  const columns = dataColumnsOf(schema, partitionColumns);
  const partitionValues = { region: 'cn-hangzhou', _date: '2024-03-01' };
  const protocols = { without: { minReaderVersion: 1, minWriterVersion: 2 }, materialized: MATERIALIZED_PARTITIONS_PROTOCOL };
  const rowOf = (i: number) => ({
    id: BigInt(i),
    name: `customer ${i % 977}`,
    qty: BigInt(i % 50),
    _op: i % 10 === 0 ? 'UPDATE' : 'PUT',
    _ts: 1_709_251_200_000_000n + BigInt(i) * 1_000n,
    _seq: `${String(1_709_251_200_000_000 + i).padStart(20, '0')}:${String(i % 7).padStart(6, '0')}`,
    _channel: 'ch-0001',
    _deleted_columns: null,
  });
  // Warm-up (wasm, JIT) of both variants, so the first measured one does not pay for it.
  for (const protocol of Object.values(protocols)) {
    const store = new LocalStore(join(root, 'materialize-warm-up'), { fsync: false });
    const partitions = materializedPartitionsOf(protocol, { partitionColumns } as Metadata, schema);
    for (let f = 0; f < 5; f++)
      await writeParquetFiles(
        Array.from({ length: 10_000 }, (_, i) => rowOf(i)),
        { store, columns, partitionColumns: partitions, partitionValues },
      );
  }
  for (const rows of [100, 10_000, 200_000]) {
    const figure: Record<string, unknown> = { case: `materialize/${rows}-rows-per-file` };
    for (const [name, protocol] of Object.entries(protocols)) {
      const store = new LocalStore(join(root, `materialize-${name}-${rows}`), { fsync: false });
      const partitions = materializedPartitionsOf(protocol, { partitionColumns } as Metadata, schema);
      const files = rows >= 10_000 ? 3 : 30;
      let bytes = 0;
      const t0 = performance.now();
      for (let f = 0; f < files; f++) {
        const written = await writeParquetFiles(
          Array.from({ length: rows }, (_, i) => rowOf(f * rows + i)),
          { store, columns, partitionColumns: partitions, partitionValues },
        );
        bytes += written.reduce((sum, w) => sum + w.size, 0);
      }
      figure[name === 'without' ? 'reference_without' : 'materialized'] = {
        bytesPerFile: Math.round(bytes / files),
        msPerFile: +((performance.now() - t0) / files).toFixed(2),
      };
    }
    const m = figure.materialized as { bytesPerFile: number };
    const w = figure.reference_without as { bytesPerFile: number };
    figure.extraBytesPerFile = m.bytesPerFile - w.bytesPerFile;
    figure.extraPercent = +((100 * (m.bytesPerFile - w.bytesPerFile)) / w.bytesPerFile).toFixed(2);
    emit(figure);
  }
}

/**
 * `partitioned`: the spec partitions by the long `id`, whose values the manifest writes through the exact long
 * (lake/iceberg/avro-file.ts, any int64); the reference is then the same file through avsc's own long.
 */
async function avroEncode(partitioned: boolean): Promise<void> {
  const schema = icebergSchemaOf(SCHEMA, fieldIdsOf(SCHEMA), 0);
  const avroSchema = manifestEntrySchema(partitionSpecOf(partitioned ? ['id'] : [], schema), schema);
  const entries = Array.from({ length: 1000 }, (_, i) => ({
    status: 1,
    snapshot_id: 1,
    sequence_number: 1,
    file_sequence_number: 1,
    data_file: {
      content: 0,
      file_path: `oss://bucket/tables/orders/part-00000-${i}-0000-0000-000000000000.c000.zstd.parquet`,
      file_format: 'PARQUET',
      partition: partitioned ? { id: i } : {},
      record_count: 100,
      file_size_in_bytes: 4096,
      column_sizes: null,
      value_counts: [1, 2, 3, 4].map((key) => ({ key, value: 100 })),
      null_value_counts: [1, 2, 3, 4].map((key) => ({ key, value: 0 })),
      nan_value_counts: null,
      lower_bounds: [{ key: 1, value: serializeValue('long', i) }],
      upper_bounds: [{ key: 1, value: serializeValue('long', i + 99) }],
      key_metadata: null,
      split_offsets: null,
      equality_ids: null,
      sort_order_id: null,
    },
  }));
  const type = avroType(avroSchema);
  const runs = 20;
  let container = 0;
  let bytes = 0;
  let reference = 0;
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    bytes = encodeAvroFile(avroSchema, entries, { 'format-version': '2' }, partitioned ? EXACT_LONGS : []).byteLength;
    const t1 = performance.now();
    if (partitioned) encodeAvroFile(avroSchema, entries, { 'format-version': '2' });
    else for (const e of entries) type.toBuffer(e);
    const t2 = performance.now();
    if (r > 2) {
      container += t1 - t0;
      reference += t2 - t1;
    }
  }
  emit({
    case: partitioned ? 'avro/manifest-1000-entries-long-partition' : 'avro/manifest-1000-entries',
    containerMs: +(container / (runs - 3)).toFixed(2),
    bytes,
    ...(partitioned ? { reference_avscLongMs: +(reference / (runs - 3)).toFixed(2) } : { reference_bareToBufferMs: +(reference / (runs - 3)).toFixed(2) }),
  });
}

const root = await mkdtemp(join(tmpdir(), 'otslake-bench-iceberg-'));
const emulator = await startOssEmulator({ bucket: 'bench' });
try {
  await avroEncode(false);
  await avroEncode(true);
  await materializeCost(root);
  for (const mode of ['append', 'overwrite'] as const) {
    await commitCost('local', new LocalStore(join(root, `local-${mode}`)), mode);
    const oss = OssStore.open({ accessKeyId: 'ak', accessKeySecret: 'sk', bucket: 'bench', endpoint: emulator.endpoint, prefix: `oss-${mode}` });
    await commitCost('oss-emulator', oss, mode);
    await oss.close();
  }
  if (DAY > 0) await day(root);
} finally {
  await emulator.close();
  await rm(root, { recursive: true, force: true });
}
