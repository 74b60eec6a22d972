/**
 * Copy-on-write of one bucket: read the files a batch touches, apply the batch's changes, write the
 * new files. The output is what the batch's single commit needs: the files to remove, the files to
 * add (with their layout tags), and the change-data files. Nothing is committed here.
 *
 * Cost: the bytes of the rewritten runs (planBucketRewrite), never the table: untouched files are
 * not opened.
 */
import { OtslakeError } from '../../common/errors.js';
import type { ObjectStore } from '../object-store.js';
import type { ColumnSpec } from '../parquet-columns.js';
import { ParquetFileWriter, type ParquetCompression, type WrittenFile } from '../parquet-file.js';
import { readParquetRows, type ParquetRow } from '../parquet-read.js';
import { applyChanges, ColumnFamilies, mirrorMetadataNames, type MirrorRow, type RowChange } from './apply.js';
import { ChangeDataWriter, type ChangeCounts } from './change-data.js';
import { encodeKey, type KeyColumn } from './key-encoding.js';
import { mirrorTags, objectKeyOf, type MirrorFile } from './layout.js';
import { planBucketRewrite, type RewriteRun } from './plan.js';

/** A written mirror data file and the tags its add must carry. */
export interface MirrorAddFile extends WrittenFile {
  readonly tags: Record<string, string>;
}

export interface MergeStats extends ChangeCounts {
  keysChanged: number;
  filesRead: number;
  bytesRead: number;
  rowsRead: number;
  filesWritten: number;
  rowsWritten: number;
  bytesWritten: number;
}

export interface MergeOutcome {
  /** Files to remove (as they are in the snapshot). */
  readonly removes: MirrorFile[];
  readonly adds: MirrorAddFile[];
  /** `_change_data/` files (empty without CDF). */
  readonly cdc: WrittenFile[];
  readonly stats: MergeStats;
}

export interface MergeOptions {
  readonly store: ObjectStore;
  readonly keyColumns: readonly KeyColumn[];
  /** Every column of a mirror file: data columns (as of this batch, new ones included), then `_ts`, `_seq`. */
  readonly columns: readonly ColumnSpec[];
  readonly changeDataFeed: boolean;
  /** Files are cut to about this size (estimated from the bytes per row of the files read). */
  readonly targetFileBytes: number;
  /** A touched file below this merges with a neighbour; default targetFileBytes / 4. */
  readonly minFileBytes?: number;
  readonly compression?: ParquetCompression;
  readonly signal?: AbortSignal;
  /** tables[].metadataPrefix: the rows' `ts` and `seq` columns are `<prefix>ts`, `<prefix>seq`; absent = `_`. */
  readonly metadataPrefix?: string;
}

/** Read options that keep every value exact: binary stays bytes, timestamps stay µs bigint. */
export const EXACT_READ = {
  utf8: false,
  parsers: { timestampFromMicroseconds: (us: bigint) => us, timestampFromMilliseconds: (ms: bigint) => BigInt(ms) * 1000n },
};

/** Compressed bytes per row assumed for a bucket that has no file yet to measure. */
const FALLBACK_ROW_BYTES = 64;

export async function readMirrorFile(store: ObjectStore, file: Pick<MirrorFile, 'path'>, signal?: AbortSignal): Promise<ParquetRow[]> {
  const key = objectKeyOf(file);
  const bytes = await store.get(key, signal ? { signal } : {});
  return readParquetRows(bytes, { ...EXACT_READ, file: key });
}

function emptyStats(): MergeStats {
  return { keysChanged: 0, filesRead: 0, bytesRead: 0, rowsRead: 0, filesWritten: 0, rowsWritten: 0, bytesWritten: 0, inserted: 0, updated: 0, deleted: 0 };
}

/**
 * Applies `changes` (grouped by key, each in sequence order; every key must hash to `bucket`) to the
 * bucket's `files` (sorted by keyMin). On failure the files written so far are deleted.
 */
export async function mergeBucket(
  bucket: number,
  files: readonly MirrorFile[],
  changes: ReadonlyMap<string, readonly RowChange[]>,
  options: MergeOptions,
): Promise<MergeOutcome> {
  const keys = [...changes.keys()].sort();
  const runs = planBucketRewrite(files, keys, options.minFileBytes ?? options.targetFileBytes / 4);
  const names = mirrorMetadataNames(options.metadataPrefix);
  const attributeNames = options.columns.map((c) => c.name).filter((n) => !options.keyColumns.some((k) => k.name === n) && n !== names.ts && n !== names.seq);
  const families = new ColumnFamilies(attributeNames);
  const cdf = new ChangeDataWriter(options.columns, {
    store: options.store,
    enabled: options.changeDataFeed,
    ...(options.compression ? { compression: options.compression } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const stats = emptyStats();
  stats.keysChanged = keys.length;
  const adds: MirrorAddFile[] = [];
  const removes: MirrorFile[] = [];
  try {
    for (const run of runs) {
      const rows = await mergeRun(run, changes, families, cdf, stats, options);
      adds.push(...(await writeRun(bucket, rows, run, stats, options)));
      removes.push(...run.files);
    }
    const cdc = await cdf.close();
    return { removes, adds, cdc, stats: { ...stats, ...cdf.counts } };
  } catch (err) {
    await cdf.abort(err);
    await Promise.allSettled(adds.map((f) => options.store.delete(f.path)));
    throw err;
  }
}

/** The run's rows after the changes, in key order, each with its key. */
async function mergeRun(
  run: RewriteRun,
  changes: ReadonlyMap<string, readonly RowChange[]>,
  families: ColumnFamilies,
  cdf: ChangeDataWriter,
  stats: MergeStats,
  options: MergeOptions,
): Promise<{ key: string; row: MirrorRow }[]> {
  const existing: { key: string; row: MirrorRow }[] = [];
  for (const file of run.files) {
    const rows = await readMirrorFile(options.store, file, options.signal);
    stats.filesRead++;
    stats.bytesRead += file.size;
    stats.rowsRead += rows.length;
    for (const row of rows) {
      const key = encodeKey(options.keyColumns, row);
      const prev = existing[existing.length - 1];
      if (prev && prev.key >= key) {
        throw new OtslakeError('OTSL_LAKE_LOG_CORRUPT', `mirror file ${file.path} is not sorted by primary key or overlaps its neighbour`, {
          context: { file: file.path },
        });
      }
      existing.push({ key, row });
    }
  }
  const out: { key: string; row: MirrorRow }[] = [];
  const apply = async (key: string, before: MirrorRow | undefined) => {
    const after = applyChanges(before, changes.get(key) ?? [], options.keyColumns, families, mirrorMetadataNames(options.metadataPrefix));
    await cdf.record(before, after);
    if (after !== undefined) out.push({ key, row: after });
  };
  let i = 0;
  for (const key of run.keys) {
    while (i < existing.length && existing[i]!.key < key) out.push(existing[i++]!);
    if (i < existing.length && existing[i]!.key === key) await apply(key, existing[i++]!.row);
    else await apply(key, undefined);
  }
  while (i < existing.length) out.push(existing[i++]!);
  return out;
}

function rawBytesOf(row: MirrorRow): number {
  let n = 0;
  for (const k in row) {
    const v = row[k];
    n += typeof v === 'string' ? v.length : v instanceof Uint8Array ? v.length : 8;
  }
  return n;
}

/** Cuts the run's rows into files of about the target size, each tagged with its key range. */
async function writeRun(
  bucket: number,
  rows: readonly { key: string; row: MirrorRow }[],
  run: RewriteRun,
  stats: MergeStats,
  options: MergeOptions,
): Promise<MirrorAddFile[]> {
  if (rows.length === 0) return [];
  const inRows = run.files.reduce((s, f) => s + Math.max(0, f.numRecords), 0);
  const inBytes = run.files.reduce((s, f) => s + f.size, 0);
  let rowBytes = inRows > 0 ? inBytes / inRows : FALLBACK_ROW_BYTES;
  if (inRows === 0) {
    // No file to measure: a third of the raw size is what zstd usually leaves of such rows.
    const sample = rows.slice(0, 256);
    rowBytes = Math.max(16, sample.reduce((s, r) => s + rawBytesOf(r.row), 0) / sample.length / 3);
  }
  // Rounded, not ceiled: a file splits once it reaches 1.5× the target (into two of ~0.75×), so a
  // file just over the target is not cut into two small ones that each carry a Parquet footer.
  const fileCount = Math.max(1, Math.round((rows.length * rowBytes) / options.targetFileBytes));
  const out: MirrorAddFile[] = [];
  for (let f = 0; f < fileCount; f++) {
    const from = Math.floor((f * rows.length) / fileCount);
    const to = Math.floor(((f + 1) * rows.length) / fileCount);
    if (to <= from) continue;
    const writer = new ParquetFileWriter({
      store: options.store,
      columns: options.columns,
      directory: '',
      // One output file per chunk: the chunk's key range is what its tags promise.
      targetFileBytes: Number.MAX_SAFE_INTEGER,
      ...(options.compression ? { compression: options.compression } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    let written: WrittenFile[];
    try {
      for (let r = from; r < to; r++) {
        writer.appendRow(rows[r]!.row);
        if ((r - from) % 8192 === 8191) await writer.drain();
      }
      written = await writer.close();
    } catch (err) {
      await writer.abort(err);
      throw err;
    }
    for (const w of written) {
      out.push({ ...w, tags: mirrorTags(bucket, rows[from]!.key, rows[to - 1]!.key) });
      stats.filesWritten++;
      stats.rowsWritten += w.numRecords;
      stats.bytesWritten += w.size;
    }
  }
  return out;
}
