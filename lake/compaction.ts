/**
 * Small-file compaction (OPTIMIZE; docs/delta-rules.md §Compaction): per partition, bin-pack files smaller than
 * the target into bins of about the target size, rewrite each bin as new files and commit every
 * remove + add with `dataChange: false` in one commit. Such a commit never conflicts with concurrent
 * blind appends (they touch other files); it only loses if a winner removed one of the files it read,
 * and then it aborts cleanly and deletes what it wrote.
 *
 * Files are read back with parquet-rs (parquet-wasm) into Arrow: it decodes zstd itself and keeps
 * int64 and µs timestamps exact, which the rows must survive bit for bit.
 */
import * as arrow from './arrow.js';
import { parquetWasm } from './parquet-wasm.js';
import { OtslakeError } from '../common/errors.js';
import type { Add } from './actions.js';
import type { ObjectStore } from './object-store.js';
import { dataColumnsOf, type ColumnSpec } from './parquet-columns.js';
import { DEFAULT_TARGET_FILE_BYTES, ParquetFileWriter, type WrittenFile } from './parquet-file.js';
import { materializedPartitionsOf } from './partition-columns.js';
import { decodeLogPath } from './partition-path.js';
import { loadSnapshot, type Snapshot } from './snapshot.js';
import { addActionFor, commit, removeActionFor, type CommitResult } from './transaction.js';

export interface CompactionBin {
  partitionValues: Record<string, string | null>;
  files: Add[];
  bytes: number;
}

export interface CompactionOptions {
  targetFileBytes?: number;
  /** Only report the plan. */
  dryRun?: boolean;
  signal?: AbortSignal;
  nowMs?: number;
}

export type CompactionResult =
  | { kind: 'nothing-to-do'; snapshotVersion: number }
  /** Mirror tables keep their own file sizes (docs/mirror.md): OPTIMIZE would drop the layout tags. */
  | { kind: 'not-applicable'; snapshotVersion: number; reason: string }
  | { kind: 'planned'; snapshotVersion: number; bins: CompactionBin[] }
  | { kind: 'compacted'; version: number; bins: CompactionBin[]; removed: number; added: WrittenFile[] }
  | { kind: 'conflict'; bins: CompactionBin[]; result: Extract<CommitResult, { kind: 'conflict' }> };

/** Bins of at least two small files per partition, oldest files first, each up to the target size. */
function planCompaction(snapshot: Snapshot, targetFileBytes = DEFAULT_TARGET_FILE_BYTES): CompactionBin[] {
  const partitions = new Map<string, Add[]>();
  for (const add of snapshot.files.values()) {
    if (add.deletionVector || add.size >= targetFileBytes) continue;
    const key = JSON.stringify(Object.entries(add.partitionValues).sort(([a], [b]) => (a < b ? -1 : 1)));
    partitions.set(key, [...(partitions.get(key) ?? []), add]);
  }
  const bins: CompactionBin[] = [];
  for (const files of partitions.values()) {
    files.sort((a, b) => a.modificationTime - b.modificationTime || (a.path < b.path ? -1 : 1));
    let bin: CompactionBin | null = null;
    for (const file of files) {
      if (!bin || bin.bytes + file.size > targetFileBytes) {
        if (bin && bin.files.length > 1) bins.push(bin);
        bin = { partitionValues: file.partitionValues, files: [], bytes: 0 };
      }
      bin.files.push(file);
      bin.bytes += file.size;
    }
    if (bin && bin.files.length > 1) bins.push(bin);
  }
  return bins;
}

/** Values of one Arrow column as the Parquet writer takes them (bigint for int64 and µs timestamps). */
function columnValues(vector: arrow.Vector, spec: ColumnSpec): unknown[] {
  const out: unknown[] = new Array(vector.length);
  let i = 0;
  for (const data of vector.data) {
    for (let j = 0; j < data.length; j++, i++) {
      if (!data.getValid(j)) {
        out[i] = null;
        continue;
      }
      if (spec.type === 'long' || spec.type === 'timestamp') {
        const v = (data.values as BigInt64Array)[j];
        out[i] = typeof v === 'bigint' ? v : null;
      } else if (spec.type === 'array<string>') {
        out[i] = Array.from((vector.get(i) as arrow.Vector<arrow.Utf8>).toArray());
      } else {
        out[i] = vector.get(i);
      }
    }
  }
  return out;
}

async function copyFileRows(store: ObjectStore, add: Add, columns: readonly ColumnSpec[], writer: ParquetFileWriter, signal?: AbortSignal): Promise<void> {
  const key = decodeLogPath(add.path);
  const bytes = await store.get(key, signal ? { signal } : {});
  let table: arrow.Table;
  try {
    table = arrow.tableFromIPC(parquetWasm().readParquet(bytes).intoIPCStream());
  } catch (err) {
    throw new OtslakeError('OTSL_PARQUET_READ', `cannot read ${key} for compaction: ${(err as Error).message}`, { cause: err, context: { file: key } });
  }
  // A column the file predates (added to the schema later) is all null.
  const values = columns.map((c) => {
    const v = table.getChild(c.name);
    return v ? columnValues(v, c) : null;
  });
  for (let r = 0; r < table.numRows; r++) {
    const row: Record<string, unknown> = {};
    for (let c = 0; c < columns.length; c++) row[columns[c]!.name] = values[c] ? values[c]![r] : null;
    writer.appendRow(row);
    if ((r & 8191) === 8191) await writer.drain();
  }
}

export async function compactTable(store: ObjectStore, options: CompactionOptions = {}): Promise<CompactionResult> {
  const signal = options.signal ? { signal: options.signal } : {};
  const snapshot = await loadSnapshot(store, signal);
  if (snapshot.metadata.configuration['otslake.mode'] === 'mirror') {
    return {
      kind: 'not-applicable',
      snapshotVersion: snapshot.version,
      reason: 'a mirror table: its merges split and merge files themselves, and compaction would drop their layout tags',
    };
  }
  const target = options.targetFileBytes ?? DEFAULT_TARGET_FILE_BYTES;
  const bins = planCompaction(snapshot, target);
  if (bins.length === 0) return { kind: 'nothing-to-do', snapshotVersion: snapshot.version };
  if (options.dryRun) return { kind: 'planned', snapshotVersion: snapshot.version, bins };

  const columns = dataColumnsOf(snapshot.schema, snapshot.metadata.partitionColumns);
  // A table with materialized partition columns keeps them in the compacted files (from the bin's partition values).
  const partitionColumns = materializedPartitionsOf(snapshot.protocol, snapshot.metadata, snapshot.schema);
  const added: WrittenFile[] = [];
  try {
    for (const bin of bins) {
      const writer = new ParquetFileWriter({ store, columns, partitionColumns, partitionValues: bin.partitionValues, targetFileBytes: target, ...signal });
      try {
        for (const file of bin.files) await copyFileRows(store, file, columns, writer, options.signal);
        added.push(...(await writer.close()));
      } catch (err) {
        await writer.abort(err);
        throw err;
      }
    }
    const now = options.nowMs ?? Date.now();
    const removes = bins.flatMap((b) => b.files.map((f) => removeActionFor(f, { dataChange: false, nowMs: now })));
    const result = await commit(store, [...removes, ...added.map((f) => addActionFor(f, false))], {
      readVersion: snapshot.version,
      readMetadata: snapshot.metadata,
      operation: 'OPTIMIZE',
      operationParameters: { predicate: '[]', targetSize: String(target) },
      ...signal,
    });
    if (result.kind === 'conflict') {
      await deleteQuietly(store, added);
      return { kind: 'conflict', bins, result };
    }
    return { kind: 'compacted', version: result.version, bins, removed: removes.length, added };
  } catch (err) {
    await deleteQuietly(store, added);
    throw err;
  }
}

async function deleteQuietly(store: ObjectStore, files: readonly WrittenFile[]): Promise<void> {
  // Never committed, so invisible; deleting is tidiness only (vacuum would get them later).
  await Promise.allSettled(files.map((f) => store.delete(f.path)));
}
