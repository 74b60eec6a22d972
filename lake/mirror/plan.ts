/**
 * Which mirror files a batch rewrites — decided from the snapshot's adds and the changed keys alone.
 *
 * A key belongs to the file of its bucket whose range contains it; a new key goes to the file whose
 * range starts at or below it (the left neighbour), or to the bucket's first file when it sorts
 * before every file. Ranges therefore stay disjoint after the rewrite. A touched file smaller than
 * `minFileBytes` takes a neighbour along, so small files merge instead of piling up; consecutive
 * rewritten files form a run, rewritten together and re-cut by size (split when too big).
 */
import type { Add } from '../actions.js';
import { filesByBucket, type MirrorFile } from './layout.js';

/** Files rewritten together (adjacent in key order) and the changed keys that fall into them. */
export interface RewriteRun {
  readonly files: readonly MirrorFile[];
  /** Sorted, distinct. */
  readonly keys: readonly string[];
}

/** Index of the file a key belongs to: the last with keyMin ≤ key, else the first. */
function fileIndexOf(files: readonly MirrorFile[], key: string): number {
  let lo = 0;
  let hi = files.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (files[mid]!.keyMin <= key) lo = mid + 1;
    else hi = mid;
  }
  return Math.max(0, lo - 1);
}

/**
 * The runs of one bucket. `files` sorted by keyMin (filesByBucket), `keys` sorted and distinct.
 * Cost: O(keys · log files); no data is read.
 */
export function planBucketRewrite(files: readonly MirrorFile[], keys: readonly string[], minFileBytes: number): RewriteRun[] {
  if (keys.length === 0) return [];
  if (files.length === 0) return [{ files: [], keys }];
  const keysByFile = new Map<number, string[]>();
  for (const key of keys) {
    const i = fileIndexOf(files, key);
    const list = keysByFile.get(i);
    if (list) list.push(key);
    else keysByFile.set(i, [key]);
  }
  const touched = new Set(keysByFile.keys());
  for (const i of [...touched]) {
    if (files[i]!.size >= minFileBytes || files.length === 1) continue;
    touched.add(i + 1 < files.length ? i + 1 : i - 1);
  }
  const order = [...touched].sort((a, b) => a - b);
  const runs: RewriteRun[] = [];
  let start = 0;
  for (let n = 1; n <= order.length; n++) {
    if (n < order.length && order[n] === order[n - 1]! + 1) continue;
    const indexes = order.slice(start, n);
    runs.push({ files: indexes.map((i) => files[i]!), keys: indexes.flatMap((i) => keysByFile.get(i) ?? []) });
    start = n;
  }
  return runs;
}

/** What one merge task handles: some buckets and their current files. */
export interface MergeAssignment {
  readonly buckets: number[];
  readonly files: MirrorFile[];
  readonly bytes: number;
}

/**
 * Spreads the touched buckets (all when unknown) over at most `maxTasks` merge tasks, balancing the
 * bytes of their current files (largest bucket first onto the lightest task). Empty buckets count
 * as one byte so that new tables still spread.
 */
export function planMergeTasks(
  adds: Iterable<Pick<Add, 'path' | 'tags' | 'size' | 'stats'>>,
  bucketCount: number,
  options: { maxTasks: number; touchedBuckets?: Iterable<number> },
): MergeAssignment[] {
  const byBucket = filesByBucket(adds, bucketCount);
  const touched = options.touchedBuckets ? [...new Set(options.touchedBuckets)] : Array.from({ length: bucketCount }, (_, i) => i);
  const weighted = touched
    .filter((b) => b >= 0 && b < bucketCount)
    .map((b) => ({
      bucket: b,
      files: byBucket.get(b) ?? [],
      bytes: Math.max(
        1,
        (byBucket.get(b) ?? []).reduce((s, f) => s + f.size, 0),
      ),
    }))
    .sort((a, b) => b.bytes - a.bytes || a.bucket - b.bucket);
  const tasks = Array.from({ length: Math.max(1, Math.min(options.maxTasks, weighted.length)) }, () => ({
    buckets: [] as number[],
    files: [] as MirrorFile[],
    bytes: 0,
  }));
  for (const w of weighted) {
    let lightest = tasks[0]!;
    for (const t of tasks) if (t.bytes < lightest.bytes) lightest = t;
    lightest.buckets.push(w.bucket);
    lightest.files.push(...w.files);
    lightest.bytes += w.bytes;
  }
  return tasks.filter((t) => t.buckets.length > 0).map((t) => ({ ...t, buckets: t.buckets.sort((a, b) => a - b) }));
}
