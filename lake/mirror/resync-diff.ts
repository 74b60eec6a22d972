/**
 * The change data of a mirror resync's switch (docs/operations.md §Table lifecycle): live table → staged snapshot,
 * for some buckets. Both tables have the same buckets and key, so a bucket of one is compared with the same bucket
 * of the other and nothing else: the buckets split freely over tasks (the switch runs them on the worker pool,
 * workers/mirror-task.ts), and each task writes its own `_change_data/` files. Nothing is committed here.
 *
 *   a live row the snapshot lacks            → delete
 *   a row whose data columns differ          → update_preimage + update_postimage
 *   a staged row the live table lacks        → insert
 *   equal data columns (`_ts`/`_seq` aside)  → no change: they only name the new tunnel's sequence
 *
 * Cost: one read of every live and staged file of the buckets, one bucket at a time in memory.
 */
import type { ObjectStore } from '../object-store.js';
import type { ColumnSpec } from '../parquet-columns.js';
import type { WrittenFile } from '../parquet-file.js';
import { mirrorMetadataNames, sameRow, type MirrorRow } from './apply.js';
import { ChangeDataWriter, type ChangeCounts } from './change-data.js';
import { encodeKey, type KeyColumn } from './key-encoding.js';
import type { MirrorFile } from './layout.js';
import { readMirrorFile } from './merge-bucket.js';

export interface ResyncDiffOptions {
  /** The live table (rooted at its path): its files are read, and the change data goes under it. */
  readonly live: ObjectStore;
  /** The staged table (rooted at its staging folder): its files are read. */
  readonly staged: ObjectStore;
  readonly keyColumns: readonly KeyColumn[];
  /** Every column of a mirror file (the union of both schemas): data columns, then `_ts`, `_seq`. */
  readonly columns: readonly ColumnSpec[];
  /** tables[].metadataPrefix: the names of `_ts`/`_seq`, which do not make a change; absent = `_`. */
  readonly metadataPrefix?: string;
  /** Write the change data (`_change_data/` files); without it the changes are only counted. */
  readonly changeDataFeed: boolean;
  readonly signal?: AbortSignal;
}

export interface ResyncDiffOutcome {
  /** `_change_data/` files written (empty without CDF), relative to the live table. */
  readonly cdc: WrittenFile[];
  readonly counts: ChangeCounts;
  /** Staged rows seen: the snapshot's rows in these buckets. */
  readonly rows: number;
}

/** One bucket's rows with their keys, sorted by key (the files of a bucket hold disjoint key ranges). */
async function bucketRows(store: ObjectStore, files: readonly Pick<MirrorFile, 'path'>[], keyColumns: readonly KeyColumn[], signal?: AbortSignal) {
  const out: { key: string; row: MirrorRow }[] = [];
  for (const f of files) for (const row of await readMirrorFile(store, f, signal)) out.push({ key: encodeKey(keyColumns, row), row });
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/**
 * Diffs `buckets` (in this order) given each bucket's live and staged files. On failure the change data written
 * so far is deleted and the error thrown.
 */
export async function diffResyncBuckets(
  buckets: readonly number[],
  liveFiles: ReadonlyMap<number, readonly Pick<MirrorFile, 'path'>[]>,
  stagedFiles: ReadonlyMap<number, readonly Pick<MirrorFile, 'path'>[]>,
  options: ResyncDiffOptions,
): Promise<ResyncDiffOutcome> {
  const { signal, keyColumns } = options;
  const { ts, seq } = mirrorMetadataNames(options.metadataPrefix);
  const dataColumns = options.columns.filter((c) => c.name !== ts && c.name !== seq);
  const cdf = new ChangeDataWriter(options.columns, { store: options.live, enabled: options.changeDataFeed, ...(signal ? { signal } : {}) });
  let rows = 0;
  try {
    for (const bucket of buckets) {
      const before = await bucketRows(options.live, liveFiles.get(bucket) ?? [], keyColumns, signal);
      const after = await bucketRows(options.staged, stagedFiles.get(bucket) ?? [], keyColumns, signal);
      rows += after.length;
      let i = 0;
      let j = 0;
      while (i < before.length || j < after.length) {
        const bk = before[i]?.key;
        const ak = after[j]?.key;
        if (ak === undefined || (bk !== undefined && bk < ak)) await cdf.record(before[i++]!.row, undefined);
        else if (bk === undefined || ak < bk) await cdf.record(undefined, after[j++]!.row);
        else {
          const [b0, a0] = [before[i++]!.row, after[j++]!.row];
          if (!sameRow(b0, a0, dataColumns)) await cdf.record(b0, a0);
        }
      }
    }
    return { cdc: await cdf.close(), counts: { ...cdf.counts }, rows };
  } catch (err) {
    await cdf.abort(err);
    throw err;
  }
}

/**
 * `count` buckets split into at most `tasks` contiguous ranges of near-equal size, in bucket order (never an empty
 * range, so never more ranges than buckets).
 */
export function bucketRanges(count: number, tasks: number): number[][] {
  const n = Math.max(1, Math.min(count, Math.floor(tasks)));
  const out: number[][] = [];
  for (let t = 0; t < n && count > 0; t++) {
    const from = Math.floor((t * count) / n);
    const to = Math.floor(((t + 1) * count) / n);
    out.push(Array.from({ length: to - from }, (_, k) => from + k));
  }
  return out;
}
