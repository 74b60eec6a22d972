/**
 * Staged changes of a mirror batch: the channel tasks write their changelog rows under
 * `_otslake/staging/<batchId>/` (invisible to Delta readers and to VACUUM, which skips `_` folders);
 * merge tasks read them back, keep the keys of their buckets, and apply them. Staging files of a
 * batch that never committed are garbage: `deleteStaging` after the commit, vacuum otherwise.
 */
import type { ObjectStore } from '../object-store.js';
import { readParquetRows } from '../parquet-read.js';
import { changeOfStagedRow, groupChanges, mirrorMetadataNames, type RowChange } from './apply.js';
import { encodeKey, type KeyColumn } from './key-encoding.js';
import { bucketOf } from './layout.js';
import { EXACT_READ } from './merge-bucket.js';
import { stagingDirectory } from './staging-directory.js';

export { STAGING_ROOT, stagingDirectory } from './staging-directory.js';

export interface StagedChanges {
  /** Per bucket: changes grouped by key, each key's list in sequence order. */
  readonly byBucket: Map<number, Map<string, RowChange[]>>;
  readonly rowsRead: number;
  readonly bytesRead: number;
}

/**
 * Reads staged files (keys relative to the table root, in the order the channel tasks wrote them)
 * and keeps the changes of `buckets` (all when omitted). Arrival order = file order, then row order.
 */
export async function readStagedChanges(
  store: ObjectStore,
  files: readonly string[],
  keyColumns: readonly KeyColumn[],
  bucketCount: number,
  options: { buckets?: Iterable<number>; signal?: AbortSignal; metadataPrefix?: string } = {},
): Promise<StagedChanges> {
  const names = mirrorMetadataNames(options.metadataPrefix);
  const wanted = options.buckets ? new Set(options.buckets) : null;
  const flat = new Map<number, RowChange[]>();
  let order = 0;
  let rowsRead = 0;
  let bytesRead = 0;
  for (const file of files) {
    const bytes = await store.get(file, options.signal ? { signal: options.signal } : {});
    bytesRead += bytes.byteLength;
    const rows = await readParquetRows(bytes, { ...EXACT_READ, file });
    rowsRead += rows.length;
    for (const row of rows) {
      const n = order++;
      const bucket = bucketOf(encodeKey(keyColumns, row), bucketCount);
      if (wanted && !wanted.has(bucket)) continue;
      const change = changeOfStagedRow(row, keyColumns, n, file, names);
      const list = flat.get(bucket);
      if (list) list.push(change);
      else flat.set(bucket, [change]);
    }
  }
  const byBucket = new Map<number, Map<string, RowChange[]>>();
  for (const [bucket, list] of flat) byBucket.set(bucket, groupChanges(list));
  return { byBucket, rowsRead, bytesRead };
}

/** The buckets a set of staged rows touches (what a channel task can report so merges skip the rest). */
export function touchedBuckets(rows: Iterable<Readonly<Record<string, unknown>>>, keyColumns: readonly KeyColumn[], bucketCount: number): Set<number> {
  const out = new Set<number>();
  for (const row of rows) out.add(bucketOf(encodeKey(keyColumns, row), bucketCount));
  return out;
}

/** Removes a batch's staging files (after its commit). Missing files are fine. */
export async function deleteStaging(store: ObjectStore, batchId: string, signal?: AbortSignal): Promise<number> {
  const listed = await store.list(stagingDirectory(batchId), signal ? { signal } : {});
  await Promise.all(listed.map((o) => store.delete(o.key, signal ? { signal } : {})));
  return listed.length;
}
